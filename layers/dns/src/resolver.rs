//! `DnsResolver`: the configured servers in order, a cache, and the family strategy.

use crate::{Server, Strategy};
use hickory_resolver::{
    TokioResolver,
    config::{ConnectionConfig, LookupIpStrategy, NameServerConfig, ResolverConfig},
    net::runtime::TokioRuntimeProvider,
};
use std::{fmt, net::IpAddr, sync::Arc, time::Duration};
use xypro_core::{BoxFuture, Resolve, ResolveError, SystemResolver};

/// How long one server gets to answer one query.
const QUERY_TIMEOUT: Duration = Duration::from_secs(4);

/// One server as a backend: the system's resolver, or hickory for a network server.
enum Backend {
    System,
    Hickory(Box<TokioResolver>),
}

/// Asks each configured server in order until one answers, and orders the addresses by the
/// strategy.
pub struct DnsResolver {
    backends: Vec<(Arc<str>, Backend)>,
    strategy: Strategy,
}

impl fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsResolver")
            .field(
                "servers",
                &self
                    .backends
                    .iter()
                    .map(|(name, _)| name)
                    .collect::<Vec<_>>(),
            )
            .field("strategy", &self.strategy)
            .finish()
    }
}

impl DnsResolver {
    /// A resolver for `servers`, caching up to `cache` answers per network server.
    pub fn new(
        servers: &[Server],
        strategy: Strategy,
        cache: u64,
    ) -> Result<Self, hickory_resolver::net::NetError> {
        let backends = servers
            .iter()
            .map(|server| {
                let backend = match server {
                    Server::System => Backend::System,
                    network => Backend::Hickory(Box::new(hickory(network, cache)?)),
                };
                Ok::<_, hickory_resolver::net::NetError>((Arc::from(server.to_string()), backend))
            })
            .collect::<Result<_, _>>()?;
        Ok(DnsResolver { backends, strategy })
    }
}

/// A hickory resolver for one network server.
fn hickory(server: &Server, cache: u64) -> Result<TokioResolver, hickory_resolver::net::NetError> {
    let (addr, connection) = match server {
        Server::Udp(addr) => (addr, ConnectionConfig::udp()),
        Server::Tcp(addr) => (addr, ConnectionConfig::tcp()),
        Server::Tls(addr) => (
            addr,
            ConnectionConfig::tls(Arc::from(addr.ip().to_string())),
        ),
        Server::Https(addr, path) => (
            addr,
            ConnectionConfig::https(
                Arc::from(addr.ip().to_string()),
                Some(Arc::from(path.as_str())),
            ),
        ),
        Server::System => unreachable!("the system server has no hickory backend"),
    };
    let mut connection = connection;
    connection.port = addr.port();
    let name_server = NameServerConfig::new(addr.ip(), true, vec![connection]);
    let config = ResolverConfig::from_name_servers(vec![name_server]);
    let mut builder = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
    let options = builder.options_mut();
    options.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
    options.cache_size = cache;
    options.timeout = QUERY_TIMEOUT;
    options.attempts = 1;
    builder = builder.with_tls_config(tls_config());
    builder.build()
}

/// The TLS client configuration for DNS over TLS and HTTPS: webpki roots, aws-lc-rs.
fn tls_config() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// Orders (or filters) addresses by the strategy; `None` when none is left.
fn apply(strategy: Strategy, mut ips: Vec<IpAddr>) -> Option<Vec<IpAddr>> {
    match strategy {
        Strategy::PreferIpv4 => ips.sort_by_key(IpAddr::is_ipv6),
        Strategy::PreferIpv6 => ips.sort_by_key(IpAddr::is_ipv4),
        Strategy::Ipv4Only => ips.retain(IpAddr::is_ipv4),
        Strategy::Ipv6Only => ips.retain(IpAddr::is_ipv6),
    }
    (!ips.is_empty()).then_some(ips)
}

impl Resolve for DnsResolver {
    fn resolve(&self, host: &str) -> BoxFuture<Result<Vec<IpAddr>, ResolveError>> {
        let host = host.to_owned();
        let strategy = self.strategy;
        let attempts: Vec<_> = self
            .backends
            .iter()
            .map(|(name, backend)| match backend {
                Backend::System => (name.clone(), None),
                Backend::Hickory(resolver) => (name.clone(), Some(resolver.as_ref().clone())),
            })
            .collect();
        Box::pin(async move {
            let mut last = None;
            for (server, resolver) in attempts {
                let answer = match resolver {
                    None => SystemResolver.resolve(&host).await,
                    Some(resolver) => lookup(&resolver, &host).await,
                };
                match answer.map(|ips| apply(strategy, ips)) {
                    Ok(Some(ips)) => return Ok(ips),
                    Ok(None) => last = None,
                    Err(e) => {
                        tracing::debug!(%server, "dns: {host}: {e}");
                        last = e.source;
                    }
                }
            }
            Err(ResolveError { host, source: last })
        })
    }
}

/// One hickory look-up, its error as an `io::Error`.
async fn lookup(resolver: &TokioResolver, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
    // A trailing dot: the name is complete, never joined with search domains.
    let name = format!("{}.", host.trim_end_matches('.'));
    match resolver.lookup_ip(name).await {
        Ok(answer) => Ok(answer.iter().collect()),
        Err(e) => Err(ResolveError {
            host: host.to_owned(),
            source: Some(std::io::Error::other(e.to_string())),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strategy_orders_and_filters() {
        let ips: Vec<IpAddr> = ["::1", "10.0.0.1", "::2", "10.0.0.2"]
            .iter()
            .map(|ip| ip.parse().unwrap())
            .collect();
        let v4_first = apply(Strategy::PreferIpv4, ips.clone()).unwrap();
        assert!(v4_first[0].is_ipv4() && v4_first[1].is_ipv4() && v4_first[3].is_ipv6());
        let v6_first = apply(Strategy::PreferIpv6, ips.clone()).unwrap();
        assert!(v6_first[0].is_ipv6());
        assert_eq!(apply(Strategy::Ipv4Only, ips.clone()).unwrap().len(), 2);
        assert!(apply(Strategy::Ipv6Only, vec!["10.0.0.1".parse().unwrap()]).is_none());
    }
}
