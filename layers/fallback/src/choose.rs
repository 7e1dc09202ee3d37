//! `Fallbacks`: Xray's choice of a fallback by SNI, then ALPN, then HTTP/1 path.

use crate::{Fallback, config::Key, proto::sniff::sniff_path};
use std::collections::BTreeMap;

/// Path -> entry.
type ByPath = BTreeMap<String, Fallback>;
/// ALPN -> path -> entry.
type ByAlpn = BTreeMap<String, ByPath>;

/// What is known about a refused connection when its fallback is chosen.
#[derive(Debug, Clone, Copy, Default)]
pub struct Request<'a> {
    /// The TLS server name the client sent, if any.
    pub sni: Option<&'a str>,
    /// The ALPN protocol TLS negotiated, if any.
    pub alpn: Option<&'a str>,
    /// The bytes read from the client so far (the start of an HTTP/1 request, for the path).
    pub first_bytes: &'a [u8],
}

/// The validated fallback entries, grouped by SNI, ALPN and path.
///
/// Entries with an empty key fill the gaps as in Xray: every SNI group gets the default
/// group's ALPN entries it lacks, and every ALPN group the paths of its SNI group's default
/// ALPN it lacks, so a specific entry only overrides what it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallbacks {
    by_sni: BTreeMap<String, ByAlpn>,
}

impl Fallbacks {
    /// Groups entries that were already checked for duplicates, then fills the gaps.
    pub(crate) fn new(entries: Vec<(Key, Fallback)>) -> Self {
        let mut by_sni: BTreeMap<String, ByAlpn> = BTreeMap::new();
        for ((sni, alpn, path), fallback) in entries {
            let by_alpn = by_sni.entry(sni).or_default();
            by_alpn.entry(alpn).or_default().insert(path, fallback);
        }
        fill_gaps(&mut by_sni);
        Fallbacks { by_sni }
    }

    /// The entry for `request`, or `None` when no entry (not even a default) covers it.
    ///
    /// A level is only consulted when it has a choice to make: with one SNI group that is the
    /// default, the SNI is not looked at, and likewise for ALPN and path (so the path is sniffed
    /// only when entries differ by path).
    pub fn choose(&self, request: &Request<'_>) -> Option<&Fallback> {
        let by_alpn = pick(&self.by_sni, |map| {
            let sni = request.sni?.to_ascii_lowercase();
            if map.contains_key(&sni) {
                return Some(sni);
            }
            map.keys()
                .filter(|key| !key.is_empty() && sni.contains(key.as_str()))
                .max_by_key(|key| key.len())
                .cloned()
        })?;
        let by_path = pick(by_alpn, |map| {
            let alpn = request.alpn?;
            map.contains_key(alpn).then(|| alpn.to_owned())
        })?;
        pick(by_path, |map| {
            let path = sniff_path(request.first_bytes)?;
            map.contains_key(path).then(|| path.to_owned())
        })
    }
}

/// The value under the key `find` names, falling back to `""`; `find` runs only when the map
/// has more than one key or no `""`.
fn pick<V>(
    map: &BTreeMap<String, V>,
    find: impl FnOnce(&BTreeMap<String, V>) -> Option<String>,
) -> Option<&V> {
    let must_look = map.len() > 1 || !map.contains_key("");
    let key = if must_look { find(map) } else { None };
    map.get(key.as_deref().unwrap_or(""))
}

