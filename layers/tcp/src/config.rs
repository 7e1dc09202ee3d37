//! YAML options of the `tcp` and `direct` layers.

use serde::Deserialize;
use xypro_core::Address;

/// Options of the `tcp` layer: `{ address, nodelay }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpOptions {
    /// The fixed `host:port` to dial.
    pub address: String,
    /// Whether to set `TCP_NODELAY` (default true).
    #[serde(default = "yes")]
    pub nodelay: bool,
}

impl TcpOptions {
    /// Parses the address and builds the connector.
    pub fn build(&self) -> Result<crate::TcpConnector, String> {
        let address: Address = self
            .address
            .parse()
            .map_err(|e| format!("address `{}`: {e}", self.address))?;
        Ok(crate::TcpConnector::new(address).nodelay(self.nodelay))
    }
}

/// Options of the `direct` layer: `{ nodelay, connect_timeout }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectOptions {
    /// Whether to set `TCP_NODELAY` on TCP connections (default true).
    #[serde(default = "yes")]
    pub nodelay: bool,
    /// Deadline for name resolution plus connecting (default 10s).
    #[serde(default, with = "humantime_serde")]
    pub connect_timeout: Option<std::time::Duration>,
}

impl DirectOptions {
    /// Builds the connector these options describe.
    pub fn build(&self) -> crate::DirectConnector {
        let connector = crate::DirectConnector::new().nodelay(self.nodelay);
        match self.connect_timeout {
            Some(limit) => connector.connect_timeout(limit),
            None => connector,
        }
    }
}

fn yes() -> bool {
    true
}
