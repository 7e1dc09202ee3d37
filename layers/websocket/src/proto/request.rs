//! The client's upgrade request head.

use crate::WsClientSettings;

/// Appends the `GET` upgrade request for `settings` to `buf`, with `key` as
/// `Sec-WebSocket-Key` and `protocol` (early data) as `Sec-WebSocket-Protocol`.
pub(crate) fn write_request(
    buf: &mut Vec<u8>,
    settings: &WsClientSettings,
    key: &str,
    protocol: Option<&str>,
) {
    let mut line = |parts: &[&[u8]]| {
        for part in parts {
            buf.extend_from_slice(part);
        }
        buf.extend_from_slice(b"\r\n");
    };
    line(&[b"GET ", settings.path.as_bytes(), b" HTTP/1.1"]);
    line(&[b"Host: ", settings.host.as_bytes()]);
    for (name, value) in &settings.headers {
        line(&[name.as_str().as_bytes(), b": ", value.as_bytes()]);
    }
    line(&[b"Connection: Upgrade"]);
    line(&[b"Upgrade: websocket"]);
    line(&[b"Sec-WebSocket-Version: 13"]);
    line(&[b"Sec-WebSocket-Key: ", key.as_bytes()]);
    if let Some(protocol) = protocol {
        line(&[b"Sec-WebSocket-Protocol: ", protocol.as_bytes()]);
    }
    line(&[]);
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
