//! From a validated config to boxed tower services: outbound connectors and inbound acceptors.

mod alpn;
mod builtin;
mod fallback;
mod named;
mod registry;

pub use fallback::InboundFallback;
pub use registry::Registry;

use crate::config::{AdminConfig, Config, ConfigError, LayerSpec, Limits, Step};
use named::Named;
use registry::Entry;
use std::{
    borrow::Cow,
    cell::RefCell,
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    sync::Arc,
};
use xypro_core::{Address, BoxAcceptor, BoxConnector, BuildContext, Extensions, InvalidOptions};

/// One inbound, ready to serve: its listener address, accept pipeline and outbound.
#[derive(Debug, Clone)]
pub struct InboundPipeline {
    /// The inbound's name.
    pub name: Arc<str>,
    /// Where it listens.
    pub listen: SocketAddr,
    /// The kind of its last layer, the proxy protocol (`socks5`, `vless`).
    pub protocol: Arc<str>,
    /// Upgrades and the proxy handshake.
    pub acceptor: BoxAcceptor,
    /// The outbound pipeline that carries what it accepts.
    pub connector: BoxConnector,
    /// Where connections its pipeline refuses go, if anywhere.
    pub fallback: Option<Arc<InboundFallback>>,
}

/// One outbound, ready to dial: its name, what it is made of and its connector.
#[derive(Debug, Clone)]
pub struct OutboundPipeline {
    /// The outbound's name.
    pub name: Arc<str>,
    /// The kinds of its layers, in the order client bytes pass through them.
    pub layers: Vec<String>,
    /// The outbounds a group (`balance`, `select`) chooses among, in the order listed.
    pub members: Vec<String>,
    /// The member a `select` group uses until another is chosen.
    pub default: Option<String>,
    /// The pipeline, entering its name in each connection's chain.
    pub connector: BoxConnector,
}

/// Everything a config file builds.
#[derive(Debug, Clone)]
pub struct Pipelines {
    /// Every inbound in file order.
    pub inbounds: Vec<InboundPipeline>,
    /// Every outbound in file order.
    pub outbounds: Vec<OutboundPipeline>,
    /// Process-wide limits.
    pub limits: Limits,
    /// The admin server's settings, if it is configured.
    pub admin: Option<AdminConfig>,
}

/// Builds every pipeline of `config`; each outbound is built once and shared by its users.
///
/// An outbound that refers to another (`balance`) has it built first, on demand; a cycle is
/// reported at the first outbound of the cycle.
pub fn build(config: &Config, registry: &Registry) -> Result<Pipelines, ConfigError> {
    build_with(config, registry, Extensions::new())
}

/// As [`build`], with shared `resources` that layers take by type (such as the
/// [`Selections`](xypro_select::Selections) that keep `select` choices across reloads).
pub fn build_with(
    config: &Config,
    registry: &Registry,
    resources: Extensions,
) -> Result<Pipelines, ConfigError> {
    let resources = add_config_resources(config, resources)?;
    let builder = Builder {
        config,
        registry,
        resources: &resources,
        built: RefCell::default(),
        building: RefCell::default(),
        located: RefCell::default(),
    };
    for name in config.raw.outbounds.keys() {
        builder.outbound(name)?;
    }
    let mut inbounds = Vec::new();
    for (name, inbound) in &config.raw.inbounds {
        let path = [
            Step::Key("inbounds"),
            Step::Key(name),
            Step::Key("pipeline"),
        ];
        let entries = &registry.inbound;
        let layers = &inbound.pipeline;
        let side = Side::Inbound {
            listen: inbound.listen,
            fallback: inbound.fallback.is_some(),
        };
        let acceptor = builder.chain(name, &path, layers, entries, side)?;
        let fallback = match &inbound.fallback {
            Some(options) => Some(Arc::new(builder.fallback(name, options)?)),
            None => None,
        };
        inbounds.push(InboundPipeline {
            name: Arc::from(name.as_str()),
            listen: inbound.listen,
            protocol: Arc::from(layers.last().map_or("", |spec| spec.kind.as_str())),
            acceptor,
            connector: builder.outbound(&inbound.outbound)?,
            fallback,
        });
    }
    let outbounds = config
        .raw
        .outbounds
        .iter()
        .map(|(name, layers)| {
            let members: Vec<String> = group_option(layers, "outbounds")
                .and_then(|v| serde_yaml::from_value(v.clone()).ok())
                .unwrap_or_default();
            let is_select = layers.last().is_some_and(|spec| spec.kind == "select");
            let default = match group_option(layers, "default").and_then(|v| v.as_str()) {
                Some(default) => Some(default.to_owned()),
                None if is_select => members.first().cloned(),
                None => None,
            };
            Ok(OutboundPipeline {
                name: Arc::from(name.as_str()),
                layers: layers.iter().map(|spec| spec.kind.clone()).collect(),
                members,
                default,
                connector: builder.outbound(name)?,
            })
        })
        .collect::<Result<_, ConfigError>>()?;
    Ok(Pipelines {
        inbounds,
        outbounds,
        limits: config.raw.limits.clone(),
        admin: config.admin(),
    })
}

