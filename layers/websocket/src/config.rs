//! YAML options of the `websocket` layers and the settings they validate into.

use crate::{ConfigError, WsConnectorLayer, WsUpgrade};
use hyper::header::{HeaderName, HeaderValue};
use indexmap::IndexMap;
use serde::Deserialize;
use std::time::Duration;
use xypro_core::{
    BuildContext, InvalidOptions, LayerOptions, UpgradeLayer,
    upgrade_request::{
        UpgradeConfigError, check_header, check_host, check_path, check_server_path,
        handshake_timeout, request_headers, split_early_data,
    },
};

/// The upgrade deadline, on either side, when `handshake_timeout` is not set.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest `early_data`: its base64 form (10,924 bytes) still fits the 16 KiB request
/// heads servers accept (nginx's default `large_client_header_buffers` is 8 KiB per line, so
/// stay at 2048-4096 behind nginx, as Xray's `?ed=2048` does).
pub const MAX_EARLY_DATA: usize = 8192;

/// Headers the client handshake writes itself, which `headers` may not override.
const RESERVED: &[&str] = &[
    "connection",
    "upgrade",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-accept",
    "sec-websocket-extensions",
    "content-length",
    "transfer-encoding",
];

/// Options of the outbound `websocket` layer:
/// `{ path, host, headers, early_data, early_data_resend, handshake_timeout }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientOptions {
    /// Request path, starting with `/`; may carry a query, and Xray's `?ed=N` sets `early_data`.
    #[serde(default = "default_path")]
    pub path: String,
    /// The `Host` header; when unset, a `Host` entry of `headers`, else the default from below.
    #[serde(default)]
    pub host: Option<String>,
    /// Extra request headers, sent in this order.
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// Most bytes of the first write carried in `Sec-WebSocket-Protocol` (0 = off).
    #[serde(default)]
    pub early_data: usize,
    /// Send early data again as the first message when the `101` does not echo it (default
    /// true, for servers that ignore it such as v2ray before 4.37); turn off for servers that
    /// read early data without echoing it, such as sing-box.
    #[serde(default = "default_true")]
    pub early_data_resend: bool,
    /// Deadline for the server's `101` once the request is sent (default 10s).
    #[serde(default, with = "xypro_core::duration::option")]
    pub handshake_timeout: Option<Duration>,
}

/// Options of the inbound `websocket` layer: `{ path, host, headers, early_data, handshake_timeout }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerOptions {
    /// The exact path to upgrade on (case-sensitive; the request's query is ignored).
    #[serde(default = "default_path")]
    pub path: String,
    /// When set, the `Host` header must equal it (ASCII case-insensitive; a `:port` is ignored).
    #[serde(default)]
    pub host: Option<String>,
    /// Headers the request must carry with exactly these values.
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// Take early data from `Sec-WebSocket-Protocol` and echo it (default true).
    #[serde(default = "default_true")]
    pub early_data: bool,
    /// Deadline for the request head and the `101` (default 10s).
    #[serde(default, with = "xypro_core::duration::option")]
    pub handshake_timeout: Option<Duration>,
}

fn default_path() -> String {
    "/".to_owned()
}

fn default_true() -> bool {
    true
}

/// Validated client settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsClientSettings {
    /// Request target written on the request line (path and query, `ed` removed).
    pub path: String,
    /// The `Host` header value.
    pub host: String,
    /// Extra headers, validated, in order (`Host` excluded).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Most bytes of the first write sent as early data (0 = off).
    pub early_data: usize,
    /// Whether early data the server did not echo is sent again as the first message.
    pub early_data_resend: bool,
    /// Deadline for the server's `101` once the request is sent.
    pub handshake_timeout: Duration,
}

/// Validated server settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsServerSettings {
    /// The exact path to upgrade on.
    pub path: String,
    /// The required `Host`, if any.
    pub host: Option<String>,
    /// Headers that must be present with these values.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Whether `Sec-WebSocket-Protocol` is decoded as early data and echoed.
    pub early_data: bool,
    /// Deadline for the request head and the `101`.
    pub handshake_timeout: Duration,
}

