//! YAML options of the `http` inbound and the settings they validate into.

use crate::HttpAcceptor;
use serde::Deserialize;
use std::{net::SocketAddr, time::Duration};
use xypro_core::{
    BuildContext, DestinationPolicy, InvalidOptions, LayerOptions, SniffSettings, UserOptions,
    password_users, refuse_open_proxy,
};

/// Options of the `http` layer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpOptions {
    /// Accepted users; empty means no authentication.
    #[serde(default)]
    pub users: Vec<UserOptions>,
    /// Allow a non-loopback listener without users (default false).
    #[serde(default)]
    pub allow_open: bool,
    /// On a non-loopback listener, let clients reach loopback, private and other internal
    /// addresses (default false; a loopback listener always may).
    #[serde(default)]
    pub allow_private: bool,
    /// Deadline for a request head once it started, and for the first one (default 10s).
    #[serde(default, with = "xypro_core::duration::option")]
    pub handshake_timeout: Option<Duration>,
    /// How long a kept-alive connection waits for its next request (default 60s).
    #[serde(default, with = "xypro_core::duration::option")]
    pub keepalive_timeout: Option<Duration>,
    /// Read the host name from a CONNECT tunnel's first bytes (TLS SNI, HTTP `Host`) for
    /// routing; the `200` then goes out before the dial.
    #[serde(default, deserialize_with = "xypro_core::deserialize_sniff")]
    pub sniff: Option<SniffSettings>,
}

/// Validated settings of an HTTP proxy inbound.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Accepted `(user, pass)` pairs; empty means no authentication.
    pub users: Vec<(String, String)>,
    /// Deadline for a request head once its first byte arrived, and for the first request.
    pub handshake_timeout: Duration,
    /// How long a kept-alive connection waits for the first byte of its next request.
    pub keepalive_timeout: Duration,
    /// Where requests may go: public addresses only on a non-loopback listener without
    /// `allow_private`, never this process's own ports.
    pub policy: DestinationPolicy,
    /// Whether CONNECT answers at once and sniffs the tunnel's first bytes.
    pub sniff: Option<SniffSettings>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            users: Vec::new(),
            handshake_timeout: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(60),
            policy: DestinationPolicy::not_self(),
            sniff: None,
        }
    }
}

impl LayerOptions for HttpOptions {
    type Output = HttpAcceptor;

    fn validate(self, ctx: &BuildContext<'_>) -> Result<HttpAcceptor, InvalidOptions> {
        self.settings(ctx.listen()?).map(HttpAcceptor::new)
    }
}

impl HttpOptions {
    /// Checks the options against the listening address and builds the settings.
    pub fn settings(&self, listen: SocketAddr) -> Result<HttpSettings, InvalidOptions> {
        let users = password_users(&self.users)?;
        for (i, user) in self.users.iter().enumerate() {
            if user.user.contains(':') {
                return Err(InvalidOptions::at(
                    format!("users[{i}].user"),
                    "must not contain `:` (Basic authentication cannot carry it)",
                ));
            }
        }
        refuse_open_proxy("HTTP", &self.users, listen, self.allow_open)?;
        for (key, value) in [
            ("handshake_timeout", self.handshake_timeout),
            ("keepalive_timeout", self.keepalive_timeout),
        ] {
            if value == Some(Duration::ZERO) {
                return Err(InvalidOptions::at(key, "must be longer than zero"));
            }
        }
        let defaults = HttpSettings::default();
        Ok(HttpSettings {
            users,
            handshake_timeout: self.handshake_timeout.unwrap_or(defaults.handshake_timeout),
            keepalive_timeout: self.keepalive_timeout.unwrap_or(defaults.keepalive_timeout),
            policy: DestinationPolicy::for_listener(listen, self.allow_private),
            sniff: self.sniff,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(yaml: &str) -> HttpOptions {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn a_public_listener_needs_users_and_reaches_only_public_addresses() {
        let public: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let err = options("{}").settings(public).unwrap_err().to_string();
        assert!(err.contains("open HTTP proxy"), "{err}");
        let open = options("{ allow_open: true }").settings(public).unwrap();
        assert_eq!(open.policy, DestinationPolicy::public_only());
        let private = options("{ allow_open: true, allow_private: true }");
        assert_eq!(
            private.settings(public).unwrap().policy,
            DestinationPolicy::not_self()
        );
    }

    #[test]
    fn refuses_unknown_keys_bad_users_and_zero_deadlines() {
        assert!(serde_yaml::from_str::<HttpOptions>("{ user: a }").is_err());
        let loopback = "127.0.0.1:1".parse().unwrap();
        let err = options("{ users: [{ user: 'a:b', pass: c }] }")
            .settings(loopback)
            .unwrap_err();
        assert_eq!(err.key(), Some("users[0].user"), "{err}");
        let err = options("{ users: [{ user: a, pass: '' }] }")
            .settings(loopback)
            .unwrap_err();
        assert_eq!(err.key(), Some("users[0].pass"), "{err}");
        let err = options("{ keepalive_timeout: 0s }")
            .settings(loopback)
            .unwrap_err();
        assert_eq!(err.key(), Some("keepalive_timeout"), "{err}");
        let settings = options("{ handshake_timeout: 2s }")
            .settings(loopback)
            .unwrap();
        assert_eq!(settings.handshake_timeout, Duration::from_secs(2));
        assert_eq!(settings.keepalive_timeout, Duration::from_secs(60));
    }
}
