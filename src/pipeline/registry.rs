//! The layer registry: YAML layer names mapped to the options type that builds each layer.
//!
//! A layer is registered by its options type ([`LayerOptions`]) in one of the four shapes of
//! `DESIGN.md`: a connector layer, a terminal connector, an accept-side upgrade or a proxy
//! protocol. The registry deserializes the options, validates them and boxes the result.

use serde_yaml::Value;
use std::{collections::BTreeMap, fmt, sync::Arc};
use tower::{Layer, Service, ServiceExt};
use xypro_core::{
    Accepted, BoxAcceptor, BoxConnector, BoxError, BoxIo, BuildContext, Incoming, InvalidOptions,
    Io, LayerOptions, Target,
};

/// Builds one layer from its YAML options and, unless it ends the pipeline, the one below.
pub(crate) enum Entry<S> {
    /// Wraps the service built from the layers below it.
    Layer(Arc<WrapFn<S>>),
    /// Ends the pipeline: dials (outbound) or yields destinations (inbound).
    Terminal(Arc<EndFn<S>>),
}

type WrapFn<S> = dyn Fn(&Value, S, &BuildContext<'_>) -> Result<S, InvalidOptions> + Send + Sync;
type EndFn<S> = dyn Fn(&Value, &BuildContext<'_>) -> Result<S, InvalidOptions> + Send + Sync;

impl<S> Clone for Entry<S> {
    fn clone(&self) -> Self {
        match self {
            Entry::Layer(build) => Entry::Layer(build.clone()),
            Entry::Terminal(build) => Entry::Terminal(build.clone()),
        }
    }
}

/// Maps layer names to the options types that build them, for inbound (accept) and outbound
/// (connect) pipelines.
///
/// A custom layer is its options type and one line:
///
/// ```
/// use xypro_stack::{
///     Registry,
///     core::{BuildContext, InvalidOptions, LayerOptions},
/// };
///
/// /// `- tag: { name: ... }`: a layer that only logs its name (a real one returns a tower layer).
/// #[derive(serde::Deserialize)]
/// struct Tag { name: String }
///
/// impl LayerOptions for Tag {
///     type Output = tower::layer::util::Identity;
///
///     fn validate(self, _: &BuildContext<'_>) -> Result<Self::Output, InvalidOptions> {
///         tracing::info!(tag = %self.name, "building a tagged pipeline");
///         Ok(tower::layer::util::Identity::new())
///     }
/// }
///
/// let mut registry = Registry::with_builtin();
/// registry.connector::<Tag>("tag");
/// assert!(registry.outbound_kinds().any(|kind| kind == "tag"));
/// ```
#[derive(Default, Clone)]
pub struct Registry {
    pub(crate) outbound: BTreeMap<String, Entry<BoxConnector>>,
    pub(crate) inbound: BTreeMap<String, Entry<BoxAcceptor>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("outbound", &self.outbound.keys().collect::<Vec<_>>())
            .field("inbound", &self.inbound.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Deserializes a layer's options; `- kind` with no options reads as an empty map. An error
/// names the path to the bad value inside the options.
fn options<O: LayerOptions>(value: &Value) -> Result<O, InvalidOptions> {
    let value = match value {
        Value::Null => Value::Mapping(Default::default()),
        other => other.clone(),
    };
    serde_path_to_error::deserialize(value).map_err(|e| {
        let key = e.path().to_string();
        let message = e.into_inner().to_string();
        match key.as_str() {
            "." | "" => InvalidOptions::new(message),
            _ => InvalidOptions::at(key, message),
        }
    })
}

/// Boxes a connector, whatever stream it returns.
fn box_connector<C>(connector: C) -> BoxConnector
where
    C: Service<Target> + Clone + Send + Sync + 'static,
    C::Response: Io,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    BoxConnector::new(
        connector
            .map_response(BoxIo::new)
            .map_err(Into::<BoxError>::into),
    )
}

/// Boxes an acceptor.
fn box_acceptor<A>(acceptor: A) -> BoxAcceptor
where
    A: Service<Incoming, Response = Accepted> + Clone + Send + Sync + 'static,
    A::Error: Into<BoxError>,
    A::Future: Send + 'static,
{
    BoxAcceptor::new(acceptor.map_err(Into::<BoxError>::into))
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an outbound layer that wraps the connector below it: `O` validates into a
    /// tower layer over connectors.
    pub fn connector<O>(&mut self, kind: &str) -> &mut Self
    where
        O: LayerOptions,
        O::Output: Layer<BoxConnector>,
        <O::Output as Layer<BoxConnector>>::Service:
            Service<Target> + Clone + Send + Sync + 'static,
        <<O::Output as Layer<BoxConnector>>::Service as Service<Target>>::Response: Io,
        <<O::Output as Layer<BoxConnector>>::Service as Service<Target>>::Error: Into<BoxError>,
        <<O::Output as Layer<BoxConnector>>::Service as Service<Target>>::Future: Send + 'static,
    {
        let build = |value: &Value, inner: BoxConnector, ctx: &BuildContext<'_>| {
            let layer = options::<O>(value)?.validate(ctx)?;
            Ok(box_connector(layer.layer(inner)))
        };
        self.outbound
            .insert(kind.to_owned(), Entry::Layer(Arc::new(build)));
        self
    }

    /// Registers an outbound connector that dials by itself and so ends a pipeline: `O`
    /// validates into the connector.
    pub fn terminal<O>(&mut self, kind: &str) -> &mut Self
    where
        O: LayerOptions,
        O::Output: Service<Target> + Clone + Send + Sync + 'static,
        <O::Output as Service<Target>>::Response: Io,
        <O::Output as Service<Target>>::Error: Into<BoxError>,
        <O::Output as Service<Target>>::Future: Send + 'static,
    {
        let build = |value: &Value, ctx: &BuildContext<'_>| {
            Ok(box_connector(options::<O>(value)?.validate(ctx)?))
        };
        self.outbound
            .insert(kind.to_owned(), Entry::Terminal(Arc::new(build)));
        self
    }

    /// Registers an accept-side upgrade that wraps the acceptor below it: `O` validates into a
    /// tower layer over acceptors (usually an [`UpgradeLayer`](xypro_core::UpgradeLayer)).
    pub fn upgrade<O>(&mut self, kind: &str) -> &mut Self
    where
        O: LayerOptions,
        O::Output: Layer<BoxAcceptor>,
        <O::Output as Layer<BoxAcceptor>>::Service:
            Service<Incoming, Response = Accepted> + Clone + Send + Sync + 'static,
        <<O::Output as Layer<BoxAcceptor>>::Service as Service<Incoming>>::Error: Into<BoxError>,
        <<O::Output as Layer<BoxAcceptor>>::Service as Service<Incoming>>::Future: Send + 'static,
    {
        let build = |value: &Value, inner: BoxAcceptor, ctx: &BuildContext<'_>| {
            let layer = options::<O>(value)?.validate(ctx)?;
            Ok(box_acceptor(layer.layer(inner)))
        };
        self.inbound
            .insert(kind.to_owned(), Entry::Layer(Arc::new(build)));
        self
    }

    /// Registers a proxy protocol that ends an inbound pipeline by yielding destinations: `O`
    /// validates into the acceptor.
    pub fn protocol<O>(&mut self, kind: &str) -> &mut Self
    where
        O: LayerOptions,
        O::Output: Service<Incoming, Response = Accepted> + Clone + Send + Sync + 'static,
        <O::Output as Service<Incoming>>::Error: Into<BoxError>,
        <O::Output as Service<Incoming>>::Future: Send + 'static,
    {
        let build = |value: &Value, ctx: &BuildContext<'_>| {
            Ok(box_acceptor(options::<O>(value)?.validate(ctx)?))
        };
        self.inbound
            .insert(kind.to_owned(), Entry::Terminal(Arc::new(build)));
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
