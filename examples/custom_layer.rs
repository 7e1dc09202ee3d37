//! A custom outbound layer written in Rust and used by name from a YAML pipeline, deciding
//! from the connection's context who may go where.
//!
//! `allow_list` lets a connection through when its destination is listed, or when the user
//! it was authenticated as is trusted (the user and inbound come from the connection context
//! every layer can read); every other one is refused with [`xypro_core::Denied`], which a
//! SOCKS5 inbound reports as reply `02` (connection not allowed by ruleset). The layer is plain
//! tower — [`AllowList`] is a filter predicate, so tower's own `FilterLayer` wraps any
//! connector with it — and its options type builds the layer ([`LayerOptions`]), so one line
//! registers it:
//!
//! ```text
//! registry.connector::<AllowListOptions>("allow_list");
//! ```
//!
//! after which a config can say `outbounds: { guarded: [ { allow_list: { destinations: [...],
//! users: [...] } }, direct ] }`. Bad options are reported by `Server::start` with the key and
//! line, like built-in layers.
//!
//! # Run it
//!
//! ```sh
//! cargo run --example custom_layer
//! ```
//!
//! It starts two small web servers on 127.0.0.1, writes a config whose only outbound is
//! `[allow_list, direct]` allowing the first of them to everyone and everything to the user
//! `alice`, serves it with [`xypro_stack::Server`], tries both as `bob` and the second as
//! `alice` through SOCKS5, then keeps the proxy running until Ctrl-C.
//!
//! # Expected output
//!
//! ```text
//! bob to 127.0.0.1:40001: "HTTP/1.1 200 OK ... hello from the listed server"
//! bob to 127.0.0.1:40002: SOCKS5 reply 02 (connection not allowed by ruleset)
//! alice to 127.0.0.1:40002: "HTTP/1.1 200 OK ... hello from the other server"
//! SOCKS5 proxy with the allow list on 127.0.0.1:40000 until Ctrl-C; try:
//!   curl --socks5 bob:bob-pass@127.0.0.1:40000 http://127.0.0.1:40001/     # listed
//!   curl --socks5 bob:bob-pass@127.0.0.1:40000 http://127.0.0.1:40002/     # (97) not allowed
//!   curl --socks5 alice:alice-pass@127.0.0.1:40000 http://127.0.0.1:40002/ # trusted user
//! ```
//!
//! (The ports are ephemeral and differ on every run.)

use serde::Deserialize;
use std::{net::SocketAddr, path::PathBuf, sync::Arc};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tower::filter::{FilterLayer, Predicate};
use xypro_stack::{
    Registry, Server,
    core::{Address, BoxError, BuildContext, Denied, InvalidOptions, LayerOptions, Target},
    socks5::{Socks5Client, Socks5Error},
};

/// Options of the `allow_list` layer: `{ destinations: [host:port, ...], users: [name, ...] }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowListOptions {
    /// Destinations everyone may reach, as `host:port`.
    pub destinations: Vec<String>,
    /// Users who may reach any destination.
    #[serde(default)]
    pub users: Vec<String>,
}

impl LayerOptions for AllowListOptions {
    type Output = FilterLayer<AllowList>;

    fn validate(self, _: &BuildContext<'_>) -> Result<Self::Output, InvalidOptions> {
        if self.destinations.is_empty() {
            let message = "is empty: it would refuse everyone but the listed users";
            return Err(InvalidOptions::at("destinations", message));
        }
        let destinations = self.destinations.iter().enumerate().map(|(i, d)| {
            let not_an_address = |e| format!("`{d}` is not a host:port ({e})");
            d.parse::<Address>()
                .map_err(|e| InvalidOptions::at(format!("destinations[{i}]"), not_an_address(e)))
        });
        let rules = Rules {
            destinations: destinations.collect::<Result<_, _>>()?,
            users: self.users,
        };
        Ok(FilterLayer::new(AllowList(Arc::new(rules))))
    }
}

/// Who may go where: a tower [`Predicate`] on each connection, so the layer is tower's own
/// [`FilterLayer`].
#[derive(Debug, Clone)]
pub struct AllowList(Arc<Rules>);

/// The destinations everyone may reach and the users who may reach any.
#[derive(Debug)]
pub struct Rules {
    destinations: Vec<Address>,
    users: Vec<String>,
}

