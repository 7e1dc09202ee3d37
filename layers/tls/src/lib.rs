//! TLS for xypro-stack: a rustls client connector layer and a server accept layer, both on the
//! aws-lc-rs provider, with session resumption on and `http/1.1` as the only default ALPN.
//!
//! [`TlsConnector`] wraps an inner connector (usually `tcp`) and returns a
//! [`ClientTlsStream`]; [`TlsAcceptor`] wraps an inbound service and hands it the
//! decrypted stream. Options deserialize from YAML ([`ClientOptions`], [`ServerOptions`]) and
//! validate into settings that hold one shared rustls configuration.
//!
//! ```no_run
//! # async fn demo() -> Result<(), xypro_core::BoxError> {
//! use std::path::Path;
//! use tokio::io::AsyncWriteExt;
//! use tower::{Layer, ServiceExt};
//! use xypro_core::{Address, Target};
//! use xypro_tcp::TcpConnector;
//! use xypro_tls::{ClientOptions, TlsClientLayer};
//!
//! let mut options = ClientOptions::new("example.test");
//! options.ca = Some("examples/certs/ca.pem".into());
//! let settings = options.validate(Path::new("."))?;
//! let tcp = TcpConnector::new("127.0.0.1:8443".parse::<Address>()?);
//! let tls = TlsClientLayer::new(settings).layer(tcp);
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
mod server;
mod tickets;

pub use client::{TlsClientLayer, TlsConnector};
pub use config::{
    ClientOptions, DEFAULT_HANDSHAKE_TIMEOUT, ServerOptions, TlsClientSettings, TlsServerSettings,
    crypto_provider,
};
pub use error::{ConfigError, TlsError};
/// The rustls version this crate builds on, for custom `ClientConfig`/`ServerConfig`s.
pub use rustls;
pub use server::{TlsAcceptor, TlsServerLayer};
pub use tickets::{TICKETS_PER_SERVER, TicketStore};
pub use tokio_rustls::server::TlsStream as ServerTlsStream;

/// The stream [`TlsConnector`] returns: rustls over the inner stream, read ahead in large chunks.
pub type ClientTlsStream<S> = tokio_rustls::client::TlsStream<xypro_core::ReadAhead<S>>;
