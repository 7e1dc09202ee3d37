//! Serving the upgrade from your own hyper service: check the request, answer with the `101`,
//! then wrap the upgraded connection in a [`WsByteStream`](crate::WsByteStream).

use crate::{
    WsServerSettings,
    proto::accept::{check_request, switching},
};
use bytes::Bytes;
use http_body_util::Empty;
use hyper::{Request, Response};

/// An upgrade request that passed every check: the `101` to answer with and its early data.
#[derive(Debug)]
pub struct AcceptedUpgrade {
    /// The `101 Switching Protocols` answer, echoing early data in `Sec-WebSocket-Protocol`.
    pub response: Response<Empty<Bytes>>,
    /// The decoded early data (empty when none), to pass to [`WsByteStream::with_prefix`](crate::WsByteStream::with_prefix).
    pub early: Bytes,
}

/// Checks a request received by your own hyper service against `settings`, the same checks
/// [`WsAcceptor`](crate::WsAcceptor) makes; `Err` names the first failed one (for logs only).
///
/// On success, return `response` from the service, take the connection with
/// `hyper::upgrade::on(request)` (served `with_upgrades()`) and read it through
/// `WsByteStream::new(TokioIo::new(upgraded), Role::Server).with_prefix(early)`.
pub fn accept_upgrade<B>(
    req: &Request<B>,
    settings: &WsServerSettings,
) -> Result<AcceptedUpgrade, &'static str> {
    let upgrade = check_request(req, settings)?;
    Ok(AcceptedUpgrade {
        response: switching(&upgrade),
        early: upgrade.early,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerOptions;
    use hyper::{StatusCode, header};

    fn request(path: &str) -> hyper::http::request::Builder {
        Request::get(path)
            .header("host", "example.test")
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
    }

    #[test]
    fn answers_101_with_the_accept_key_and_echoes_early_data() {
        let settings = ServerOptions::new("/secret").settings().unwrap();
        let req = request("/secret")
            .header("sec-websocket-protocol", "aGVsbG8")
            .body(())
            .unwrap();
        let accepted = accept_upgrade(&req, &settings).unwrap();
        let headers = accepted.response.headers();
        assert_eq!(accepted.response.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(
            headers[header::SEC_WEBSOCKET_ACCEPT],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(headers[header::SEC_WEBSOCKET_PROTOCOL], "aGVsbG8");
        assert_eq!(headers[header::UPGRADE], "websocket");
        assert_eq!(accepted.early, &b"hello"[..]);

        let plain = request("/secret").body(()).unwrap();
        let accepted = accept_upgrade(&plain, &settings).unwrap();
        assert!(accepted.early.is_empty());
        assert!(
            !accepted
                .response
                .headers()
                .contains_key(header::SEC_WEBSOCKET_PROTOCOL)
        );
    }

    #[test]
    fn refuses_other_paths_and_plain_requests() {
        let settings = ServerOptions::new("/secret").settings().unwrap();
        let other = request("/").body(()).unwrap();
        assert_eq!(accept_upgrade(&other, &settings).unwrap_err(), "wrong path");
        let page = Request::get("/secret").body(()).unwrap();
        assert_eq!(
            accept_upgrade(&page, &settings).unwrap_err(),
            "no `Upgrade: websocket`"
        );
    }
}
