//! A manual choice among named outbound pipelines for xypro-stack.
//!
//! [`Select`] sends every new connection through the member chosen now; [`Selections`] keeps
//! each group's choice by name, so an admin API can switch it and a reload keeps it while the
//! member still exists. Connections already open stay where they are. The YAML `select`
//! layer's options are [`SelectOptions`].
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), xypro_core::BoxError> {
//! use tower::{ServiceExt, service_fn};
//! use xypro_core::{Address, BoxConnector, BoxError, BoxIo, Target};
//! use xypro_select::{Select, Selections};
//!
//! let named = |name: &'static str| {
//!     let connector = BoxConnector::new(service_fn(move |target: Target| async move {
//!         target.context.enter_outbound(&name.into());
//!         Ok::<_, BoxError>(BoxIo::new(tokio::io::duplex(64).0))
//!     }));
//!     (name.to_owned(), connector)
//! };
//! let selections = Selections::new();
//! let select = Select::new(vec![named("a"), named("b")], "a", selections.group("proxy"))?;
//! assert_eq!(select.current(), "a");
//!
//! selections.group("proxy").choose("b");
//! let target = Target::tcp("example.com:80".parse::<Address>()?);
//! let context = target.context.clone();
//! select.oneshot(target).await?;
//! assert_eq!(context.route().chain, ["b".into()]);
//! # Ok(()) }
//! ```

mod config;
mod error;
mod select;
mod selections;

pub use config::SelectOptions;
pub use error::SelectError;
pub use select::Select;
pub use selections::{Selection, Selections};
