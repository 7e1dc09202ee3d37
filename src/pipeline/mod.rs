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
///
/// Outbounds may refer to other outbounds (`balance`); they are built in dependency order, and
/// a cycle is reported at the first outbound that cannot be built.
pub fn build(config: &Config, registry: &Registry) -> Result<Pipelines, ConfigError> {
    let mut outbounds: HashMap<String, BoxConnector> = HashMap::new();
    let mut waiting: Vec<&String> = config.raw.outbounds.keys().collect();
    while !waiting.is_empty() {
        let mut deferred = Vec::new();
        let mut first_error = None;
        for name in waiting.iter().copied() {
            let path = [Step::Key("outbounds"), Step::Key(name)];
            let layers = &config.raw.outbounds[name];
            let built = BuiltOutbounds {
                built: &outbounds,
                config,
            };
            match build_chain(config, &path, layers, &registry.outbound, None, &built) {
                Ok(connector) => {
                    outbounds.insert(name.clone(), connector);
                }
                Err(BuildError::Waiting(error)) => {
                    deferred.push(name);
                    first_error.get_or_insert(error);
                }
                Err(BuildError::Config(error)) => return Err(error),
            }
        }
        if deferred.len() == waiting.len() {
            return Err(first_error.expect("deferred outbounds carry an error"));
        }
        waiting = deferred;
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
            &BuiltOutbounds {
                built: &outbounds,
                config,
            },
        )
        .map_err(BuildError::into_config)?;
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

/// The outbounds built so far, for layers that refer to others by name.
pub(crate) struct BuiltOutbounds<'a> {
    built: &'a HashMap<String, BoxConnector>,
    config: &'a Config,
}

impl BuiltOutbounds<'_> {
    /// The outbound `name`, or why it is not available (yet).
    pub(crate) fn get(&self, name: &str) -> Result<BoxConnector, xypro_core::BoxError> {
        if let Some(connector) = self.built.get(name) {
            return Ok(connector.clone());
        }
        if self.config.raw.outbounds.contains_key(name) {
            return Err(Box::new(NotBuiltYet(name.to_owned())));
        }
        let known: Vec<&str> = self
            .config
            .raw
            .outbounds
            .keys()
            .map(String::as_str)
            .collect();
        Err(format!("no outbound named `{name}` (defined: {})", known.join(", ")).into())
    }
}

/// An outbound referred to before it was built: retried in a later pass, or a cycle.
#[derive(Debug, thiserror::Error)]
#[error("outbound `{0}` is part of a reference cycle")]
struct NotBuiltYet(String);

/// A build failure: final, or waiting for another outbound.
enum BuildError {
    Config(ConfigError),
    Waiting(ConfigError),
}

impl BuildError {
    fn into_config(self) -> ConfigError {
        match self {
            BuildError::Config(e) | BuildError::Waiting(e) => e,
        }
    }
}

/// Builds one pipeline from its last layer up, checking that only the last one is terminal.
fn build_chain<S, F>(
    config: &Config,
    path: &[Step<'_>],
    layers: &[LayerSpec],
    entries: &std::collections::BTreeMap<String, Arc<registry::Entry<F>>>,
    listen: Option<SocketAddr>,
    outbounds: &BuiltOutbounds<'_>,
) -> Result<S, BuildError>
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
            return Err(BuildError::Config(config.error(&here, message)));
        };
        let last = index + 1 == layers.len();
        if entry.terminal && !last {
            return Err(BuildError::Config(config.error(
                &here,
                format!("`{}` ends a pipeline and must be its last layer", spec.kind),
            )));
        }
        if !entry.terminal && last {
            let message = format!(
                "`{}` needs a layer below it; the last layer must be one that dials or a proxy protocol",
                spec.kind
            );
            return Err(BuildError::Config(config.error(&here, message)));
        }
        here.push(Step::Key(&spec.kind));
        let ctx = LayerContext {
            base_dir: config.base_dir(),
            listen,
            below: &layers[index + 1..],
            outbounds,
        };
        let built = (entry.build)(&spec.options, inner.take(), &ctx).map_err(|e| match e
            .is::<NotBuiltYet>()
        {
            true => BuildError::Waiting(option_error(config, &here, &*e)),
            false => BuildError::Config(option_error(config, &here, &*e)),
        })?;
        inner = Some(built);
    }
    Ok(inner.expect("pipelines are never empty after Config::load"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Use {
        name: String,
    }

    fn registry() -> Registry {
        let mut registry = Registry::with_builtin();
        registry.outbound_dialer("use", |options: Use, ctx| ctx.outbound(&options.name));
        registry
    }

    fn config(outbounds: &str) -> Config {
        let text = format!(
            "inbounds:\n  s:\n    listen: 127.0.0.1:0\n    pipeline: [socks5]\n    outbound: a\noutbounds:\n{outbounds}"
        );
        Config::parse("test.yaml", text).unwrap()
    }

    #[test]
    fn outbounds_referring_to_later_ones_are_built_in_dependency_order() {
        let config =
            config("  a: [{ use: { name: b } }]\n  b: [{ use: { name: c } }]\n  c: [direct]\n");
        assert_eq!(build(&config, &registry()).unwrap().inbounds.len(), 1);
    }

    #[test]
    fn cycles_and_unknown_references_are_reported_at_their_line() {
        let cycle = config("  a: [{ use: { name: b } }]\n  b: [{ use: { name: a } }]\n");
        let err = build(&cycle, &registry()).unwrap_err();
        assert!(err.message.contains("reference cycle"), "{err}");
        assert_eq!(err.line, Some(7), "{err}");
        let dangling = config("  a: [{ use: { name: nowhere } }]\n");
        let err = build(&dangling, &registry()).unwrap_err();
        assert!(err.message.contains("no outbound named `nowhere`"), "{err}");
    }
}
