//! The accept side: what an inbound handshake receives and what it yields.

use crate::{BoxError, BoxFuture, BoxIo, Extensions, Failure, Io, Meta, SessionDispatch, Target};
use std::{
    fmt, io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// An accepted stream on its way through the inbound pipeline.
#[derive(Debug)]
#[non_exhaustive]
pub struct Incoming {
    /// The stream, already through every upgrade before this layer.
    pub io: BoxIo,
    /// The client's address.
    pub peer: SocketAddr,
    /// The listener's address.
    pub local: SocketAddr,
    /// The inbound's name from the config.
    pub inbound: Arc<str>,
    /// What upgrades learned on the way (such as [`TlsInfo`]), by type.
    pub extensions: Extensions,
}

impl Incoming {
    /// A stream accepted by `inbound` on `local` from `peer`.
    pub fn new(io: impl Io, peer: SocketAddr, local: SocketAddr, inbound: Arc<str>) -> Self {
        Incoming {
            io: BoxIo::new(io),
            peer,
            local,
            inbound,
            extensions: Extensions::new(),
        }
    }

    /// Puts an upgraded stream in place of the current one, returning the old one.
    pub fn replace_io(&mut self, io: impl Io) -> BoxIo {
        std::mem::replace(&mut self.io, BoxIo::new(io))
    }

    /// Takes the stream out for a handshake, leaving a closed one until [`replace_io`](Self::replace_io).
    pub fn take_io(&mut self) -> BoxIo {
        self.replace_io(Closed)
    }

    /// Who the stream comes from, for the targets its handshake yields.
    pub fn meta(&self) -> Meta {
        Meta::new(self.inbound.clone()).with_peer(self.peer)
    }
}

/// What the TLS acceptor learned about a connection, kept in [`Incoming::extensions`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// The server name the client asked for (SNI), lowercased.
    pub server_name: Option<Arc<str>>,
    /// The negotiated application protocol (ALPN), if any.
    pub alpn: Option<Vec<u8>>,
    /// The protocol version, such as `TLSv1_3`.
    pub version: Option<&'static str>,
    /// Whether the handshake resumed an earlier session.
    pub resumed: bool,
}

/// A stream that is already over: reads end at once, writes fail.
#[derive(Debug)]
struct Closed;

impl AsyncRead for Closed {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Closed {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Err(io::ErrorKind::NotConnected.into()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The replying half of an inbound handshake, held until the outbound result is known.
pub trait Reply: Send + fmt::Debug {
    /// Tells the client the destination is connected and returns the stream to relay.
    fn succeed(self: Box<Self>) -> BoxFuture<io::Result<BoxIo>>;

    /// Tells the client why the destination could not be reached, then closes.
    fn fail(self: Box<Self>, failure: Failure) -> BoxFuture<io::Result<()>>;
}

/// A reply with nothing to say: success hands the stream over, failure closes it.
#[derive(Debug)]
pub struct Handover(BoxIo);

impl Handover {
    /// A reply for `io`.
    pub fn new(io: impl Io) -> Box<Self> {
        Box::new(Handover(BoxIo::new(io)))
    }
}

impl Reply for Handover {
    fn succeed(self: Box<Self>) -> BoxFuture<io::Result<BoxIo>> {
        Box::pin(std::future::ready(Ok(self.0)))
    }

    fn fail(self: Box<Self>, _: Failure) -> BoxFuture<io::Result<()>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// A connection that opens logical connections of its own (UDP associations, multiplexing).
pub trait Session: Send + fmt::Debug {
    /// Runs the session to its end, opening each logical connection through `dispatch`.
    fn run(self: Box<Self>, dispatch: SessionDispatch) -> BoxFuture<Result<(), BoxError>>;

    /// How long the session may go on running once its connection is closed (by id, or at
    /// shutdown), to end itself cleanly: an HTTP/2 connection watches
    /// [`SessionDispatch::parent`]'s close and sends GOAWAY. Zero (the default) stops it at once.
    fn closing_grace(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

/// What an inbound handshake produced.
#[derive(Debug)]
#[non_exhaustive]
pub enum Accepted {
    /// One stream to one destination, relayed once the outbound connects.
    Connect {
        /// Where the client wants to go.
        target: Target,
        /// How to answer the client.
        reply: Box<dyn Reply>,
    },
    /// A session that opens its own logical connections, each a child of `target`.
    Session {
        /// The session itself as a connection: its origin, policy and context.
        target: Target,
        /// What runs it.
        session: Box<dyn Session>,
    },
}

/// A type-erased inbound pipeline: upgrades followed by a proxy handshake.
pub type BoxAcceptor = tower::util::BoxCloneSyncService<Incoming, Accepted, BoxError>;

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    #[tokio::test]
    async fn a_taken_stream_is_closed_until_replaced() {
        let (a, mut b) = duplex(64);
        let peer = "127.0.0.1:5000".parse().unwrap();
        let local = "127.0.0.1:1080".parse().unwrap();
        let mut incoming = Incoming::new(a, peer, local, "socks".into());
        let mut raw = incoming.take_io();
        assert!(incoming.io.write_all(b"x").await.is_err());
        assert_eq!(incoming.io.read(&mut [0; 4]).await.unwrap(), 0);
        raw.write_all(b"hi").await.unwrap();
        let mut got = [0; 2];
        b.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hi");
        incoming.replace_io(raw);
        assert_eq!(incoming.meta().peer, Some(peer));
    }
}
