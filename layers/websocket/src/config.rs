//! YAML options of the `websocket` layers and the settings they validate into.

use crate::{ConfigError, WsConnectorLayer, WsUpgrade};
use hyper::header::{HeaderName, HeaderValue};
use indexmap::IndexMap;
use serde::Deserialize;
use std::time::Duration;
use xypro_core::{BuildContext, InvalidOptions, LayerOptions, UpgradeLayer};

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
        let (path, ed) = split_early_data(&self.path)?;
        let early_data = match (self.early_data, ed) {
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
        let mut header_host = None;
        let mut headers = Vec::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            let (name_v, value_v) = check_header(name, value)?;
            if name_v == hyper::header::HOST {
                header_host = Some(value.clone());
                continue;
            }
            let reserved = RESERVED.contains(&name_v.as_str())
                || (early_data > 0 && name_v == hyper::header::SEC_WEBSOCKET_PROTOCOL);
            if reserved {
                return Err(header_error(name, "set by the WebSocket handshake itself"));
            }
            headers.push((name_v, value_v));
        }
        let host = match (&self.host, header_host) {
            (Some(host), Some(header)) if !host.eq_ignore_ascii_case(&header) => {
                return Err(ConfigError::HostConflict {
                    host: host.clone(),
                    header,
                });
            }
            (Some(host), _) => host.clone(),
            (None, Some(header)) => header,
            (None, None) => default_host.ok_or(ConfigError::MissingHost)?.to_owned(),
        };
        check_host(&host)?;
        Ok(WsClientSettings {
            path,
            host,
            headers,
            early_data,
            early_data_resend: self.early_data_resend,
            handshake_timeout: handshake_timeout(self.handshake_timeout)?,
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
        check_path(&self.path)?;
        if self.path.contains('?') {
            return Err(ConfigError::Path {
                path: self.path.clone(),
                reason: "a server path has no query (the request's query is ignored)",
            });
        }
        if let Some(host) = &self.host {
            check_host(host)?;
        }
        let headers = self
            .headers
            .iter()
            .map(|(name, value)| check_header(name, value))
            .collect::<Result<Vec<_>, _>>()?;
        let handshake_timeout = handshake_timeout(self.handshake_timeout)?;
        Ok(WsServerSettings {
            path: self.path.clone(),
            host: self.host.clone(),
            headers,
            early_data: self.early_data,
            handshake_timeout,
        })
    }
}

/// The handshake deadline: the default when unset, never zero.
fn handshake_timeout(given: Option<Duration>) -> Result<Duration, ConfigError> {
    match given.unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT) {
        Duration::ZERO => Err(ConfigError::ZeroTimeout),
        limit => Ok(limit),
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

fn check_path(path: &str) -> Result<(), ConfigError> {
    let reason = if !path.starts_with('/') {
        "must start with `/`"
    } else if !path.bytes().all(|b| b.is_ascii_graphic()) {
        "only visible ASCII is allowed (percent-encode the rest)"
    } else if path.contains('#') {
        "a fragment (`#`) is not sent in requests"
    } else {
        return Ok(());
    };
    Err(ConfigError::Path {
        path: path.to_owned(),
        reason,
    })
}

/// Removes Xray's `ed=N` from the query of `path`, returning the rest and `N`.
fn split_early_data(path: &str) -> Result<(String, Option<usize>), ConfigError> {
    let Some((base, query)) = path.split_once('?') else {
        return Ok((path.to_owned(), None));
    };
    let mut ed = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        match pair.strip_prefix("ed=") {
            Some(value) => {
                let n = value.parse().map_err(|_| ConfigError::EarlyDataInPath {
                    path: path.to_owned(),
                })?;
                ed = Some(n);
            }
            None if pair.is_empty() => {}
            None => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, ed))
}

fn check_host(host: &str) -> Result<(), ConfigError> {
    if host.is_empty() || !host.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::Host(host.to_owned()));
    }
    Ok(())
}

fn check_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), ConfigError> {
    let name_v = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| header_error(name, "not a valid header name"))?;
    let value_v = HeaderValue::from_str(value)
        .map_err(|_| header_error(name, "value must be visible ASCII, spaces or tabs"))?;
    Ok((name_v, value_v))
}

fn header_error(name: &str, reason: &'static str) -> ConfigError {
    ConfigError::Header {
        name: name.to_owned(),
        reason,
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
        assert!(matches!(bad("{ path: xy }"), ConfigError::Path { .. }));
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
            bad("{ headers: { Upgrade: x } }"),
            ConfigError::Header { .. }
        ));
        assert!(matches!(
            bad("{ early_data: 10, headers: { Sec-WebSocket-Protocol: x } }"),
            ConfigError::Header { .. }
        ));
        assert!(matches!(
            bad("{ headers: { 'bad name': x } }"),
            ConfigError::Header { .. }
        ));
        assert!(matches!(
            bad("{ host: a.test, headers: { Host: b.test } }"),
            ConfigError::HostConflict { .. }
        ));
        assert_eq!(
            client("{}").unwrap().settings(None).unwrap_err(),
            ConfigError::MissingHost
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
        assert!(matches!(bad.settings(), Err(ConfigError::Path { .. })));
        let zero: ServerOptions = serde_yaml::from_str("{ handshake_timeout: 0s }").unwrap();
        assert_eq!(zero.settings(), Err(ConfigError::ZeroTimeout));
        assert!(serde_yaml::from_str::<ServerOptions>("{ early_data: 5 }").is_err());
    }
}
