//! Limits for xypro-stack connectors: connect and idle timeouts, a concurrency limit and
//! shared connection and byte rates.
//!
//! Each is a tower layer over a connector (`Service<Target, Response = impl Io>`):
//! [`TimeoutLayer`], [`ConcurrencyLimitLayer`] and [`RateLimitLayer`]. Their YAML options
//! ([`TimeoutOptions`], [`ConcurrencyLimitOptions`], [`RateLimitOptions`]) validate into the
//! settings the layers are built from. Limits are shared by every clone of a built service.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), xypro_core::BoxError> {
//! use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};
//! use tower::{Layer, ServiceBuilder, ServiceExt, service_fn};
//! use xypro_core::{Address, BoxError, Target};
//! use xypro_limit::{ConcurrencyLimitLayer, RateLimitOptions, RateLimitLayer, TimeoutOptions, TimeoutLayer};
//!
//! let timeouts: TimeoutOptions = serde_yaml::from_str("{ connect: 10s, idle: 5m }")?;
//! let rates: RateLimitOptions = serde_yaml::from_str("{ connections_per_second: 10, burst: 20, bytes_per_second: 1MiB/s }")?;
//!
//! // A stand-in for a real connector: every connection gets a fresh in-memory pipe.
//! let dial = service_fn(|_target: Target| async {
//!     let (ours, mut theirs) = duplex(1024);
//!     tokio::spawn(async move { theirs.write_all(b"hello").await });
//!     Ok::<_, BoxError>(ours)
//! });
//! let connector = ServiceBuilder::new()
//!     .layer(TimeoutLayer::new(timeouts.validate()?))
//!     .layer(ConcurrencyLimitLayer::new(100))
//!     .layer(RateLimitLayer::new(rates.validate()?))
//!     .service(dial);
//!
//! let mut stream = connector.oneshot(Target::tcp("example.com:80".parse::<Address>()?)).await?;
//! let mut greeting = [0; 5];
//! stream.read_exact(&mut greeting).await?;
//! assert_eq!(&greeting, b"hello");
//! # Ok(()) }
//! ```

mod bucket;
mod concurrency;
mod config;
mod error;
mod idle;
mod rate;
pub mod size;
mod timeout;

pub use concurrency::{ConcurrencyLimit, ConcurrencyLimitLayer, Permitted};
pub use config::{
    ConcurrencyLimitOptions, ConfigError, ConnectionRate, RateLimitOptions, RateLimitSettings,
    TimeoutOptions, TimeoutSettings,
};
pub use error::{ConnectTimeout, IdleTimedOut, LimitClosed};
pub use idle::IdleTimeout;
pub use rate::{RateLimit, RateLimitLayer, Throttled};
pub use size::{ByteRate, ByteSize, SizeError};
pub use timeout::{ConnectFuture, Timeout, TimeoutLayer};
