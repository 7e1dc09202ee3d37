//! The `dns:` block of the config: which servers, in what order, and which address families.

use crate::{DnsResolver, Server};
use serde::Deserialize;
use xypro_core::{InvalidOptions, SharedResolver};

/// Which addresses of a name are used, and in what order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// IPv4 addresses first, then IPv6 (the default).
    #[default]
    PreferIpv4,
    /// IPv6 addresses first, then IPv4.
    PreferIpv6,
    /// IPv4 addresses only.
    Ipv4Only,
    /// IPv6 addresses only.
    Ipv6Only,
}

/// The config's `dns:` block: `{ servers, strategy, cache_capacity }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsOptions {
    /// Servers asked in order until one answers (default `[system]`).
    #[serde(default = "system")]
    pub servers: Vec<String>,
    /// Address families and their order (default `prefer_ipv4`).
    #[serde(default)]
    pub strategy: Strategy,
    /// Answers kept for their TTL by the non-system servers (default 4096).
    #[serde(default = "default_cache")]
    pub cache_capacity: u64,
}

impl Default for DnsOptions {
    fn default() -> Self {
        DnsOptions {
            servers: system(),
            strategy: Strategy::default(),
            cache_capacity: default_cache(),
        }
    }
}

fn system() -> Vec<String> {
    vec!["system".to_owned()]
}

fn default_cache() -> u64 {
    4096
}

/// The most answers a cache may hold.
const MAX_CACHE: u64 = 1 << 20;

impl DnsOptions {
    /// Checks every server and builds the process's resolver.
    pub fn build(&self) -> Result<SharedResolver, InvalidOptions> {
        if self.servers.is_empty() {
            return Err(InvalidOptions::at(
                "servers",
                "must list at least one server",
            ));
        }
        if self.cache_capacity > MAX_CACHE {
            let message = format!("must be at most {MAX_CACHE}");
            return Err(InvalidOptions::at("cache_capacity", message));
        }
        let servers = self
            .servers
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                entry
                    .parse::<Server>()
                    .map_err(|e| InvalidOptions::at(format!("servers[{i}]"), e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let resolver = DnsResolver::new(&servers, self.strategy, self.cache_capacity)
            .map_err(|e| InvalidOptions::new(format!("cannot set up the resolver: {e}")))?;
        Ok(std::sync::Arc::new(resolver))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_and_strategy_are_checked() {
        let options: DnsOptions = serde_yaml::from_str("{}").unwrap();
        assert_eq!(options.servers, ["system"]);
        assert_eq!(options.strategy, Strategy::PreferIpv4);
        let bad: DnsOptions =
            serde_yaml::from_str("{ servers: [system, 'udp://dns.example'] }").unwrap();
        assert_eq!(bad.build().unwrap_err().key(), Some("servers[1]"));
        assert!(serde_yaml::from_str::<DnsOptions>("{ strategy: ipv5_only }").is_err());
        let none: DnsOptions = serde_yaml::from_str("{ servers: [] }").unwrap();
        assert!(none.build().is_err());
    }
}
