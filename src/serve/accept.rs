//! The accept loop of one listener and the life of one accepted socket.

use super::{fallback, linger::Lingering};
use crate::pipeline::InboundPipeline;
use std::{io, net::SocketAddr, sync::Arc, time::Duration};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, watch},
};
use tower::ServiceExt;
use tracing::Instrument;
use xypro_core::{Dispatch, Incoming, error_chain};

/// How long a finished connection waits for the peer's last bytes and FIN before closing.
const LINGER: Duration = Duration::from_secs(2);

/// How long the accept loop pauses when the process is out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Accepts while a connection permit is free; survives running out of file descriptors.
pub(super) async fn accept_loop(
    listener: TcpListener,
    pipeline: watch::Receiver<InboundPipeline>,
    permits: Arc<Semaphore>,
    dispatch: Dispatch,
) {
    loop {
        let permit = permits
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
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
        let inbound = pipeline.borrow().clone();
        let span = tracing::info_span!("conn", inbound = %inbound.name, %peer);
        let dispatch = dispatch.clone();
        tokio::spawn(handle(stream, peer, inbound, dispatch, permit).instrument(span));
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

/// Runs the inbound pipeline's handshake, hands what it yields to the dispatch, then closes the
/// socket gracefully.
async fn handle(
    stream: TcpStream,
    peer: SocketAddr,
    inbound: InboundPipeline,
    dispatch: Dispatch,
    _permit: OwnedSemaphorePermit,
) {
    let Ok(local) = stream.local_addr() else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let (stream, closer) = Lingering::new(stream);
    let mut incoming = Incoming::new(stream, peer, local, inbound.name.clone());
    fallback::arm(&mut incoming, &inbound.fallback);
    match inbound.acceptor.oneshot(incoming).await {
        Ok(accepted) => dispatch.serve(accepted, inbound.connector).await,
        Err(e) => match fallback::refused(&e, &inbound.fallback) {
            Some(fallback) => fallback.serve(&dispatch).await,
            None => tracing::info!("handshake failed: {}", error_chain(&*e)),
        },
    }
    closer.linger(LINGER).await;
}
