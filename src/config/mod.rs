//! Loading the YAML pipeline file: raw serde structs, then checks that span the whole file.

mod bounded;
mod error;
mod locate;
mod raw;

pub use error::ConfigError;
pub(crate) use locate::Step;
pub use raw::{LayerSpec, Limits, LogLevel, RawConfig, RawInbound};

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
};

/// The most connections `limits.max_connections` (and the handshake caps) may allow.
const MAX_CONNECTIONS: usize = 1_000_000;

/// Largest config file accepted, to keep a hostile file from eating memory.
const MAX_FILE_BYTES: u64 = 4 << 20;

/// A parsed config file with its text kept for locating later errors.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from.
    pub path: PathBuf,
    /// The file's text.
    pub text: String,
    /// The parsed content.
    pub raw: RawConfig,
}

impl Config {
    /// Reads and parses `path`, then checks names and addresses across the file.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let whole_file = |message: String| ConfigError {
            file: path.to_owned(),
            line: None,
            key: String::new(),
            message,
        };
        let size = std::fs::metadata(path)
            .map_err(|e| whole_file(format!("cannot read: {e}")))?
            .len();
        if size > MAX_FILE_BYTES {
            return Err(whole_file(format!(
                "file is {size} bytes; the limit is {MAX_FILE_BYTES}"
            )));
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| whole_file(format!("cannot read: {e}")))?;
        Config::parse(path, text)
    }

    /// Parses config text that claims to come from `path`.
    pub fn parse(path: impl AsRef<Path>, text: String) -> Result<Config, ConfigError> {
        let path = path.as_ref().to_owned();
        let raw: RawConfig =
            bounded::with_budget(|| serde_yaml::from_str(&text)).map_err(|e| ConfigError {
                file: path.clone(),
                line: e.location().map(|l| l.line()),
                key: String::new(),
                message: strip_location(&e.to_string()),
            })?;
        let config = Config { path, text, raw };
        config.check_references()?;
        Ok(config)
    }

    /// The directory relative paths in the file are resolved against.
    pub fn base_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// An error at `path`, located in this file.
    pub(crate) fn error(&self, path: &[Step<'_>], message: impl Into<String>) -> ConfigError {
        ConfigError::at(&self.path, &self.text, path, message)
    }

    fn check_references(&self) -> Result<(), ConfigError> {
        if self.raw.inbounds.is_empty() {
            return Err(self.error(&[Step::Key("inbounds")], "at least one inbound is required"));
        }
        let mut listening = HashMap::new();
        for (name, inbound) in &self.raw.inbounds {
            let here = |key| [Step::Key("inbounds"), Step::Key(name), Step::Key(key)];
            if !self.raw.outbounds.contains_key(&inbound.outbound) {
                let known: Vec<&str> = self.raw.outbounds.keys().map(String::as_str).collect();
                return Err(self.error(
                    &here("outbound"),
                    format!(
                        "no outbound named `{}` (defined: {})",
                        inbound.outbound,
                        known.join(", ")
                    ),
                ));
            }
            if inbound.pipeline.is_empty() {
                return Err(self.error(
                    &here("pipeline"),
                    "the pipeline needs at least a proxy protocol",
                ));
            }
            // Port 0 asks the system for a free port, a different one each time.
            let fixed = inbound.listen.port() != 0;
            if let Some(other) = listening.insert(inbound.listen, name).filter(|_| fixed) {
                return Err(self.error(
                    &here("listen"),
                    format!("{} is already used by inbound `{other}`", inbound.listen),
                ));
            }
        }
        for (name, layers) in &self.raw.outbounds {
            if layers.is_empty() {
                return Err(self.error(
                    &[Step::Key("outbounds"), Step::Key(name)],
                    "the pipeline needs at least the layer that dials",
                ));
            }
        }
        let limits = &self.raw.limits;
        for (key, value) in [
            ("max_connections", limits.max_connections),
            ("handshakes_per_inbound", limits.handshakes_per_inbound),
            ("handshakes_per_address", limits.handshakes_per_address),
        ] {
            if !(1..=MAX_CONNECTIONS).contains(&value) {
                let path = [Step::Key("limits"), Step::Key(key)];
                let message = format!("must be from 1 to {MAX_CONNECTIONS}");
                return Err(self.error(&path, message));
            }
        }
        if limits.handshake_timeout.is_zero() {
            let path = [Step::Key("limits"), Step::Key("handshake_timeout")];
            return Err(self.error(&path, "must be longer than 0s"));
        }
        Ok(())
    }
}

