//! YAML options of the `socks5` inbound and the settings they validate into.

use crate::Socks5Acceptor;
use serde::Deserialize;
use std::{net::SocketAddr, time::Duration};
use xypro_core::{BuildContext, DestinationPolicy, InvalidOptions, LayerOptions, SniffSettings};

/// The most destinations `udp_max_destinations` may allow one association.
const MAX_UDP_DESTINATIONS: usize = 65_536;

/// One username/password pair (RFC 1929).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UserOptions {
    /// Username, 1-255 bytes.
    pub user: String,
    /// Password, 1-255 bytes.
    pub pass: String,
}

/// Options of the `socks5` layer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Socks5Options {
    /// Accepted users; empty means no authentication.
    #[serde(default)]
    pub users: Vec<UserOptions>,
    /// Whether UDP ASSOCIATE is served (default true).
    #[serde(default = "yes")]
    pub udp: bool,
    /// Allow a non-loopback listener without users (default false).
    #[serde(default)]
    pub allow_open: bool,
    /// On a non-loopback listener, let clients reach loopback, private and other internal
    /// addresses (default false; a loopback listener always may).
    #[serde(default)]
    pub allow_private: bool,
    /// Deadline for the whole handshake (default 10s).
    #[serde(default, with = "xypro_core::duration::option")]
    pub handshake_timeout: Option<Duration>,
    /// A UDP association with no datagrams either way for this long ends (default 5m).
    #[serde(default, with = "xypro_core::duration::option")]
    pub udp_idle_timeout: Option<Duration>,
    /// Most destinations one UDP association may reach (default 256).
    #[serde(default)]
    pub udp_max_destinations: Option<usize>,
    /// Read the host name from the client's first bytes (TLS SNI, HTTP `Host`) for routing;
    /// the reply then goes out before the dial (`true`, or `{ override_destination, timeout }`).
    #[serde(default, deserialize_with = "xypro_core::deserialize_sniff")]
    pub sniff: Option<SniffSettings>,
}

fn yes() -> bool {
    true
}

/// Validated settings of a SOCKS5 inbound.
#[derive(Debug, Clone)]
pub struct Socks5Settings {
    /// Accepted `(user, pass)` pairs; empty means no authentication.
    pub users: Vec<(String, String)>,
    /// Whether UDP ASSOCIATE is served.
    pub udp: bool,
    /// Deadline for the whole handshake.
    pub handshake_timeout: Duration,
    /// Idle timeout of a UDP association.
    pub udp_idle_timeout: Duration,
    /// Most destinations per UDP association.
    pub udp_max_destinations: usize,
    /// Refuse internal destinations (a non-loopback listener without `allow_private`).
    pub public_only: bool,
    /// Whether CONNECT replies at once and sniffs the client's first bytes.
    pub sniff: Option<SniffSettings>,
}

impl Socks5Settings {
    /// The destination policy of every request: never this process's own listeners, and
    /// public addresses only where `public_only` says so.
    pub fn policy(&self) -> DestinationPolicy {
        match self.public_only {
            true => DestinationPolicy::public_only(),
            false => DestinationPolicy::not_self(),
        }
    }
}

impl Default for Socks5Settings {
    fn default() -> Self {
        Socks5Settings {
            users: Vec::new(),
            udp: true,
            handshake_timeout: Duration::from_secs(10),
            udp_idle_timeout: Duration::from_secs(300),
            udp_max_destinations: 256,
            public_only: false,
            sniff: None,
        }
    }
}

impl LayerOptions for Socks5Options {
    type Output = Socks5Acceptor;

    fn validate(self, ctx: &BuildContext<'_>) -> Result<Socks5Acceptor, InvalidOptions> {
        self.settings(ctx.listen()?).map(Socks5Acceptor::new)
    }
}

impl Socks5Options {
    /// Checks the options against the listening address and builds the settings.
    pub fn settings(&self, listen: SocketAddr) -> Result<Socks5Settings, InvalidOptions> {
        for (i, user) in self.users.iter().enumerate() {
            for (field, value) in [("user", &user.user), ("pass", &user.pass)] {
                if value.is_empty() || value.len() > 255 {
                    return Err(InvalidOptions::at(
                        format!("users[{i}].{field}"),
                        "must be 1 to 255 bytes long",
                    ));
                }
            }
        }
        if self.users.is_empty() && !listen.ip().is_loopback() && !self.allow_open {
            return Err(InvalidOptions::new(format!(
                "refusing an open SOCKS5 proxy on non-loopback address {listen}: \
                 add `users`, or set `allow_open: true` if you really mean it"
            )));
        }
        if self
            .udp_max_destinations
            .is_some_and(|n| !(1..=MAX_UDP_DESTINATIONS).contains(&n))
        {
            let message = format!("must be from 1 to {MAX_UDP_DESTINATIONS}");
            return Err(InvalidOptions::at("udp_max_destinations", message));
        }
        let defaults = Socks5Settings::default();
        Ok(Socks5Settings {
            users: self
                .users
                .iter()
                .map(|u| (u.user.clone(), u.pass.clone()))
                .collect(),
            udp: self.udp,
            handshake_timeout: self.handshake_timeout.unwrap_or(defaults.handshake_timeout),
            udp_idle_timeout: self.udp_idle_timeout.unwrap_or(defaults.udp_idle_timeout),
            udp_max_destinations: self
                .udp_max_destinations
                .unwrap_or(defaults.udp_max_destinations),
            public_only: !listen.ip().is_loopback() && !self.allow_private,
            sniff: self.sniff,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(yaml: &str) -> Socks5Options {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn open_relay_on_public_address_is_refused_unless_allowed() {
        let public: SocketAddr = "0.0.0.0:1080".parse().unwrap();
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
                .settings("127.0.0.1:1080".parse().unwrap())
                .is_ok()
        );
    }

    #[test]
    fn a_public_listener_reaches_only_public_addresses_unless_allowed() {
        let public: SocketAddr = "0.0.0.0:1080".parse().unwrap();
        let users = "users: [{ user: a, pass: b }]";
        let open = options(&format!("{{ {users} }}")).settings(public).unwrap();
        assert!(open.policy().public_only && open.policy().refuse_own_ports);
        let allowed = options(&format!("{{ {users}, allow_private: true }}"))
            .settings(public)
            .unwrap();
        assert!(!allowed.policy().public_only);
        let local = options("{}")
            .settings("127.0.0.1:1".parse().unwrap())
            .unwrap();
        assert!(!local.policy().public_only && local.policy().refuse_own_ports);
    }

    #[test]
    fn rejects_unknown_keys_and_empty_credentials() {
        assert!(serde_yaml::from_str::<Socks5Options>("{ udpp: true }").is_err());
        let err = options("{ users: [{ user: '', pass: b }] }")
            .settings("127.0.0.1:1".parse().unwrap())
            .unwrap_err();
        assert_eq!(err.key(), Some("users[0].user"), "{err}");
    }
}
