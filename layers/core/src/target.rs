//! The request every connector serves: a destination, a network and who asked.

use crate::{Address, DestinationPolicy};
use std::{net::SocketAddr, sync::Arc};

/// The transport the destination expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    /// A TCP byte stream.
    Tcp,
    /// UDP datagrams, carried on the stream as `len(2, big-endian) | data` frames.
    Udp,
}

/// Where a request came from, for logs, accounting and per-user policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Meta {
    /// Name of the inbound that accepted the connection.
    pub inbound: Arc<str>,
    /// The authenticated user, when the inbound has users.
    pub user: Option<Arc<str>>,
    /// The client's address as seen by the inbound.
    pub peer: Option<SocketAddr>,
}

/// One outbound request: connect to `destination` over `network`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The destination host and port.
    pub destination: Address,
    /// TCP stream or UDP datagrams.
    pub network: Network,
    /// Which resolved addresses may be dialled.
    pub policy: DestinationPolicy,
    /// Who asked.
    pub meta: Meta,
}

impl Target {
    /// A TCP target with no metadata and no address restrictions.
    pub fn tcp(destination: impl Into<Address>) -> Self {
        Self::new(destination.into(), Network::Tcp)
    }

    /// A UDP target with no metadata and no address restrictions.
    pub fn udp(destination: impl Into<Address>) -> Self {
        Self::new(destination.into(), Network::Udp)
    }

    fn new(destination: Address, network: Network) -> Self {
        Target {
            destination,
            network,
            policy: DestinationPolicy::default(),
            meta: Meta::default(),
        }
    }
}
