//! YAML options of the `tcp` and `direct` layers.

use crate::{DirectConnector, TcpConnector};
use serde::Deserialize;
use std::time::Duration;
use xypro_core::{
    Address, BuildContext, InvalidOptions, LayerOptions, SharedResolver, SystemResolver,
};

/// How long a dial may take by default: name resolution plus the TCP handshake.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Options of the `tcp` layer: `{ address, nodelay, connect_timeout }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpOptions {
    /// The fixed `host:port` to dial.
    pub address: String,
    /// Whether to set `TCP_NODELAY` (default true).
    #[serde(default = "yes")]
    pub nodelay: bool,
    /// Deadline for name resolution plus connecting (default 10s).
    #[serde(default, with = "xypro_core::duration::option")]
    pub connect_timeout: Option<Duration>,
}

impl LayerOptions for TcpOptions {
    type Output = TcpConnector;

    fn validate(self, ctx: &BuildContext<'_>) -> Result<TcpConnector, InvalidOptions> {
        let address: Address = self
            .address
            .parse()
            .map_err(|e| InvalidOptions::at("address", format!("`{}`: {e}", self.address)))?;
        let limit = connect_timeout(self.connect_timeout)?;
        Ok(TcpConnector::new(address)
            .nodelay(self.nodelay)
            .connect_timeout(limit)
            .resolver(resolver(ctx)))
    }
}

/// Options of the `direct` layer: `{ nodelay, connect_timeout }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectOptions {
    /// Whether to set `TCP_NODELAY` on TCP connections (default true).
    #[serde(default = "yes")]
    pub nodelay: bool,
    /// Deadline for name resolution plus connecting (default 10s).
    #[serde(default, with = "xypro_core::duration::option")]
    pub connect_timeout: Option<Duration>,
}

impl LayerOptions for DirectOptions {
    type Output = DirectConnector;

    fn validate(self, ctx: &BuildContext<'_>) -> Result<DirectConnector, InvalidOptions> {
        let limit = connect_timeout(self.connect_timeout)?;
        Ok(DirectConnector::new()
            .nodelay(self.nodelay)
            .connect_timeout(limit)
            .resolver(resolver(ctx)))
    }
}

/// The process's resolver (the config's `dns:`), else the system's.
fn resolver(ctx: &BuildContext<'_>) -> SharedResolver {
    ctx.resource::<SharedResolver>()
        .cloned()
        .unwrap_or_else(SystemResolver::shared)
}

/// The dial deadline: the default when unset, never zero.
fn connect_timeout(given: Option<Duration>) -> Result<Duration, InvalidOptions> {
    match given {
        Some(Duration::ZERO) => Err(InvalidOptions::at(
            "connect_timeout",
            "must be longer than 0s",
        )),
        Some(limit) => Ok(limit),
        None => Ok(DEFAULT_CONNECT_TIMEOUT),
    }
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_dialers_default_to_a_ten_second_deadline_and_refuse_zero() {
        let ctx = BuildContext::default();
        let tcp: TcpOptions = serde_yaml::from_str("{ address: 127.0.0.1:1 }").unwrap();
        assert_eq!(
            tcp.validate(&ctx).unwrap().timeout(),
            DEFAULT_CONNECT_TIMEOUT
        );
        let direct: DirectOptions = serde_yaml::from_str("{ connect_timeout: 3s }").unwrap();
        assert_eq!(
            direct.validate(&ctx).unwrap().timeout(),
            Duration::from_secs(3)
        );
        let zero: TcpOptions =
            serde_yaml::from_str("{ address: 127.0.0.1:1, connect_timeout: 0s }").unwrap();
        let err = zero.validate(&ctx).unwrap_err();
        assert_eq!(err.key(), Some("connect_timeout"));
        let bad: TcpOptions = serde_yaml::from_str("{ address: nowhere }").unwrap();
        assert_eq!(bad.validate(&ctx).unwrap_err().key(), Some("address"));
    }
}
