//! YAML options of the `httpupgrade` layers and the settings they validate into.

use crate::{ConfigError, HttpUpgradeAccept, HttpUpgradeLayer};
use indexmap::IndexMap;
use serde::Deserialize;
use std::time::Duration;
use xypro_core::{
    BuildContext, InvalidOptions, LayerOptions, UpgradeLayer,
    upgrade_request::{
        check_host, check_path, check_server_path, handshake_timeout, request_headers,
        split_early_data,
    },
};

/// The server's deadline for the request head when `handshake_timeout` is not set.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Headers the client handshake writes itself (or that would break it), which `headers` may
/// not set. A `Sec-WebSocket-Key` makes sing-box answer 404.
const RESERVED: &[&str] = &[
    "connection",
    "upgrade",
    "content-length",
    "transfer-encoding",
    "sec-websocket-key",
];

/// Options of the outbound `httpupgrade` layer: `{ path, host, headers, early }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientOptions {
    /// Request path, starting with `/`; may carry a query, and Xray's `?ed=N` (N > 0) is
    /// removed from it and turns `early` on.
    #[serde(default = "default_path")]
    pub path: String,
    /// The `Host` header; when unset, a `Host` entry of `headers`, else the default from below.
    #[serde(default)]
    pub host: Option<String>,
    /// Extra request headers, sent in this order.
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// Send data right after the request instead of waiting for the `101` (Xray's `?ed`
    /// style; default false, as sing-box). The `101` is then read on the first read.
    #[serde(default)]
    pub early: bool,
}

/// Options of the inbound `httpupgrade` layer: `{ path, host, handshake_timeout }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerOptions {
    /// The exact path to upgrade on (case-sensitive, percent-decoded; the query is ignored).
    #[serde(default = "default_path")]
    pub path: String,
    /// When set, the `Host` header must equal it, port included (ASCII case-insensitive).
    #[serde(default)]
    pub host: Option<String>,
    /// Deadline for the request head (default 10s).
    #[serde(default, with = "xypro_core::duration::option")]
    pub handshake_timeout: Option<Duration>,
}

fn default_path() -> String {
    "/".to_owned()
}

/// Validated client settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// Request target written on the request line (path and query, `ed` removed).
    pub path: String,
    /// The `Host` header value.
    pub host: String,
    /// Extra headers, validated, in order (`Host` excluded).
    pub headers: Vec<(String, String)>,
    /// Whether data goes out before the `101` arrives.
    pub early: bool,
}

/// Validated server settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// The exact path to upgrade on.
    pub path: String,
    /// The required `Host`, if any.
    pub host: Option<String>,
    /// Deadline for the request head.
    pub handshake_timeout: Duration,
}

impl ClientOptions {
    /// Options for `path` with every other option at its default.
    pub fn new(path: impl Into<String>) -> Self {
        ClientOptions {
            path: path.into(),
            host: None,
            headers: IndexMap::new(),
            early: false,
        }
    }

    /// Validates the options; `default_host` (the TLS server name or dial address below this
    /// layer) is the `Host` when neither `host` nor `headers.Host` is set.
    pub fn settings(&self, default_host: Option<&str>) -> Result<ClientSettings, ConfigError> {
        check_path(&self.path)?;
        let (path, ed) = split_early_data(&self.path);
        let request = request_headers(
            self.host.as_deref(),
            &self.headers,
            default_host,
            RESERVED,
            "set by the HTTPUpgrade handshake itself",
        )?;
        Ok(ClientSettings {
            path,
            host: request.host,
            headers: request.headers,
            early: self.early || ed.iter().any(|n| *n != "0"),
        })
    }
}

impl ServerOptions {
    /// Options for `path` with every other option at its default.
    pub fn new(path: impl Into<String>) -> Self {
        ServerOptions {
            path: path.into(),
            host: None,
            handshake_timeout: None,
        }
    }

