//! YAML options of the `grpc` layers and the settings they validate into.

use crate::{
    ConfigError, H2AcceptorLayer,
    config::{authority, check_path, handshake_timeout, max_streams},
    grpc::GrpcLayer,
};
use http::uri::Authority;
use serde::Deserialize;
use std::time::Duration;
use xypro_core::{BuildContext, InvalidOptions, LayerOptions};

/// Options of the outbound `grpc` layer: `{ service_name, authority, max_streams }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientOptions {
    /// The gRPC service: requests go to `/<service_name>/Tun`; a name starting with `/` is the
    /// whole path (Xray's custom path, e.g. `/a/b/Tun`).
    pub service_name: String,
    /// The `:authority` (default: from below, the TLS server name and port, as sing-box sends).
    #[serde(default)]
    pub authority: Option<String>,
    /// Tunnels per connection before another is dialled (default 128).
    #[serde(default)]
    pub max_streams: Option<usize>,
}

/// Options of the inbound `grpc` layer: `{ service_name, handshake_timeout }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerOptions {
    /// The gRPC service: `/<service_name>/Tun` is the tunnel path (or the name itself when it
    /// starts with `/`).
    pub service_name: String,
    /// Deadline for the client's connection preface (default 10s).
    #[serde(default, with = "xypro_core::duration::option")]
    pub handshake_timeout: Option<Duration>,
}

/// Validated client settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// The request path, `/<service_name>/Tun`.
    pub path: String,
    /// The `:authority`.
    pub authority: Authority,
    /// Tunnels per connection.
    pub max_streams: usize,
}

/// Validated server settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// The exact tunnel path.
    pub path: String,
    /// Deadline for the connection preface.
    pub handshake_timeout: Duration,
}

impl ClientOptions {
    /// Options for `service_name` with every other option at its default.
    pub fn new(service_name: impl Into<String>) -> Self {
        ClientOptions {
            service_name: service_name.into(),
            authority: None,
            max_streams: None,
        }
    }

    /// Validates the options; `default_authority` (the TLS server name or dial address below,
    /// with its port) is the `:authority` when `authority` is not set.
    pub fn settings(&self, default_authority: Option<&str>) -> Result<ClientSettings, ConfigError> {
        let authority = self
            .authority
            .as_deref()
            .or(default_authority)
            .ok_or(ConfigError::MissingAuthority)?;
        Ok(ClientSettings {
            path: tun_path(&self.service_name)?,
            authority: self::authority(authority)?,
            max_streams: max_streams(self.max_streams)?,
        })
    }
}

impl ServerOptions {
    /// Options for `service_name` with every other option at its default.
    pub fn new(service_name: impl Into<String>) -> Self {
        ServerOptions {
            service_name: service_name.into(),
            handshake_timeout: None,
        }
    }

    /// Validates the options into settings.
    pub fn settings(&self) -> Result<ServerSettings, ConfigError> {
        Ok(ServerSettings {
            path: tun_path(&self.service_name)?,
            handshake_timeout: handshake_timeout(self.handshake_timeout)?,
        })
    }
}

impl LayerOptions for ClientOptions {
    type Output = GrpcLayer;

    /// The `:authority` defaults to the host the hop below reaches with the port it dials
    /// (`server_name:port`), as sing-box's client sends it.
    fn validate(self, ctx: &BuildContext<'_>) -> Result<GrpcLayer, InvalidOptions> {
        let settings = self.settings(ctx.dial_authority().as_deref())?;
        Ok(GrpcLayer::new(settings))
    }
}

impl LayerOptions for ServerOptions {
    type Output = H2AcceptorLayer;

    fn validate(self, _: &BuildContext<'_>) -> Result<H2AcceptorLayer, InvalidOptions> {
        Ok(H2AcceptorLayer::grpc(self.settings()?))
    }
}

/// `/<service_name>/Tun`, or `service_name` itself when it is a path.
fn tun_path(service_name: &str) -> Result<String, ConfigError> {
    let invalid = || ConfigError::ServiceName(service_name.to_owned());
    let usable = |b: u8| b.is_ascii_graphic() && b != b'?' && b != b'#';
    if service_name.is_empty() || !service_name.bytes().all(usable) {
        return Err(invalid());
    }
    let path = if service_name.starts_with('/') {
        service_name.to_owned()
    } else {
        format!("/{service_name}/Tun")
    };
    check_path(&path).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_authority() {
        let s = ClientOptions::new("TunService")
            .settings(Some("example.test:443"))
            .unwrap();
        assert_eq!(s.path, "/TunService/Tun");
        assert_eq!(s.authority.as_str(), "example.test:443");
        let s = ClientOptions::new("/a/b/Tun").settings(Some("x")).unwrap();
        assert_eq!(s.path, "/a/b/Tun");
        let options: ClientOptions =
            serde_yaml::from_str("{ service_name: gun, authority: cdn.test }").unwrap();
        assert_eq!(
            options.settings(None).unwrap().authority.as_str(),
            "cdn.test"
        );
        assert_eq!(
            ClientOptions::new("gun").settings(None),
            Err(ConfigError::MissingAuthority)
        );
        for bad in ["", "a b", "a?b", "a#b"] {
            assert_eq!(
                ClientOptions::new(bad).settings(Some("x")),
                Err(ConfigError::ServiceName(bad.into())),
                "{bad:?}"
            );
        }
        assert_eq!(
            ServerOptions::new("gun").settings().unwrap().path,
            "/gun/Tun"
        );
        assert!(serde_yaml::from_str::<ServerOptions>("{ service_name: a, multi: true }").is_err());
    }
}
