//! A proxy on 127.0.0.1:0 (the acceptor and the real dispatch, dialling with plain TCP),
//! origin servers (hyper, and raw ones for odd behaviour) and a raw HTTP client.
#![allow(dead_code, unreachable_pub)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tower::{ServiceExt, service_fn};
use xypro_core::{BoxConnector, BoxError, BoxIo, Denied, Dispatch, Incoming, Target};
use xypro_http::{HttpAcceptor, HttpSettings};

/// How long a test waits for anything before failing.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A running proxy: its address and the dispatch (to look at its table).
pub struct Proxy {
    pub addr: SocketAddr,
    pub dispatch: Dispatch,
}

/// Dials the destination with TCP; `forbidden.test` is refused as a rule would refuse it.
fn tcp_connector() -> BoxConnector {
    BoxConnector::new(service_fn(|target: Target| async move {
        if target.destination.host() == "forbidden.test" {
            let denied = Denied {
                destination: target.destination.to_string(),
                reason: "a test rule",
            };
            return Err::<BoxIo, BoxError>(denied.into());
        }
        let stream = TcpStream::connect(target.destination.to_string()).await?;
        Ok(BoxIo::new(stream))
    }))
}

/// Serves the HTTP inbound with `settings` on 127.0.0.1:0.
pub async fn proxy(settings: HttpSettings) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dispatch = Dispatch::default();
    let acceptor = HttpAcceptor::new(settings);
    let serving = dispatch.clone();
    tokio::spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            let incoming = Incoming::new(stream, peer, addr, "http".into());
            let (acceptor, dispatch) = (acceptor.clone(), serving.clone());
            tokio::spawn(async move {
                if let Ok(accepted) = acceptor.oneshot(incoming).await {
                    dispatch.serve(accepted, tcp_connector()).await;
                }
            });
        }
    });
    Proxy { addr, dispatch }
}

/// Accepts on 127.0.0.1:0 and runs `handle(stream, connection number)` for each connection.
pub async fn serve<F, Fut>(handle: F) -> SocketAddr
where
    F: Fn(TcpStream, usize) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = AtomicUsize::new(0);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handle(stream, count.fetch_add(1, Ordering::Relaxed) + 1));
        }
    });
    addr
}

/// A hyper HTTP/1.1 origin that answers every request with
/// `NAME METHOD PATH host=HOST conn=N body=BODY hop=H` (H lists the hop-by-hop fields it saw).
pub async fn origin(name: &'static str) -> SocketAddr {
    serve(move |stream, conn| async move {
        let service = hyper::service::service_fn(
            move |request: hyper::Request<hyper::body::Incoming>| async move {
                let hop: Vec<String> = request
                    .headers()
                    .keys()
                    .map(|k| k.as_str().to_owned())
                    .filter(|k| k.starts_with("proxy-") || k == "te" || k == "x-hop")
                    .collect();
                let host = request
                    .headers()
                    .get("host")
                    .map(|h| h.to_str().unwrap().to_owned());
                let method = request.method().clone();
                let path = request.uri().to_string();
                let body = request.into_body().collect().await.unwrap().to_bytes();
                let text = format!(
                    "{name} {method} {path} host={} conn={conn} body={} hop={}",
                    host.unwrap_or_default(),
                    String::from_utf8_lossy(&body),
                    hop.join(",")
                );
                Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(text))))
            },
        );
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await;
    })
    .await
}

/// Echoes every byte back.
pub async fn echo() -> SocketAddr {
    serve(|stream, _| async move {
        let (mut r, mut w) = stream.into_split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
    })
    .await
}

/// One response as the client read it.
#[derive(Debug)]
pub struct Response {
    pub code: u16,
    pub version: u8,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response: the head with httparse, then `Content-Length` bytes, or everything
/// until the close when there is none.
pub async fn read_response<R: AsyncRead + Unpin>(io: &mut R, buf: &mut Vec<u8>) -> Response {
    tokio::time::timeout(PATIENCE, read_response_now(io, buf))
        .await
        .expect("a response in time")
}

async fn read_response_now<R: AsyncRead + Unpin>(io: &mut R, buf: &mut Vec<u8>) -> Response {
    let mut chunk = [0u8; 4096];
    loop {
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Response::new(&mut fields);
        if let httparse::Status::Complete(len) = parsed.parse(buf).unwrap() {
            let headers: Vec<(String, String)> = parsed
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_owned(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            let (code, version) = (parsed.code.unwrap(), parsed.version.unwrap());
            buf.drain(..len);
            let length = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.parse::<usize>().unwrap());
            let body_len = match length {
                Some(n) => n,
                None if code == 407 || code == 101 || code < 200 => 0,
                None => {
                    io.read_to_end(buf).await.unwrap();
                    buf.len()
                }
            };
            while buf.len() < body_len {
                let n = io.read(&mut chunk).await.unwrap();
                assert_ne!(n, 0, "closed inside a body");
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = String::from_utf8_lossy(&buf[..body_len]).into_owned();
            buf.drain(..body_len);
            return Response {
                code,
                version,
                headers,
                body,
            };
        }
        let n = io.read(&mut chunk).await.unwrap();
        assert_ne!(
            n,
            0,
            "closed before a whole response head: {:?}",
            String::from_utf8_lossy(buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Whether the peer closes within [`PATIENCE`] (reading and dropping whatever comes first).
pub async fn closes<R: AsyncRead + Unpin>(io: &mut R) -> bool {
    let mut sink = Vec::new();
    matches!(
        tokio::time::timeout(PATIENCE, io.read_to_end(&mut sink)).await,
        Ok(Ok(_)) | Ok(Err(_))
    )
}

/// A GET for `http://ADDR/PATH` through a proxy, with `extra` header lines.
pub fn get(addr: SocketAddr, path: &str, extra: &str) -> String {
    format!(
        "GET http://{addr}{path} HTTP/1.1\r\nHost: {addr}\r\nProxy-Connection: Keep-Alive\r\n{extra}\r\n"
    )
}

/// Connects to the proxy and sends `bytes`.
pub async fn send(proxy: SocketAddr, bytes: &str) -> TcpStream {
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    stream.write_all(bytes.as_bytes()).await.unwrap();
    stream
}

/// Waits until the proxy's table is empty: every logical connection ended.
pub async fn table_drains(dispatch: &Dispatch) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !dispatch.table().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "connections left open: {:?}",
            dispatch.table().list()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