/// Which kind of pipeline is being built.
#[derive(Debug, Clone, Copy)]
enum Side {
    /// An inbound's, listening on `listen`, with or without a `fallback:`.
    Inbound { listen: SocketAddr, fallback: bool },
    /// An outbound's.
    Outbound,
}

/// Adds what layers share from the config's top-level keys: the resolver (`dns:`) and the rule
/// sets and GeoIP database routing rules name (`rule_sets:`, `geoip:`), each file read once.
fn add_config_resources(
    config: &Config,
    mut resources: Extensions,
) -> Result<Extensions, ConfigError> {
    let base_dir = config.base_dir();
    let dns = config.raw.dns.clone().unwrap_or_default();
    let resolver = dns.build().map_err(|e| {
        let mut path = vec![Step::Key("dns")];
        let key = e.key().unwrap_or_default().to_owned();
        path.extend(key_steps(&key));
        config.error(&path, e.message())
    })?;
    let mut routing = xypro_route::Resources::default();
    for (name, options) in &config.raw.rule_sets {
        let set = options.load(base_dir).map_err(|e| {
            let path = [Step::Key("rule_sets"), Step::Key(name)];
            config.error(&path, crate::error_chain(&e))
        })?;
        routing.rule_sets.insert(name.clone(), Arc::new(set));
    }
    if let Some(options) = &config.raw.geoip {
        let geoip = options
            .load(base_dir)
            .map_err(|e| config.error(&[Step::Key("geoip")], crate::error_chain(&e)))?;
        routing.geoip = Some(Arc::new(geoip));
    }
    resources.insert(resolver);
    resources.insert(routing);
    Ok(resources)
}

/// An option of a pipeline's last layer, where groups (`balance`, `select`) name their members.
fn group_option<'a>(layers: &'a [LayerSpec], key: &str) -> Option<&'a serde_yaml::Value> {
    layers.last()?.options.get(key)
}

/// The state of one build: what is built, what is being built, the first located failure.
struct Builder<'a> {
    config: &'a Config,
    registry: &'a Registry,
    resources: &'a Extensions,
    built: RefCell<HashMap<String, BoxConnector>>,
    /// Outbounds whose build is under way, outermost first (for cycles).
    building: RefCell<Vec<String>>,
    /// An error already located inside another outbound, reported instead of its reference.
    located: RefCell<Option<ConfigError>>,
}