impl ClientOptions {
    /// Options for `path` with every other option at its default.
    pub fn new(path: impl Into<String>) -> Self {
        ClientOptions {
            path: path.into(),
            host: None,
            headers: IndexMap::new(),
            early_data: 0,
            early_data_resend: true,
            handshake_timeout: None,
        }
    }

    /// Validates the options; `default_host` (the TLS server name or dial address below this
    /// layer) is the `Host` when neither `host` nor `headers.Host` is set.
    pub fn settings(&self, default_host: Option<&str>) -> Result<WsClientSettings, ConfigError> {
        check_path(&self.path)?;
        let (path, ed) = split_early_data(&self.path);
        let mut in_path = None;
        for n in ed {
            in_path = Some(n.parse().map_err(|_| ConfigError::EarlyDataInPath {
                path: self.path.clone(),
            })?);
        }
        let early_data = match (self.early_data, in_path) {
            (0, Some(ed)) => ed,
            (option, Some(in_path)) if option != in_path => {
                return Err(ConfigError::EarlyDataConflict { option, in_path });
            }
            (option, _) => option,
        };
        if early_data > MAX_EARLY_DATA {
            return Err(ConfigError::EarlyDataTooLarge {
                value: early_data,
                max: MAX_EARLY_DATA,
            });
        }
        let mut reserved = RESERVED.to_vec();
        if early_data > 0 {
            reserved.push("sec-websocket-protocol");
        }
        let request = request_headers(
            self.host.as_deref(),
            &self.headers,
            default_host,
            &reserved,
            "set by the WebSocket handshake itself",
        )?;
        Ok(WsClientSettings {
            path,
            host: request.host,
            headers: request
                .headers
                .iter()
                .map(|(name, value)| to_hyper(name, value))
                .collect::<Result<_, _>>()?,
            early_data,
            early_data_resend: self.early_data_resend,
            handshake_timeout: handshake_timeout(
                self.handshake_timeout,
                DEFAULT_HANDSHAKE_TIMEOUT,
            )?,
        })
    }
}

impl ServerOptions {
    /// Options for `path` with every other option at its default.
    pub fn new(path: impl Into<String>) -> Self {
        ServerOptions {
            path: path.into(),
            host: None,
            headers: IndexMap::new(),
            early_data: true,
            handshake_timeout: None,
        }
    }

