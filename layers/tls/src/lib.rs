//! TLS for xypro-stack: a rustls client connector layer and a server accept layer, both on the
//! aws-lc-rs provider, with session resumption on and `http/1.1` as the only default ALPN.
//!
//! [`TlsConnector`] wraps an inner connector (usually `tcp`) and returns a
//! [`ClientTlsStream`]; [`TlsAcceptor`] wraps an inner acceptor and hands it the decrypted
//! stream, with what was negotiated (SNI, ALPN, version, resumption) in its extensions as a
//! [`TlsInfo`](xypro_core::TlsInfo). Both handshakes have a deadline (10 s by default). Options
//! deserialize from YAML ([`ClientOptions`], [`ServerOptions`]) and validate into the layers,
//! which hold one shared rustls configuration. With `preconnect: N` the client keeps up to N
//! connected, idle sessions ready while it is in use, so that a tunnel skips the TCP and TLS
//! handshakes ([`PreconnectTiming`] says for how long).
//!
//! ```no_run
//! # async fn demo() -> Result<(), xypro_core::BoxError> {
//! use tokio::io::AsyncWriteExt;
//! use tower::{Layer, ServiceExt};
//! use xypro_core::{Address, BuildContext, LayerOptions, Target};
//! use xypro_tcp::TcpConnector;
//! use xypro_tls::ClientOptions;
//!
//! let mut options = ClientOptions::new("example.test");
//! options.ca = Some("examples/certs/ca.pem".into());
//! let layer = options.validate(&BuildContext::default())?;
//! let tcp = TcpConnector::new("127.0.0.1:8443".parse::<Address>()?);
//! let tls = layer.layer(tcp);
//! let mut stream = tls.oneshot(Target::tcp("example.com:80".parse::<Address>()?)).await?;
//! stream.write_all(b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n").await?;
//! # Ok(()) }
//! ```

/// Most unsent TLS bytes a connection buffers (rustls's default is 64 KiB). Every write
/// call ends in a short record, so layers above write up to this much at once; a larger
/// buffer keeps a 64 KiB WebSocket message and its header in one call.
pub const SEND_BUFFER_LIMIT: usize = 256 * 1024;

mod client;
mod config;
mod error;
mod insecure;
mod pem;
mod preconnect;
mod server;
mod sni;
mod tickets;

pub use client::{TlsConnector, TlsConnectorLayer};
pub use config::{
    ClientOptions, DEFAULT_HANDSHAKE_TIMEOUT, MAX_PRECONNECT, ServerOptions, TlsClientSettings,
    TlsServerSettings, crypto_provider,
};
pub use error::{ConfigError, TlsError};
pub use preconnect::{PRECONNECT_LIFETIME, PRECONNECT_QUIET_AFTER, PreconnectTiming};
/// The rustls version this crate builds on, for custom `ClientConfig`/`ServerConfig`s.
pub use rustls;
pub use server::{TlsAcceptor, TlsAcceptorLayer, TlsUpgrade};
pub use tickets::{TICKETS_PER_SERVER, TicketStore};
pub use tokio_rustls::server::TlsStream as ServerTlsStream;

/// The stream [`TlsConnector`] returns: rustls over the inner stream, read ahead in large chunks.
pub type ClientTlsStream<S> = tokio_rustls::client::TlsStream<xypro_core::ReadAhead<S>>;