/// serde_yaml appends "at line L column C"; the error names the line itself.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse("test.yaml", text.to_owned())
    }

    const GOOD: &str = "\
inbounds:
  socks:
    listen: 127.0.0.1:1080
    pipeline: [socks5]
    outbound: free
outbounds:
  free:
    - direct
";

    #[test]
    fn parses_layers_with_and_without_options() {
        let config = parse(GOOD).unwrap();
        let inbound = &config.raw.inbounds["socks"];
        assert_eq!(inbound.pipeline[0].kind, "socks5");
        assert_eq!(config.raw.outbounds["free"][0].kind, "direct");
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let err = parse(&GOOD.replace(
            "    outbound: free\n",
            "    outbound: free\n    colour: blue\n",
        ))
        .unwrap_err();
        assert_eq!(err.line, Some(6), "{err}");
        assert!(err.message.contains("unknown field `colour`"), "{err}");
    }

    #[test]
    fn dangling_outbound_names_key_and_line() {
        let err = parse(&GOOD.replace("outbound: free", "outbound: tunnel")).unwrap_err();
        assert_eq!(
            (err.key.as_str(), err.line),
            ("inbounds.socks.outbound", Some(5))
        );
        assert!(
            err.to_string().contains("no outbound named `tunnel`"),
            "{err}"
        );
    }

    #[test]
    fn bad_duration_and_address_name_their_line() {
        let err = parse(&format!("{GOOD}limits:\n  idle_timeout: 5 parsecs\n")).unwrap_err();
        assert_eq!(err.line, Some(10), "{err}");
        let err = parse(&GOOD.replace("127.0.0.1:1080", "localhost")).unwrap_err();
        assert_eq!(err.line, Some(3), "{err}");
    }

    #[test]
    fn durations_and_counts_that_would_overflow_are_refused() {
        let huge = parse(&format!(
            "{GOOD}limits:\n  idle_timeout: 18446744073709551615s\n"
        ))
        .unwrap_err();
        assert!(huge.message.contains("longer than the maximum"), "{huge}");
        let many = parse(&format!(
            "{GOOD}limits:\n  max_connections: 18446744073709551615\n"
        ))
        .unwrap_err();
        assert_eq!(many.key, "limits.max_connections", "{many}");
    }

    #[test]
    fn two_inbounds_on_one_port_are_refused() {
        let twice = GOOD.replace(
            "outbounds:",
            "  again:\n    listen: 127.0.0.1:1080\n    pipeline: [socks5]\n    outbound: free\noutbounds:",
        );
        let err = parse(&twice).unwrap_err();
        assert_eq!(err.key, "inbounds.again.listen");
        assert!(
            err.message.contains("already used by inbound `socks`"),
            "{err}"
        );
    }

    #[test]
    fn an_alias_bomb_inside_layer_options_is_refused_before_it_expands() {
        let items = vec!["x"; 10_000].join(", ");
        let aliases = vec!["*a"; 10_000].join(", ");
        let bomb = format!(
            "inbounds:\n  socks:\n    listen: 127.0.0.1:1080\n    pipeline:\n      - socks5: {{ users: &a [{items}] }}\n      - socks5: {{ users: [{aliases}] }}\n    outbound: free\noutbounds:\n  free: [direct]\n"
        );
        assert!(bomb.len() < 100_000, "a small file");
        let started = std::time::Instant::now();
        let err = parse(&bomb).unwrap_err();
        assert!(
            err.message.contains("aliases are counted as expanded"),
            "{err}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn yaml_bombs_and_deep_nesting_fail_cleanly() {
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
                    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
                    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n\
                    g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n";
        assert!(parse(bomb).is_err());
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(parse(&deep).is_err());
    }
}
