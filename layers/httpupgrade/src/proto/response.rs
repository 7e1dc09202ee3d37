//! The server's answers (`101` and the empty `404`) and the client's parse of the `101`.

use super::{MAX_HEADERS, head_len};
use crate::HttpUpgradeError;
use xypro_core::upgrade_request::has_token;

/// The server's `101`, as sing-box writes it less its `Date`.
pub const SWITCHING_PROTOCOLS: &[u8] =
    b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n";

/// The answer to every miss, byte for byte the one the WebSocket server writes.
pub const NOT_FOUND: &[u8] =
    b"HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";

/// Parses a `101` head from the start of `buf`: `Ok(None)` while it is incomplete, else the
/// head's length (`\r\n\r\n` included); bytes past it are tunnel data.
pub fn parse_response(buf: &[u8]) -> Result<Option<usize>, HttpUpgradeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let parsed = response.parse(buf).map_err(HttpUpgradeError::Malformed)?;
    let Some(head_len) = head_len(parsed, buf.len())? else {
        return Ok(None);
    };
    let status = response.code.unwrap_or(0);
    if status != 101 {
        return Err(HttpUpgradeError::Status { status });
    }
    let has = |name: &str, token: &[u8]| {
        response
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case(name) && has_token(h.value, token))
    };
    if !(has("upgrade", b"websocket") && has("connection", b"upgrade")) {
        return Err(HttpUpgradeError::NotUpgrade);
    }
    Ok(Some(head_len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::MAX_HEAD;

    #[test]
    fn parses_a_101_in_pieces_and_keeps_data_after_it() {
        let sing_box = b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n\
            Upgrade: websocket\r\nDate: Mon, 30 Nov 2026 12:00:00 GMT\r\n\r\n\x00\x00data";
        let head = sing_box.len() - 6;
        for cut in 0..head {
            assert_eq!(parse_response(&sing_box[..cut]).unwrap(), None, "{cut}");
        }
        assert_eq!(parse_response(sing_box).unwrap(), Some(head));
        assert_eq!(
            parse_response(SWITCHING_PROTOCOLS).unwrap(),
            Some(SWITCHING_PROTOCOLS.len())
        );
    }

    #[test]
    fn refuses_other_statuses_and_non_upgrades() {
        assert!(matches!(
            parse_response(NOT_FOUND),
            Err(HttpUpgradeError::Status { status: 404 })
        ));
        let bare = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
        assert!(matches!(
            parse_response(bare),
            Err(HttpUpgradeError::NotUpgrade)
        ));
        assert!(matches!(
            parse_response(b"HTTP/1.1 1x1 ?\r\n\r\n"),
            Err(HttpUpgradeError::Malformed(_))
        ));
        let mut endless = b"HTTP/1.1 101 Switching Protocols\r\nX-Pad: ".to_vec();
        endless.resize(MAX_HEAD + 1, b'a');
        assert!(matches!(
            parse_response(&endless),
            Err(HttpUpgradeError::HeadTooLarge { .. })
        ));
    }
}
