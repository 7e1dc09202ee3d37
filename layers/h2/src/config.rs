//! YAML options of the `h2` layers and the settings they validate into.

use crate::{
    ConfigError, H2AcceptorLayer, H2Layer,
    tuning::{DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_STREAMS},
};
use http::{Method, uri::Authority};
use serde::Deserialize;
use std::time::Duration;
use xypro_core::{BuildContext, InvalidOptions, LayerOptions};

/// The `:authority` a client sends when no `host` is set: the host v2ray's server requires
/// when it has none configured, and sing-box's default.
pub const DEFAULT_HOST: &str = "www.example.com";

/// Options of the outbound `h2` layer: `{ path, host, method, max_streams }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientOptions {
    /// Request path (default `/`).
    #[serde(default = "default_path")]
    pub path: String,
    /// The `:authority` of each request (default `www.example.com`, as v2ray and sing-box).
    #[serde(default)]
    pub host: Option<String>,
    /// The request method (default `PUT`, as v2ray and sing-box).
    #[serde(default)]
    pub method: Option<String>,
    /// Tunnels per connection before another is dialled (default 128; the server's own
    /// limit applies too).
    #[serde(default)]
    pub max_streams: Option<usize>,
}

/// Options of the inbound `h2` layer: `{ path, host, method, handshake_timeout }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerOptions {
    /// Requests whose path starts with this are tunnels (default `/`; v2ray and sing-box
    /// match by prefix too).
    #[serde(default = "default_path")]
    pub path: String,
    /// When set, the `:authority` (or `Host`) must equal it, port included.
    #[serde(default)]
    pub host: Option<String>,
    /// When set, the method must be this one.
    #[serde(default)]
    pub method: Option<String>,
    /// Deadline for the client's connection preface (default 10s).
    #[serde(default, with = "xypro_core::duration::option")]
    pub handshake_timeout: Option<Duration>,
}

fn default_path() -> String {
    "/".to_owned()
}

/// Validated client settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// The request path.
    pub path: String,
    /// The `:authority`.
    pub host: Authority,
    /// The request method.
    pub method: Method,
    /// Tunnels per connection.
    pub max_streams: usize,
}

/// Validated server settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// The path prefix of tunnel requests.
    pub path: String,
    /// The required `:authority`, if any.
    pub host: Option<String>,
    /// The required method, if any.
    pub method: Option<Method>,
    /// Deadline for the connection preface.
    pub handshake_timeout: Duration,
}

impl ClientOptions {
    /// Options for `path` with every other option at its default.
    pub fn new(path: impl Into<String>) -> Self {
        ClientOptions {
            path: path.into(),
            host: None,
            method: None,
            max_streams: None,
        }
    }

    /// Validates the options into settings.
    pub fn settings(&self) -> Result<ClientSettings, ConfigError> {
        Ok(ClientSettings {
            path: check_path(&self.path)?,
            host: authority(self.host.as_deref().unwrap_or(DEFAULT_HOST))?,
            method: method(self.method.as_deref().unwrap_or("PUT"))?,
            max_streams: max_streams(self.max_streams)?,
        })
    }
}

impl ServerOptions {
    /// Options for `path` with every other option at its default.
    pub fn new(path: impl Into<String>) -> Self {
        ServerOptions {
            path: path.into(),
            host: None,
            method: None,
            handshake_timeout: None,
        }
    }

    /// Validates the options into settings.
    pub fn settings(&self) -> Result<ServerSettings, ConfigError> {
        if let Some(host) = &self.host {
            authority(host)?;
        }
        Ok(ServerSettings {
            path: check_path(&self.path)?,
            host: self.host.clone(),
            method: self.method.as_deref().map(method).transpose()?,
            handshake_timeout: handshake_timeout(self.handshake_timeout)?,
        })
    }
}

impl LayerOptions for ClientOptions {
    type Output = H2Layer;

