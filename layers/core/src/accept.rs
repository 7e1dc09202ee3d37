//! The accept side: what an inbound handshake receives and what it yields.

use crate::{BoxConnector, BoxError, BoxFuture, BoxIo, Failure, Target};
use std::{fmt, io, net::SocketAddr, sync::Arc};

/// An accepted stream on its way through the inbound pipeline.
#[derive(Debug)]
pub struct Incoming {
    /// The stream, already through every upgrade before this layer.
    pub io: BoxIo,
    /// The client's address.
    pub peer: SocketAddr,
    /// The listener's address.
    pub local: SocketAddr,
    /// The inbound's name from the config.
    pub inbound: Arc<str>,
}

/// The replying half of an inbound handshake, held until the outbound result is known.
pub trait Reply: Send + fmt::Debug {
    /// Tells the client the destination is connected and returns the stream to relay.
    fn succeed(self: Box<Self>) -> BoxFuture<io::Result<BoxIo>>;

    /// Tells the client why the destination could not be reached, then closes.
    fn fail(self: Box<Self>, failure: Failure) -> BoxFuture<io::Result<()>>;
}

/// A connection that opens its own outbound requests (UDP associations, multiplexing).
pub trait Session: Send + fmt::Debug {
    /// Runs the session to its end, dialling through `connector` as needed.
    fn run(self: Box<Self>, connector: BoxConnector) -> BoxFuture<Result<(), BoxError>>;
}

/// What an inbound handshake produced.
#[derive(Debug)]
pub enum Accepted {
    /// One stream to one destination, relayed once the outbound connects.
    Connect {
        /// Where the client wants to go.
        target: Target,
        /// How to answer the client.
        reply: Box<dyn Reply>,
    },
    /// A session that drives its own outbound connections.
    Session(Box<dyn Session>),
}

/// A type-erased inbound pipeline: upgrades followed by a proxy handshake.
pub type BoxAcceptor = tower::util::BoxCloneSyncService<Incoming, Accepted, BoxError>;
