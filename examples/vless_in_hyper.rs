//! VLESS inside an existing hyper web server: `/` serves an ordinary page, and a WebSocket
//! upgrade on a secret path becomes a VLESS tunnel, built from the `xypro-websocket` and
//! `xypro-vless` pieces (hyper 1 and hyper-util only, no framework).
//!
//! The app's own service decides: [`xypro_websocket::accept_upgrade`] checks the request and
//! computes the `101` (echoing early data); the app returns it, takes the connection with
//! `hyper::upgrade::on`, wraps it in a
//! [`WsByteStream`](xypro_websocket::WsByteStream) (server role), and hands that to
//! [`VlessAcceptor`](xypro_vless::VlessAcceptor). What the acceptor yields goes to a
//! [`Dispatch`](xypro_core::Dispatch), which dials it with
//! [`DirectConnector`](xypro_tcp::DirectConnector), relays, and keeps it in a connection table
//! the app can list and close from. Every other request is the web app's business. The server speaks plain HTTP: in production put
//! TLS in front of it (a reverse proxy, or `tokio-rustls` around the accepted sockets).
//!
//! # Run it
//!
//! ```sh
//! cargo run --example vless_in_hyper            # listens on 127.0.0.1:8080
//! cargo run --example vless_in_hyper 127.0.0.1:0
//! ```
//!
//! It first checks itself: fetches `/`, then sends bytes through a VLESS-over-WebSocket client
//! (`VlessConnectorLayer` over `WsConnectorLayer` over `TcpConnector`) to a local echo server. Then it
//! serves until Ctrl-C.
//!
//! # Expected output
//!
//! ```text
//! GET / -> "hello from an ordinary web page"
//! VLESS on /vless-7f3a9c echoed "ping through VLESS over WebSocket"
//! serving on 127.0.0.1:8080 until Ctrl-C; try:
//!   curl http://127.0.0.1:8080/           # hello from an ordinary web page
//!   curl -i http://127.0.0.1:8080/vless-7f3a9c   # 404: not an upgrade
//! ```

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::{
    Request, Response, StatusCode, body::Incoming as Body, server::conn::http1,
    service::service_fn, upgrade::OnUpgrade,
};
use hyper_util::rt::TokioIo;
use std::{convert::Infallible, net::SocketAddr, time::Duration};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};
use tower::{Layer, ServiceExt};
use xypro_stack::{
    core::{Address, BoxConnector, BoxError, Dispatch, DispatchSettings, Incoming, Target},
    tcp::{DirectConnector, TcpConnector},
    vless::{
        VlessAcceptor, VlessClientSettings, VlessConnectorLayer, VlessServerSettings,
        proto::parse_user_id,
    },
    websocket::{
        ClientOptions, Role, ServerOptions, WsByteStream, WsConnectorLayer, WsServerSettings,
        accept_upgrade,
    },
};

/// The secret path the VLESS tunnel is served on.
pub const SECRET_PATH: &str = "/vless-7f3a9c";

/// The demo user's VLESS id.
pub const USER_ID: &str = "2ad043a0-b930-46f8-bd55-1fcefc93339a";

/// The page every visitor sees.
pub const PAGE: &str = "hello from an ordinary web page";

/// How long a tunnel may stay silent before it is closed.
const IDLE: Duration = Duration::from_secs(300);

/// The web app's shared state: the tunnel's settings, where tunnelled traffic goes, and the
/// dispatch that runs (and lists) the tunnels.
#[derive(Debug, Clone)]
pub struct App {
    websocket: WsServerSettings,
    vless: VlessAcceptor,
    outbound: BoxConnector,
    dispatch: Dispatch,
}

impl App {
    /// An app tunnelling on `path` for the demo user. `allow_private` lets tunnels reach
    /// loopback and private addresses (the demo's echo server); keep it off on a real server.
    pub fn new(path: &str, allow_private: bool) -> Result<App, BoxError> {
        let id = parse_user_id(USER_ID)?;
        let mut vless = VlessServerSettings::new(vec![("demo".into(), id)]);
        vless.allow_private = allow_private;
        Ok(App {
            websocket: ServerOptions::new(path).settings()?,
            vless: VlessAcceptor::new(vless),
            outbound: BoxConnector::new(DirectConnector::new()),
            dispatch: Dispatch::new(Default::default(), DispatchSettings::new(IDLE)),
        })
    }

