//! A hyper-util HTTP client whose connector is the VLESS/WebSocket/TLS stack: every request's
//! connection is a VLESS tunnel, so the client fetches URLs as the tunnel server sees them.
//!
//! The stack is `VlessConnectorLayer` over `WsConnectorLayer` over `TlsConnectorLayer` over `TcpConnector`,
//! composed statically with tower. [`ThroughVless`] adapts it to hyper's connector interface
//! (`Service<Uri>` returning `hyper_util::rt::TokioIo<_>` that also implements `Connection`),
//! so the legacy `Client` pools and reuses tunnels like any other connection. The tunnel carries
//! plain `http://` requests; `https://` would need one more TLS layer on top, to the website.
//!
//! # Run it
//!
//! ```sh
//! cargo run --example hyper_client_through_vless
//! ```
//!
//! It starts a small web server and a VLESS/WS/TLS server (a `xypro_stack::Server` with the
//! TEST-ONLY certificates in `examples/certs`) on 127.0.0.1, then fetches the web page through
//! the tunnel.
//!
//! # Expected output
//!
//! ```text
//! tunnel server on 127.0.0.1:40001 (TLS for example.test, WebSocket /xy, VLESS)
//! GET http://127.0.0.1:40002/ through VLESS -> 200 OK "hello through the VLESS tunnel"
//! ```

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::{Response, StatusCode, Uri, server::conn::http1, service::service_fn};
use hyper_util::{
    client::legacy::{
        Client,
        connect::{Connected, Connection},
    },
    rt::{TokioExecutor, TokioIo},
};
use std::{
    convert::Infallible,
    future::Future,
    io,
    net::SocketAddr,
    path::{Path, PathBuf},
    pin::Pin,
    task::{Context, Poll},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpListener,
};
use tower::{Service, ServiceBuilder, ServiceExt};
use xypro_stack::{
    Registry, Server,
    core::{Address, BoxConnector, BoxError, BoxIo, Target},
    tcp::TcpConnector,
    tls::{self, TlsConnectorLayer},
    vless::{VlessClientSettings, VlessConnectorLayer, proto::parse_user_id},
    websocket::{self as ws, WsConnectorLayer},
};

/// The demo user's VLESS id.
pub const USER_ID: &str = "2ad043a0-b930-46f8-bd55-1fcefc93339a";

/// The page the demo web server serves.
pub const PAGE: &str = "hello through the VLESS tunnel";

/// Where the tunnel server is and how to reach it.
#[derive(Debug, Clone)]
pub struct Tunnel {
    /// The server's TCP address.
    pub server: SocketAddr,
    /// The TLS server name (SNI, certificate check) and WebSocket `Host`.
    pub server_name: String,
    /// A PEM file of CAs to trust instead of the webpki roots.
    pub ca: Option<PathBuf>,
    /// The WebSocket path.
    pub path: String,
    /// The VLESS user id.
    pub id: String,
}

/// hyper's connector: dials every request's host and port through the VLESS stack.
#[derive(Debug, Clone)]
pub struct ThroughVless {
    stack: BoxConnector,
}

impl ThroughVless {
    /// Builds `Vless<Ws<Tls<Tcp>>>` for `tunnel`.
    pub fn new(tunnel: &Tunnel) -> Result<ThroughVless, BoxError> {
        let mut tls = tls::ClientOptions::new(tunnel.server_name.clone());
        tls.ca = tunnel.ca.clone();
        let mut websocket = ws::ClientOptions::new(tunnel.path.clone());
        websocket.early_data = 2048;
        let stack = ServiceBuilder::new()
            .layer(VlessConnectorLayer::new(VlessClientSettings::new(
                parse_user_id(&tunnel.id)?,
            )))
            .layer(WsConnectorLayer::new(
                websocket.settings(Some(&tunnel.server_name))?,
            ))
            .layer(TlsConnectorLayer::new(tls.settings(Path::new("."))?))
            .service(TcpConnector::new(Address::Ip(tunnel.server)))
            .map_response(BoxIo::new);
        Ok(ThroughVless {
            stack: BoxConnector::new(stack),
        })
    }
}

