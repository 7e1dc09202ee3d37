//! YAML options of the `http` inbound and the settings they validate into.

use crate::HttpAcceptor;
use serde::Deserialize;
use std::{net::SocketAddr, time::Duration};
use xypro_core::{BuildContext, DestinationPolicy, InvalidOptions, LayerOptions, SniffSettings};

/// One username/password pair for Basic authentication.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UserOptions {
    /// Username, 1-255 bytes, without `:`.
    pub user: String,
    /// Password, 1-255 bytes.
    pub pass: String,
}

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
    /// Refuse internal destinations (a non-loopback listener without `allow_private`).
    pub public_only: bool,
    /// Whether CONNECT answers at once and sniffs the tunnel's first bytes.
    pub sniff: Option<SniffSettings>,
}

impl HttpSettings {
    /// The destination policy of every request: never this process's own listeners, and
    /// public addresses only where `public_only` says so.
    pub fn policy(&self) -> DestinationPolicy {
        match self.public_only {
            true => DestinationPolicy::public_only(),
            false => DestinationPolicy::not_self(),
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            users: Vec::new(),
            handshake_timeout: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(60),
            public_only: false,
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
        for (i, user) in self.users.iter().enumerate() {
            for (field, value) in [("user", &user.user), ("pass", &user.pass)] {
                if value.is_empty() || value.len() > 255 {
                    return Err(InvalidOptions::at(
                        format!("users[{i}].{field}"),
                        "must be 1 to 255 bytes long",
                    ));
                }
            }
            if user.user.contains(':') {
                return Err(InvalidOptions::at(
                    format!("users[{i}].user"),
                    "must not contain `:` (Basic authentication cannot carry it)",
                ));
            }
        }
        if self.users.is_empty() && !listen.ip().is_loopback() && !self.allow_open {
            return Err(InvalidOptions::new(format!(
                "refusing an open HTTP proxy on non-loopback address {listen}: \
                 add `users`, or set `allow_open: true` if you really mean it"
            )));
        }
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
            users: self
                .users
                .iter()
                .map(|u| (u.user.clone(), u.pass.clone()))
                .collect(),
            handshake_timeout: self.handshake_timeout.unwrap_or(defaults.handshake_timeout),
            keepalive_timeout: self.keepalive_timeout.unwrap_or(defaults.keepalive_timeout),
            public_only: !listen.ip().is_loopback() && !self.allow_private,
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
    fn open_relay_on_public_address_is_refused_unless_allowed() {
        let public: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let err = options("{}").settings(public).unwrap_err().to_string();
        assert!(err.contains("allow_open"), "{err}");
        assert!(options("{ allow_open: true }").settings(public).is_ok());
        assert!(
            options("{ users: [{ user: a, pass: b }] }")
                .settings(public)
                .is_ok()
        );
        assert!(
            options("{}")
                .settings("[::1]:8080".parse().unwrap())
                .is_ok()
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
