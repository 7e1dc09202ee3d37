//! What the engine knows of a connection when it routes it.

use crate::rule::Protocol;
use std::net::SocketAddr;
use xypro_core::{Address, Network};

/// The facts about one connection that rules match on.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// Name of the inbound that accepted the connection.
    pub inbound: &'a str,
    /// TCP or UDP.
    pub network: Network,
    /// The authenticated user, if the inbound has users.
    pub user: Option<&'a str>,
    /// The protocol the sniffer recognised, if any.
    pub protocol: Option<Protocol>,
    /// The host name the sniffer found (TLS SNI, HTTP Host); domain rules prefer it.
    pub sniffed_host: Option<&'a str>,
    /// Where the client asked to go: an IP or a domain, and a port.
    pub destination: &'a Address,
    /// The client's address.
    pub source: Option<SocketAddr>,
}

impl<'a> Facts<'a> {
    /// Facts with only a destination and a network known.
    pub fn new(destination: &'a Address, network: Network) -> Self {
        Facts {
            inbound: "",
            network,
            user: None,
            protocol: None,
            sniffed_host: None,
            destination,
            source: None,
        }
    }
}
