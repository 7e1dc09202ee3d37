//! HTTP proxy inbound for xypro-stack: `CONNECT` tunnels and absolute-URI forwarding.
//!
//! [`HttpAcceptor`] is a `Service<Incoming, Response = Accepted>`:
//!
//! - `CONNECT host:port` becomes [`Accepted::Connect`](xypro_core::Accepted); once the
//!   outbound connects, the client gets `HTTP/<its version> 200 Connection established` (so
//!   pip's `HTTP/1.0` CONNECT without `Host` works), and when it cannot, `403` (a rule refused
//!   the destination), `504` (timed out) or `502` (anything else) with `Connection: close`.
//!   Bytes the client sent after the request head go through the tunnel.
//! - `GET http://host/path` and the other absolute-URI requests become a
//!   [`Session`](xypro_core::Session) that serves the connection's requests in order (HTTP/1.1
//!   keep-alive and pipelining): each request is a logical connection of its own, routed and
//!   dialled through the dispatch, so consecutive requests may go to different hosts. Hop-by-hop
//!   fields are removed both ways, bodies and responses keep their framing, a request asking for
//!   an upgrade (`Connection: upgrade`) turns the connection into a raw tunnel.
//! - With `users`, requests need `Proxy-Authorization: Basic`; missing or wrong credentials get
//!   `407` with `Proxy-Authenticate: Basic realm="xypro-stack"` and the connection stays open
//!   for the retry.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//! use tower::ServiceExt;
//! use xypro_core::{Accepted, Incoming};
//! use xypro_http::{HttpAcceptor, HttpSettings};
//!
//! let (mut client, server_io) = tokio::io::duplex(1024);
//! let incoming = Incoming::new(
//!     server_io,
//!     "127.0.0.1:50000".parse().unwrap(),
//!     "127.0.0.1:8080".parse().unwrap(),
//!     "http".into(),
//! );
//! let server = tokio::spawn(HttpAcceptor::new(HttpSettings::default()).oneshot(incoming));
//! client.write_all(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n").await.unwrap();
//! match server.await.unwrap().unwrap() {
//!     Accepted::Connect { target, reply } => {
//!         assert_eq!(target.destination.to_string(), "example.com:443");
//!         let _tunnel = reply.succeed().await.unwrap();
//!     }
//!     _ => unreachable!("a CONNECT request"),
//! }
//! let mut answer = [0; 39];
//! client.read_exact(&mut answer).await.unwrap();
//! assert_eq!(&answer, b"HTTP/1.1 200 Connection established\r\n\r\n");
//! # }
//! ```

mod config;
mod conn;
mod error;
mod forward;
pub mod proto;
mod read;
mod request;
mod server;
mod tunnel;
mod users;

pub use config::{HttpOptions, HttpSettings, UserOptions};
pub use error::HttpError;
pub use server::HttpAcceptor;
