//! HTTPUpgrade transport for xypro-stack: an HTTP/1.1 `GET` with `Upgrade: websocket` and a
//! `101`, then raw bytes both ways (no WebSocket framing, no `Sec-WebSocket-Key`), as sing-box
//! and Xray speak it.
//!
//! [`HttpUpgradeConnector`] (built by [`HttpUpgradeLayer`]) wraps an inner connector (TCP, or
//! TLS with ALPN `http/1.1`) and returns an [`HttpUpgradeStream`]. The server side is the
//! function [`accept`], which works on any stream and hands back either the tunnel (bytes that
//! came with the request read first) or a [`Refused`] holding the stream and every byte read,
//! for a fallback or the identical empty `404`; [`HttpUpgradeAccept`] runs it as an accept-side
//! [`Upgrade`](xypro_core::Upgrade). [`proto`] has the heads, with no I/O.
//!
//! Options deserialize from YAML ([`ClientOptions`], [`ServerOptions`]); as
//! [`LayerOptions`](xypro_core::LayerOptions) they build the layers, and `settings(..)` checks
//! them into [`ClientSettings`] and [`ServerSettings`].

mod client;
mod config;
mod error;
pub mod proto;
mod server;
mod stream;

pub use client::{HttpUpgradeConnector, HttpUpgradeLayer};
pub use config::{
    ClientOptions, ClientSettings, DEFAULT_HANDSHAKE_TIMEOUT, ServerOptions, ServerSettings,
};
pub use error::{ConfigError, HttpUpgradeError};
pub use server::{
    HttpUpgradeAccept, HttpUpgradeAcceptor, HttpUpgradeAcceptorLayer, Refused, accept,
};
pub use stream::HttpUpgradeStream;
