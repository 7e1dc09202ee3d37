//! What the HTTP/1.1 upgrade transports (WebSocket, HTTPUpgrade) share: the checks of their
//! `path`, `host`, `headers` and `handshake_timeout` options, and the `GET` request head.

use crate::InvalidOptions;
use std::time::Duration;

/// An upgrade transport's option that cannot be turned into working settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UpgradeConfigError {
    /// `path` is empty, lacks the leading `/`, or holds characters not allowed in a request line.
    #[error("path `{path}`: {reason}")]
    Path {
        /// The path as configured.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The client has no host: neither `host`, nor a `Host` header, nor a default from below.
    #[error("host is required (set `host`, or put a TLS server_name or tcp address below)")]
    MissingHost,
    /// `host` is empty or holds characters not allowed in a header value.
    #[error("host `{0}` is not a valid Host header value")]
    Host(String),
    /// `host` and a `Host` entry in `headers` disagree.
    #[error("host `{host}` conflicts with headers.Host `{header}`")]
    HostConflict {
        /// The `host` option.
        host: String,
        /// The `Host` entry of `headers`.
        header: String,
    },
    /// A `headers` entry with an invalid name or value, or one the handshake sets itself.
    #[error("headers.{name}: {reason}")]
    Header {
        /// The header name as configured.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `handshake_timeout` is zero.
    #[error("handshake_timeout must be greater than zero")]
    ZeroTimeout,
}

impl UpgradeConfigError {
    /// The option the error is about.
    pub fn key(&self) -> Option<String> {
        Some(match self {
            UpgradeConfigError::Path { .. } => "path".into(),
            UpgradeConfigError::Host(_) | UpgradeConfigError::HostConflict { .. } => "host".into(),
            UpgradeConfigError::Header { name, .. } => format!("headers.{name}"),
            UpgradeConfigError::ZeroTimeout => "handshake_timeout".into(),
            UpgradeConfigError::MissingHost => return None,
        })
    }
}

impl From<UpgradeConfigError> for InvalidOptions {
    fn from(error: UpgradeConfigError) -> Self {
        InvalidOptions::keyed(error.key(), error.to_string())
    }
}

/// The `Host` and the extra headers of a client's upgrade request, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeaders {
    /// The `Host` value.
    pub host: String,
    /// The other headers, as configured and in order.
    pub headers: Vec<(String, String)>,
}

/// Checks a request path: it starts with `/`, is visible ASCII and has no fragment.
pub fn check_path(path: &str) -> Result<(), UpgradeConfigError> {
    let reason = if !path.starts_with('/') {
        "must start with `/`"
    } else if !path.bytes().all(|b| b.is_ascii_graphic()) {
        "only visible ASCII is allowed (percent-encode the rest)"
    } else if path.contains('#') {
        "a fragment (`#`) is not sent in requests"
    } else {
        return Ok(());
    };
    Err(UpgradeConfigError::Path {
        path: path.to_owned(),
        reason,
    })
}

/// Checks a server's path: as [`check_path`], and holding none of `refused` (for `reason`).
pub fn check_server_path(
    path: &str,
    refused: &[char],
    reason: &'static str,
) -> Result<(), UpgradeConfigError> {
    check_path(path)?;
    if path.contains(refused) {
        return Err(UpgradeConfigError::Path {
            path: path.to_owned(),
            reason,
        });
    }
    Ok(())
}

/// Removes Xray's `ed=N` pairs, and empty ones, from the query of `path`: the rest of the path,
/// and each `N` as written, in order.
pub fn split_early_data(path: &str) -> (String, Vec<&str>) {
    let Some((base, query)) = path.split_once('?') else {
        return (path.to_owned(), Vec::new());
    };
    let (mut kept, mut early) = (Vec::new(), Vec::new());
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        match pair.strip_prefix("ed=") {
            Some(n) => early.push(n),
            None => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (rest, early)
}

/// Checks a `Host` value: non-empty visible ASCII.
pub fn check_host(host: &str) -> Result<(), UpgradeConfigError> {
    if host.is_empty() || !host.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(UpgradeConfigError::Host(host.to_owned()));
    }
    Ok(())
}

