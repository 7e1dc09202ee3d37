//! The responses the proxy writes itself: tunnel established, errors and the auth challenge.

use super::Version;

/// A status the proxy answers with: code and reason phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// The status code.
    pub code: u16,
    /// The reason phrase.
    pub reason: &'static str,
}

impl Status {
    /// `200 Connection established`: a CONNECT tunnel is open.
    pub const ESTABLISHED: Status = Status::new(200, "Connection established");
    /// `400 Bad Request`: a malformed request or a target that cannot be proxied.
    pub const BAD_REQUEST: Status = Status::new(400, "Bad Request");
    /// `403 Forbidden`: a rule refused the destination.
    pub const FORBIDDEN: Status = Status::new(403, "Forbidden");
    /// `407 Proxy Authentication Required`: missing or wrong credentials.
    pub const AUTH_REQUIRED: Status = Status::new(407, "Proxy Authentication Required");
    /// `431 Request Header Fields Too Large`.
    pub const HEADERS_TOO_LARGE: Status = Status::new(431, "Request Header Fields Too Large");
    /// `502 Bad Gateway`: the destination could not be reached or answered badly.
    pub const BAD_GATEWAY: Status = Status::new(502, "Bad Gateway");
    /// `504 Gateway Timeout`: reaching the destination timed out.
    pub const GATEWAY_TIMEOUT: Status = Status::new(504, "Gateway Timeout");
    /// `505 HTTP Version Not Supported`.
    pub const VERSION_NOT_SUPPORTED: Status = Status::new(505, "HTTP Version Not Supported");

    const fn new(code: u16, reason: &'static str) -> Self {
        Status { code, reason }
    }
}

/// Appends a complete response: status line, `extra` headers, `Connection: close` when `close`
/// (else `Connection: keep-alive` for an HTTP/1.0 client), and `text` as a plain-text body.
///
/// `200 Connection established` is written bare, as every proxy writes it.
pub fn write_status(
    buf: &mut Vec<u8>,
    version: Version,
    status: Status,
    extra: &[(&str, &str)],
    close: bool,
    text: &str,
) {
    buf.extend_from_slice(version.as_str().as_bytes());
    buf.extend_from_slice(format!(" {} {}\r\n", status.code, status.reason).as_bytes());
    if status == Status::ESTABLISHED {
        buf.extend_from_slice(b"\r\n");
        return;
    }
    for (name, value) in extra {
        buf.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    match (close, version) {
        (true, _) => buf.extend_from_slice(b"Connection: close\r\n"),
        (false, Version::Http10) => buf.extend_from_slice(b"Connection: keep-alive\r\n"),
        (false, Version::Http11) => {}
    }
    if !text.is_empty() {
        buf.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\n");
    }
    buf.extend_from_slice(format!("Content-Length: {}\r\n\r\n", text.len()).as_bytes());
    buf.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(version: Version, status: Status, close: bool, text: &str) -> String {
        let mut buf = Vec::new();
        let challenge = [("Proxy-Authenticate", "Basic realm=\"xypro-stack\"")];
        let extra: &[(&str, &str)] = match status == Status::AUTH_REQUIRED {
            true => &challenge,
            false => &[],
        };
        write_status(&mut buf, version, status, extra, close, text);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn established_echoes_the_version_and_nothing_else() {
        assert_eq!(
            written(Version::Http10, Status::ESTABLISHED, false, ""),
            "HTTP/1.0 200 Connection established\r\n\r\n"
        );
        assert_eq!(
            written(Version::Http11, Status::ESTABLISHED, false, ""),
            "HTTP/1.1 200 Connection established\r\n\r\n"
        );
    }

    #[test]
    fn errors_carry_length_connection_and_challenge() {
        assert_eq!(
            written(Version::Http11, Status::AUTH_REQUIRED, false, ""),
            "HTTP/1.1 407 Proxy Authentication Required\r\n\
             Proxy-Authenticate: Basic realm=\"xypro-stack\"\r\nContent-Length: 0\r\n\r\n"
        );
        assert_eq!(
            written(Version::Http10, Status::BAD_GATEWAY, true, "refused\n"),
            "HTTP/1.0 502 Bad Gateway\r\nConnection: close\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Length: 8\r\n\r\nrefused\n"
        );
        assert!(
            written(Version::Http10, Status::AUTH_REQUIRED, false, "")
                .contains("Connection: keep-alive\r\n")
        );
    }
}
