//! A custom outbound layer written in Rust and used by name from a YAML pipeline.
//!
//! `allow_list` lets connections through only to the destinations it lists and refuses every
//! other one with [`xypro_core::Denied`]; a SOCKS5 inbound reports that to its client as reply
//! `02` (connection not allowed by ruleset). The layer is plain tower: [`AllowList`] wraps any
//! connector (`Service<Target>`), [`AllowListLayer`] builds it, and one call registers it:
//!
//! ```text
//! registry.outbound_layer("allow_list", |options: AllowListOptions, inner: BoxConnector, _ctx| ...)
//! ```
//!
//! after which a config can say `outbounds: { guarded: [ { allow_list: { destinations: [...] } }, direct ] }`.
//! Bad options are reported by `Server::start` with the key and line, like built-in layers.
//!
//! # Run it
//!
//! ```sh
//! cargo run --example custom_layer
//! ```
//!
//! It starts two small web servers on 127.0.0.1, writes a config whose only outbound is
//! `[allow_list, direct]` allowing the first of them, serves it with [`xypro_stack::Server`],
//! tries both through SOCKS5, then keeps the proxy running until Ctrl-C.
//!
//! # Expected output
//!
//! ```text
//! allowed 127.0.0.1:40001: "HTTP/1.1 200 OK ... hello from the allowed server"
//! refused 127.0.0.1:40002: SOCKS5 reply 02 (connection not allowed by ruleset)
//! SOCKS5 proxy with the allow list on 127.0.0.1:40000 until Ctrl-C; try:
//!   curl --socks5 127.0.0.1:40000 http://127.0.0.1:40001/   # hello from the allowed server
//!   curl --socks5 127.0.0.1:40000 http://127.0.0.1:40002/   # curl: (97) ... not allowed
//! ```
//!
//! (The ports are ephemeral and differ on every run.)

use serde::Deserialize;
use std::{
    future::{Future, ready},
    net::SocketAddr,
    path::PathBuf,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tower::{Layer, Service};
use xypro_stack::{
    Registry, Server,
    core::{Address, BoxConnector, BoxError, Denied, Target},
    socks5::{Socks5Client, Socks5Error},
};

/// Options of the `allow_list` layer: `{ destinations: [host:port, ...] }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowListOptions {
    /// The only destinations connections may go to, as `host:port`.
    pub destinations: Vec<String>,
}

impl AllowListOptions {
    /// Parses every destination, naming the first one that is not a `host:port`.
    pub fn validate(&self) -> Result<Vec<Address>, BoxError> {
        if self.destinations.is_empty() {
            return Err("destinations is empty: it would refuse everything".into());
        }
        self.destinations
            .iter()
            .map(|d| {
                d.parse::<Address>()
                    .map_err(|e| format!("destinations: `{d}` is not a host:port ({e})").into())
            })
            .collect()
    }
}

/// Builds [`AllowList`] connectors that admit only the given destinations.
#[derive(Debug, Clone)]
pub struct AllowListLayer {
    allowed: Arc<[Address]>,
}

impl AllowListLayer {
    /// A layer admitting exactly `allowed` (host compared without regard to ASCII case).
    pub fn new(allowed: Vec<Address>) -> Self {
        AllowListLayer {
            allowed: allowed.into(),
        }
    }
}

impl<S> Layer<S> for AllowListLayer {
    type Service = AllowList<S>;

    fn layer(&self, inner: S) -> AllowList<S> {
        AllowList {
            inner,
            allowed: self.allowed.clone(),
        }
    }
}

/// Passes listed destinations to the inner connector and refuses the rest with [`Denied`].
#[derive(Debug, Clone)]
pub struct AllowList<S> {
    inner: S,
    allowed: Arc<[Address]>,
}

impl<S> AllowList<S> {
    /// Whether `destination` is on the list.
    pub fn allows(&self, destination: &Address) -> bool {
        self.allowed.iter().any(|a| {
            a.port() == destination.port() && a.host().eq_ignore_ascii_case(&destination.host())
        })
    }

    /// The inner connector.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S> Service<Target> for AllowList<S>
where
    S: Service<Target>,
    S::Response: Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, target: Target) -> Self::Future {
        if !self.allows(&target.destination) {
            let denied = Denied {
                destination: target.destination.to_string(),
                reason: "not on the allow list",
            };
            return Box::pin(ready(Err(denied.into())));
        }
        let connecting = self.inner.call(target);
        Box::pin(async move { connecting.await.map_err(Into::into) })
    }
}

