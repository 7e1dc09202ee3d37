//! TCP and direct connectors for xypro-stack.
//!
//! Both are terminal connectors: [`TcpConnector`] dials one fixed address (the bottom of a
//! tunnel); [`DirectConnector`] dials each request's own destination, over TCP or UDP, after
//! checking the resolved addresses against the request's
//! [`DestinationPolicy`](xypro_core::DestinationPolicy). Each dial has a deadline (10 s by
//! default), so a destination that never answers ends as a timeout.
//!
//! ```no_run
//! # async fn demo() -> Result<(), xypro_core::BoxError> {
//! use tower::ServiceExt;
//! use xypro_core::{Address, Target};
//! use xypro_tcp::DirectConnector;
//!
//! let target = Target::tcp("example.com:80".parse::<Address>()?);
//! let stream = DirectConnector::new().oneshot(target).await?;
//! # drop(stream); Ok(()) }
//! ```

mod config;
mod dial;
mod direct;
mod fixed;
mod udp;

pub use config::{DEFAULT_CONNECT_TIMEOUT, DirectOptions, TcpOptions};
pub use dial::{DialError, HAPPY_EYEBALLS_DELAY, resolve};
pub use direct::DirectConnector;
pub use fixed::TcpConnector;
pub use udp::UdpStream;
