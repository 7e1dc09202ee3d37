//! The accept loop of one listener and the life of one accepted socket.

use super::{
    Settings, fallback,
    gate::{Gate, HandshakeSlot},
    linger::Lingering,
};
use crate::pipeline::InboundPipeline;
use std::{io, net::SocketAddr, sync::Arc, time::Duration};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{Semaphore, watch},
};
use tower::ServiceExt;
use tracing::Instrument;
use xypro_core::{Dispatch, Incoming, error_chain};

/// How long a finished connection waits for the peer's last bytes and FIN before closing.
const LINGER: Duration = Duration::from_secs(2);

/// How long the accept loop pauses when the process is out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What one listener's connections share.
#[derive(Debug, Clone)]
pub(super) struct Shared {
    pub(super) pipeline: watch::Receiver<InboundPipeline>,
    pub(super) settings: watch::Receiver<Settings>,
    /// Slots for authenticated connections, across every listener.
    pub(super) permits: Arc<Semaphore>,
    pub(super) dispatch: Dispatch,
}

/// Accepts connections, turning away at once what the handshake gate has no slot for, and
/// survives running out of file descriptors.
pub(super) async fn accept_loop(listener: TcpListener, shared: Shared) {
    let gate = Arc::new(Gate::default());
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) if is_resource_exhaustion(&e) => {
                tracing::warn!("accept failed: {e}; retrying in {ACCEPT_BACKOFF:?}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
            Err(e) => {
                tracing::debug!("accept failed: {e}");
                continue;
            }
        };
        let limits = shared.settings.borrow().gate;
        let slot = match gate.admit(peer.ip(), limits) {
            Ok(slot) => slot,
            Err(full) => {
                tracing::debug!(%peer, ?full, "too many handshakes; connection closed at once");
                continue;
            }
        };
        let inbound = shared.pipeline.borrow().clone();
        let span = tracing::info_span!("conn", inbound = %inbound.name, %peer);
        let task = handle(stream, peer, inbound, shared.clone(), slot);
        tokio::spawn(task.instrument(span));
    }
}

/// Whether an accept error means the process or system ran out of descriptors or memory
/// (EMFILE, ENFILE, ENOBUFS, ENOMEM on Linux): worth a pause rather than a tight retry.
fn is_resource_exhaustion(e: &io::Error) -> bool {
    const ENOMEM: i32 = 12;
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    const ENOBUFS: i32 = 105;
    matches!(e.raw_os_error(), Some(ENOMEM | ENFILE | EMFILE | ENOBUFS))
}

/// Runs the inbound pipeline's handshake within the overall deadline, waits for a connection
/// slot, hands what the handshake yielded to the dispatch, then closes the socket gracefully.
async fn handle(
    stream: TcpStream,
    peer: SocketAddr,
    inbound: InboundPipeline,
    shared: Shared,
    slot: HandshakeSlot,
) {
    let Ok(local) = stream.local_addr() else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let (stream, closer) = Lingering::new(stream);
    let mut incoming = Incoming::new(stream, peer, local, inbound.name.clone());
    fallback::arm(&mut incoming, &inbound.fallback);
    let deadline = shared.settings.borrow().handshake_timeout;
    match tokio::time::timeout(deadline, inbound.acceptor.oneshot(incoming)).await {
        Ok(Ok(accepted)) => {
            let Ok(_permit) = shared.permits.acquire_owned().await else {
                return;
            };
            drop(slot);
            shared.dispatch.serve(accepted, inbound.connector).await;
        }
        Ok(Err(e)) => {
            drop(slot);
            match fallback::refused(&e, &inbound.fallback) {
                Some(fallback) => {
                    let Ok(_permit) = shared.permits.acquire_owned().await else {
                        return;
                    };
                    fallback.serve(&shared.dispatch).await;
                }
                None => {
                    let failure = super::failures::record(&inbound.name, &*e);
                    let (stage, reason) = (failure.stage, failure.reason);
                    tracing::info!(stage, reason, "handshake failed: {}", error_chain(&*e));
                }
            }
        }
        Err(_) => {
            drop(slot);
            super::failures::record_deadline(&inbound.name);
            tracing::info!("handshake failed: not done within {deadline:?}");
        }
    }
    closer.linger(LINGER).await;
}
