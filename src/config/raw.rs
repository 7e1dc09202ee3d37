//! The YAML file exactly as users write it: serde structs that refuse unknown keys.

use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, de::Error as _};
use std::{net::SocketAddr, path::PathBuf, time::Duration};

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Log level: error, warn, info, debug or trace.
    #[serde(default)]
    pub log: Option<LogLevel>,
    /// Inbounds by name.
    #[serde(default)]
    pub inbounds: IndexMap<String, RawInbound>,
    /// Outbound pipelines by name.
    #[serde(default)]
    pub outbounds: IndexMap<String, Vec<LayerSpec>>,
    /// Process-wide limits.
    #[serde(default)]
    pub limits: Limits,
    /// The one resolver every layer uses (default: the system's).
    #[serde(default)]
    pub dns: Option<xypro_dns::DnsOptions>,
    /// Rule set files by the name `route` rules use.
    #[serde(default)]
    pub rule_sets: IndexMap<String, xypro_route::RuleSetOptions>,
    /// A MaxMind-format GeoIP database, for `geoip` rules.
    #[serde(default)]
    pub geoip: Option<xypro_route::GeoIpOptions>,
    /// The admin server: metrics, the Clash API and a dashboard.
    #[serde(default)]
    pub admin: Option<RawAdmin>,
}

/// The `admin:` block as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    /// Where the admin server listens; no admin server unless set.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// The Bearer token every API request must carry; required off loopback.
    #[serde(default)]
    pub secret: Option<String>,
    /// A directory served at `/ui/` (a downloaded dashboard), relative to the config file.
    #[serde(default)]
    pub ui: Option<PathBuf>,
}

/// A log level name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Only errors.
    Error,
    /// Errors and warnings.
    Warn,
    /// The default: listeners, failures, lifecycle.
    Info,
    /// Every connection.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    /// The name `tracing`'s filters understand.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// One inbound: where to listen, the accept-side layers, and the outbound to use.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInbound {
    /// Socket address to listen on.
    pub listen: SocketAddr,
    /// Accept-side layers; the last one yields a destination.
    pub pipeline: Vec<LayerSpec>,
    /// Name of the outbound pipeline.
    pub outbound: String,
    /// Where connections the pipeline refuses go instead of the identical `404` or close.
    #[serde(default)]
    pub fallback: Option<xypro_fallback::FallbackOptions>,
}

/// Process-wide limits (an extension of the documented file shape).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Most authenticated connections open at once over all inbounds; further ones wait for a
    /// free slot (default 10000).
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Most connections each inbound holds before they are authenticated; past it new ones are
    /// closed at once (default 4096).
    #[serde(default = "default_handshakes")]
    pub handshakes_per_inbound: usize,
    /// Most unauthenticated connections one client address may hold on each inbound; past it
    /// its new ones are closed at once (default 512: a client tunnelling many connections at
    /// once stays well below it).
    #[serde(default = "default_handshakes_per_address")]
    pub handshakes_per_address: usize,
    /// From accept to an authenticated request, whatever the stages (default 15s).
    #[serde(default = "default_handshake_timeout", with = "xypro_core::duration")]
    pub handshake_timeout: Duration,
    /// A relay with no bytes either way for this long is closed (default 5m).
    #[serde(default = "default_idle", with = "xypro_core::duration")]
    pub idle_timeout: Duration,
    /// How long shutdown waits for open connections to finish (default 10s).
    #[serde(default = "default_grace", with = "xypro_core::duration")]
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: default_max_connections(),
            handshakes_per_inbound: default_handshakes(),
            handshakes_per_address: default_handshakes_per_address(),
            handshake_timeout: default_handshake_timeout(),
            idle_timeout: default_idle(),
            shutdown_grace: default_grace(),
        }
    }
}

fn default_max_connections() -> usize {
    10_000
}

fn default_handshakes() -> usize {
    4096
}

fn default_handshakes_per_address() -> usize {
    512
}

fn default_handshake_timeout() -> Duration {
    Duration::from_secs(15)
}

fn default_idle() -> Duration {
    Duration::from_secs(300)
}

fn default_grace() -> Duration {
    Duration::from_secs(10)
}

/// One pipeline entry: `- kind` or `- kind: { options }`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerSpec {
    /// The layer's registered name.
    pub kind: String,
    /// Its options, `Null` when none were given.
    pub options: serde_yaml::Value,
}

impl<'de> Deserialize<'de> for LayerSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let shape = "a layer is written `- kind` or `- kind: { options }`";
        match deserializer.deserialize_any(super::bounded::BoundedValue)? {
            serde_yaml::Value::String(kind) => Ok(LayerSpec {
                kind,
                options: serde_yaml::Value::Null,
            }),
            serde_yaml::Value::Mapping(map) if map.len() == 1 => {
                let (key, options) = map.into_iter().next().expect("one entry");
                match key {
                    serde_yaml::Value::String(kind) => Ok(LayerSpec { kind, options }),
                    _ => Err(D::Error::custom(shape)),
                }
            }
            _ => Err(D::Error::custom(shape)),
        }
    }
}
