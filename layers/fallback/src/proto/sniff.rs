//! The request path of an HTTP/1 request, read from its first bytes as Xray does.

/// Fewer bytes than this are never sniffed (a VLESS request is at least this long, so Xray
/// falls back on anything shorter without looking).
pub const MIN_SNIFF_LEN: usize = 18;

/// The path is looked for within this many bytes.
pub const SNIFF_WINDOW: usize = 64;

/// The path of the request line in `first`: it starts at a `/` preceded by a space at index 4
/// to 8 and ends at `?` or a space within the first 64 bytes; `None` for anything else (too
/// short, an HTTP/2 preface, a line break first, not UTF-8).
///
/// ```
/// use xypro_fallback::sniff_path;
/// assert_eq!(sniff_path(b"GET /blog?page=2 HTTP/1.1\r\n\r\n"), Some("/blog"));
/// assert_eq!(sniff_path(b"OPTIONS /a HTTP/1.1\r\n\r\n"), Some("/a"));
/// assert_eq!(sniff_path(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), None);
/// ```
pub fn sniff_path(first: &[u8]) -> Option<&str> {
    if first.len() < MIN_SNIFF_LEN || first[4] == b'*' {
        return None;
    }
    let start = (4..=8).find(|&i| first[i] == b'/' && first[i - 1] == b' ')?;
    let window = &first[..first.len().min(SNIFF_WINDOW)];
    let end = (start + 1..window.len())
        .take_while(|&j| !matches!(window[j], b'\r' | b'\n'))
        .find(|&j| matches!(window[j], b'?' | b' '))?;
    std::str::from_utf8(&first[start..end]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_path_of_common_methods() {
        assert_eq!(sniff_path(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"), Some("/"));
        assert_eq!(
            sniff_path(b"POST /api/v1 HTTP/1.1\r\n\r\n"),
            Some("/api/v1")
        );
        assert_eq!(
            sniff_path(b"CONNECT /x HTTP/1.1\r\n\r\n"),
            Some("/x"),
            "index 8"
        );
        assert_eq!(sniff_path(b"GET /a?b=c HTTP/1.1\r\n\r\n"), Some("/a"));
    }

    #[test]
    fn refuses_what_xray_refuses() {
        assert_eq!(sniff_path(b"GET / HTTP/1.1\r\n"), None, "17 bytes");
        assert_eq!(sniff_path(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), None);
        assert_eq!(
            sniff_path(b"PROPPATCH /x HTTP/1.1\r\n\r\n"),
            None,
            "index 10"
        );
        assert_eq!(
            sniff_path(b"GET /a\r\nHost: x y\r\n\r\n"),
            None,
            "line ends first"
        );
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(64));
        assert_eq!(sniff_path(long.as_bytes()), None, "no end within 64 bytes");
        let edge = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(58));
        assert_eq!(
            sniff_path(edge.as_bytes()).map(str::len),
            Some(59),
            "ends at byte 63"
        );
        assert_eq!(
            sniff_path(b"GET /\xff\xfe HTTP/1.1\r\n\r\n"),
            None,
            "not UTF-8"
        );
        assert_eq!(sniff_path(&[0u8; 40]), None);
    }
}