/// Checks a header name is an RFC 9110 token and its value has no control character but tab.
pub fn check_header(name: &str, value: &str) -> Result<(), UpgradeConfigError> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(header_error(name, "not a valid header name"));
    }
    if !value
        .bytes()
        .all(|b| b == b'\t' || (b >= b' ' && b != 0x7f))
    {
        return Err(header_error(
            name,
            "value must not hold control characters other than tab",
        ));
    }
    Ok(())
}

/// Checks a client's `host` and `headers` options into the request's `Host` and other headers.
///
/// A `Host` entry of `headers` stands in for an unset `host` (they may not disagree), and
/// `default_host` (the TLS server name or dial address below) for both; a header named in
/// `reserved` (lowercase), which the handshake writes itself, is refused for `reason`.
pub fn request_headers<'a>(
    host: Option<&str>,
    headers: impl IntoIterator<Item = (&'a String, &'a String)>,
    default_host: Option<&str>,
    reserved: &[&str],
    reason: &'static str,
) -> Result<RequestHeaders, UpgradeConfigError> {
    let mut header_host = None;
    let mut others = Vec::new();
    for (name, value) in headers {
        check_header(name, value)?;
        let lower = name.to_ascii_lowercase();
        if lower == "host" {
            header_host = Some(value.clone());
        } else if reserved.contains(&lower.as_str()) {
            return Err(header_error(name, reason));
        } else {
            others.push((name.clone(), value.clone()));
        }
    }
    let host = match (host, header_host) {
        (Some(host), Some(header)) if !host.eq_ignore_ascii_case(&header) => {
            return Err(UpgradeConfigError::HostConflict {
                host: host.to_owned(),
                header,
            });
        }
        (Some(host), _) => host.to_owned(),
        (None, Some(header)) => header,
        (None, None) => default_host
            .ok_or(UpgradeConfigError::MissingHost)?
            .to_owned(),
    };
    check_host(&host)?;
    Ok(RequestHeaders {
        host,
        headers: others,
    })
}

/// The handshake deadline: `given`, else `default`; never zero.
pub fn handshake_timeout(
    given: Option<Duration>,
    default: Duration,
) -> Result<Duration, UpgradeConfigError> {
    match given.unwrap_or(default) {
        Duration::ZERO => Err(UpgradeConfigError::ZeroTimeout),
        limit => Ok(limit),
    }
}

fn header_error(name: &str, reason: &'static str) -> UpgradeConfigError {
    UpgradeConfigError::Header {
        name: name.to_owned(),
        reason,
    }
}

/// Appends a `GET` upgrade request head to `buf`: the request line, `Host`, the extra
/// `headers`, `Connection: Upgrade`, `Upgrade: websocket`, the transport's own `handshake`
/// headers, and the blank line that ends the head.
pub fn write_request<'h>(
    buf: &mut Vec<u8>,
    path: &str,
    host: &str,
    headers: impl IntoIterator<Item = (&'h [u8], &'h [u8])>,
    handshake: impl IntoIterator<Item = (&'h [u8], &'h [u8])>,
) {
    let mut line = |parts: &[&[u8]]| {
        for part in parts {
            buf.extend_from_slice(part);
        }
        buf.extend_from_slice(b"\r\n");
    };
    line(&[b"GET ", path.as_bytes(), b" HTTP/1.1"]);
    line(&[b"Host: ", host.as_bytes()]);
    let upgrade: [(&[u8], &[u8]); 2] = [(b"Connection", b"Upgrade"), (b"Upgrade", b"websocket")];
    for (name, value) in headers.into_iter().chain(upgrade).chain(handshake) {
        line(&[name, b": ", value]);
    }
    line(&[]);
}

