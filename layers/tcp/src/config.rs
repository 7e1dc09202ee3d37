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

/// Options of the `direct` layer (none today; the struct keeps unknown keys an error).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectOptions {
    /// Whether to set `TCP_NODELAY` on TCP connections (default true).
    #[serde(default = "yes")]
    pub nodelay: bool,
}

fn yes() -> bool {
    true
}
