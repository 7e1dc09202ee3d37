//! Load balancing for xypro-stack: spread connections over several outbound pipelines.
//!
//! [`Balance`] is a connector over named [`BoxConnector`](xypro_core::BoxConnector)s: power of
//! two choices on open connections, failed outbounds backed off and skipped, and an error
//! listing every outbound's failure when none connects. The YAML `balance` layer's options are
//! [`BalanceOptions`].
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), xypro_core::BoxError> {
//! use std::io;
//! use tower::{ServiceExt, service_fn};
//! use xypro_balance::Balance;
//! use xypro_core::{Address, BoxConnector, BoxError, BoxIo, Target};
//!
//! let down = BoxConnector::new(service_fn(|_: Target| async {
//!     Err::<BoxIo, BoxError>(io::Error::from(io::ErrorKind::ConnectionRefused).into())
//! }));
//! let up = BoxConnector::new(service_fn(|_: Target| async {
//!     Ok::<_, BoxError>(BoxIo::new(tokio::io::duplex(64).0))
//! }));
//! let balance = Balance::new(vec![("down".into(), down), ("up".into(), up)]);
//!
//! // Whichever is picked first, the connection goes through the outbound that is up.
//! let stream = balance.clone().oneshot(Target::tcp("example.com:80".parse::<Address>()?)).await?;
//! assert_eq!(stream.guard().outbound(), "up");
//! assert_eq!(balance.load("up"), Some(1));
//! drop(stream);
//! assert_eq!(balance.load("up"), Some(0));
//! # Ok(()) }
//! ```

mod balance;
mod config;
mod endpoint;
mod error;

pub use balance::Balance;
pub use config::BalanceOptions;
pub use endpoint::{Balanced, Load};
pub use error::{AllFailed, Reason};