impl Builder<'_> {
    /// The outbound `name`, built now if it was not yet.
    fn outbound(&self, name: &str) -> Result<BoxConnector, ConfigError> {
        if let Some(connector) = self.built.borrow().get(name) {
            return Ok(connector.clone());
        }
        self.building.borrow_mut().push(name.to_owned());
        let path = [Step::Key("outbounds"), Step::Key(name)];
        let layers = &self.config.raw.outbounds[name];
        let built = self.chain(name, &path, layers, &self.registry.outbound, Side::Outbound);
        self.building.borrow_mut().pop();
        let connector = Named::boxed(name, built?);
        self.built
            .borrow_mut()
            .insert(name.to_owned(), connector.clone());
        Ok(connector)
    }

    /// Another outbound, for a layer that refers to it by name.
    fn lookup(&self, name: &str) -> Result<BoxConnector, InvalidOptions> {
        if !self.config.raw.outbounds.contains_key(name) {
            let known: Vec<&str> = self
                .config
                .raw
                .outbounds
                .keys()
                .map(String::as_str)
                .collect();
            let known = known.join(", ");
            return Err(InvalidOptions::new(format!(
                "no outbound named `{name}` (defined: {known})"
            )));
        }
        let cycle = {
            let building = self.building.borrow();
            building
                .iter()
                .position(|n| n == name)
                .map(|start| format!("{} -> {name}", building[start..].join(" -> ")))
        };
        if let Some(cycle) = cycle {
            let path = [Step::Key("outbounds"), Step::Key(name)];
            let message = format!("outbound `{name}` is part of a reference cycle ({cycle})");
            return Err(self.stash(self.config.error(&path, message)));
        }
        self.outbound(name).map_err(|located| self.stash(located))
    }

    /// Keeps the first located error and returns a stand-in for the layer that hit it.
    fn stash(&self, error: ConfigError) -> InvalidOptions {
        let message = error.message.clone();
        self.located.borrow_mut().get_or_insert(error);
        InvalidOptions::new(message)
    }

    /// Builds one pipeline from its last layer up: the last ends it, the others wrap.
    fn chain<S>(
        &self,
        name: &str,
        path: &[Step<'_>],
        layers: &[LayerSpec],
        entries: &BTreeMap<String, Entry<S>>,
        side: Side,
    ) -> Result<S, ConfigError> {
        let lookup = |name: &str| self.lookup(name);
        let mut built: Option<S> = None;
        for (index, spec) in layers.iter().enumerate().rev() {
            let here = [path, &[Step::Index(index)]].concat();
            let Some(entry) = entries.get(&spec.kind) else {
                let known: Vec<&str> = entries.keys().map(String::as_str).collect();
                let message = format!(
                    "unknown layer `{}` (known here: {})",
                    spec.kind,
                    known.join(", ")
                );
                return Err(self.config.error(&here, message));
            };
            let below = &layers[index + 1..];
            let dial_host = dial_host(below);
            let mut ctx = BuildContext::new(self.config.base_dir())
                .with_name(name)
                .with_dial_host(dial_host.as_deref())
                .with_dial_port(dial_port(below))
                .with_outbounds(&lookup)
                .with_resources(self.resources);
            if let Side::Inbound { listen, .. } = side {
                ctx = ctx.with_listen(listen);
            }
            let options = match (spec.kind.as_str(), side) {
                // Inbound layers above this one come after it; outbound ones before it.
                ("tls", Side::Inbound { fallback, .. }) => {
                    alpn::tls_options(spec, below.iter(), fallback)
                }
                ("tls", Side::Outbound) => {
                    alpn::tls_options(spec, layers[..index].iter().rev(), false)
                }
                _ => Ok(Cow::Borrowed(&spec.options)),
            }
            .map_err(|e| self.locate(&here, &spec.kind, e))?;
            let result = match (entry, built.take()) {
                (Entry::Terminal(build), None) => build(&options, &ctx),
                (Entry::Layer(build), Some(inner)) => build(&options, inner, &ctx),
                (Entry::Terminal(_), Some(_)) => {
                    let message =
                        format!("`{}` ends a pipeline and must be its last layer", spec.kind);
                    return Err(self.config.error(&here, message));
                }
                (Entry::Layer(_), None) => {
                    let message = format!(
                        "`{}` needs a layer below it; the last layer must be one that dials or a proxy protocol",
                        spec.kind
                    );
                    return Err(self.config.error(&here, message));
                }
            };
            built = Some(result.map_err(|e| self.locate(&here, &spec.kind, e))?);
        }
        Ok(built.expect("Config::load refuses empty pipelines"))
    }

    /// Places a layer's error at the option it names (or at the layer), unless it stands in
    /// for an error already located in another outbound.
    fn locate(&self, here: &[Step<'_>], kind: &str, error: InvalidOptions) -> ConfigError {
        if let Some(located) = self.located.borrow_mut().take() {
            return located;
        }
        let mut path = here.to_vec();
        path.push(Step::Key(kind));
        let Some(key) = error.key() else {
            return self.config.error(&path, error.message());
        };
        let layer_key = self.config.error(&path, "").key;
        let mut located = self
            .config
            .error(&[path, key_steps(key)].concat(), error.message());
        located.key = format!("{layer_key}.{key}");
        located
    }
}

/// The steps of an option path such as `users[0].id` or `headers.Host`.
fn key_steps(key: &str) -> Vec<Step<'_>> {
    let mut steps = Vec::new();
    for part in key.split('.') {
        let mut pieces = part.split('[');
        if let Some(name) = pieces.next().filter(|name| !name.is_empty()) {
            steps.push(Step::Key(name));
        }
        for index in pieces {
            if let Ok(index) = index.trim_end_matches(']').parse() {
                steps.push(Step::Index(index));
            }
        }
    }
    steps
}