    /// The `:authority` defaults to `www.example.com`, not the host below: a v2ray server with
    /// no `host` configured accepts only that one, and sing-box's client sends it too.
    fn validate(self, _: &BuildContext<'_>) -> Result<H2Layer, InvalidOptions> {
        Ok(H2Layer::new(self.settings()?))
    }
}

impl LayerOptions for ServerOptions {
    type Output = H2AcceptorLayer;

    fn validate(self, _: &BuildContext<'_>) -> Result<H2AcceptorLayer, InvalidOptions> {
        Ok(H2AcceptorLayer::h2(self.settings()?))
    }
}

/// Checks an absolute request path (a query is allowed, a fragment is not).
pub(crate) fn check_path(path: &str) -> Result<String, ConfigError> {
    let valid = path.starts_with('/')
        && path.bytes().all(|b| b.is_ascii_graphic() && b != b'#')
        && http::uri::PathAndQuery::try_from(path).is_ok();
    if valid {
        Ok(path.to_owned())
    } else {
        Err(ConfigError::Path(path.to_owned()))
    }
}

/// Parses an `:authority` (host, optionally with a port).
pub(crate) fn authority(host: &str) -> Result<Authority, ConfigError> {
    match host.parse::<Authority>() {
        Ok(authority) if !host.is_empty() && !host.contains('@') => Ok(authority),
        _ => Err(ConfigError::Host(host.to_owned())),
    }
}

fn method(method: &str) -> Result<Method, ConfigError> {
    Method::from_bytes(method.as_bytes()).map_err(|_| ConfigError::Method(method.to_owned()))
}

/// The tunnels-per-connection option, defaulted and checked.
pub(crate) fn max_streams(value: Option<usize>) -> Result<usize, ConfigError> {
    match value.unwrap_or(DEFAULT_MAX_STREAMS) {
        0 => Err(ConfigError::ZeroStreams),
        n => Ok(n),
    }
}

/// The handshake deadline option, defaulted and checked.
pub(crate) fn handshake_timeout(value: Option<Duration>) -> Result<Duration, ConfigError> {
    match value.unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT) {
        zero if zero.is_zero() => Err(ConfigError::ZeroTimeout),
        after => Ok(after),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_defaults_match_v2ray_and_sing_box() {
        let options: ClientOptions = serde_yaml::from_str("{ path: /h2 }").unwrap();
        let s = options.settings().unwrap();
        assert_eq!(s.host.as_str(), "www.example.com");
        assert_eq!(s.method, Method::PUT);
        assert_eq!(s.max_streams, DEFAULT_MAX_STREAMS);
        let options: ClientOptions = serde_yaml::from_str(
            "{ path: /h2, host: 'a.test:8443', method: POST, max_streams: 8 }",
        )
        .unwrap();
        let s = options.settings().unwrap();
        assert_eq!(
            (s.host.as_str(), s.method.as_str(), s.max_streams),
            ("a.test:8443", "POST", 8)
        );
    }

    #[test]
    fn errors_name_the_option() {
        let bad = |yaml: &str| {
            serde_yaml::from_str::<ClientOptions>(yaml)
                .unwrap()
                .settings()
                .unwrap_err()
        };
        assert_eq!(bad("{ path: h2 }"), ConfigError::Path("h2".into()));
        assert_eq!(bad("{ host: 'a b' }"), ConfigError::Host("a b".into()));
        assert_eq!(bad("{ host: 'u@a' }"), ConfigError::Host("u@a".into()));
        assert_eq!(bad("{ method: 'P T' }"), ConfigError::Method("P T".into()));
        assert_eq!(bad("{ max_streams: 0 }"), ConfigError::ZeroStreams);
        assert!(serde_yaml::from_str::<ClientOptions>("{ hosts: [a] }").is_err());
        let mut server = ServerOptions::new("/h2");
        server.handshake_timeout = Some(Duration::ZERO);
        assert_eq!(server.settings(), Err(ConfigError::ZeroTimeout));
        server.handshake_timeout = None;
        server.method = Some("PUT".into());
        assert_eq!(server.settings().unwrap().method, Some(Method::PUT));
    }
}
