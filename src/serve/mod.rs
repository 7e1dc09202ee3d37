//! Serving: listeners, the dispatch and its connection table (kept across reloads), reload on
//! demand, and graceful shutdown.

mod accept;
mod fallback;
mod gate;
mod linger;

use crate::{
    config::{Config, Limits},
    pipeline::{self, InboundPipeline, Pipelines, Registry},
};
use gate::GateLimits;
use std::{collections::HashMap, io, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};
use tokio::{
    net::TcpListener,
    sync::{Semaphore, watch},
    task::JoinHandle,
};
use xypro_core::{
    BoxError, ConnectionTable, Dispatch, DispatchSettings, ListeningPort, error_chain,
};

/// How long connections closed at the end of the grace period get to finish their last log
/// line and close.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// A running set of inbounds built from one config file.
#[derive(Debug)]
pub struct Server {
    path: PathBuf,
    registry: Registry,
    listeners: HashMap<Arc<str>, Listener>,
    permits: Arc<Semaphore>,
    max_connections: usize,
    settings: watch::Sender<Settings>,
    dispatch: Dispatch,
}

/// What every listener applies to each connection it accepts; a reload may change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Settings {
    gate: GateLimits,
    handshake_timeout: Duration,
    shutdown_grace: Duration,
}

impl Settings {
    fn of(limits: &Limits) -> Self {
        Settings {
            gate: GateLimits {
                per_inbound: limits.handshakes_per_inbound,
                per_address: limits.handshakes_per_address,
            },
            handshake_timeout: limits.handshake_timeout,
            shutdown_grace: limits.shutdown_grace,
        }
    }
}

#[derive(Debug)]
struct Listener {
    configured: SocketAddr,
    bound: SocketAddr,
    pipeline: watch::Sender<InboundPipeline>,
    task: JoinHandle<()>,
    /// Keeps the port in the set destinations may not name (the server dialling itself).
    _port: ListeningPort,
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
        let dispatch = Dispatch::new(ConnectionTable::new(), settings_of(&pipelines));
        let mut server = Server {
            path,
            registry,
            listeners: HashMap::new(),
            permits: Arc::new(Semaphore::new(max_connections)),
            max_connections,
            settings: watch::Sender::new(Settings::of(&pipelines.limits)),
            dispatch,
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

    /// The open logical connections, which outlive reloads.
    pub fn connections(&self) -> &ConnectionTable {
        self.dispatch.table()
    }

    /// Re-reads the config: new connections use the new pipelines, open ones go on.
    ///
    /// An invalid file is rejected and the running config stays in force.
    pub async fn reload(&mut self) -> Result<(), BoxError> {
        let pipelines = load(&self.path, &self.registry)?;
        if pipelines.limits.max_connections != self.max_connections {
            tracing::warn!("limits.max_connections changes only on restart");
        }
        self.dispatch.set_settings(settings_of(&pipelines));
        self.settings.send_replace(Settings::of(&pipelines.limits));
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
            let shared = accept::Shared {
                pipeline: rx,
                settings: self.settings.subscribe(),
                permits: self.permits.clone(),
                dispatch: self.dispatch.clone(),
            };
            let task = tokio::spawn(accept::accept_loop(listener, shared));
            let listener = Listener {
                configured,
                bound,
                pipeline: tx,
                task,
                _port: ListeningPort::new(bound.port()),
            };
            self.listeners.insert(name, listener);
        }
        Ok(())
    }

    /// Stops accepting, then waits up to `limits.shutdown_grace` for open connections (every
    /// session's connections included); what is still open then is closed.
    pub async fn shutdown(mut self) {
        for (_, listener) in std::mem::take(&mut self.listeners) {
            listener.close().await;
        }
        let grace = self.settings.borrow().shutdown_grace;
        let open = self.max_connections - self.permits.available_permits();
        if open > 0 {
            let logical = self.connections().len();
            tracing::info!(
                "waiting up to {grace:?} for {open} open connections ({logical} logical)"
            );
        }
        let all = u32::try_from(self.max_connections).unwrap_or(u32::MAX);
        if tokio::time::timeout(grace, self.permits.acquire_many(all))
            .await
            .is_err()
        {
            let left = self.connections().len();
            tracing::info!("closing {left} connections still open after the grace period");
            self.connections().close_all();
            let _ = tokio::time::timeout(CLOSE_WAIT, self.connections().wait_empty()).await;
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

fn settings_of(pipelines: &Pipelines) -> DispatchSettings {
    DispatchSettings::new(pipelines.limits.idle_timeout)
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
