//! The `grpc` transport's tunnels: which requests are gun calls, and how each is answered.

use crate::{
    drive::Tunnel,
    grpc::ServerSettings,
    proto::gun::Decoder,
    stream::{Ending, Framing},
};
use http::{HeaderValue, Method, Response, header, request::Parts};

/// The tunnel a gun call becomes (see [`Transport::Grpc`](crate::Transport::Grpc)), or `None`
/// when the request is not one.
pub(crate) fn tunnel(parts: &Parts, settings: &ServerSettings) -> Option<Tunnel> {
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
