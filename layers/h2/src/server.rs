//! The server of the `h2` and `grpc` transports: serve one HTTP/2 connection, yielding a tunnel
//! per stream.

use crate::{
    H2Error, H2Stream, ServerSettings,
    drive::{Tunnel, drive},
    grpc,
    stream::{Ending, Framing},
};
use http::{HeaderValue, Response, header, request::Parts};
use std::{future::Future, time::Duration};
use tokio::io::{AsyncRead, AsyncWrite};

/// The transport a connection is served as, with its settings: which requests are tunnels and
/// how each is answered. Every other request gets an empty `404`.
#[derive(Debug, Clone, Copy)]
pub enum Transport<'a> {
    /// `h2`: a request is a tunnel when its path starts with `settings.path`, its `:authority`
    /// (or `Host`) equals `settings.host` if set (port included), and its method is
    /// `settings.method` if set, as sing-box checks (it answers a wrong host `400`). A tunnel
    /// is answered `200` with `cache-control: no-store` at once, before any body byte, so
    /// clients that wait for it (v2ray 4.34) do not deadlock.
    H2(&'a ServerSettings),
    /// `grpc`: a request is a tunnel when it is a `POST` to exactly `settings.path` with a
    /// `content-type` starting `application/grpc` (so `application/grpc+proto` too). A tunnel
    /// is answered `200` with `content-type: application/grpc` at once and ends with
    /// `grpc-status: 0` trailers when shut down; a miss gets the empty `404` gun-lite sends
    /// (grpc-go would send `grpc-status: 12`).
    Grpc(&'a grpc::ServerSettings),
}

impl Transport<'_> {
    /// Deadline for the client's connection preface.
    pub(crate) fn handshake_timeout(self) -> Duration {
        match self {
            Transport::H2(settings) => settings.handshake_timeout,
            Transport::Grpc(settings) => settings.handshake_timeout,
        }
    }

    /// How the request `parts` heads becomes a tunnel, or `None` when it is not one.
    fn tunnel(self, parts: &Parts) -> Option<Tunnel> {
        match self {
            Transport::H2(settings) => is_tunnel(parts, settings).then(|| {
                let mut response = Response::new(());
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                Tunnel {
                    response,
                    framing: Framing::Raw,
                    ending: Ending::EndStream,
                }
            }),
            Transport::Grpc(settings) => grpc::tunnel(parts, settings),
        }
    }
}

impl<'a> From<&'a ServerSettings> for Transport<'a> {
    fn from(settings: &'a ServerSettings) -> Self {
        Transport::H2(settings)
    }
}

impl<'a> From<&'a grpc::ServerSettings> for Transport<'a> {
    fn from(settings: &'a grpc::ServerSettings) -> Self {
        Transport::Grpc(settings)
    }
}

/// Serves one HTTP/2 connection (already through TLS with ALPN `h2`, or h2c) until it closes,
/// as `transport` (the `h2` transport's [`ServerSettings`] or the `grpc` transport's
/// [`grpc::ServerSettings`]), calling `on_stream` with each tunnel's request head and stream.
///
/// The connection runs with the limits of [`tuning`](crate::tuning): at most 250 concurrent
/// streams, a 16 KiB header list, and GOAWAY for clients that reset streams faster than they
/// are accepted (rapid reset) or cause too many protocol-error resets. `on_stream` is called
/// from this future: hand the stream to a task of its own and return.
pub async fn serve<'a, S, F>(
    io: S,
    transport: impl Into<Transport<'a>>,
    on_stream: F,
) -> Result<(), H2Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnMut(Parts, H2Stream),
{
    serve_until(io, transport, std::future::pending(), on_stream).await
}

/// As [`serve`], and once `shutdown` completes, sends GOAWAY, takes no new streams and serves
/// the open ones until they end.
pub async fn serve_until<'a, S, D, F>(
    io: S,
    transport: impl Into<Transport<'a>>,
    shutdown: D,
    on_stream: F,
) -> Result<(), H2Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    D: Future<Output = ()>,
    F: FnMut(Parts, H2Stream),
{
    let transport = transport.into();
    let route = |parts: &Parts| transport.tunnel(parts);
    drive(
        io,
        transport.handshake_timeout(),
        route,
        shutdown,
        on_stream,
    )
    .await
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
