//! The layer registry: YAML layer names mapped to functions that build tower services.

use crate::config::LayerSpec;
use serde::de::DeserializeOwned;
use std::{
    collections::BTreeMap,
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
};
use xypro_core::{BoxAcceptor, BoxConnector, BoxError};

/// What a layer builder may know about where it sits.
#[derive(Clone, Copy)]
pub struct LayerContext<'a> {
    /// Directory that relative paths in the config are resolved against.
    pub base_dir: &'a Path,
    /// The inbound's listening address (inbound layers only).
    pub listen: Option<SocketAddr>,
    /// The layers after this one in the same pipeline, nearest first.
    pub below: &'a [LayerSpec],
    pub(crate) outbounds: &'a super::BuiltOutbounds<'a>,
}

impl fmt::Debug for LayerContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LayerContext")
            .field("base_dir", &self.base_dir)
            .field("listen", &self.listen)
            .field("below", &self.below)
            .finish_non_exhaustive()
    }
}

impl LayerContext<'_> {
    /// Resolves a path from the config against the config file's directory.
    pub fn resolve_path(&self, path: &Path) -> PathBuf {
        self.base_dir.join(path)
    }

    /// Another outbound pipeline of the same config, by name, built before this one.
    pub fn outbound(&self, name: &str) -> Result<BoxConnector, BoxError> {
        self.outbounds.get(name)
    }

    /// The value of `key` in the options of the nearest layer of `kind` further down.
    pub fn option_below(&self, kind: &str, key: &str) -> Option<&serde_yaml::Value> {
        self.below
            .iter()
            .find(|spec| spec.kind == kind)
            .and_then(|spec| spec.options.get(key))
    }
}

type Outbound = dyn Fn(
        &serde_yaml::Value,
        Option<BoxConnector>,
        &LayerContext<'_>,
    ) -> Result<BoxConnector, BoxError>
    + Send
    + Sync;
