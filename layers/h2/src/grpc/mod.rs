//! The gRPC "gun" transport: each tunnel is one `POST /<service_name>/Tun` stream whose body,
//! both ways, is a sequence of gun messages ([`proto::gun`](crate::proto::gun)).
//!
//! It shares the `h2` transport's pooled client and server driver, so it lives in this crate
//! rather than one of its own: layer crates never import each other, and a separate crate would
//! have to copy the pool, the stream and the driver. The wire format is gun-lite's (sing-box
//! without `with_grpc`) and grpc-go's (Xray, v2fly): the client sends `content-type:
//! application/grpc` and `te: trailers`, the server answers `200` at once and ends with
//! `grpc-status: 0` trailers. Only `Tun` is spoken (no Xray `multiMode`).

mod client;
mod config;
mod server;

pub use client::{GrpcConnector, GrpcLayer};
pub use config::{ClientOptions, ClientSettings, ServerOptions, ServerSettings};
pub(crate) use server::tunnel;

/// The one HTTP/2 server driver of both transports; given gRPC [`ServerSettings`], it serves
/// gun calls (see [`Transport::Grpc`](crate::Transport::Grpc)).
pub use crate::server::{serve, serve_until};
