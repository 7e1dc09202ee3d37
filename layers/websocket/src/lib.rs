//! WebSocket transport for xypro-stack: a client connector with early data and a hyper-based
//! server upgrade, both exposed as plain byte streams.
//!
//! [`WsConnector`] wraps an inner connector (TCP or TLS), writes the HTTP/1.1 upgrade itself
//! (so a `101` without the echoed early-data header still works) and returns a
//! [`WsClientStream`]. [`WsAcceptor`] wraps an inner acceptor: its [`WsUpgrade`] answers the
//! upgrade with hyper (every other request gets the same empty `404`) and hands the inner
//! acceptor a [`WsByteStream`] that replays the early data first. Every write is one binary message,
//! queued until flushed; reads concatenate messages. The data phase is framed here (tungstenite
//! parses and formats the headers): payloads are read straight into the caller's buffer and
//! nothing is buffered per connection while it is idle. To serve the upgrade from a hyper service
//! of your own (one path of an existing web server), use [`accept_upgrade`].
//!
//! Options deserialize from YAML ([`ClientOptions`], [`ServerOptions`]) and validate into the
//! layers ([`LayerOptions`](xypro_core::LayerOptions)); their `settings` methods give the
//! settings ([`WsClientSettings`], [`WsServerSettings`]) for building layers by hand.
//!
//! ```no_run
//! # async fn demo() -> Result<(), xypro_core::BoxError> {
//! use tokio::io::AsyncWriteExt;
//! use tower::{Layer, ServiceExt};
//! use xypro_core::{Address, Target};
//! use xypro_tcp::TcpConnector;
//! use xypro_websocket::{ClientOptions, WsConnectorLayer};
//!
//! // Xray's `?ed=2048` turns on 2 KiB of early data; the Host defaults to the dial address.
//! let settings = ClientOptions::new("/xy?ed=2048").settings(Some("127.0.0.1:8080"))?;
//! let tcp = TcpConnector::new("127.0.0.1:8080".parse::<Address>()?);
//! let ws = WsConnectorLayer::new(settings).layer(tcp);
//! let mut stream = ws.oneshot(Target::tcp("example.com:80".parse::<Address>()?)).await?;
//! // The upgrade happens now, with these bytes in `Sec-WebSocket-Protocol`.
//! stream.write_all(b"first bytes").await?;
//! stream.flush().await?;
//! # Ok(()) }
//! ```

mod client;
mod client_stream;
mod config;
mod error;
mod handshake;
mod hyper_service;
mod proto;
mod server;
mod stream;

pub use client::{WsConnector, WsConnectorLayer};
pub use client_stream::{EARLY_DATA_WAIT, WsClientStream};
pub use config::{
    ClientOptions, DEFAULT_HANDSHAKE_TIMEOUT, MAX_EARLY_DATA, ServerOptions, WsClientSettings,
    WsServerSettings,
};
pub use error::{ConfigError, WsError};
pub use hyper_service::{AcceptedUpgrade, accept_upgrade};
pub use proto::early_data;
pub use server::{MAX_REQUEST_HEAD, WsAcceptor, WsAcceptorLayer, WsUpgrade};
pub use stream::{
    CLOSE_DELAY, MAX_FRAME_SIZE, MAX_WRITE_MESSAGE, Role, WRITE_BUFFER_SIZE, WsByteStream,
};
