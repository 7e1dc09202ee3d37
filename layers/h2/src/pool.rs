//! The client's pool of HTTP/2 connections: each tunnel is one stream on a connection with
//! room for it, and a connection is dialled only when none has room.

use crate::{H2Error, tuning::client_builder};
use bytes::Bytes;
use h2::client::SendRequest;
use std::sync::{
    Arc, Mutex, PoisonError,
    atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
};
use tokio::io::{AsyncRead, AsyncWrite};

/// One pooled connection: its request handle, how many tunnels it carries, and whether its
/// driver task has ended.
#[derive(Debug)]
struct Connection {
    id: u64,
    send: SendRequest<Bytes>,
    open: AtomicUsize,
    closed: Arc<AtomicBool>,
}

/// A tunnel's claim on a slot of a pooled connection, given back when dropped.
#[derive(Debug)]
pub(crate) struct Lease {
    connection: Arc<Connection>,
}

impl Lease {
    /// The connection's id, for logs and tests.
    pub(crate) fn connection_id(&self) -> u64 {
        self.connection.id
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.connection.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The connections of one connector (and its clones).
#[derive(Debug, Default)]
pub(crate) struct Pool {
    connections: Mutex<Vec<Arc<Connection>>>,
    /// Held while dialling, so a burst of tunnels shares one new connection.
    dialing: tokio::sync::Mutex<()>,
    next_id: AtomicU64,
}

impl Pool {
    /// A free slot on a live connection with fewer than `max_streams` tunnels (and within the
    /// server's own stream limit); closed connections are dropped on the way.
    pub(crate) fn checkout(&self, max_streams: usize) -> Option<(SendRequest<Bytes>, Lease)> {
        let mut connections = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        connections.retain(|c| !c.closed.load(Ordering::Acquire));
        connections.iter().find_map(|c| {
            let limit = max_streams.min(c.send.current_max_send_streams().max(1));
            c.open
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                    (open < limit).then_some(open + 1)
                })
                .ok()?;
            let lease = Lease {
                connection: c.clone(),
            };
            Some((c.send.clone(), lease))
        })
    }

    /// A slot on a connection, dialling one with `dial` (after waiting for any dial already
    /// under way) when none has room.
    pub(crate) async fn get<S, F>(
        &self,
        max_streams: usize,
        dial: F,
    ) -> Result<(SendRequest<Bytes>, Lease), H2Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        F: Future<Output = Result<S, xypro_core::BoxError>>,
    {
        if let Some(slot) = self.checkout(max_streams) {
            return Ok(slot);
        }
        let _dialing = self.dialing.lock().await;
        if let Some(slot) = self.checkout(max_streams) {
            return Ok(slot);
        }
        let io = dial.await.map_err(H2Error::Dial)?;
        let (send, connection) = client_builder().handshake(io).await?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let closed = Arc::new(AtomicBool::new(false));
        let ended = closed.clone();
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(connection = id, error = %err, "h2: connection failed");
            }
            ended.store(true, Ordering::Release);
        });
        let connection = Arc::new(Connection {
            id,
            send: send.clone(),
            open: AtomicUsize::new(1),
            closed,
        });
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(connection.clone());
        Ok((send, Lease { connection }))
    }

    /// Marks the connection of `lease` unusable (its `ready` failed), so no tunnel picks it again.
    pub(crate) fn discard(&self, lease: &Lease) {
        lease.connection.closed.store(true, Ordering::Release);
    }

    /// How many live connections the pool holds.
    pub(crate) fn len(&self) -> usize {
        let connections = self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        connections
            .iter()
            .filter(|c| !c.closed.load(Ordering::Acquire))
            .count()
    }
}
