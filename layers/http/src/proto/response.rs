//! The response head: `HTTP/1.x code reason`, header fields, an empty line.

use super::{Header, MAX_HEADERS, ProtoError, Version, head_length};

/// A parsed response head, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// The status code.
    pub code: u16,
    /// The reason phrase, as sent (may be empty or hold non-UTF-8 bytes).
    pub reason: Vec<u8>,
    /// The header fields in order.
    pub headers: Vec<Header>,
}

impl ResponseHead {
    /// Parses a response head; `Ok(None)` if more bytes are needed.
    pub fn parse(src: &[u8]) -> Result<Option<(ResponseHead, usize)>, ProtoError> {
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut fields);
        let status = response.parse(src);
        let Some(len) = head_length(src, status)? else {
            return Ok(None);
        };
        let head = ResponseHead {
            version: Version::from_minor(response.version.unwrap_or(1)),
            code: response.code.unwrap_or_default(),
            reason: response.reason.unwrap_or_default().as_bytes().to_vec(),
            headers: response.headers.iter().map(Header::from_parsed).collect(),
        };
        Ok(Some((head, len)))
    }

    /// Whether this is an interim (1xx) response that a final one follows.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.code)
    }

    /// Appends the status line (the headers are written by the caller).
    pub fn write_status_line(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(self.version.as_str().as_bytes());
        buf.extend_from_slice(format!(" {:03} ", self.code).as_bytes());
        buf.extend_from_slice(&self.reason);
        buf.extend_from_slice(b"\r\n");
    }

    /// Appends the head's wire form.
    pub fn write_to_buf(&self, buf: &mut Vec<u8>) {
        self.write_status_line(buf);
        for header in &self.headers {
            header.write_to_buf(buf);
        }
        buf.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_round_trips_and_reports_incomplete_prefixes() {
        let head = ResponseHead {
            version: Version::Http11,
            code: 200,
            reason: b"OK".to_vec(),
            headers: vec![Header::new("Content-Length", "5")],
        };
        let mut wire = Vec::new();
        head.write_to_buf(&mut wire);
        for cut in 0..wire.len() {
            assert_eq!(ResponseHead::parse(&wire[..cut]), Ok(None), "cut at {cut}");
        }
        wire.extend_from_slice(b"hello");
        assert_eq!(ResponseHead::parse(&wire), Ok(Some((head, wire.len() - 5))));
        let (interim, _) = ResponseHead::parse(b"HTTP/1.1 100 Continue\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(interim.is_interim());
        assert!(ResponseHead::parse(b"HTTP/1.1 2000 OK\r\n\r\n").is_err());
    }
}
