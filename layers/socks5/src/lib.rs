//! SOCKS for xypro-stack: an RFC 1928 / RFC 1929 SOCKS5 inbound as a tower service, a SOCKS4
//! and SOCKS4a inbound ([`Socks4Acceptor`], CONNECT only), and a SOCKS5 client.
//!
//! [`Socks5Acceptor`] is a `Service<Incoming, Response = Accepted>`: CONNECT requests become
//! [`Accepted::Connect`](xypro_core::Accepted) and are answered with the reply code that matches
//! the outbound result (refused 05, unreachable 04, timeout 06, not allowed 02); UDP ASSOCIATE
//! becomes a session that relays each destination's datagrams through the outbound pipeline.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use tower::ServiceExt;
//! use xypro_core::{Accepted, Incoming};
//! use xypro_socks5::{Socks5Acceptor, Socks5Client, Socks5Settings};
//!
//! let (client_io, server_io) = tokio::io::duplex(1024);
//! let incoming = Incoming::new(
//!     server_io,
//!     "127.0.0.1:50000".parse().unwrap(),
//!     "127.0.0.1:1080".parse().unwrap(),
//!     "socks".into(),
//! );
//! let server = tokio::spawn(Socks5Acceptor::new(Socks5Settings::default()).oneshot(incoming));
//! let client = tokio::spawn(async move {
//!     let mut io = client_io;
//!     Socks5Client::new().connect(&mut io, &"example.com:80".parse().unwrap()).await
//! });
//! match server.await.unwrap().unwrap() {
//!     Accepted::Connect { target, reply } => {
//!         assert_eq!(target.destination.to_string(), "example.com:80");
//!         reply.succeed().await.unwrap();
//!     }
//!     _ => unreachable!("a CONNECT request"),
//! }
//! assert!(client.await.unwrap().is_ok());
//! # }
//! ```

mod client;
mod config;
mod error;
pub mod proto;
mod read;
mod reply;
mod server;
mod socks4;
mod udp;

pub use client::{Socks5Client, decode_udp, encode_udp};
pub use config::{Socks5Options, Socks5Settings};
pub use error::Socks5Error;
pub use server::Socks5Acceptor;
pub use socks4::{Socks4Acceptor, Socks4Settings};
pub use xypro_core::UserOptions;
