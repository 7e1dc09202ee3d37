//! The server's `101` response head, parsed and checked against the key sent.

use crate::WsError;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use xypro_core::upgrade_request::has_token;

/// Largest response head the client reads before giving up.
pub(crate) const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// Most header lines a response head may have.
const MAX_HEADERS: usize = 64;

/// A valid `101 Switching Protocols` head.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Switched {
    /// Length of the head, `\r\n\r\n` included; bytes past it are WebSocket frames.
    pub(crate) head_len: usize,
    /// The `Sec-WebSocket-Protocol` value, if the server sent one.
    pub(crate) protocol: Option<Vec<u8>>,
}

/// Parses a response head from the start of `buf`: `Ok(None)` while it is incomplete.
pub(crate) fn parse_response(buf: &[u8], key: &str) -> Result<Option<Switched>, WsError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(buf).map_err(WsError::Malformed)? {
        httparse::Status::Partial if buf.len() >= MAX_RESPONSE_HEAD => {
            return Err(WsError::HeadTooLarge {
                limit: MAX_RESPONSE_HEAD,
            });
        }
        httparse::Status::Partial => return Ok(None),
        httparse::Status::Complete(len) => len,
    };
    if head_len > MAX_RESPONSE_HEAD {
        return Err(WsError::HeadTooLarge {
            limit: MAX_RESPONSE_HEAD,
        });
    }
    let status = response.code.unwrap_or(0);
    if status != 101 {
        return Err(WsError::Status { status });
    }
    let (mut upgrade, mut connection, mut accepted, mut protocol) = (false, false, false, None);
    let expected = derive_accept_key(key.as_bytes());
    for header in response.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("upgrade") {
            upgrade |= has_token(header.value, b"websocket");
        } else if name.eq_ignore_ascii_case("connection") {
            connection |= has_token(header.value, b"upgrade");
        } else if name.eq_ignore_ascii_case("sec-websocket-accept") {
            accepted = header.value.trim_ascii() == expected.as_bytes();
        } else if name.eq_ignore_ascii_case("sec-websocket-protocol") {
            protocol = Some(header.value.trim_ascii().to_vec());
        }
    }
    if !(upgrade && connection) {
        return Err(WsError::NotWebSocket);
    }
    if !accepted {
        return Err(WsError::BadAccept);
    }
    Ok(Some(Switched { head_len, protocol }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    // RFC 6455 section 1.3's example accept value for KEY.
    const OK: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\n\
        Connection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";

    #[test]
    fn parses_a_101_in_pieces_and_keeps_frames_after_it() {
        let mut full = format!("{OK}Sec-WebSocket-Protocol: AAEC\r\n\r\n").into_bytes();
        full.extend_from_slice(&[0x82, 0x00]);
        for cut in 0..full.len() - 2 {
            assert_eq!(parse_response(&full[..cut], KEY).unwrap(), None);
        }
        let switched = parse_response(&full, KEY).unwrap().unwrap();
        assert_eq!(switched.head_len, full.len() - 2);
        assert_eq!(switched.protocol.as_deref(), Some(&b"AAEC"[..]));
    }

    #[test]
    fn rejects_wrong_status_accept_and_headers() {
        let not_found = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
        assert!(matches!(
            parse_response(not_found, KEY),
            Err(WsError::Status { status: 404 })
        ));
        let other_key = "AAAAAAAAAAAAAAAAAAAAAA==";
        let ok = format!("{OK}\r\n");
        assert!(matches!(
            parse_response(ok.as_bytes(), other_key),
            Err(WsError::BadAccept)
        ));
        let no_upgrade = ok.replace("Upgrade: WebSocket\r\n", "");
        assert!(matches!(
            parse_response(no_upgrade.as_bytes(), KEY),
            Err(WsError::NotWebSocket)
        ));
        assert!(matches!(
            parse_response(b"HTTP/1.1 1O1 x\r\n\r\n", KEY),
            Err(WsError::Malformed(_))
        ));
    }

    #[test]
    fn caps_the_head_size() {
        let mut endless = format!("{OK}X-Pad: ");
        endless.push_str(&"a".repeat(MAX_RESPONSE_HEAD));
        assert!(matches!(
            parse_response(endless.as_bytes(), KEY),
            Err(WsError::HeadTooLarge { .. })
        ));
    }
}
