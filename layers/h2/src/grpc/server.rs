//! The `grpc` transport's server: serve one HTTP/2 connection, yielding a tunnel per call.

use crate::{
    H2Error, H2Stream,
    drive::{Tunnel, drive},
    grpc::ServerSettings,
    proto::gun::Decoder,
    stream::{Ending, Framing},
};
use http::{HeaderValue, Method, Response, header, request::Parts};
use std::future::Future;
use tokio::io::{AsyncRead, AsyncWrite};

/// Serves one HTTP/2 connection (TLS with ALPN `h2`, or h2c) until it closes, calling
/// `on_stream` with each tunnel's request head and stream.
///
/// A request is a tunnel when it is a `POST` to exactly `settings.path` with a `content-type`
/// starting `application/grpc` (so `application/grpc+proto` too); it is answered `200` with
/// `content-type: application/grpc` at once, and the stream ends with `grpc-status: 0`
/// trailers when shut down. Anything else gets an empty `404`, as gun-lite answers (grpc-go
/// would send `grpc-status: 12`). Limits and the calling convention are those of
/// [`crate::serve`].
pub async fn serve<S, F>(io: S, settings: &ServerSettings, on_stream: F) -> Result<(), H2Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnMut(Parts, H2Stream),
{
    serve_until(io, settings, std::future::pending(), on_stream).await
}

/// As [`serve`], and once `shutdown` completes, sends GOAWAY, takes no new calls and serves
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
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/grpc"),
            );
            Tunnel {
                response,
                framing: Framing::Gun(Decoder::default()),
                ending: Ending::GrpcTrailers,
            }
        })
    };
    drive(io, settings.handshake_timeout, route, shutdown, on_stream).await
}

fn is_tunnel(parts: &Parts, settings: &ServerSettings) -> bool {
    let grpc = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    parts.method == Method::POST && parts.uri.path() == settings.path && grpc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc::ServerOptions;
    use http::Request;

    fn parts(method: &str, path: &str, content_type: &str) -> Parts {
        let request = Request::builder()
            .method(method)
            .uri(format!("https://a.test{path}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(())
            .unwrap();
        request.into_parts().0
    }

    #[test]
    fn checks_method_path_and_content_type() {
        let settings = ServerOptions::new("gun").settings().unwrap();
        assert!(is_tunnel(
            &parts("POST", "/gun/Tun", "application/grpc"),
            &settings
        ));
        assert!(is_tunnel(
            &parts("POST", "/gun/Tun", "application/grpc+proto"),
            &settings
        ));
        assert!(!is_tunnel(
            &parts("POST", "/gun/TunMulti", "application/grpc"),
            &settings
        ));
        assert!(!is_tunnel(
            &parts("POST", "/gun/Tun", "text/plain"),
            &settings
        ));
        assert!(!is_tunnel(
            &parts("GET", "/gun/Tun", "application/grpc"),
            &settings
        ));
    }
}
