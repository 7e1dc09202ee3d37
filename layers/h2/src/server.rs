//! The `h2` transport's server: serve one HTTP/2 connection, yielding a tunnel per stream.

use crate::{
    H2Error, H2Stream, ServerSettings,
    drive::{Tunnel, drive},
    stream::{Ending, Framing},
};
use http::{HeaderValue, Response, header, request::Parts};
use std::future::Future;
use tokio::io::{AsyncRead, AsyncWrite};

/// Serves one HTTP/2 connection (already through TLS with ALPN `h2`, or h2c) until it closes,
/// calling `on_stream` with each tunnel's request head and stream.
///
/// A request is a tunnel when its path starts with `settings.path`, its `:authority` (or
/// `Host`) equals `settings.host` if set (port included), and its method is `settings.method`
/// if set, as sing-box checks (it answers a wrong host `400`; here every miss gets an empty
/// `404`). A tunnel is answered `200` with `cache-control: no-store` at once, before any body
/// byte, so clients that wait for it (v2ray 4.34) do not deadlock.
///
/// The connection runs with the limits of [`tuning`](crate::tuning): at most 250 concurrent
/// streams, a 16 KiB header list, and GOAWAY for clients that reset streams faster than they
/// are accepted (rapid reset) or cause too many protocol-error resets. `on_stream` is called
/// from this future: hand the stream to a task of its own and return.
pub async fn serve<S, F>(io: S, settings: &ServerSettings, on_stream: F) -> Result<(), H2Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnMut(Parts, H2Stream),
{
    serve_until(io, settings, std::future::pending(), on_stream).await
}

/// As [`serve`], and once `shutdown` completes, sends GOAWAY, takes no new streams and serves
/// the open ones until they end.
pub async fn serve_until<S, D, F>(
    io: S,
    settings: &ServerSettings,
    shutdown: D,
    on_stream: F,
) -> Result<(), H2Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    D: Future<Output = ()>,
    F: FnMut(Parts, H2Stream),
{
    let route = |parts: &Parts| {
        is_tunnel(parts, settings).then(|| {
            let mut response = Response::new(());
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Tunnel {
                response,
                framing: Framing::Raw,
                ending: Ending::EndStream,
            }
        })
    };
    drive(io, settings.handshake_timeout, route, shutdown, on_stream).await
}

/// Whether a request is a tunnel for these settings (path prefix, method, host).
pub(crate) fn is_tunnel(parts: &Parts, settings: &ServerSettings) -> bool {
    if !parts.uri.path().starts_with(&settings.path) {
        return false;
    }
    if settings.method.as_ref().is_some_and(|m| *m != parts.method) {
        return false;
    }
    let Some(host) = &settings.host else {
        return true;
    };
    let sent = parts
        .uri
        .authority()
        .map(|a| a.as_str().as_bytes())
        .or_else(|| parts.headers.get(header::HOST).map(HeaderValue::as_bytes));
    sent.is_some_and(|sent| sent.eq_ignore_ascii_case(host.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerOptions;
    use http::Request;

    fn parts(method: &str, uri: &str) -> Parts {
        Request::builder()
            .method(method)
            .uri(uri)
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    #[test]
    fn checks_path_prefix_host_and_method() {
        let mut options = ServerOptions::new("/h2");
        options.host = Some("a.test".into());
        let settings = options.settings().unwrap();
        assert!(is_tunnel(&parts("PUT", "https://a.test/h2"), &settings));
        assert!(is_tunnel(&parts("POST", "https://A.test/h2/x"), &settings));
        assert!(!is_tunnel(&parts("PUT", "https://a.test/h3"), &settings));
        assert!(
            !is_tunnel(&parts("PUT", "https://a.test:443/h2"), &settings),
            "port counts"
        );
        assert!(!is_tunnel(&parts("PUT", "https://b.test/h2"), &settings));
        let mut with_host_header = parts("PUT", "/h2");
        with_host_header
            .headers
            .insert(header::HOST, HeaderValue::from_static("a.test"));
        assert!(is_tunnel(&with_host_header, &settings));

        let mut options = ServerOptions::new("/h2");
        options.method = Some("PUT".into());
        let settings = options.settings().unwrap();
        assert!(
            is_tunnel(&parts("PUT", "https://any.test/h2"), &settings),
            "no host check"
        );
        assert!(!is_tunnel(&parts("GET", "https://any.test/h2"), &settings));
    }
}
