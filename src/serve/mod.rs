//! Serving: listeners, the dispatch and its connection table (kept across reloads), reload on
//! demand, and graceful shutdown.

mod accept;
mod failures;
mod fallback;
mod gate;
mod linger;

pub use failures::{HandshakeFailure, classify, handshake_failures};

use crate::{
    admin::{self, AdminServer, Controls, DialMetrics, LogControl},
    config::{Config, Limits},
    pipeline::{self, InboundPipeline, Pipelines, Registry},
};
use gate::GateLimits;
use std::{
    collections::HashMap,
    io,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};
use tokio::{
    net::TcpListener,
    sync::{Semaphore, mpsc, watch},
    task::JoinHandle,
};
use xypro_core::{
    BoxError, ConnectionTable, Dispatch, DispatchSettings, Extensions, ListeningPort, error_chain,
};
use xypro_select::Selections;

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
    /// The `select` choices, kept across reloads.
    selections: Selections,
    /// The admin server, when the config has one; it outlives reloads.
    admin: Option<AdminServer>,
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
    /// Loads `path`, builds its pipelines and binds every listener (and the admin server).
    pub async fn start(path: impl Into<PathBuf>, registry: Registry) -> Result<Server, BoxError> {
        Self::start_with(path, registry, Controls::default()).await
    }

    /// As [`start`](Self::start), with the reloads and log level the admin API may steer.
    pub async fn start_with(
        path: impl Into<PathBuf>,
        registry: Registry,
        controls: Controls,
    ) -> Result<Server, BoxError> {
        let path = path.into();
        let selections = Selections::new();
        let pipelines = load(&path, &registry, &selections)?;
        let max_connections = pipelines.limits.max_connections;
        let (table, settings) = (ConnectionTable::new(), settings_of(&pipelines));
        let dials = Arc::new(DialMetrics::default());
        let dispatch = match pipelines.admin {
            Some(_) => Dispatch::with_observer(table, settings, dials.clone()),
            None => Dispatch::new(table, settings),
        };
        let mut server = Server {
            path,
            registry,
            listeners: HashMap::new(),
            permits: Arc::new(Semaphore::new(max_connections)),
            max_connections,
            settings: watch::Sender::new(Settings::of(&pipelines.limits)),
            dispatch,
            selections,
            admin: None,
        };
        server.apply(pipelines.clone()).await?;
        if let Some(config) = &pipelines.admin {
            let shared = admin::Shared {
                table: server.connections().clone(),
                selections: server.selections.clone(),
                controls,
                dials,
                base_dir: base_dir(&server.path),
            };
            let bound = server.local_addrs();
            let admin = AdminServer::start(config, shared, &pipelines, &bound)
                .await
                .map_err(|e| format!("admin: cannot listen on {}: {e}", config.listen))?;
            server.admin = Some(admin);
        }
        Ok(server)
    }

    /// Where the admin server listens, when the config has one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(AdminServer::local_addr)
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
        let pipelines = load(&self.path, &self.registry, &self.selections)?;
        if pipelines.limits.max_connections != self.max_connections {
            tracing::warn!("limits.max_connections changes only on restart");
        }
        self.dispatch.set_settings(settings_of(&pipelines));
        self.settings.send_replace(Settings::of(&pipelines.limits));
        let applied = self.apply(pipelines.clone()).await;
        match &self.admin {
            Some(admin) => admin.update(pipelines.admin.as_ref(), &pipelines, &self.local_addrs()),
            None if pipelines.admin.is_some() => {
                tracing::warn!("the admin server starts only on restart");
            }
            None => {}
        }
        applied
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

/// Loads and builds the config at `path`, `select` groups keeping their choices in `selections`.
fn load(path: &Path, registry: &Registry, selections: &Selections) -> Result<Pipelines, BoxError> {
    let config = Config::load(path)?;
    let mut resources = Extensions::new();
    resources.insert(selections.clone());
    Ok(pipeline::build_with(&config, registry, resources)?)
}

/// The directory relative paths in the config at `path` are resolved against.
fn base_dir(path: &Path) -> PathBuf {
    path.parent().unwrap_or(Path::new(".")).to_owned()
}

fn settings_of(pipelines: &Pipelines) -> DispatchSettings {
    DispatchSettings::new(pipelines.limits.idle_timeout)
}

/// Runs the config at `path` until SIGINT or SIGTERM, reloading it on SIGHUP or when the admin
/// API asks; `logs` lets the admin API stream logs and change the level.
pub async fn run_until_signalled(
    path: PathBuf,
    registry: Registry,
    logs: Option<LogControl>,
) -> Result<(), BoxError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let (reload, mut reloads) = mpsc::channel::<admin::ReloadRequest>(4);
    let controls = Controls {
        reload: Some(reload),
        logs,
    };
    let mut server = Server::start_with(path, registry, controls).await?;
    loop {
        tokio::select! {
            _ = hangup.recv() => drop(reload_logged(&mut server).await),
            Some(answer) = reloads.recv() => drop(answer.send(reload_logged(&mut server).await)),
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
        }
    }
    tracing::info!("shutting down");
    server.shutdown().await;
    Ok(())
}

/// Reloads `server`, logging the outcome; the error is the message for the admin API.
async fn reload_logged(server: &mut Server) -> Result<(), String> {
    match server.reload().await {
        Ok(()) => {
            tracing::info!("configuration reloaded");
            Ok(())
        }
        Err(e) => {
            let message = error_chain(&*e);
            tracing::error!("reload rejected, keeping the running configuration: {message}");
            Err(message)
        }
    }
}
