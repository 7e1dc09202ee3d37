//! The client's upgrade request head.

use crate::WsClientSettings;
use xypro_core::upgrade_request;

/// Appends the `GET` upgrade request for `settings` to `buf`, with `key` as
/// `Sec-WebSocket-Key` and `protocol` (early data) as `Sec-WebSocket-Protocol`.
pub(crate) fn write_request(
    buf: &mut Vec<u8>,
    settings: &WsClientSettings,
    key: &str,
    protocol: Option<&str>,
) {
    let headers = settings
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().as_bytes(), value.as_bytes()));
    let handshake: [(&[u8], &[u8]); 2] = [
        (b"Sec-WebSocket-Version", b"13"),
        (b"Sec-WebSocket-Key", key.as_bytes()),
    ];
    let protocol = protocol.map(|p| (&b"Sec-WebSocket-Protocol"[..], p.as_bytes()));
    let handshake = handshake.into_iter().chain(protocol);
    upgrade_request::write_request(buf, &settings.path, &settings.host, headers, handshake);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClientOptions;

    #[test]
    fn writes_the_exact_head() {
        let mut opts = ClientOptions::new("/xy?x=1&ed=2048");
        opts.headers.insert("User-Agent".into(), "test/1".into());
        let settings = opts.settings(Some("example.test")).unwrap();
        let mut buf = Vec::new();
        write_request(
            &mut buf,
            &settings,
            "dGhlIHNhbXBsZSBub25jZQ==",
            Some("AAEC"),
        );
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "GET /xy?x=1 HTTP/1.1\r\nHost: example.test\r\nuser-agent: test/1\r\n\
             Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: AAEC\r\n\r\n"
        );
    }
}