/// The built-in layers plus `allow_list`.
pub fn registry() -> Registry {
    let mut registry = Registry::with_builtin();
    registry.outbound_layer(
        "allow_list",
        |options: AllowListOptions, inner: BoxConnector, _ctx| {
            let layer = AllowListLayer::new(options.validate()?);
            Ok(BoxConnector::new(layer.layer(inner)))
        },
    );
    registry
}

/// The config this example serves: SOCKS5 in, only `allowed` out.
pub fn config(allowed: SocketAddr) -> String {
    format!(
        "inbounds:
  socks:
    listen: 127.0.0.1:0
    pipeline:
      - socks5
    outbound: guarded
outbounds:
  guarded:
    - allow_list: {{ destinations: [\"{allowed}\"] }}
    - direct: {{ connect_timeout: 5s }}
"
    )
}

/// A running demo: the proxy and the two web servers.
#[derive(Debug)]
pub struct Demo {
    /// The proxy (drop it or call `shutdown` to stop).
    pub server: Server,
    /// The SOCKS5 address.
    pub socks: SocketAddr,
    /// The web server the allow list admits.
    pub allowed: SocketAddr,
    /// The web server it refuses.
    pub refused: SocketAddr,
}

/// What the demo saw through the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The allowed server's whole HTTP response.
    pub allowed_response: String,
    /// The SOCKS5 reply code for the refused server (`2` when the allow list refused it).
    pub refused_code: u8,
}

/// Starts two web servers and the proxy, all on 127.0.0.1 ephemeral ports.
pub async fn start() -> Result<Demo, BoxError> {
    let allowed = web_server("hello from the allowed server").await?;
    let refused = web_server("you should never see this").await?;
    let path = write_config(&config(allowed))?;
    let server = Server::start(&path, registry()).await;
    let _ = std::fs::remove_file(&path);
    let server = server?;
    let socks = server.local_addrs()[0].1;
    Ok(Demo {
        server,
        socks,
        allowed,
        refused,
    })
}

impl Demo {
    /// Fetches `/` from both web servers through the proxy.
    pub async fn check(&self) -> Result<Outcome, BoxError> {
        let mut stream = TcpStream::connect(self.socks).await?;
        Socks5Client::new()
            .connect(&mut stream, &Address::Ip(self.allowed))
            .await?;
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: allowed\r\nConnection: close\r\n\r\n")
            .await?;
        let mut allowed_response = String::new();
        stream.read_to_string(&mut allowed_response).await?;

        let mut stream = TcpStream::connect(self.socks).await?;
        let refused_code = match Socks5Client::new()
            .connect(&mut stream, &Address::Ip(self.refused))
            .await
        {
            Ok(_) => 0,
            Err(Socks5Error::Rejected(code)) => code.byte(),
            Err(e) => return Err(e.into()),
        };
        Ok(Outcome {
            allowed_response,
            refused_code,
        })
    }
}

/// Starts the demo, checks both destinations, and shuts the proxy down.
pub async fn run() -> Result<Outcome, BoxError> {
    let demo = start().await?;
    let outcome = demo.check().await;
    demo.server.shutdown().await;
    outcome
}

/// A web server on 127.0.0.1 answering every request with `body`.
async fn web_server(body: &'static str) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    Ok(addr)
}

/// Writes `yaml` to a fresh file under the temp directory.
fn write_config(yaml: &str) -> std::io::Result<PathBuf> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!(
        "xypro-custom-layer-{}-{n}.yaml",
        std::process::id()
    ));
    std::fs::write(&path, yaml)?;
    Ok(path)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let demo = start().await?;
    let outcome = demo.check().await?;
    let first_line = outcome.allowed_response.lines().next().unwrap_or_default();
    let body = outcome
        .allowed_response
        .rsplit("\r\n")
        .next()
        .unwrap_or_default();
    println!("allowed {}: \"{first_line} ... {body}\"", demo.allowed);
    println!(
        "refused {}: SOCKS5 reply {:02} (connection not allowed by ruleset)",
        demo.refused, outcome.refused_code
    );
    println!(
        "SOCKS5 proxy with the allow list on {} until Ctrl-C; try:",
        demo.socks
    );
    println!(
        "  curl --socks5 {} http://{}/   # hello from the allowed server",
        demo.socks, demo.allowed
    );
    println!(
        "  curl --socks5 {} http://{}/   # curl: (97) ... not allowed",
        demo.socks, demo.refused
    );
    tokio::signal::ctrl_c().await?;
    demo.server.shutdown().await;
    Ok(())
}
