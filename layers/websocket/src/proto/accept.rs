//! The server's side of the upgrade: checking a request head and building the answers.

use super::early_data;
use crate::WsServerSettings;
use bytes::Bytes;
use http_body_util::Empty;
use hyper::{
    Method, Request, Response, StatusCode, Version,
    header::{self, HeaderValue},
};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use xypro_core::upgrade_request::has_token;

/// What a valid upgrade request asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Upgrade {
    /// The `Sec-WebSocket-Accept` value.
    pub(crate) accept: String,
    /// The `Sec-WebSocket-Protocol` value to echo when it carried early data.
    pub(crate) protocol: Option<HeaderValue>,
    /// The decoded early data (empty when none).
    pub(crate) early: Bytes,
}

/// Checks `req` against `settings`; `Err` names the first failed check (for logs only).
pub(crate) fn check_request<B>(
    req: &Request<B>,
    settings: &WsServerSettings,
) -> Result<Upgrade, &'static str> {
    let headers = req.headers();
    let has = |name: header::HeaderName, token: &[u8]| {
        headers
            .get_all(name)
            .iter()
            .any(|v| has_token(v.as_bytes(), token))
    };
    if req.method() != Method::GET {
        return Err("method is not GET");
    }
    if req.version() != Version::HTTP_11 {
        return Err("not HTTP/1.1");
    }
    if req.uri().path() != settings.path {
        return Err("wrong path");
    }
    if !has(header::UPGRADE, b"websocket") {
        return Err("no `Upgrade: websocket`");
    }
    if !has(header::CONNECTION, b"upgrade") {
        return Err("no `Connection: upgrade`");
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(|v| v.as_bytes())
        != Some(b"13")
    {
        return Err("Sec-WebSocket-Version is not 13");
    }
    let key = match headers.get(header::SEC_WEBSOCKET_KEY) {
        Some(key) if !key.is_empty() => key,
        _ => return Err("no Sec-WebSocket-Key"),
    };
    if let Some(host) = &settings.host {
        let sent = headers.get(header::HOST).map(|v| v.as_bytes());
        if !sent.is_some_and(|sent| host_matches(sent, host.as_bytes())) {
            return Err("wrong Host");
        }
    }
    for (name, value) in &settings.headers {
        if !headers.get_all(name).iter().any(|v| v == value) {
            return Err("a required header is missing or differs");
        }
    }
    let mut upgrade = Upgrade {
        accept: derive_accept_key(key.as_bytes()),
        protocol: None,
        early: Bytes::new(),
    };
    if settings.early_data
        && let Some(value) = headers.get(header::SEC_WEBSOCKET_PROTOCOL)
        && let Some(early) = early_data::decode(value.as_bytes())
    {
        upgrade.protocol = Some(value.clone());
        upgrade.early = early;
    }
    Ok(upgrade)
}

/// Whether a `Host` value equals `want`, with or without its `:port`.
fn host_matches(sent: &[u8], want: &[u8]) -> bool {
    if sent.eq_ignore_ascii_case(want) {
        return true;
    }
    match sent.iter().rposition(|&b| b == b':') {
        Some(i) => {
            let (name, port) = (&sent[..i], &sent[i + 1..]);
            let bracketed_or_plain = name.ends_with(b"]") || !name.contains(&b':');
            !port.is_empty()
                && port.iter().all(u8::is_ascii_digit)
                && bracketed_or_plain
                && name.eq_ignore_ascii_case(want)
        }
        None => false,
    }
}

/// The `101 Switching Protocols` answer to `upgrade`.
pub(crate) fn switching(upgrade: &Upgrade) -> Response<Empty<Bytes>> {
    let mut response = Response::new(Empty::new());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::from_str(&upgrade.accept) {
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    if let Some(protocol) = &upgrade.protocol {
        headers.insert(header::SEC_WEBSOCKET_PROTOCOL, protocol.clone());
    }
    response
}

/// The one answer to every request that is not an upgrade for this endpoint: an empty `404`
/// that closes the connection, the same bytes whatever was asked.
pub(crate) fn not_found() -> Response<Empty<Bytes>> {
    let mut response = Response::new(Empty::new());
    *response.status_mut() = StatusCode::NOT_FOUND;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerOptions;

    fn settings() -> WsServerSettings {
        let mut opts = ServerOptions::new("/xy");
        opts.host = Some("example.test".into());
        opts.headers.insert("X-Token".into(), "t1".into());
        opts.settings().unwrap()
    }

    fn request() -> hyper::http::request::Builder {
        Request::get("/xy?ed=1")
            .header("host", "Example.Test:443")
            .header("upgrade", "websocket")
            .header("connection", "keep-alive, Upgrade")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("x-token", "t1")
    }

    #[test]
    fn accepts_a_valid_upgrade_and_decodes_early_data() {
        let req = request()
            .header("sec-websocket-protocol", "aGVsbG8")
            .body(())
            .unwrap();
        let up = check_request(&req, &settings()).unwrap();
        assert_eq!(up.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(up.early, &b"hello"[..]);
        assert_eq!(up.protocol.unwrap(), "aGVsbG8");
        let req = request()
            .header("sec-websocket-protocol", "chat, superchat")
            .body(())
            .unwrap();
        let up = check_request(&req, &settings()).unwrap();
        assert!(up.early.is_empty() && up.protocol.is_none());
    }

    #[test]
    fn early_data_off_ignores_the_header() {
        let mut s = settings();
        s.early_data = false;
        let req = request()
            .header("sec-websocket-protocol", "aGVsbG8")
            .body(())
            .unwrap();
        let up = check_request(&req, &s).unwrap();
        assert!(up.early.is_empty() && up.protocol.is_none());
    }

    #[test]
    fn names_each_miss() {
        let s = settings();
        let miss = |req: Request<()>| check_request(&req, &s).unwrap_err();
        let mut post = request().body(()).unwrap();
        *post.method_mut() = Method::POST;
        assert_eq!(miss(post), "method is not GET");
        let mut other = request().body(()).unwrap();
        *other.uri_mut() = "/XY".parse().unwrap();
        assert_eq!(miss(other), "wrong path");
        let mut no_key = request().body(()).unwrap();
        no_key.headers_mut().remove("sec-websocket-key");
        assert_eq!(miss(no_key), "no Sec-WebSocket-Key");
        let mut v8 = request().body(()).unwrap();
        v8.headers_mut()
            .insert("sec-websocket-version", HeaderValue::from_static("8"));
        assert_eq!(miss(v8), "Sec-WebSocket-Version is not 13");
        let mut host = request().body(()).unwrap();
        host.headers_mut()
            .insert("host", HeaderValue::from_static("other.test"));
        assert_eq!(miss(host), "wrong Host");
        let mut token = request().body(()).unwrap();
        token.headers_mut().remove("x-token");
        assert_eq!(miss(token), "a required header is missing or differs");
    }

    #[test]
    fn host_port_is_ignored_only_when_numeric() {
        assert!(host_matches(b"a.test:80", b"a.test"));
        assert!(host_matches(b"[::1]:80", b"[::1]"));
        assert!(!host_matches(b"a.test:x", b"a.test"));
        assert!(!host_matches(b"b.test", b"a.test"));
    }
}