/// Whether a comma-separated header value holds `token` (ASCII case-insensitive).
pub fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|item| item.trim_ascii().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn checked(
        host: Option<&str>,
        pairs: &[(&str, &str)],
    ) -> Result<RequestHeaders, UpgradeConfigError> {
        let pairs = headers(pairs);
        let entries = pairs.iter().map(|(n, v)| (n, v));
        request_headers(host, entries, Some("below.test"), &["upgrade"], "ours")
    }

    #[test]
    fn ed_pairs_leave_the_path_in_order() {
        assert_eq!(split_early_data("/a"), ("/a".to_owned(), vec![]));
        assert_eq!(
            split_early_data("/a?x=1&ed=2048&&y&ed=0"),
            ("/a?x=1&y".to_owned(), vec!["2048", "0"])
        );
        assert_eq!(split_early_data("/a?ed=&"), ("/a".to_owned(), vec![""]));
    }

    #[test]
    fn host_comes_from_the_option_the_header_or_below() {
        let s = checked(None, &[("X-A", "1"), ("HOST", "cdn.test")]).unwrap();
        assert_eq!(s.host, "cdn.test");
        assert_eq!(s.headers, headers(&[("X-A", "1")]));
        assert_eq!(checked(None, &[]).unwrap().host, "below.test");
        let same = checked(Some("CDN.test"), &[("Host", "cdn.test")]).unwrap();
        assert_eq!(same.host, "CDN.test");
        assert!(matches!(
            checked(Some("a.test"), &[("Host", "b.test")]),
            Err(UpgradeConfigError::HostConflict { .. })
        ));
        let none = request_headers(None, std::iter::empty(), None, &[], "ours");
        assert_eq!(none, Err(UpgradeConfigError::MissingHost));
        assert!(matches!(
            checked(Some("a b"), &[]),
            Err(UpgradeConfigError::Host(_))
        ));
    }

    #[test]
    fn bad_and_reserved_headers_name_the_entry() {
        let reason = |pairs: &[(&str, &str)]| match checked(None, pairs) {
            Err(UpgradeConfigError::Header { name, reason }) => (name, reason),
            other => panic!("{other:?}"),
        };
        assert_eq!(reason(&[("Upgrade", "x")]), ("Upgrade".into(), "ours"));
        assert_eq!(reason(&[("a b", "x")]).1, "not a valid header name");
        assert_eq!(
            reason(&[("X-A", "a\nb")]).1,
            "value must not hold control characters other than tab"
        );
        assert!(checked(None, &[("X-A", "tab\tand ünïcode")]).is_ok());
    }

    #[test]
    fn paths_and_timeouts() {
        for bad in ["x", "/a b", "/a#b", "/é"] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        assert!(check_path("/a?b=1").is_ok());
        assert!(check_server_path("/a?b=1", &['?'], "no query").is_err());
        let ten = Duration::from_secs(10);
        assert_eq!(handshake_timeout(None, ten), Ok(ten));
        assert_eq!(
            handshake_timeout(Some(Duration::ZERO), ten),
            Err(UpgradeConfigError::ZeroTimeout)
        );
        let key = UpgradeConfigError::Header {
            name: "X-A".into(),
            reason: "r",
        };
        assert_eq!(InvalidOptions::from(key).key(), Some("headers.X-A"));
    }

    #[test]
    fn writes_the_head_in_order() {
        let mut buf = Vec::new();
        let extra: [(&[u8], &[u8]); 1] = [(b"X-A", b"1")];
        let handshake: [(&[u8], &[u8]); 1] = [(b"Sec-WebSocket-Version", b"13")];
        write_request(&mut buf, "/p?q", "h.test", extra, handshake);
        assert_eq!(
            buf,
            b"GET /p?q HTTP/1.1\r\nHost: h.test\r\nX-A: 1\r\nConnection: Upgrade\r\n\
              Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        assert!(has_token(b"keep-alive, Upgrade", b"upgrade"));
        assert!(!has_token(b"upgraded", b"upgrade"));
    }
}