/// Xray's three passes that let the default entries cover what specific groups leave out.
fn fill_gaps(by_sni: &mut BTreeMap<String, ByAlpn>) {
    let default_alpns: Vec<String> = by_sni
        .get("")
        .map(|d| d.keys().cloned().collect())
        .unwrap_or_default();
    for (_, by_alpn) in by_sni.iter_mut().filter(|(sni, _)| !sni.is_empty()) {
        for alpn in &default_alpns {
            by_alpn.entry(alpn.clone()).or_default();
        }
    }
    for by_alpn in by_sni.values_mut() {
        let Some(default_paths) = by_alpn.get("").cloned() else {
            continue;
        };
        for (_, by_path) in by_alpn.iter_mut().filter(|(alpn, _)| !alpn.is_empty()) {
            for (path, fallback) in &default_paths {
                by_path
                    .entry(path.clone())
                    .or_insert_with(|| fallback.clone());
            }
        }
    }
    let Some(default_group) = by_sni.get("").cloned() else {
        return;
    };
    for (_, by_alpn) in by_sni.iter_mut().filter(|(sni, _)| !sni.is_empty()) {
        for (alpn, paths) in &default_group {
            let by_path = by_alpn.entry(alpn.clone()).or_default();
            for (path, fallback) in paths {
                by_path
                    .entry(path.clone())
                    .or_insert_with(|| fallback.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{FallbackOptions, ProxyVersion, Request};

    fn fallbacks(yaml: &str) -> crate::Fallbacks {
        serde_yaml::from_str::<FallbackOptions>(yaml)
            .unwrap()
            .validate()
            .unwrap()
    }

    fn choose<'a>(
        f: &'a crate::Fallbacks,
        sni: Option<&str>,
        alpn: Option<&str>,
        first: &[u8],
    ) -> Option<&'a str> {
        let request = Request {
            sni,
            alpn,
            first_bytes: first,
        };
        f.choose(&request).map(|fb| fb.outbound.as_str())
    }

    const GET_BLOG: &[u8] = b"GET /blog HTTP/1.1\r\nHost: a\r\n\r\n";
    const GET_ROOT: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";

    #[test]
    fn a_single_outbound_takes_everything() {
        let f = fallbacks("web");
        assert_eq!(choose(&f, Some("x"), Some("h2"), b""), Some("web"));
        assert_eq!(choose(&f, None, None, GET_BLOG), Some("web"));
        let one = fallbacks("{ outbound: web, proxy_protocol: 1 }");
        let request = Request::default();
        assert_eq!(
            one.choose(&request).unwrap().proxy_protocol,
            Some(ProxyVersion::V1)
        );
    }

    #[test]
    fn the_typical_alpn_split() {
        let f = fallbacks("[{ outbound: h1 }, { alpn: h2, outbound: h2c }]");
        assert_eq!(choose(&f, None, Some("h2"), b"PRI * HTTP/2.0"), Some("h2c"));
        assert_eq!(choose(&f, None, Some("http/1.1"), GET_ROOT), Some("h1"));
        assert_eq!(choose(&f, None, None, GET_ROOT), Some("h1"));
    }

    #[test]
    fn sni_exact_then_longest_contained_then_default() {
        let f = fallbacks(
            "[{ outbound: any }, { sni: example.com, outbound: ex }, \
              { sni: blog.example.com, outbound: blog }]",
        );
        assert_eq!(choose(&f, Some("Example.COM"), None, b""), Some("ex"));
        assert_eq!(
            choose(&f, Some("www.blog.example.com"), None, b""),
            Some("blog")
        );
        assert_eq!(choose(&f, Some("cdn.example.com"), None, b""), Some("ex"));
        assert_eq!(choose(&f, Some("other.org"), None, b""), Some("any"));
        assert_eq!(choose(&f, None, None, b""), Some("any"));
    }

    #[test]
    fn paths_are_sniffed_only_when_entries_differ_by_path() {
        let f = fallbacks("[{ outbound: site }, { path: /blog, outbound: blog }]");
        assert_eq!(choose(&f, None, None, GET_BLOG), Some("blog"));
        assert_eq!(choose(&f, None, None, GET_ROOT), Some("site"));
        assert_eq!(choose(&f, None, None, b"\x16\x03\x01"), Some("site"));
    }

    #[test]
    fn defaults_fill_the_gaps_of_specific_groups() {
        let f = fallbacks(
            "[{ outbound: site }, { path: /blog, outbound: blog }, \
              { sni: a.test, alpn: h2, outbound: a-h2 }]",
        );
        // a.test names only h2: HTTP/1 on a.test still reaches the default paths.
        assert_eq!(choose(&f, Some("a.test"), Some("h2"), b""), Some("a-h2"));
        assert_eq!(
            choose(&f, Some("a.test"), Some("http/1.1"), GET_BLOG),
            Some("blog")
        );
        assert_eq!(choose(&f, Some("a.test"), None, GET_ROOT), Some("site"));
        // ... but the default group has no h2 paths to lend, so a.test's h2 entry takes all.
        assert_eq!(
            choose(&f, Some("a.test"), Some("h2"), GET_BLOG),
            Some("a-h2")
        );
        let g = fallbacks(
            "[{ outbound: site }, { path: /blog, outbound: blog }, { alpn: h2, outbound: h2 }]",
        );
        // An ALPN group gets the paths of its SNI group's default ALPN that it lacks.
        assert_eq!(choose(&g, None, Some("h2"), GET_BLOG), Some("blog"));
        assert_eq!(choose(&g, None, Some("h2"), GET_ROOT), Some("h2"));
    }

    #[test]
    fn no_default_means_no_fallback() {
        let f = fallbacks("[{ sni: a.test, outbound: a }, { alpn: h2, outbound: h2 }]");
        assert_eq!(choose(&f, Some("a.test"), None, b""), Some("a"));
        assert_eq!(choose(&f, Some("b.test"), Some("h2"), b""), Some("h2"));
        assert_eq!(choose(&f, Some("b.test"), Some("http/1.1"), b""), None);
        let only_path = fallbacks("[{ path: /x, outbound: x }]");
        assert_eq!(choose(&only_path, None, None, GET_ROOT), None);
    }
}
