//! Serving: listeners, the per-connection task, reload on demand, and graceful shutdown.

use crate::{
    config::Config,
    error_chain,
    pipeline::{self, InboundPipeline, Pipelines, Registry},
};
use std::{collections::HashMap, io, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore, watch},
    task::JoinHandle,
};
use tower::ServiceExt;
use tracing::Instrument;
use xypro_core::{Accepted, BoxError, BoxIo, Failure, Incoming, relay};
use xypro_tcp::Lingering;

/// How long a finished connection waits for the peer's last bytes and FIN before closing.
const LINGER: Duration = Duration::from_secs(2);

/// How long the accept loop pauses when the process is out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A running set of inbounds built from one config file.
#[derive(Debug)]
pub struct Server {
    path: PathBuf,
    registry: Registry,
    listeners: HashMap<Arc<str>, Listener>,
    permits: Arc<Semaphore>,
    max_connections: usize,
    settings: watch::Sender<Settings>,
}

/// Settings every connection reads when it starts.
#[derive(Debug, Clone, Copy)]
struct Settings {
    idle_timeout: Duration,
    shutdown_grace: Duration,
}

#[derive(Debug)]
struct Listener {
    configured: SocketAddr,
    bound: SocketAddr,
    pipeline: watch::Sender<InboundPipeline>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Stops accepting and waits until the listening socket is closed.
    async fn close(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        for listener in self.listeners.values() {
            listener.task.abort();
        }
    }
}

impl Server {
    /// Loads `path`, builds its pipelines and binds every listener.
    pub async fn start(path: impl Into<PathBuf>, registry: Registry) -> Result<Server, BoxError> {
        let path = path.into();
        let pipelines = load(&path, &registry)?;
        let max_connections = pipelines.limits.max_connections;
        let (settings, _) = watch::channel(settings_of(&pipelines));
        let mut server = Server {
            path,
            registry,
            listeners: HashMap::new(),
            permits: Arc::new(Semaphore::new(max_connections)),
            max_connections,
            settings,
        };
        server.apply(pipelines).await?;
        Ok(server)
    }

    /// Every inbound's name and the address it actually listens on.
    pub fn local_addrs(&self) -> Vec<(Arc<str>, SocketAddr)> {
        self.listeners
            .iter()
            .map(|(name, listener)| (name.clone(), listener.bound))
            .collect()
    }

    /// Re-reads the config: new connections use the new pipelines, open ones go on.
    ///
    /// An invalid file is rejected and the running config stays in force.
    pub async fn reload(&mut self) -> Result<(), BoxError> {
        let pipelines = load(&self.path, &self.registry)?;
        if pipelines.limits.max_connections != self.max_connections {
            tracing::warn!("limits.max_connections changes only on restart");
        }
        self.settings.send_replace(settings_of(&pipelines));
        self.apply(pipelines).await
    }

    /// Swaps pipelines where the address is unchanged, closes the rest, then binds what is new.
    ///
    /// An inbound whose address changed is closed before its new address is bound, so that
    /// moving between overlapping addresses works; if that bind fails, the inbound stays down.
    async fn apply(&mut self, pipelines: Pipelines) -> Result<(), BoxError> {
        let mut kept = HashMap::new();
        let mut to_bind = Vec::new();
        for pipeline in pipelines.inbounds {
            let name = pipeline.name.clone();
            let same_address =
                |l: &Listener| l.configured == pipeline.listen || l.bound == pipeline.listen;
            match self.listeners.remove(&name).filter(same_address) {
                Some(old) => {
                    old.pipeline.send_replace(pipeline);
                    kept.insert(name, old);
                }
                None => to_bind.push(pipeline),
            }
        }
        for (name, old) in std::mem::replace(&mut self.listeners, kept) {
            tracing::info!(inbound = %name, "stopped listening on {}", old.bound);
            old.close().await;
        }
        for pipeline in to_bind {
            let name = pipeline.name.clone();
            let listener = bind(pipeline.listen).map_err(|e| {
                format!(
                    "inbound `{name}`: cannot listen on {}: {e}",
                    pipeline.listen
                )
            })?;
            let bound = listener.local_addr()?;
            tracing::info!(inbound = %name, "listening on {bound}");
            let configured = pipeline.listen;
            let (tx, rx) = watch::channel(pipeline);
            let task = tokio::spawn(accept_loop(
                listener,
                rx,
                self.permits.clone(),
                self.settings.subscribe(),
            ));
            let listener = Listener {
                configured,
                bound,
                pipeline: tx,
                task,
            };
            self.listeners.insert(name, listener);
        }
        Ok(())
    }