impl AllowList {
    /// Whether `target` is trusted by its user, or goes somewhere listed (host compared without
    /// regard to ASCII case).
    pub fn allows(&self, target: &Target) -> bool {
        let Rules {
            destinations,
            users,
        } = &*self.0;
        let to = &target.destination;
        let trusted = target.meta().user.as_deref();
        trusted.is_some_and(|user| users.iter().any(|u| u == user))
            || destinations
                .iter()
                .any(|a| a.port() == to.port() && a.host().eq_ignore_ascii_case(&to.host()))
    }
}

impl Predicate<Target> for AllowList {
    type Request = Target;

    fn check(&mut self, target: Target) -> Result<Target, BoxError> {
        if self.allows(&target) {
            return Ok(target);
        }
        let meta = target.meta();
        tracing::info!(inbound = %meta.inbound, user = ?meta.user, "allow_list: refused");
        let destination = target.destination.to_string();
        let reason = "not on the allow list";
        Err(Denied {
            destination,
            reason,
        }
        .into())
    }
}

/// The built-in layers plus `allow_list`.
pub fn registry() -> Registry {
    let mut registry = Registry::with_builtin();
    registry.connector::<AllowListOptions>("allow_list");
    registry
}

/// The config this example serves: SOCKS5 in for `alice` and `bob`; `allowed` for both,
/// everything for `alice`.
pub fn config(allowed: SocketAddr) -> String {
    format!(
        "inbounds:
  socks:
    listen: 127.0.0.1:0
    pipeline:
      - socks5: {{ users: [{{ user: alice, pass: alice-pass }}, {{ user: bob, pass: bob-pass }}] }}
    outbound: guarded
outbounds:
  guarded:
    - allow_list: {{ destinations: [\"{allowed}\"], users: [alice] }}
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
    /// The listed server's whole HTTP response, to `bob`.
    pub allowed_response: String,
    /// The SOCKS5 reply code `bob` got for the other server (`2` when the list refused it).
    pub refused_code: u8,
    /// The other server's whole HTTP response, to the trusted `alice`.
    pub trusted_response: String,
}

/// Starts two web servers and the proxy, all on 127.0.0.1 ephemeral ports.
pub async fn start() -> Result<Demo, BoxError> {
    let allowed = web_server("hello from the listed server").await?;
    let refused = web_server("hello from the other server").await?;
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
    /// Fetches `/` through the proxy: both servers as `bob`, the unlisted one as `alice`.
    pub async fn check(&self) -> Result<Outcome, BoxError> {
        let refused_code = match self.fetch("bob", self.refused).await {
            Ok(_) => 0,
            Err(e) => match e.downcast_ref::<Socks5Error>() {
                Some(Socks5Error::Rejected(code)) => code.byte(),
                _ => return Err(e),
            },
        };
        Ok(Outcome {
            allowed_response: self.fetch("bob", self.allowed).await?,
            refused_code,
            trusted_response: self.fetch("alice", self.refused).await?,
        })
    }

    /// One HTTP exchange with `server` through the proxy, as `user`.
    async fn fetch(&self, user: &str, server: SocketAddr) -> Result<String, BoxError> {
        let mut stream = TcpStream::connect(self.socks).await?;
        Socks5Client::with_credentials(user, format!("{user}-pass"))
            .connect(&mut stream, &Address::Ip(server))
            .await?;
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: demo\r\nConnection: close\r\n\r\n")
            .await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        Ok(response)
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
    let summary = |response: &str| {
        let first_line = response.lines().next().unwrap_or_default().to_owned();
        let body = response.rsplit("\r\n").next().unwrap_or_default();
        format!("\"{first_line} ... {body}\"")
    };
    println!(
        "bob to {}: {}",
        demo.allowed,
        summary(&outcome.allowed_response)
    );
    println!(
        "bob to {}: SOCKS5 reply {:02} (connection not allowed by ruleset)",
        demo.refused, outcome.refused_code
    );
    println!(
        "alice to {}: {}",
        demo.refused,
        summary(&outcome.trusted_response)
    );
    println!(
        "SOCKS5 proxy with the allow list on {} until Ctrl-C; try:",
        demo.socks
    );
    let socks = demo.socks;
    println!(
        "  curl --socks5 bob:bob-pass@{socks} http://{}/     # listed",
        demo.allowed
    );
    println!(
        "  curl --socks5 bob:bob-pass@{socks} http://{}/     # (97) not allowed",
        demo.refused
    );
    println!(
        "  curl --socks5 alice:alice-pass@{socks} http://{}/ # trusted user",
        demo.refused
    );
    tokio::signal::ctrl_c().await?;
    demo.server.shutdown().await;
    Ok(())
}