    /// Validates the options into settings.
    pub fn settings(&self) -> Result<WsServerSettings, ConfigError> {
        check_server_path(
            &self.path,
            &['?'],
            "a server path has no query (the request's query is ignored)",
        )?;
        if let Some(host) = &self.host {
            check_host(host)?;
        }
        let headers = self
            .headers
            .iter()
            .map(|(name, value)| {
                check_header(name, value)?;
                to_hyper(name, value)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(WsServerSettings {
            path: self.path.clone(),
            host: self.host.clone(),
            headers,
            early_data: self.early_data,
            handshake_timeout: handshake_timeout(
                self.handshake_timeout,
                DEFAULT_HANDSHAKE_TIMEOUT,
            )?,
        })
    }
}

impl LayerOptions for ClientOptions {
    type Output = WsConnectorLayer;

    /// The `Host` defaults to the host the hop below reaches (TLS server name, else dial host).
    fn validate(self, ctx: &BuildContext<'_>) -> Result<WsConnectorLayer, InvalidOptions> {
        let settings = self
            .settings(ctx.dial_host())
            .map_err(InvalidOptions::from)?;
        Ok(WsConnectorLayer::new(settings))
    }
}

impl LayerOptions for ServerOptions {
    type Output = UpgradeLayer<WsUpgrade>;

    fn validate(self, _: &BuildContext<'_>) -> Result<UpgradeLayer<WsUpgrade>, InvalidOptions> {
        let settings = self.settings().map_err(InvalidOptions::from)?;
        Ok(UpgradeLayer::new(WsUpgrade::new(settings)))
    }
}

/// A checked header as hyper's types, the name in lowercase as requests carry it; past the
/// shared checks only a name over hyper's 64 KiB limit is refused here.
fn to_hyper(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), ConfigError> {
    match (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        (Ok(name), Ok(value)) => Ok((name, value)),
        _ => Err(UpgradeConfigError::Header {
            name: name.to_owned(),
            reason: "not a valid header name",
        }
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(yaml: &str) -> Result<ClientOptions, serde_yaml::Error> {
        serde_yaml::from_str(yaml)
    }

    #[test]
    fn xray_ed_in_path_becomes_early_data() {
        let opts = client("{ path: '/xy?ed=2048', host: example.test }").unwrap();
        let s = opts.settings(None).unwrap();
        assert_eq!((s.path.as_str(), s.early_data), ("/xy", 2048));
        let opts = client("{ path: '/xy?a=1&ed=2048&b=2' }").unwrap();
        let s = opts.settings(Some("dial.test")).unwrap();
        assert_eq!((s.path.as_str(), s.early_data), ("/xy?a=1&b=2", 2048));
        assert_eq!(s.host, "dial.test");
    }

    #[test]
    fn client_errors_name_the_option() {
        let bad = |yaml: &str| client(yaml).unwrap().settings(Some("h")).unwrap_err();
        let shared = |yaml: &str| match bad(yaml) {
            ConfigError::Upgrade(error) => error,
            other => panic!("{yaml}: {other}"),
        };
        assert!(matches!(
            bad("{ path: '/xy?ed=abc' }"),
            ConfigError::EarlyDataInPath { .. }
        ));
        assert_eq!(
            bad("{ path: '/xy?ed=10', early_data: 20 }"),
            ConfigError::EarlyDataConflict {
                option: 20,
                in_path: 10
            }
        );
        assert!(matches!(
            bad("{ early_data: 100000 }"),
            ConfigError::EarlyDataTooLarge { .. }
        ));
        assert!(matches!(
            shared("{ path: xy }"),
            UpgradeConfigError::Path { .. }
        ));
        for yaml in [
            "{ headers: { Upgrade: x } }",
            "{ early_data: 10, headers: { Sec-WebSocket-Protocol: x } }",
            "{ headers: { 'bad name': x } }",
        ] {
            assert!(
                matches!(shared(yaml), UpgradeConfigError::Header { .. }),
                "{yaml}"
            );
        }
        assert!(
            client("{ headers: { Sec-WebSocket-Protocol: x } }")
                .unwrap()
                .settings(Some("h"))
                .is_ok()
        );
        assert!(matches!(
            shared("{ host: a.test, headers: { Host: b.test } }"),
            UpgradeConfigError::HostConflict { .. }
        ));
        assert_eq!(
            client("{}").unwrap().settings(None).unwrap_err(),
            ConfigError::Upgrade(UpgradeConfigError::MissingHost)
        );
        assert!(client("{ path: /, nope: 1 }").is_err());
    }

    #[test]
    fn host_header_entry_sets_host() {
        let opts = client("{ headers: { Host: cdn.test, User-Agent: x } }").unwrap();
        let s = opts.settings(Some("dial.test")).unwrap();
        assert_eq!(s.host, "cdn.test");
        assert_eq!(s.headers.len(), 1);
    }

    #[test]
    fn server_options_validate() {
        let opts: ServerOptions =
            serde_yaml::from_str("{ path: /xy, handshake_timeout: 3s }").unwrap();
        let s = opts.settings().unwrap();
        assert!(s.early_data);
        assert_eq!(s.handshake_timeout, Duration::from_secs(3));
        let bad: ServerOptions = serde_yaml::from_str("{ path: '/xy?ed=1' }").unwrap();
        assert!(matches!(
            bad.settings(),
            Err(ConfigError::Upgrade(UpgradeConfigError::Path { .. }))
        ));
        let zero: ServerOptions = serde_yaml::from_str("{ handshake_timeout: 0s }").unwrap();
        assert_eq!(
            zero.settings(),
            Err(ConfigError::Upgrade(UpgradeConfigError::ZeroTimeout))
        );
        assert!(serde_yaml::from_str::<ServerOptions>("{ early_data: 5 }").is_err());
    }
}