    /// Stops accepting, then waits up to `limits.shutdown_grace` for open connections.
    pub async fn shutdown(mut self) {
        for (_, listener) in std::mem::take(&mut self.listeners) {
            listener.close().await;
        }
        let grace = self.settings.borrow().shutdown_grace;
        let open = self.max_connections - self.permits.available_permits();
        if open > 0 {
            tracing::info!("waiting up to {grace:?} for {open} open connections");
        }
        let all = u32::try_from(self.max_connections).unwrap_or(u32::MAX);
        if tokio::time::timeout(grace, self.permits.acquire_many(all))
            .await
            .is_err()
        {
            let left = self.max_connections - self.permits.available_permits();
            tracing::info!("closing {left} connections still open after the grace period");
        }
    }
}

/// How many connections may wait in the kernel for `accept` (tokio's default is 1024).
const BACKLOG: u32 = 4096;

/// Binds a listener with address reuse and a backlog sized for bursts of connections.
fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

fn load(path: &std::path::Path, registry: &Registry) -> Result<Pipelines, BoxError> {
    let config = Config::load(path)?;
    Ok(pipeline::build(&config, registry)?)
}

fn settings_of(pipelines: &Pipelines) -> Settings {
    Settings {
        idle_timeout: pipelines.limits.idle_timeout,
        shutdown_grace: pipelines.limits.shutdown_grace,
    }
}

/// Accepts while a connection permit is free; survives running out of file descriptors.
async fn accept_loop(
    listener: TcpListener,
    pipeline: watch::Receiver<InboundPipeline>,
    permits: Arc<Semaphore>,
    settings: watch::Receiver<Settings>,
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
        let idle = settings.borrow().idle_timeout;
        let span = tracing::info_span!("conn", inbound = %inbound.name, %peer);
        tokio::spawn(handle(stream, peer, inbound, idle, permit).instrument(span));
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

/// Runs one connection, then closes its socket gracefully.
async fn handle(
    stream: TcpStream,
    peer: SocketAddr,
    inbound: InboundPipeline,
    idle: Duration,
    _permit: OwnedSemaphorePermit,
) {
    let Ok(local) = stream.local_addr() else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let (stream, closer) = Lingering::new(stream);
    let incoming = Incoming {
        io: BoxIo::new(stream),
        peer,
        local,
        inbound: inbound.name.clone(),
    };
    serve_connection(incoming, inbound, idle).await;
    closer.linger(LINGER).await;
}

/// Accept pipeline, outbound connect, reply, relay.
async fn serve_connection(incoming: Incoming, inbound: InboundPipeline, idle: Duration) {
    let accepted = match inbound.acceptor.oneshot(incoming).await {
        Ok(accepted) => accepted,
        Err(e) => {
            tracing::info!("handshake failed: {}", error_chain(&*e));
            return;
        }
    };
    match accepted {
        Accepted::Connect { target, reply } => {
            let destination = target.destination.clone();
            let mut remote = match inbound.connector.oneshot(target).await {
                Ok(remote) => remote,
                Err(e) => {
                    let failure = Failure::classify(&*e);
                    tracing::info!(%destination, ?failure, "connect failed: {}", error_chain(&*e));
                    let _ = reply.fail(failure).await;
                    return;
                }
            };
            let Ok(mut client) = reply.succeed().await else {
                return;
            };
            match relay(&mut client, &mut remote, Some(idle)).await {
                Ok(stats) => {
                    tracing::debug!(%destination, up = stats.up, down = stats.down, "closed")
                }
                Err(e) => tracing::debug!(%destination, "relay ended: {e}"),
            }
        }
        Accepted::Session(session) => {
            if let Err(e) = session.run(inbound.connector).await {
                tracing::debug!("session ended: {}", error_chain(&*e));
            }
        }
    }
}

/// Runs the config at `path` until SIGINT or SIGTERM, reloading it on SIGHUP.
pub async fn run_until_signalled(path: PathBuf, registry: Registry) -> Result<(), BoxError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut server = Server::start(path, registry).await?;
    loop {
        tokio::select! {
            _ = hangup.recv() => match server.reload().await {
                Ok(()) => tracing::info!("configuration reloaded"),
                Err(e) => tracing::error!("reload rejected, keeping the running configuration: {}", error_chain(&*e)),
            },
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}
