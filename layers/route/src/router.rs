//! The routing engine: compiled rules tried in order, a domain resolved at most once.

use crate::{
    ConfigError, Facts, GeoIp, RouteOptions, RuleSet,
    compile::Node,
    eval::{Input, Verdict},
    matcher::domain::normalize,
    rule::Label,
};
use std::{borrow::Cow, collections::HashMap, mem::size_of, net::IpAddr, sync::Arc};
use xypro_core::{Address, ResolveError};

/// Looks up the IPs of a domain, for rules that match destination IPs.
///
/// Closures `Fn(&str) -> impl Future<Output = Result<Vec<IpAddr>, ResolveError>>` implement it.
pub trait Resolve {
    /// The addresses of `host`, or why there are none.
    fn resolve(&self, host: &str)
    -> impl Future<Output = Result<Vec<IpAddr>, ResolveError>> + Send;
}

impl<F, Fut> Resolve for F
where
    F: Fn(&str) -> Fut,
    Fut: Future<Output = Result<Vec<IpAddr>, ResolveError>> + Send,
{
    fn resolve(
        &self,
        host: &str,
    ) -> impl Future<Output = Result<Vec<IpAddr>, ResolveError>> + Send {
        self(host)
    }
}

/// What rules may refer to: rule sets by name and the GeoIP database, loaded beforehand.
#[derive(Debug, Clone, Default)]
pub struct Resources {
    /// Rule sets by the name rules use.
    pub rule_sets: HashMap<String, Arc<RuleSet>>,
    /// The GeoIP database, needed by `geoip` rules.
    pub geoip: Option<Arc<GeoIp>>,
}

/// The outcome of routing one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision<'a> {
    /// The outbound to use.
    pub outbound: &'a str,
    /// The rule that chose it (`final` when none matched, as sing-box shows it), for the connection list.
    pub label: &'a Label,
    /// The destination's IPs if a rule needed a lookup (empty if it failed); for matching and
    /// display only: the domain is what goes on to the outbound.
    pub resolved: Option<Vec<IpAddr>>,
}

/// One compiled route rule.
#[derive(Debug)]
struct Entry {
    node: Node,
    outbound: String,
    label: Label,
}

/// A compiled `route` layer: rules tried in order, the first match choosing the outbound,
/// else `final`.
///
/// A domain destination is looked up at most once, at the first rule whose outcome depends
/// on its IP (IP networks, `ip_is_private`, GeoIP, rule sets with networks) unless that rule
/// says `no_resolve`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use xypro_core::{Address, Network, ResolveError};
/// use xypro_route::{Facts, Resources, RouteOptions, Router};
///
/// let options: RouteOptions = serde_yaml::from_str(
///     r#"
///     rules:
///       - { domain_suffix: [example.cn], outbound: direct }
///       - "IP-CIDR,10.0.0.0/8,direct"
///       - "DOMAIN-KEYWORD,ads,block"
///     final: proxy
///     "#,
/// )
/// .unwrap();
/// assert_eq!(options.outbound_names().unwrap(), ["direct", "block", "proxy"]);
/// let router = Router::new(&options, &Resources::default()).unwrap();
///
/// // The resolver is asked only when a rule needs the destination's IP.
/// let resolve = |_: &str| async { Ok::<_, ResolveError>(vec!["10.1.2.3".parse().unwrap()]) };
/// let home: Address = "nas.example.net:443".parse().unwrap();
/// let decision = router.decide(&Facts::new(&home, Network::Tcp), &resolve).await;
/// assert_eq!(decision.outbound, "direct");
/// assert_eq!((decision.label.kind, decision.label.payload.as_str()), ("IPCIDR", "10.0.0.0/8"));
///
/// let shop: Address = "www.example.cn:443".parse().unwrap();
/// let decision = router.decide(&Facts::new(&shop, Network::Tcp), &resolve).await;
/// assert_eq!((decision.outbound, decision.resolved), ("direct", None));
/// # }
/// ```
#[derive(Debug)]
pub struct Router {
    rules: Vec<Entry>,
    final_outbound: String,
    final_label: Label,
    geoip: Option<Arc<GeoIp>>,
}

