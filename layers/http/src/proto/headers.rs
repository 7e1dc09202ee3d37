//! Header fields a proxy interprets: `Connection` and its hop-by-hop kin, and the framing
//! fields `Content-Length` and `Transfer-Encoding`.

use super::{Header, ProtoError, Version};

/// Fields that describe one hop only and are never forwarded (RFC 9110 §7.6.1, plus the
/// `Proxy-*` fields and the `Trailers` spelling of RFC 2616).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "trailers",
    "upgrade",
];

/// Fields a `Connection` option may not remove: the framing and the host, which the proxy
/// reads itself (removing them would let the two hops disagree on where a message ends).
const PROTECTED: [&str; 3] = ["content-length", "transfer-encoding", "host"];

/// The options listed in a message's `Connection` and `Proxy-Connection` fields, lowercased.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionOptions {
    tokens: Vec<String>,
}

impl ConnectionOptions {
    /// Collects the options of every `Connection` and `Proxy-Connection` field.
    pub fn of(headers: &[Header]) -> Self {
        let tokens = headers
            .iter()
            .filter(|h| h.is("connection") || h.is("proxy-connection"))
            .flat_map(|h| h.value.split(|&b| b == b','))
            .map(|token| String::from_utf8_lossy(token.trim_ascii()).to_ascii_lowercase())
            .filter(|token| !token.is_empty())
            .collect();
        ConnectionOptions { tokens }
    }

    /// Whether `option` (lowercase) is listed.
    pub fn has(&self, option: &str) -> bool {
        self.tokens.iter().any(|t| t == option)
    }

    /// Whether the sender keeps the connection open after this message: HTTP/1.1 unless it
    /// says `close`, HTTP/1.0 only if it says `keep-alive` (RFC 9112 §9.3).
    pub fn keep_alive(&self, version: Version) -> bool {
        match version {
            Version::Http11 => !self.has("close"),
            Version::Http10 => self.has("keep-alive") && !self.has("close"),
        }
    }

    /// Whether field `name` belongs to this hop only: a hop-by-hop field or one the options
    /// name (except the framing fields and `Host`).
    pub fn is_hop_by_hop(&self, name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        HOP_BY_HOP.contains(&lower.as_str())
            || (self.has(&lower) && !PROTECTED.contains(&lower.as_str()))
    }
}

/// The message's `Content-Length`: `None` if absent; an error if a value is not a number or
/// the values disagree (`5, 5` and repeated equal fields are one length).
pub fn content_length(headers: &[Header]) -> Result<Option<u64>, ProtoError> {
    let mut length = None;
    for value in headers
        .iter()
        .filter(|h| h.is("content-length"))
        .flat_map(|h| h.value.split(|&b| b == b','))
    {
        let digits = value.trim_ascii();
        let parsed = std::str::from_utf8(digits)
            .ok()
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<u64>().ok())
            .ok_or(ProtoError::Framing("invalid Content-Length"))?;
        if length.is_some_and(|l| l != parsed) {
            return Err(ProtoError::Framing("conflicting Content-Length values"));
        }
        length = Some(parsed);
    }
    Ok(length)
}

/// `None` without a `Transfer-Encoding` field; otherwise whether its last coding is `chunked`.
pub fn is_chunked(headers: &[Header]) -> Option<bool> {
    let mut last = None;
    for value in headers
        .iter()
        .filter(|h| h.is("transfer-encoding"))
        .flat_map(|h| h.value.split(|&b| b == b','))
    {
        let coding = value.trim_ascii();
        if !coding.is_empty() {
            last = Some(coding.eq_ignore_ascii_case(b"chunked"));
        }
    }
    match headers.iter().any(|h| h.is("transfer-encoding")) {
        true => Some(last.unwrap_or(false)),
        false => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(fields: &[(&str, &str)]) -> Vec<Header> {
        fields.iter().map(|(n, v)| Header::new(*n, *v)).collect()
    }

    #[test]
    fn keep_alive_follows_version_defaults_and_options() {
        let none = ConnectionOptions::of(&[]);
        assert!(none.keep_alive(Version::Http11));
        assert!(!none.keep_alive(Version::Http10));
        let close = ConnectionOptions::of(&headers(&[("Connection", "Close")]));
        assert!(!close.keep_alive(Version::Http11));
        let proxy = ConnectionOptions::of(&headers(&[("Proxy-Connection", "Keep-Alive")]));
        assert!(proxy.keep_alive(Version::Http10));
    }

    #[test]
    fn hop_by_hop_fields_and_named_ones_but_never_the_framing() {
        let options = ConnectionOptions::of(&headers(&[(
            "Connection",
            "X-Secret, content-length , Transfer-Encoding,host",
        )]));
        for name in [
            "Proxy-Authorization",
            "TE",
            "Upgrade",
            "Keep-Alive",
            "x-secret",
        ] {
            assert!(options.is_hop_by_hop(name), "{name}");
        }
        for name in ["Content-Length", "transfer-encoding", "Host", "Accept"] {
            assert!(!options.is_hop_by_hop(name), "{name}");
        }
    }

    #[test]
    fn content_length_must_be_one_number() {
        assert_eq!(content_length(&[]), Ok(None));
        let same = headers(&[("Content-Length", "5, 5"), ("content-length", "5")]);
        assert_eq!(content_length(&same), Ok(Some(5)));
        for bad in ["5, 6", "-1", "+5", "", "0x10", "99999999999999999999999"] {
            assert!(
                content_length(&headers(&[("Content-Length", bad)])).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn chunked_only_when_it_is_the_last_coding() {
        assert_eq!(is_chunked(&[]), None);
        assert_eq!(
            is_chunked(&headers(&[("Transfer-Encoding", "gzip, Chunked")])),
            Some(true)
        );
        assert_eq!(
            is_chunked(&headers(&[("Transfer-Encoding", "chunked, gzip")])),
            Some(false)
        );
        let split = headers(&[
            ("Transfer-Encoding", "gzip"),
            ("Transfer-Encoding", "chunked"),
        ]);
        assert_eq!(is_chunked(&split), Some(true));
        assert_eq!(
            is_chunked(&headers(&[("Transfer-Encoding", "")])),
            Some(false)
        );
    }
}