/// The string option `key` of the first layer `kind` in `below`.
fn option<'a>(below: &'a [LayerSpec], kind: &str, key: &str) -> Option<&'a str> {
    below
        .iter()
        .find(|spec| spec.kind == kind)
        .and_then(|spec| spec.options.get(key))
        .and_then(serde_yaml::Value::as_str)
}

/// The host the layers below reach: the TLS server name, else the host of the dialled address.
fn dial_host(below: &[LayerSpec]) -> Option<String> {
    if let Some(name) = option(below, "tls", "server_name") {
        return Some(name.to_owned());
    }
    match option(below, "tcp", "address")?.parse::<Address>().ok()? {
        Address::Ip(SocketAddr::V6(v6)) => Some(format!("[{}]", v6.ip())),
        other => Some(other.host()),
    }
}

/// The port the layers below dial: the port of the `tcp` address.
fn dial_port(below: &[LayerSpec]) -> Option<u16> {
    let address = option(below, "tcp", "address")?.parse::<Address>().ok()?;
    Some(address.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use xypro_core::LayerOptions;

    /// `- use: { name }`: dials through another outbound.
    #[derive(serde::Deserialize)]
    struct Use {
        name: String,
    }

    impl LayerOptions for Use {
        type Output = BoxConnector;

        fn validate(self, ctx: &BuildContext<'_>) -> Result<BoxConnector, InvalidOptions> {
            ctx.outbound(&self.name)
        }
    }

    fn registry() -> Registry {
        let mut registry = Registry::with_builtin();
        registry.terminal::<Use>("use");
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
        assert!(
            err.message.contains("reference cycle (a -> b -> a)"),
            "{err}"
        );
        assert_eq!(err.line, Some(7), "{err}");
        let dangling = config("  a: [{ use: { name: nowhere } }]\n");
        let err = build(&dangling, &registry()).unwrap_err();
        assert!(err.message.contains("no outbound named `nowhere`"), "{err}");
    }

    #[test]
    fn an_error_inside_a_referenced_outbound_is_reported_where_it_is() {
        let config = config("  a: [{ use: { name: b } }]\n  b: [{ tcp: { address: nowhere } }]\n");
        let err = build(&config, &registry()).unwrap_err();
        assert_eq!(err.key, "outbounds.b[0].tcp.address", "{err}");
        assert_eq!(err.line, Some(8), "{err}");
    }

    #[test]
    fn option_errors_point_at_the_option() {
        let text = "inbounds:\n  s:\n    listen: 127.0.0.1:0\n    pipeline:\n      - vless:\n          users:\n            - { name: a, id: not-a-uuid-and-longer-than-thirty-bytes }\n    outbound: a\noutbounds:\n  a: [direct]\n";
        let err = build(&Config::parse("t.yaml", text.into()).unwrap(), &registry()).unwrap_err();
        assert_eq!(err.key, "inbounds.s.pipeline[0].vless.users[0].id", "{err}");
        assert_eq!(err.line, Some(7), "{err}");
    }

    #[tokio::test]
    async fn select_choices_outlive_a_rebuild_while_the_member_exists() {
        use tower::ServiceExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let selections = xypro_select::Selections::new();
        let build_members = |members: &str| {
            let outbounds = format!(
                "  a: [{{ select: {{ outbounds: [{members}] }} }}]\n  b: [direct]\n  c: [direct]\n"
            );
            let mut resources = Extensions::new();
            resources.insert(selections.clone());
            build_with(&config(&outbounds), &registry(), resources).unwrap()
        };
        let chain = |pipelines: Pipelines| async move {
            let target = xypro_core::Target::tcp(addr);
            let context = target.context.clone();
            let a = pipelines.outbounds[0].connector.clone();
            a.oneshot(target).await.unwrap();
            context.route().chain.join(">")
        };
        let first = build_members("b, c");
        assert_eq!(first.outbounds[0].members, ["b", "c"]);
        assert_eq!(first.outbounds[0].default.as_deref(), Some("b"));
        assert_eq!(chain(first).await, "a>b");
        selections.group("a").choose("c");
        assert_eq!(chain(build_members("b, c")).await, "a>c");
        assert_eq!(chain(build_members("b")).await, "a>b");
        assert_eq!(chain(build_members("c, b")).await, "a>c");
    }

    #[test]
    fn h2_under_a_websocket_is_refused_at_its_alpn_entry() {
        let text = "inbounds:\n  s:\n    listen: 127.0.0.1:0\n    pipeline:\n      - tls:\n          cert: c.pem\n          key: k.pem\n          alpn: [http/1.1, h2]\n      - websocket: { path: /xy }\n      - vless: { users: [{ name: a, id: x }] }\n    outbound: a\noutbounds:\n  a:\n    - vless: { id: x }\n    - httpupgrade: { path: /hu }\n    - tls: { server_name: a.test, alpn: [h2] }\n    - tcp: { address: a.test:443 }\n";
        let err = build(&Config::parse("t.yaml", text.into()).unwrap(), &registry()).unwrap_err();
        assert_eq!(err.key, "outbounds.a[2].tls.alpn[0]", "{err}");
        assert_eq!(err.line, Some(16), "{err}");
        assert!(err.message.contains("`httpupgrade`"), "{err}");
        let inbound_only = text.replace("alpn: [h2] }", "alpn: [http/1.1] }");
        let err = build(&Config::parse("t.yaml", inbound_only).unwrap(), &registry()).unwrap_err();
        assert_eq!(err.key, "inbounds.s.pipeline[0].tls.alpn[1]", "{err}");
        assert_eq!(err.line, Some(8), "{err}");
    }

    #[test]
    fn fallback_errors_point_at_the_entry() {
        let text = |fallback: &str| {
            format!(
                "inbounds:\n  s:\n    listen: 127.0.0.1:0\n    pipeline: [socks5]\n    outbound: a\n    fallback:\n{fallback}outbounds:\n  a: [direct]\n  web: [direct]\n"
            )
        };
        let err = |fallback: &str| {
            let config = Config::parse("t.yaml", text(fallback)).unwrap();
            build(&config, &registry()).unwrap_err()
        };
        let unknown = err("      - { outbound: web }\n      - { path: /blog, outbound: blog }\n");
        assert_eq!(unknown.key, "inbounds.s.fallback[1].outbound", "{unknown}");
        assert_eq!(unknown.line, Some(8), "{unknown}");
        assert!(
            unknown.message.contains("no outbound named `blog`"),
            "{unknown}"
        );
        let version = err("      outbound: web\n      proxy_protocol: 3\n");
        assert_eq!(
            version.key, "inbounds.s.fallback.proxy_protocol",
            "{version}"
        );
        assert_eq!(version.line, Some(8), "{version}");
        let pipelines = build(
            &Config::parse(
                "t.yaml",
                text("      web\n").replace("    fallback:\n      web\n", "    fallback: web\n"),
            )
            .unwrap(),
            &registry(),
        )
        .unwrap();
        assert!(pipelines.inbounds[0].fallback.is_some());
    }

    #[test]
    fn key_paths_split_into_steps() {
        assert_eq!(
            key_steps("users[0].id"),
            [Step::Key("users"), Step::Index(0), Step::Key("id")]
        );
        assert_eq!(key_steps("alpn[1]"), [Step::Key("alpn"), Step::Index(1)]);
    }
}
