//! The admin server: Prometheus metrics at `/metrics`, the Clash API subset dashboards call
//! (`../shared/ADMIN.md`) at `/`, and a downloaded dashboard at `/ui/`. Every figure comes
//! from the dispatch's connection table; the server outlives reloads.

mod auth;
mod clash;
mod cors;
mod dials;
mod logs;
mod metrics;
mod process;
mod reply;
mod router;
mod sampler;
mod state;
mod ui;
mod ws;

pub use logs::{HubLayer, LogControl, LogHub};
pub use state::{Controls, ReloadRequest};

pub(crate) use dials::DialMetrics;

use crate::{config::AdminConfig, pipeline::Pipelines};
use hyper::{server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use state::{Access, Parts, State, View};
use std::{io, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};
use tokio::{net::TcpListener, sync::Semaphore, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use xypro_core::ConnectionTable;
use xypro_select::Selections;

/// Most admin connections open at once (dashboards hold several WebSockets each).
const MAX_CLIENTS: usize = 4096;

/// How long a client may take to send a request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request head (and read buffer) accepted.
const MAX_HEAD: usize = 64 * 1024;

/// What the admin server is given by the server it belongs to.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The dispatch's connection table.
    pub(crate) table: ConnectionTable,
    /// The `select` choices every build uses.
    pub(crate) selections: Selections,
    /// Reloads and the log level.
    pub(crate) controls: Controls,
    /// Dial times, as the dispatch reports them.
    pub(crate) dials: Arc<DialMetrics>,
    /// The config file's directory.
    pub(crate) base_dir: PathBuf,
}

/// A running admin server; it stops when dropped.
#[derive(Debug)]
pub(crate) struct AdminServer {
    state: Arc<State>,
    listen: SocketAddr,
    local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl AdminServer {
    /// Binds `config.listen` and serves until dropped.
    pub(crate) async fn start(
        config: &AdminConfig,
        shared: Shared,
        pipelines: &Pipelines,
        bound: &[(Arc<str>, SocketAddr)],
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(config.listen).await?;
        let local_addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let samples = sampler::start(shared.table.clone(), stop.clone());
        let parts = Parts {
            table: shared.table,
            selections: shared.selections,
            controls: shared.controls,
            dials: shared.dials,
            samples,
            base_dir: shared.base_dir,
            stop,
        };
        let view = View::new(pipelines, bound);
        let state = Arc::new(State::new(parts, view, Access::new(config)));
        let task = tokio::spawn(accept_loop(listener, state.clone()));
        tracing::info!("admin server listening on {local_addr}");
        if let Some(ui) = &config.ui {
            tracing::info!("dashboard at http://{local_addr}/ui/ from {}", ui.display());
        }
        Ok(AdminServer {
            state,
            listen: config.listen,
            local_addr,
            task,
        })
    }

    /// The address the admin server listens on.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Takes in a reloaded config: its inbounds (listening on `bound`), outbounds, secret and
    /// dashboard directory.
    pub(crate) fn update(
        &self,
        config: Option<&AdminConfig>,
        pipelines: &Pipelines,
        bound: &[(Arc<str>, SocketAddr)],
    ) {
        match config {
            Some(config) if config.listen != self.listen => {
                tracing::warn!("admin.listen changes only on restart");
            }
            None => tracing::warn!("the admin server stops only on restart"),
            Some(_) => {}
        }
        let access = config.map_or_else(|| (*self.state.access()).clone(), Access::new);
        self.state.update(View::new(pipelines, bound), access);
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.state.stop.cancel();
        self.task.abort();
    }
}

/// Accepts while fewer than [`MAX_CLIENTS`] admin connections are open.
async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    let permits = Arc::new(Semaphore::new(MAX_CLIENTS));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::debug!("admin accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| router::handle(state.clone(), request));
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_HEAD)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            if let Err(e) = connection.await {
                tracing::debug!("admin connection ended: {e}");
            }
            drop(permit);
        });
    }
}