impl Service<Uri> for ThroughVless {
    type Response = TokioIo<Tunnelled>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.stack.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let destination = match uri.host() {
            Some(host) => {
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let port = uri.port_u16().unwrap_or(80);
                Address::from_host(host, port).map_err(BoxError::from)
            }
            None => Err(format!("no host in {uri}").into()),
        };
        let stack = self.stack.clone();
        Box::pin(async move {
            let io = stack.oneshot(Target::tcp(destination?)).await?;
            Ok(TokioIo::new(Tunnelled(io)))
        })
    }
}

/// One tunnelled connection, as hyper-util's client wants it (`Connection` metadata included).
#[derive(Debug)]
pub struct Tunnelled(BoxIo);

impl Connection for Tunnelled {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl AsyncRead for Tunnelled {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tunnelled {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Fetches `uri` with a hyper-util client that connects through `tunnel`.
pub async fn fetch(tunnel: &Tunnel, uri: Uri) -> Result<(StatusCode, Bytes), BoxError> {
    let client: Client<_, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build(ThroughVless::new(tunnel)?);
    let response = client.get(uri).await?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// A running demo: the tunnel server and the web server behind it.
#[derive(Debug)]
pub struct Demo {
    /// The VLESS/WS/TLS server (stops when dropped).
    pub server: Server,
    /// How to reach it.
    pub tunnel: Tunnel,
    /// The web page to fetch through it.
    pub url: Uri,
}

/// Starts a web server and a VLESS/WS/TLS server on 127.0.0.1 ephemeral ports.
pub async fn start() -> Result<Demo, BoxError> {
    let web = web_server().await?;
    let certs = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/certs");
    let yaml = format!(
        "inbounds:
  tunnel:
    listen: 127.0.0.1:0
    pipeline:
      - tls: {{ cert: {cert}, key: {key} }}
      - websocket: {{ path: /xy }}
      - vless: {{ users: [{{ name: demo, id: {USER_ID} }}], allow_private: true }}
    outbound: free
outbounds:
  free:
    - direct
",
        cert = certs.join("server.pem").display(),
        key = certs.join("server.key").display(),
    );
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = format!("xypro-hyper-client-{}-{n}.yaml", std::process::id());
    let path = std::env::temp_dir().join(file);
    std::fs::write(&path, yaml)?;
    let server = Server::start(&path, Registry::with_builtin()).await;
    let _ = std::fs::remove_file(&path);
    let server = server?;
    let tunnel = Tunnel {
        server: server.local_addrs()[0].1,
        server_name: "example.test".into(),
        ca: Some(certs.join("ca.pem")),
        path: "/xy".into(),
        id: USER_ID.into(),
    };
    let url = format!("http://{web}/").parse()?;
    Ok(Demo {
        server,
        tunnel,
        url,
    })
}

/// Starts the demo, fetches its page through the tunnel, and stops it.
pub async fn run() -> Result<(StatusCode, Bytes), BoxError> {
    let demo = start().await?;
    let fetched = fetch(&demo.tunnel, demo.url.clone()).await;
    demo.server.shutdown().await;
    fetched
}

/// A hyper web server on 127.0.0.1 serving [`PAGE`].
async fn web_server() -> io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let page = service_fn(|_req| async {
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                    PAGE.as_bytes(),
                ))))
            });
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), page));
        }
    });
    Ok(addr)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let demo = start().await?;
    println!(
        "tunnel server on {} (TLS for {}, WebSocket {}, VLESS)",
        demo.tunnel.server, demo.tunnel.server_name, demo.tunnel.path
    );
    let (status, body) = fetch(&demo.tunnel, demo.url.clone()).await?;
    println!(
        "GET {} through VLESS -> {status} {:?}",
        demo.url,
        String::from_utf8_lossy(&body)
    );
    demo.server.shutdown().await;
    Ok(())
}
