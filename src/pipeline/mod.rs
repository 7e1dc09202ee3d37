//! From a validated config to boxed tower services: outbound connectors and inbound acceptors.

mod builtin;
mod registry;

pub use registry::{LayerContext, Registry};

use crate::config::{Config, ConfigError, LayerSpec, Limits, Step};
use std::{collections::HashMap, net::SocketAddr, sync::Arc};
use xypro_core::{BoxAcceptor, BoxConnector};

/// One inbound, ready to serve: its listener address, accept pipeline and outbound.
#[derive(Debug, Clone)]
pub struct InboundPipeline {
    /// The inbound's name.
    pub name: Arc<str>,
    /// Where it listens.
    pub listen: SocketAddr,
    /// Upgrades and the proxy handshake.
    pub acceptor: BoxAcceptor,
    /// The outbound pipeline that carries what it accepts.
    pub connector: BoxConnector,
}

/// Everything a config file builds.
#[derive(Debug, Clone)]
pub struct Pipelines {
    /// Every inbound in file order.
    pub inbounds: Vec<InboundPipeline>,
    /// Process-wide limits.
    pub limits: Limits,
}

/// Builds every pipeline of `config`; each outbound is built once and shared by its inbounds.
pub fn build(config: &Config, registry: &Registry) -> Result<Pipelines, ConfigError> {
    let mut outbounds = HashMap::new();
    for (name, layers) in &config.raw.outbounds {
        let path = [Step::Key("outbounds"), Step::Key(name)];
        let connector = build_chain(config, &path, layers, &registry.outbound, None)?;
        outbounds.insert(name.as_str(), connector);
    }
    let mut inbounds = Vec::new();
    for (name, inbound) in &config.raw.inbounds {
        let path = [
            Step::Key("inbounds"),
            Step::Key(name),
            Step::Key("pipeline"),
        ];
        let acceptor = build_chain(
            config,
            &path,
            &inbound.pipeline,
            &registry.inbound,
            Some(inbound.listen),
        )?;
        inbounds.push(InboundPipeline {
            name: Arc::from(name.as_str()),
            listen: inbound.listen,
            acceptor,
            connector: outbounds[inbound.outbound.as_str()].clone(),
        });
    }
    Ok(Pipelines {
        inbounds,
        limits: config.raw.limits.clone(),
    })
}

/// Locates a layer's build error, down to the option it names when it names one.
fn option_error(
    config: &Config,
    here: &[Step<'_>],
    err: &(dyn std::error::Error + 'static),
) -> ConfigError {
    let Some(options) = err.downcast_ref::<registry::OptionsError>() else {
        return config.error(here, crate::error_chain(err));
    };
    let mut path = here.to_vec();
    let mut dotted = String::new();
    for segment in &options.path {
        match segment {
            registry::PathSegment::Key(key) => {
                path.push(Step::Key(key));
                dotted.push_str(&format!(".{key}"));
            }
            registry::PathSegment::Index(i) => {
                path.push(Step::Index(*i));
                dotted.push_str(&format!("[{i}]"));
            }
        }
    }
    let mut located = config.error(&path, err.to_string());
    located.key = format!("{}{dotted}", config.error(here, "").key);
    located
}

/// Builds one pipeline from its last layer up, checking that only the last one is terminal.
fn build_chain<S, F>(
    config: &Config,
    path: &[Step<'_>],
    layers: &[LayerSpec],
    entries: &std::collections::BTreeMap<String, Arc<registry::Entry<F>>>,
    listen: Option<SocketAddr>,
) -> Result<S, ConfigError>
where
    F: ?Sized
        + Fn(&serde_yaml::Value, Option<S>, &LayerContext<'_>) -> Result<S, xypro_core::BoxError>,
{
    let mut inner: Option<S> = None;
    for (index, spec) in layers.iter().enumerate().rev() {
        let mut here = path.to_vec();
        here.push(Step::Index(index));
        let Some(entry) = entries.get(&spec.kind) else {
            let known: Vec<&str> = entries.keys().map(String::as_str).collect();
            let message = format!(
                "unknown layer `{}` (known here: {})",
                spec.kind,
                known.join(", ")
            );
            return Err(config.error(&here, message));
        };
        let last = index + 1 == layers.len();
        if entry.terminal && !last {
            return Err(config.error(
                &here,
                format!("`{}` ends a pipeline and must be its last layer", spec.kind),
            ));
        }
        if !entry.terminal && last {
            return Err(config.error(&here, format!("`{}` needs a layer below it; the last layer must be one that dials or a proxy protocol", spec.kind)));
        }
        here.push(Step::Key(&spec.kind));
        let ctx = LayerContext {
            base_dir: config.base_dir(),
            listen,
            below: &layers[index + 1..],
        };
        let built = (entry.build)(&spec.options, inner.take(), &ctx)
            .map_err(|e| option_error(config, &here, &*e))?;
        inner = Some(built);
    }
    Ok(inner.expect("pipelines are never empty after Config::load"))
}