    /// The web app: the page on `/`, the tunnel on the secret path, `404` elsewhere.
    async fn handle(
        self,
        mut req: Request<Body>,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        if req.uri().path() == self.websocket.path
            && let Ok(accepted) = accept_upgrade(&req, &self.websocket)
        {
            let on_upgrade = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                if let Err(e) = self.tunnel(on_upgrade, accepted.early, peer, local).await {
                    eprintln!("tunnel from {peer} ended: {e}");
                }
            });
            return Ok(accepted.response.map(|_: Empty<Bytes>| Full::default()));
        }
        let response = match req.uri().path() {
            "/" => Response::new(Full::new(Bytes::from_static(PAGE.as_bytes()))),
            _ => {
                let mut missing = Response::new(Full::default());
                *missing.status_mut() = StatusCode::NOT_FOUND;
                missing
            }
        };
        Ok(response)
    }

    /// Runs one upgraded connection: WebSocket, VLESS handshake, then the dispatch (dial, relay).
    async fn tunnel(
        self,
        on_upgrade: OnUpgrade,
        early: Bytes,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Result<(), BoxError> {
        let upgraded = TokioIo::new(on_upgrade.await?);
        let ws = WsByteStream::new(upgraded, Role::Server).with_prefix(early);
        let incoming = Incoming::new(ws, peer, local, "web".into());
        let accepted = self.vless.oneshot(incoming).await?;
        self.dispatch.serve(accepted, self.outbound).await;
        Ok(())
    }
}

/// Serves `app` on `listener` with hyper, one task per connection, until aborted.
pub async fn serve(listener: TcpListener, app: App) {
    while let Ok((stream, peer)) = listener.accept().await {
        let Ok(local) = stream.local_addr() else {
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| app.clone().handle(req, peer, local));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

/// Binds `listen` and serves the demo app there; returns the bound address and the task.
pub async fn start(listen: SocketAddr) -> Result<(SocketAddr, JoinHandle<()>), BoxError> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let app = App::new(SECRET_PATH, true)?;
    Ok((addr, tokio::spawn(serve(listener, app))))
}

/// What the self-check saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The body of `GET /`.
    pub page: String,
    /// What came back through the tunnel from the echo server.
    pub echoed: Vec<u8>,
}

/// The message the self-check sends through the tunnel.
pub const PING: &[u8] = b"ping through VLESS over WebSocket";

/// Fetches `/` from the server at `server`, then echoes [`PING`] through its VLESS tunnel.
pub async fn check(server: SocketAddr) -> Result<Checked, BoxError> {
    let page = get_page(server).await?;

    let echo = echo_server().await?;
    let mut ws = ClientOptions::new(SECRET_PATH);
    ws.early_data = 2048; // the VLESS header and the first bytes ride in the upgrade request
    let ws = ws.settings(Some(&server.to_string()))?;
    let vless = VlessClientSettings::new(parse_user_id(USER_ID)?);
    let client = VlessConnectorLayer::new(vless)
        .layer(WsConnectorLayer::new(ws).layer(TcpConnector::new(Address::Ip(server))));
    let mut stream = client.oneshot(Target::tcp(echo)).await?;
    stream.write_all(PING).await?;
    stream.flush().await?;
    let mut echoed = vec![0; PING.len()];
    tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut echoed)).await??;
    Ok(Checked { page, echoed })
}

/// Runs the server on an ephemeral 127.0.0.1 port, checks it, and stops it.
pub async fn run() -> Result<Checked, BoxError> {
    let (addr, task) = start("127.0.0.1:0".parse()?).await?;
    let checked = check(addr).await;
    task.abort();
    checked
}

/// `GET /` with hyper's HTTP/1 client connection.
async fn get_page(server: SocketAddr) -> Result<String, BoxError> {
    let stream = TcpStream::connect(server).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = Request::get("/")
        .header(hyper::header::HOST, server.to_string())
        .body(Empty::<Bytes>::new())?;
    let body = sender
        .send_request(req)
        .await?
        .into_body()
        .collect()
        .await?;
    Ok(String::from_utf8(body.to_bytes().to_vec())?)
}

/// An echo server on 127.0.0.1, the destination of the self-check.
async fn echo_server() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = stream.into_split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    Ok(addr)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into())
        .parse()?;
    let (addr, task) = start(listen).await?;
    let checked = check(addr).await?;
    println!("GET / -> {:?}", checked.page);
    println!(
        "VLESS on {SECRET_PATH} echoed {:?}",
        String::from_utf8_lossy(&checked.echoed)
    );
    println!("serving on {addr} until Ctrl-C; try:");
    println!("  curl http://{addr}/           # {PAGE}");
    println!("  curl -i http://{addr}{SECRET_PATH}   # 404: not an upgrade");
    tokio::signal::ctrl_c().await?;
    task.abort();
    Ok(())
}
