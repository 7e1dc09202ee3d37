//! Finds the line of a key path (`inbounds.socks.pipeline[0].tls.cert`) in YAML text, so
//! errors found after parsing can still name a line.

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step<'a> {
    /// A mapping key.
    Key(&'a str),
    /// A sequence index.
    Index(usize),
}

/// The 1-based line where `path` ends, as precisely as the text allows.
pub(crate) fn locate(text: &str, path: &[Step<'_>]) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let (mut start, mut end, mut found) = (0, lines.len(), None);
    for step in path {
        let line = match step {
            Step::Key(key) => find_key(&lines[start..end], key),
            Step::Index(index) => find_item(&lines[start..end], *index),
        };
        let Some(offset) = line else {
            return found.map(|l: usize| l + 1);
        };
        let at = start + offset;
        found = Some(at);
        let indent = indent_of(lines[at]);
        end = (at + 1..end)
            .find(|&i| is_content(lines[i]) && indent_of(lines[i]) <= indent)
            .unwrap_or(end);
        start = at;
    }
    found.map(|l| l + 1)
}

fn is_content(line: &str) -> bool {
    let trimmed = line.trim_start();
    !trimmed.is_empty() && !trimmed.starts_with('#')
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start_matches([' ', '-']).len()
}

/// The first line holding `key:` at the start of an entry or inside a flow mapping.
fn find_key(lines: &[&str], key: &str) -> Option<usize> {
    let matches = |line: &str| {
        let body = line.split(" #").next().unwrap_or(line);
        [
            format!("{key}:"),
            format!("\"{key}\":"),
            format!("'{key}':"),
        ]
        .iter()
        .any(|pattern| {
            body.match_indices(pattern.as_str()).any(|(i, _)| {
                body[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| matches!(c, ' ' | '{' | ',' | '-'))
            })
        })
    };
    lines
        .iter()
        .position(|line| is_content(line) && matches(line))
}

/// The line of the `index`-th item of the outermost block sequence in `lines`.
fn find_item(lines: &[&str], index: usize) -> Option<usize> {
    let items: Vec<(usize, usize)> = lines
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, line)| line.trim_start().starts_with("- ") || line.trim() == "-")
        .map(|(i, line)| (i, line.len() - line.trim_start().len()))
        .collect();
    let outer = items.iter().map(|(_, indent)| *indent).min()?;
    items
        .iter()
        .filter(|(_, indent)| *indent == outer)
        .nth(index)
        .map(|(i, _)| *i)
}

#[cfg(test)]
mod tests {
    use super::{Step::*, *};

    const DOC: &str = "\
log: info
inbounds:
  socks:
    listen: 127.0.0.1:1080
    pipeline:
      - socks5: { udp: true }
    outbound: tunnel
  server:
    listen: 127.0.0.1:8443
    pipeline:
      - tls: { cert: a.pem, key: a.key }
      - websocket:
          path: /xy
    outbound: free
outbounds:
  free:
    - direct
";

    #[test]
    fn finds_nested_keys_items_and_flow_keys() {
        assert_eq!(
            locate(DOC, &[Key("inbounds"), Key("socks"), Key("outbound")]),
            Some(7)
        );
        assert_eq!(
            locate(DOC, &[Key("inbounds"), Key("server"), Key("outbound")]),
            Some(14)
        );
        let key = [
            Key("inbounds"),
            Key("server"),
            Key("pipeline"),
            Index(0),
            Key("tls"),
            Key("key"),
        ];
        assert_eq!(locate(DOC, &key), Some(11));
        let path = [
            Key("inbounds"),
            Key("server"),
            Key("pipeline"),
            Index(1),
            Key("websocket"),
            Key("path"),
        ];
        assert_eq!(locate(DOC, &path), Some(13));
        assert_eq!(
            locate(DOC, &[Key("outbounds"), Key("free"), Index(0)]),
            Some(17)
        );
    }

    #[test]
    fn falls_back_to_the_deepest_known_line() {
        assert_eq!(
            locate(DOC, &[Key("inbounds"), Key("socks"), Key("nope")]),
            Some(3)
        );
        assert_eq!(locate(DOC, &[Key("missing")]), None);
    }
}
