//! What the admin server reads and steers: the connection table, the applied config's view,
//! the secret, and the controls of the running process. It lives as long as the server.

use super::{
    auth::Secret, clash::delay::Delays, clash::snapshot::Snapshots, dials::DialMetrics,
    logs::LogControl, sampler::Sample,
};
use crate::{
    config::AdminConfig,
    pipeline::{OutboundPipeline, Pipelines},
};
use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, PoisonError, RwLock},
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use xypro_core::ConnectionTable;
use xypro_select::Selections;

/// A reload asked for through the API, answered with its outcome.
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

/// What the admin API steers outside the server itself: reloads and the log level.
#[derive(Debug, Clone, Default)]
pub struct Controls {
    /// Where `PUT /configs` sends reload requests; `None` refuses them.
    pub reload: Option<mpsc::Sender<ReloadRequest>>,
    /// The process's log level and event stream; `None` when the caller set up no logging.
    pub logs: Option<LogControl>,
}

/// One inbound as the API shows it.
#[derive(Debug, Clone)]
pub(crate) struct InboundView {
    pub(crate) name: Arc<str>,
    pub(crate) protocol: Arc<str>,
    pub(crate) listen: SocketAddr,
}

/// The applied config as the API shows it: inbounds and outbounds in file order.
#[derive(Debug, Clone, Default)]
pub(crate) struct View {
    pub(crate) inbounds: Vec<InboundView>,
    pub(crate) outbounds: Vec<OutboundPipeline>,
}

impl View {
    /// The view of `pipelines`, whose inbounds listen on `bound` (by name).
    pub(crate) fn new(pipelines: &Pipelines, bound: &[(Arc<str>, SocketAddr)]) -> Self {
        View {
            inbounds: pipelines
                .inbounds
                .iter()
                .map(|inbound| InboundView {
                    name: inbound.name.clone(),
                    protocol: inbound.protocol.clone(),
                    listen: bound
                        .iter()
                        .find(|(name, _)| *name == inbound.name)
                        .map_or(inbound.listen, |(_, addr)| *addr),
                })
                .collect(),
            outbounds: pipelines.outbounds.clone(),
        }
    }

    /// The outbound called `name`.
    pub(crate) fn outbound(&self, name: &str) -> Option<&OutboundPipeline> {
        self.outbounds.iter().find(|o| &*o.name == name)
    }

    /// The proxy protocol of inbound `name`.
    pub(crate) fn protocol(&self, inbound: &str) -> &str {
        self.inbounds
            .iter()
            .find(|i| &*i.name == inbound)
            .map_or("", |i| &i.protocol)
    }
}

/// Who may use the API and what `/ui/` serves; a reload may change both.
#[derive(Debug, Clone, Default)]
pub(crate) struct Access {
    pub(crate) secret: Option<Secret>,
    pub(crate) ui: Option<PathBuf>,
}

impl Access {
    pub(crate) fn new(config: &AdminConfig) -> Self {
        Access {
            secret: config.secret.as_deref().map(Secret::new),
            ui: config.ui.clone(),
        }
    }
}

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) table: ConnectionTable,
    pub(crate) selections: Selections,
    pub(crate) controls: Controls,
    pub(crate) dials: Arc<DialMetrics>,
    pub(crate) samples: watch::Receiver<Sample>,
    pub(crate) snapshots: Snapshots,
    pub(crate) delays: Delays,
    /// The config file's directory, for the TLS settings of delay tests.
    pub(crate) base_dir: PathBuf,
    /// Ends every stream when the admin server stops.
    pub(crate) stop: CancellationToken,
    view: RwLock<Arc<View>>,
    access: RwLock<Arc<Access>>,
}

/// The parts a [`State`] is made of.
pub(crate) struct Parts {
    pub(crate) table: ConnectionTable,
    pub(crate) selections: Selections,
    pub(crate) controls: Controls,
    pub(crate) dials: Arc<DialMetrics>,
    pub(crate) samples: watch::Receiver<Sample>,
    pub(crate) base_dir: PathBuf,
    pub(crate) stop: CancellationToken,
}

impl State {
    pub(crate) fn new(parts: Parts, view: View, access: Access) -> Self {
        State {
            table: parts.table,
            selections: parts.selections,
            controls: parts.controls,
            dials: parts.dials,
            samples: parts.samples,
            snapshots: Snapshots::default(),
            delays: Delays::default(),
            base_dir: parts.base_dir,
            stop: parts.stop,
            view: RwLock::new(Arc::new(view)),
            access: RwLock::new(Arc::new(access)),
        }
    }

    /// The applied config's inbounds and outbounds.
    pub(crate) fn view(&self) -> Arc<View> {
        self.view
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The secret and the dashboard directory in force.
    pub(crate) fn access(&self) -> Arc<Access> {
        self.access
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Takes in a reloaded config.
    pub(crate) fn update(&self, view: View, access: Access) {
        *self.view.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(view);
        *self.access.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(access);
    }
}
