//! Limits for xypro-stack connectors: connect and idle timeouts, a concurrency limit and
//! shared connection and byte rates.
//!
//! Each is a tower layer over a connector (`Service<Target, Response = impl Io>`):
//! [`TimeoutLayer`], [`ConcurrencyLimitLayer`] and [`RateLimitLayer`]. Their YAML options
//! ([`TimeoutOptions`], [`ConcurrencyLimitOptions`], [`RateLimitOptions`]) validate into those
//! layers ([`LayerOptions`](xypro_core::LayerOptions)). Limits are shared by every clone of a
//! built service, and the two limits wait in `poll_ready`, as tower's own middleware does.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), xypro_core::BoxError> {
//! use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};
//! use tower::{Layer, ServiceBuilder, ServiceExt, service_fn};
//! use xypro_core::{Address, BoxError, BuildContext, LayerOptions, Target};
//! use xypro_limit::{ConcurrencyLimitLayer, RateLimitOptions, TimeoutOptions};
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
//! let ctx = BuildContext::default();
//! let connector = ServiceBuilder::new()
//!     .layer(timeouts.validate(&ctx)?)
//!     .layer(ConcurrencyLimitLayer::new(100))
//!     .layer(rates.validate(&ctx)?)
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
    ConcurrencyLimitOptions, ConnectionRate, RateLimitOptions, RateLimitSettings, TimeoutOptions,
    TimeoutSettings,
};
pub use error::{ConnectTimeout, IdleTimedOut, LimitClosed};
pub use idle::IdleTimeout;
pub use rate::{RateLimit, RateLimitLayer, Throttled};
pub use size::{ByteRate, ByteSize, SizeError};
pub use timeout::{ConnectFuture, Timeout, TimeoutLayer};

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};
    use tower::{Layer, ServiceExt, service_fn};
    use xypro_core::{Address, BoxConnector, BoxError, BoxIo, BuildContext, LayerOptions, Target};

    /// The YAML builder boxes each layer over the boxed connector below it, exactly like this.
    #[tokio::test(start_paused = true)]
    async fn every_layer_boxes_into_a_pipeline_connector() {
        let dial = BoxConnector::new(service_fn(|_: Target| async {
            let (ours, mut theirs) = duplex(64);
            tokio::spawn(async move { theirs.write_all(b"hi").await });
            Ok::<_, BoxError>(BoxIo::new(ours))
        }));
        let yaml = |s: &str| serde_yaml::from_str::<serde_yaml::Value>(s).unwrap();
        let options: RateLimitOptions = serde_yaml::from_value(yaml(
            "{ connections_per_second: 5, bytes_per_second: 1MiB/s }",
        ))
        .unwrap();
        let ctx = BuildContext::default();
        let rate = options.validate(&ctx).unwrap();
        let inner = BoxConnector::new(rate.layer(dial).map_response(BoxIo::new));
        let options: ConcurrencyLimitOptions = serde_yaml::from_value(yaml("{ max: 1 }")).unwrap();
        let limit = options.validate(&ctx).unwrap();
        let inner = BoxConnector::new(limit.layer(inner).map_response(BoxIo::new));
        let options: TimeoutOptions =
            serde_yaml::from_value(yaml("{ connect: 1s, idle: 1m }")).unwrap();
        let timeout = options.validate(&ctx).unwrap();
        let connector = BoxConnector::new(timeout.layer(inner).map_response(BoxIo::new));

        let target = Target::tcp("example.com:80".parse::<Address>().unwrap());
        let mut stream = connector.clone().oneshot(target.clone()).await.unwrap();
        let mut buf = [0; 2];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hi");
        assert_eq!(
            limit.available(),
            0,
            "the boxed stream still holds its permit"
        );
        // With `max: 1` a second connection must wait for the first to close.
        let second = tokio::time::timeout(
            std::time::Duration::from_millis(1500),
            connector.clone().oneshot(target.clone()),
        )
        .await;
        let err = second
            .expect("the connect timeout answers first")
            .unwrap_err();
        assert_eq!(
            xypro_core::Failure::classify(&*err),
            xypro_core::Failure::TimedOut
        );
        drop(stream);
        connector.oneshot(target).await.unwrap();
    }
}