    /// Validates the options into settings.
    pub fn settings(&self) -> Result<ServerSettings, ConfigError> {
        check_server_path(
            &self.path,
            &['?', '%'],
            "a server path has no query or escapes (requests are compared decoded)",
        )?;
        if let Some(host) = &self.host {
            check_host(host)?;
        }
        Ok(ServerSettings {
            path: self.path.clone(),
            host: self.host.clone(),
            handshake_timeout: handshake_timeout(
                self.handshake_timeout,
                DEFAULT_HANDSHAKE_TIMEOUT,
            )?,
        })
    }
}

impl LayerOptions for ClientOptions {
    type Output = HttpUpgradeLayer;

    /// The `Host` defaults to the host the hop below reaches (TLS server name, else dial host).
    fn validate(self, ctx: &BuildContext<'_>) -> Result<HttpUpgradeLayer, InvalidOptions> {
        let settings = self.settings(ctx.dial_host())?;
        Ok(HttpUpgradeLayer::new(settings))
    }
}

impl LayerOptions for ServerOptions {
    type Output = UpgradeLayer<HttpUpgradeAccept>;

    fn validate(
        self,
        _: &BuildContext<'_>,
    ) -> Result<UpgradeLayer<HttpUpgradeAccept>, InvalidOptions> {
        Ok(UpgradeLayer::new(HttpUpgradeAccept::new(self.settings()?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(yaml: &str) -> ClientOptions {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn xray_ed_turns_early_on_and_leaves_the_path() {
        let s = client("{ path: '/hu?ed=2048' }")
            .settings(Some("d"))
            .unwrap();
        assert_eq!((s.path.as_str(), s.early), ("/hu", true));
        let s = client("{ path: '/hu?a=1&ed=0' }")
            .settings(Some("d"))
            .unwrap();
        assert_eq!((s.path.as_str(), s.early), ("/hu?a=1", false));
        let s = client("{ early: true }").settings(Some("d")).unwrap();
        assert_eq!(
            (s.path.as_str(), s.early, s.host.as_str()),
            ("/", true, "d")
        );
    }

    #[test]
    fn client_errors_name_the_option() {
        let bad = |yaml: &str| client(yaml).settings(Some("h")).unwrap_err();
        assert!(matches!(bad("{ path: hu }"), ConfigError::Path { .. }));
        assert!(matches!(
            bad("{ headers: { Upgrade: x } }"),
            ConfigError::Header { .. }
        ));
        assert!(matches!(
            bad("{ headers: { Sec-WebSocket-Key: x } }"),
            ConfigError::Header { .. }
        ));
        assert!(matches!(
            bad("{ headers: { 'a b': x } }"),
            ConfigError::Header { .. }
        ));
        assert!(matches!(
            bad("{ host: a.test, headers: { Host: b.test } }"),
            ConfigError::HostConflict { .. }
        ));
        assert_eq!(
            client("{}").settings(None).unwrap_err(),
            ConfigError::MissingHost
        );
        assert!(serde_yaml::from_str::<ClientOptions>("{ early_data: 1 }").is_err());
        let s = client("{ headers: { Host: cdn.test, X-A: b } }")
            .settings(None)
            .unwrap();
        assert_eq!(s.host, "cdn.test");
        assert_eq!(s.headers, vec![("X-A".to_owned(), "b".to_owned())]);
    }

    #[test]
    fn server_options_validate() {
        let opts: ServerOptions =
            serde_yaml::from_str("{ path: /hu, host: 'a.test:443', handshake_timeout: 3s }")
                .unwrap();
        let s = opts.settings().unwrap();
        assert_eq!(s.handshake_timeout, Duration::from_secs(3));
        assert_eq!(s.host.as_deref(), Some("a.test:443"));
        for path in ["/hu?x=1", "/a%20b", "hu"] {
            assert!(ServerOptions::new(path).settings().is_err(), "{path}");
        }
        let mut zero = ServerOptions::new("/");
        zero.handshake_timeout = Some(Duration::ZERO);
        assert_eq!(zero.settings(), Err(ConfigError::ZeroTimeout));
    }
}
