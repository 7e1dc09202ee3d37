//! Core types shared by every xypro-stack layer: targets and their connection context, boxed
//! streams, the accept-side building blocks, layer options (with what the HTTP/1.1 upgrade
//! transports share in [`upgrade_request`]), the dispatch with its connection table, the relay
//! and error classification.
//!
//! A connector is a `tower::Service<Target, Response = impl Io>`; an acceptor is a
//! `tower::Service<Incoming, Response = Accepted>`. The [`Dispatch`] joins them for every
//! logical connection.

mod accept;
mod address;
mod context;
mod datagram;
mod datagram_pipe;
mod dispatch;
pub mod duration;
mod error;
pub mod events;
mod extensions;
mod forward;
mod guarded;
mod idle;
mod io;
mod local_proxy;
mod options;
mod policy;
mod pool;
mod prefixed;
mod protocol;
mod read_ahead;
mod refused;
mod relay;
mod resolve;
mod sniff;
mod table;
mod target;
mod upgrade;
pub mod upgrade_request;

pub use accept::{Accepted, BoxAcceptor, Handover, Incoming, Reply, Session, TlsInfo};
pub use address::{Address, AddressError};
pub use context::{ConnectionContext, Meta, Route, Traffic};
pub use datagram::{DatagramReader, MAX_DATAGRAM, encode_datagram, write_datagram};
pub use datagram_pipe::{
    DatagramBudget, DatagramSender, DatagramSink, DatagramStream, Dropped, datagram_pipe,
};
pub use dispatch::{
    Busy, DIALS_PER_SESSION, DialObserver, Dispatch, DispatchSettings, SessionDispatch,
};
pub use error::{BoxError, Denied, Failure, ResolveError, error_chain};
pub use extensions::Extensions;
pub use guarded::Guarded;
pub use idle::IdleDeadline;
pub use io::{BoxIo, Io};
pub use local_proxy::{UserOptions, password_users, refuse_open_proxy};
pub use options::{BuildContext, InvalidOptions, LayerOptions, OutboundLookup};
pub use policy::{DestinationPolicy, ListeningPort, is_public_ip};
pub use prefixed::Prefixed;
pub use protocol::{Handshake, ProtocolAcceptor};
pub use read_ahead::ReadAhead;
pub use refused::{HandBack, Refused};
pub use relay::{RelayStats, relay};
pub use resolve::{LOOKUPS_IN_FLIGHT, Resolve, SharedResolver, SystemResolver};
pub use sniff::{
    SNIFF_LIMIT, Sniff, SniffSettings, Sniffed, deserialize_sniff, sniff, sniff_client,
};
pub use table::{ConnectionTable, Registration, TableTotals, Totals};
pub use target::{Network, Target};
pub use upgrade::{Upgrade, UpgradeAcceptor, UpgradeLayer};

use std::{future::Future, pin::Pin};

/// A boxed, sendable future, the return type of object-safe async hooks.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A type-erased outbound connector, the unit the YAML pipeline builder composes.
pub type BoxConnector = tower::util::BoxCloneSyncService<Target, BoxIo, BoxError>;
