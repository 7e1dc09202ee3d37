//! The request head: `METHOD target HTTP/1.x`, header fields, an empty line.

use super::{Header, MAX_HEADERS, ProtoError, Version, head_length};

/// A parsed request head, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method, as sent (methods are case-sensitive).
    pub method: String,
    /// The request target, as sent: `host:port` for CONNECT, an absolute URI for a proxy.
    pub target: String,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// The header fields in order.
    pub headers: Vec<Header>,
}

impl RequestHead {
    /// Parses a request head; `Ok(None)` if more bytes are needed. Empty lines before the
    /// request line are skipped, as RFC 9112 allows.
    pub fn parse(src: &[u8]) -> Result<Option<(RequestHead, usize)>, ProtoError> {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut fields);
        let status = request.parse(src);
        let Some(len) = head_length(src, status)? else {
            return Ok(None);
        };
        let head = RequestHead {
            method: request.method.unwrap_or_default().to_owned(),
            target: request.path.unwrap_or_default().to_owned(),
            version: Version::from_minor(request.version.unwrap_or(1)),
            headers: request.headers.iter().map(Header::from_parsed).collect(),
        };
        Ok(Some((head, len)))
    }

    /// The first value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| h.is(name))
            .map(|h| h.value.as_slice())
    }

    /// Whether this is a CONNECT request.
    pub fn is_connect(&self) -> bool {
        self.method == "CONNECT"
    }

    /// Appends the head's wire form.
    pub fn write_to_buf(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(self.method.as_bytes());
        buf.push(b' ');
        buf.extend_from_slice(self.target.as_bytes());
        buf.push(b' ');
        buf.extend_from_slice(self.version.as_str().as_bytes());
        buf.extend_from_slice(b"\r\n");
        for header in &self.headers {
            header.write_to_buf(buf);
        }
        buf.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{MAX_HEAD, Status};

    #[test]
    fn parses_what_curl_and_pip_send_and_reports_incomplete_prefixes() {
        let curl = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\
                     User-Agent: curl/7.88.1\r\nProxy-Connection: Keep-Alive\r\n\r\n\x16\x03\x01";
        let head_len = curl.len() - 3;
        for cut in 0..head_len {
            assert_eq!(RequestHead::parse(&curl[..cut]), Ok(None), "cut at {cut}");
        }
        let (head, used) = RequestHead::parse(curl).unwrap().unwrap();
        assert_eq!(
            used, head_len,
            "the TLS bytes after the head are not consumed"
        );
        assert!(head.is_connect());
        assert_eq!(head.target, "example.com:443");
        assert_eq!(head.version, Version::Http11);
        assert_eq!(head.header("proxy-connection"), Some(&b"Keep-Alive"[..]));

        let pip = b"CONNECT pypi.org:443 HTTP/1.0\r\n\r\n";
        let (head, used) = RequestHead::parse(pip).unwrap().unwrap();
        assert_eq!(
            (head.version, head.headers.len(), used),
            (Version::Http10, 0, pip.len())
        );
    }

    #[test]
    fn round_trips_through_its_wire_form() {
        let head = RequestHead {
            method: "GET".into(),
            target: "http://example.com/a?b=c".into(),
            version: Version::Http11,
            headers: vec![
                Header::new("Host", "example.com"),
                Header::new("X-Empty", ""),
            ],
        };
        let mut wire = Vec::new();
        head.write_to_buf(&mut wire);
        assert_eq!(RequestHead::parse(&wire), Ok(Some((head, wire.len()))));
    }

    #[test]
    fn refuses_huge_heads_too_many_fields_and_garbage() {
        let mut huge = b"GET http://a/ HTTP/1.1\r\nX-Big: ".to_vec();
        huge.resize(MAX_HEAD, b'a');
        let err = RequestHead::parse(&huge).unwrap_err();
        assert_eq!(err, ProtoError::HeadTooLarge);
        assert_eq!(err.status(), Status::HEADERS_TOO_LARGE);

        let mut many = b"GET http://a/ HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(RequestHead::parse(&many), Err(ProtoError::TooManyHeaders));

        for garbage in [
            &b"\x16\x03\x01\x02\x00"[..],
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET  / HTTP/1.1\r\n",
        ] {
            assert!(RequestHead::parse(garbage).is_err(), "{garbage:?}");
        }
        let version = RequestHead::parse(b"GET / HTTP/2.0\r\n\r\n").unwrap_err();
        assert_eq!(version.status(), Status::VERSION_NOT_SUPPORTED);
    }
}
