//! VLESS for xypro-stack: wire codecs, a tower client connector and a server acceptor,
//! byte-compatible with Xray, v2ray and sing-box.
//!
//! - [`proto`]: the request and response headers and user ids, parsed from byte slices with
//!   no I/O (`Ok(None)` means "need more bytes").
//! - [`VlessConnector`] (built by [`VlessConnectorLayer`]): a `Service<Target>` that calls its inner
//!   connector with the same target and returns a [`VlessClientStream`]. The request header
//!   goes out in the same write as the first payload, or alone after 500 ms of silence (so
//!   server-speaks-first protocols work); the response header is stripped lazily from the
//!   first reads. UDP targets use command 2: the stream already carries `len(2) | data`
//!   frames, which is VLESS's own UDP framing.
//! - [`VlessAcceptor`]: a terminal inbound handshake. It reads the request within a deadline,
//!   checks the user id in constant time, and yields [`Accepted::Connect`](xypro_core::Accepted)
//!   with a destination policy that refuses internal addresses unless `allow_private` is set.
//!   Bad requests are dropped after a short random pause, with nothing dialled or written.
//!   Command 3 (XUDP, the default UDP mode of Xray, sing-box and mihomo clients) becomes an
//!   [`Accepted::Session`](xypro_core::Accepted) that dispatches one child connection per
//!   destination and answers with `Keep` frames naming each reply's source
//!   ([`proto::xudp`] has the frame codec).
//! - [`ClientOptions`] and [`ServerOptions`]: the YAML options; as
//!   [`LayerOptions`](xypro_core::LayerOptions) they validate into the connector layer and
//!   the acceptor.
//!
//! VLESS has no encryption of its own: run it inside TLS.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use tower::{Layer, ServiceExt, service_fn};
//! use xypro_core::{Accepted, Incoming, Target};
//! use xypro_vless::{VlessClientSettings, VlessServerSettings, VlessAcceptor, VlessConnectorLayer, proto};
//!
//! let id = proto::parse_user_id("2ad043a0-b930-46f8-bd55-1fcefc93339a").unwrap();
//! let (client_io, server_io) = tokio::io::duplex(4096);
//!
//! // The client: a VLESS layer over a connector that hands out one end of the duplex.
//! let mut slot = Some(client_io);
//! let dial = service_fn(move |_: Target| {
//!     let io = slot.take().ok_or("only one connection");
//!     async move { io }
//! });
//! let connector = VlessConnectorLayer::new(VlessClientSettings::new(id)).layer(dial);
//! let mut stream = connector
//!     .oneshot(Target::tcp("example.com:80".parse::<xypro_core::Address>().unwrap()))
//!     .await
//!     .unwrap();
//! stream.write_all(b"ping").await.unwrap();
//!
//! // The server: accept the other end and answer as the destination would.
//! let incoming = Incoming::new(
//!     server_io,
//!     "127.0.0.1:50000".parse().unwrap(),
//!     "127.0.0.1:8443".parse().unwrap(),
//!     "vless".into(),
//! );
//! let acceptor = VlessAcceptor::new(VlessServerSettings::new(vec![("demo".into(), id)]));
//! let Accepted::Connect { target, reply } = acceptor.oneshot(incoming).await.unwrap() else {
//!     unreachable!("TCP requests are connects")
//! };
//! assert_eq!(target.destination.to_string(), "example.com:80");
//! assert_eq!(target.meta().user.as_deref(), Some("demo"));
//! let mut relayed = reply.succeed().await.unwrap();
//! let mut ping = [0; 4];
//! relayed.read_exact(&mut ping).await.unwrap();
//! assert_eq!(&ping, b"ping");
//! relayed.write_all(b"pong").await.unwrap(); // goes out as `00 00 pong`
//!
//! let mut pong = [0; 4];
//! stream.read_exact(&mut pong).await.unwrap(); // the response header is stripped
//! assert_eq!(&pong, b"pong");
//! # }
//! ```

mod client;
mod config;
mod error;
mod prepend;
pub mod proto;
mod server;
mod xudp;

pub use client::{ConnectFuture, VlessClientStream, VlessConnector, VlessConnectorLayer};
pub use config::{
    ClientOptions, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_HEADER_DELAY, ServerOptions, UserOptions,
    VlessClientSettings, VlessServerSettings,
};
pub use error::VlessError;
pub use server::{VlessAcceptor, VlessHandshake};