impl Router {
    /// Validates and compiles the options, finding the rule sets and GeoIP database they
    /// name in `resources`.
    pub fn new(options: &RouteOptions, resources: &Resources) -> Result<Self, ConfigError> {
        options.outbound_names()?;
        let lookup = |name: &str| {
            resources.rule_sets.get(name).cloned().ok_or_else(|| {
                let mut known: Vec<&str> = resources.rule_sets.keys().map(String::as_str).collect();
                known.sort_unstable();
                format!("no rule set named `{name}` (defined: {})", known.join(", "))
            })
        };
        let rules = options
            .rules
            .iter()
            .enumerate()
            .map(|(index, rule)| {
                let error = |message| ConfigError::Rule { index, message };
                let node = Node::compile(&rule.condition, &lookup).map_err(error)?;
                if resources.geoip.is_none() && node.uses_geoip() {
                    return Err(error(
                        "a geoip rule needs a GeoIP database (`geoip: { path }`)".into(),
                    ));
                }
                Ok(Entry {
                    node,
                    outbound: rule.outbound.clone(),
                    label: rule.label.clone(),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Router {
            rules,
            final_outbound: options.final_outbound.clone(),
            final_label: Label::new("final", ""),
            geoip: resources.geoip.clone(),
        })
    }

    /// Chooses the outbound for a connection; `resolver` is called at most once, and only for
    /// a domain destination when a rule's outcome depends on its IP.
    pub async fn decide<R: Resolve + ?Sized>(
        &self,
        facts: &Facts<'_>,
        resolver: &R,
    ) -> Decision<'_> {
        let (known_ip, lookup_name) = match facts.destination {
            Address::Ip(addr) => (Some(addr.ip()), None),
            Address::Domain(name, _) => match name.parse::<IpAddr>() {
                Ok(ip) => (Some(ip), None),
                Err(_) => (None, Some(name.as_str())),
            },
        };
        let host = facts.sniffed_host.or(lookup_name).map(normalize_host);
        let known = known_ip.map(|ip| [ip]);
        let mut resolved: Option<Vec<IpAddr>> = None;
        for rule in &self.rules {
            let ips = known.as_ref().map(|one| &one[..]).or(resolved.as_deref());
            let mut verdict = rule.node.eval(&self.input(facts, &host, ips), false);
            if let (Verdict::Unknown, Some(name)) = (verdict, lookup_name) {
                let found = resolver.resolve(name).await.unwrap_or_default();
                let found = resolved.insert(found);
                verdict = rule
                    .node
                    .eval(&self.input(facts, &host, Some(found)), false);
            }
            if verdict == Verdict::Yes {
                return Decision {
                    outbound: &rule.outbound,
                    label: &rule.label,
                    resolved,
                };
            }
        }
        Decision {
            outbound: &self.final_outbound,
            label: &self.final_label,
            resolved,
        }
    }

    /// The evaluation input for a connection, with the destination's IPs if known.
    fn input<'a>(
        &'a self,
        facts: &'a Facts<'a>,
        host: &'a Option<Cow<'a, str>>,
        ips: Option<&'a [IpAddr]>,
    ) -> Input<'a> {
        Input {
            facts,
            host: host.as_deref(),
            ips,
            geoip: self.geoip.as_deref(),
        }
    }

    /// Estimated heap bytes of the compiled rules, not counting the shared rule sets and
    /// GeoIP database.
    pub fn heap_bytes(&self) -> usize {
        self.rules.capacity() * size_of::<Entry>()
            + self
                .rules
                .iter()
                .map(|rule| rule.node.heap_bytes() + rule.outbound.len() + rule.label.payload.len())
                .sum::<usize>()
    }
}

/// A host in lower case without a trailing dot, borrowed when it already is.
fn normalize_host(host: &str) -> Cow<'_, str> {
    match host.ends_with('.') || host.bytes().any(|b| b.is_ascii_uppercase()) {
        true => Cow::Owned(normalize(host)),
        false => Cow::Borrowed(host),
    }
}

#[cfg(test)]
mod tests;
