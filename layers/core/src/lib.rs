//! Core types shared by every xypro-stack layer: targets, boxed streams, service aliases,
//! error classification, datagram framing and the relay.
//!
//! A connector is a `tower::Service<Target, Response = impl Io>`; an acceptor is a
//! `tower::Service<Incoming, Response = Accepted>`. The relay joins them per connection.

mod accept;
mod address;
mod datagram;
mod error;
mod forward;
mod guarded;
mod io;
mod policy;
mod pool;
mod prefixed;
mod read_ahead;
mod relay;
mod target;

pub use accept::{Accepted, BoxAcceptor, Incoming, Reply, Session};
pub use address::{Address, AddressError};
pub use datagram::{DatagramReader, MAX_DATAGRAM, encode_datagram, write_datagram};
pub use error::{BoxError, Denied, Failure, ResolveError};
pub use guarded::Guarded;
pub use io::{BoxIo, Io};
pub use policy::{DestinationPolicy, is_public_ip};
pub use prefixed::Prefixed;
pub use read_ahead::ReadAhead;
pub use relay::{RelayStats, relay};
pub use target::{Meta, Network, Target};

use std::{future::Future, pin::Pin};

/// A boxed, sendable future, the return type of object-safe async hooks.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A type-erased outbound connector, the unit the YAML pipeline builder composes.
pub type BoxConnector = tower::util::BoxCloneSyncService<Target, BoxIo, BoxError>;
