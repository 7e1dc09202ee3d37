//! `Refused`: a connection an acceptor would not take, handed back whole for a fallback.

use crate::{BoxError, Incoming, Io, Prefixed};
use bytes::Bytes;
use std::{
    error::Error,
    fmt,
    sync::{Mutex, PoisonError},
};

/// Marks an [`Incoming`] whose inbound has a fallback: an acceptor that refuses the connection
/// returns a [`Refused`] error holding it instead of answering or closing it. An upgrade that
/// succeeds removes the mark, since the client has had its answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HandBack;

impl Incoming {
    /// Whether a refused connection goes back to the caller as [`Refused`] (see [`HandBack`]).
    pub fn hands_back(&self) -> bool {
        self.extensions.get::<HandBack>().is_some()
    }
}

/// A connection an acceptor refused, with every byte it read, for a fallback to serve.
///
/// It travels as the acceptor's error (so through every upgrade above it unchanged); the
/// accept loop finds it with [`Refused::find`] and takes the connection out. The stream of the
/// [`Incoming`] it holds reads the bytes the acceptor read first.
pub struct Refused {
    incoming: Mutex<Option<Incoming>>,
    read: Bytes,
    reason: BoxError,
}

impl Refused {
    /// `incoming`, whose stream is now `io` after `read` was read from it, refused for `reason`.
    pub fn new(
        mut incoming: Incoming,
        io: impl Io,
        read: Bytes,
        reason: impl Into<BoxError>,
    ) -> Self {
        incoming.replace_io(Prefixed::new(read.clone(), io));
        Refused {
            incoming: Mutex::new(Some(incoming)),
            read,
            reason: reason.into(),
        }
    }

    /// The refused connection, once: its stream replays [`read`](Self::read) first.
    pub fn take_incoming(&self) -> Option<Incoming> {
        self.incoming
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Every byte the acceptors read from the client (the start of an HTTP request, say).
    pub fn read(&self) -> &[u8] {
        &self.read
    }

    /// Why the connection was refused.
    pub fn reason(&self) -> &(dyn Error + Send + Sync + 'static) {
        &*self.reason
    }

    /// The `Refused` an acceptor returned as its error, if that is what it returned.
    pub fn find(error: &BoxError) -> Option<&Refused> {
        error.downcast_ref::<Refused>()
    }
}

impl fmt::Debug for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refused")
            .field("read", &self.read.len())
            .field("reason", &self.reason)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("refused and handed back for the fallback")
    }
}

impl Error for Refused {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    #[tokio::test]
    async fn the_connection_comes_back_once_and_replays_what_was_read() {
        let (mut client, server) = duplex(64);
        let peer = "127.0.0.1:5000".parse().unwrap();
        let local = "127.0.0.1:443".parse().unwrap();
        let mut incoming = Incoming::new(server, peer, local, "web".into());
        assert!(!incoming.hands_back());
        incoming.extensions.insert(HandBack);
        assert!(incoming.hands_back());
        let io = incoming.take_io();
        let reason = std::io::Error::other("wrong path");
        let error: BoxError =
            Refused::new(incoming, io, Bytes::from_static(b"GET /"), reason).into();
        let refused = Refused::find(&error).unwrap();
        assert_eq!(refused.read(), b"GET /");
        assert_eq!(
            crate::error_chain(&*error),
            "refused and handed back for the fallback: wrong path"
        );
        let mut incoming = refused.take_incoming().unwrap();
        assert!(refused.take_incoming().is_none());
        client.write_all(b" HTTP/1.1").await.unwrap();
        drop(client);
        let mut all = String::new();
        incoming.io.read_to_string(&mut all).await.unwrap();
        assert_eq!(all, "GET / HTTP/1.1");
    }
}