type Inbound = dyn Fn(&serde_yaml::Value, Option<BoxAcceptor>, &LayerContext<'_>) -> Result<BoxAcceptor, BoxError>
    + Send
    + Sync;

/// A registered builder and whether it ends a pipeline.
pub(crate) struct Entry<F: ?Sized> {
    pub(crate) terminal: bool,
    pub(crate) build: Arc<F>,
}

/// Maps layer names to builders, for inbound (accept) and outbound (connect) pipelines.
///
/// Register a custom layer under a YAML name, then build a config with it:
///
/// ```
/// use xypro_stack::{Registry, core::BoxConnector};
///
/// #[derive(serde::Deserialize)]
/// struct Tag { name: String }
///
/// let mut registry = Registry::with_builtin();
/// registry.outbound_layer("tag", |options: Tag, inner: BoxConnector, _ctx| {
///     tracing::info!(tag = %options.name, "building tagged pipeline");
///     Ok(inner)
/// });
/// assert!(registry.outbound_kinds().any(|kind| kind == "tag"));
/// ```
#[derive(Default, Clone)]
pub struct Registry {
    pub(crate) outbound: BTreeMap<String, Arc<Entry<Outbound>>>,
    pub(crate) inbound: BTreeMap<String, Arc<Entry<Inbound>>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("outbound", &self.outbound.keys().collect::<Vec<_>>())
            .field("inbound", &self.inbound.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A layer option that does not deserialize, with the path to it inside the options.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub(crate) struct OptionsError {
    /// Keys and indexes from the layer's options down to the bad value.
    pub(crate) path: Vec<PathSegment>,
    message: String,
}

/// One step of an [`OptionsError`] path.
#[derive(Debug, Clone)]
pub(crate) enum PathSegment {
    Key(String),
    Index(usize),
}

/// Deserializes a layer's options; `- kind` with no options reads as an empty map.
fn options<O: DeserializeOwned>(value: &serde_yaml::Value) -> Result<O, BoxError> {
    let value = match value {
        serde_yaml::Value::Null => serde_yaml::Value::Mapping(Default::default()),
        other => other.clone(),
    };
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e
            .path()
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Map { key } => Some(PathSegment::Key(key.clone())),
                serde_path_to_error::Segment::Seq { index } => Some(PathSegment::Index(*index)),
                _ => None,
            })
            .collect();
        let message = e.into_inner().to_string();
        Box::new(OptionsError { path, message }) as BoxError
    })
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an outbound layer that wraps the connector below it.
    pub fn outbound_layer<O, F>(&mut self, kind: &str, build: F) -> &mut Self
    where
        O: DeserializeOwned,
        F: Fn(O, BoxConnector, &LayerContext<'_>) -> Result<BoxConnector, BoxError>
            + Send
            + Sync
            + 'static,
    {
        let build = move |value: &serde_yaml::Value,
                          inner: Option<BoxConnector>,
                          ctx: &LayerContext<'_>| {
            build(options(value)?, inner.expect("checked by the builder"), ctx)
        };
        let entry = Entry {
            terminal: false,
            build: Arc::new(build) as Arc<Outbound>,
        };
        self.outbound.insert(kind.to_owned(), Arc::new(entry));
        self
    }

    /// Registers an outbound layer that dials by itself and so ends a pipeline.
    pub fn outbound_dialer<O, F>(&mut self, kind: &str, build: F) -> &mut Self
    where
        O: DeserializeOwned,
        F: Fn(O, &LayerContext<'_>) -> Result<BoxConnector, BoxError> + Send + Sync + 'static,
    {
        let build =
            move |value: &serde_yaml::Value, _: Option<BoxConnector>, ctx: &LayerContext<'_>| {
                build(options(value)?, ctx)
            };
        let entry = Entry {
            terminal: true,
            build: Arc::new(build) as Arc<Outbound>,
        };
        self.outbound.insert(kind.to_owned(), Arc::new(entry));
        self
    }

    /// Registers an accept-side layer that upgrades the stream for the layer after it.
    pub fn inbound_layer<O, F>(&mut self, kind: &str, build: F) -> &mut Self
    where
        O: DeserializeOwned,
        F: Fn(O, BoxAcceptor, &LayerContext<'_>) -> Result<BoxAcceptor, BoxError>
            + Send
            + Sync
            + 'static,
    {
        let build =
            move |value: &serde_yaml::Value, inner: Option<BoxAcceptor>, ctx: &LayerContext<'_>| {
                build(options(value)?, inner.expect("checked by the builder"), ctx)
            };
        let entry = Entry {
            terminal: false,
            build: Arc::new(build) as Arc<Inbound>,
        };
        self.inbound.insert(kind.to_owned(), Arc::new(entry));
        self
    }

    /// Registers a proxy protocol that ends an inbound pipeline by yielding destinations.
    pub fn inbound_protocol<O, F>(&mut self, kind: &str, build: F) -> &mut Self
    where
        O: DeserializeOwned,
        F: Fn(O, &LayerContext<'_>) -> Result<BoxAcceptor, BoxError> + Send + Sync + 'static,
    {
        let build =
            move |value: &serde_yaml::Value, _: Option<BoxAcceptor>, ctx: &LayerContext<'_>| {
                build(options(value)?, ctx)
            };
        let entry = Entry {
            terminal: true,
            build: Arc::new(build) as Arc<Inbound>,
        };
        self.inbound.insert(kind.to_owned(), Arc::new(entry));
        self
    }

    /// The registered outbound layer names.
    pub fn outbound_kinds(&self) -> impl Iterator<Item = &str> {
        self.outbound.keys().map(String::as_str)
    }

    /// The registered inbound layer names.
    pub fn inbound_kinds(&self) -> impl Iterator<Item = &str> {
        self.inbound.keys().map(String::as_str)
    }
}
