//! HTTP/2 transports for xypro-stack, on the `h2` crate directly: each tunnel is one stream
//! of a pooled HTTP/2 connection.
//!
//! - `h2` (v2ray's and sing-box's `http` transport): [`H2Connector`] (built by [`H2Layer`])
//!   sends `PUT <path>` and streams the tunnel's bytes as the request body at once; [`serve`]
//!   drives one server connection and yields a tunnel per stream, answered `200` with
//!   `cache-control: no-store` before any body byte.
//! - [`grpc`] ("gun", sing-box's and Xray's `grpc`): the same connector and driver with
//!   `POST /<service>/Tun`, `application/grpc` and the body framed as gun messages
//!   ([`proto::gun`]).
//!
//! A tunnel is an [`H2Stream`]: writes wait for HTTP/2 send window, reads give window back as
//! they consume, END_STREAM (or a graceful reset) is EOF and shutdown sends one. The client
//! opens up to `max_streams` tunnels per connection, dials another when all are full, and a
//! failed connection fails only its own tunnels. The server side takes any stream (already
//! through TLS with ALPN `h2`, or h2c) and runs with the limits in [`tuning`].
//!
//! In a pipeline, [`H2Acceptor`] (built by [`H2AcceptorLayer`] from the inbound `h2` or `grpc`
//! options) serves each connection as a session whose every tunnel stream goes through the
//! inner acceptor and the dispatch.

mod accept;
mod client;
mod config;
mod drive;
mod error;
pub mod grpc;
mod http1;
mod open;
mod pool;
pub mod proto;
mod server;
mod session;
mod stream;
pub mod tuning;

pub use accept::{H2Acceptor, H2AcceptorLayer};
pub use client::{H2Connector, H2Layer};
pub use config::{ClientOptions, ClientSettings, DEFAULT_HOST, ServerOptions, ServerSettings};
pub use error::{ConfigError, H2Error};
pub use server::{Transport, serve, serve_until};
pub use session::CLOSING_GRACE;
pub use stream::H2Stream;
