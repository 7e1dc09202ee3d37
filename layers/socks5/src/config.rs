//! YAML options of the `socks5` inbound and the settings they validate into.

use crate::Socks5Acceptor;
use serde::Deserialize;
use std::{net::SocketAddr, time::Duration};
use xypro_core::{
    BuildContext, DestinationPolicy, InvalidOptions, LayerOptions, SniffSettings, UserOptions,
    password_users, refuse_open_proxy,
};

/// The most destinations `udp_max_destinations` may allow one association.
const MAX_UDP_DESTINATIONS: usize = 65_536;

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
    /// Where requests may go: public addresses only on a non-loopback listener without
    /// `allow_private`, never this process's own ports.
    pub policy: DestinationPolicy,
    /// Whether CONNECT replies at once and sniffs the client's first bytes.
    pub sniff: Option<SniffSettings>,
}

impl Default for Socks5Settings {
    fn default() -> Self {
        Socks5Settings {
            users: Vec::new(),
            udp: true,
            handshake_timeout: Duration::from_secs(10),
            udp_idle_timeout: Duration::from_secs(300),
            udp_max_destinations: 256,
            policy: DestinationPolicy::not_self(),
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
        let users = password_users(&self.users)?;
        refuse_open_proxy("SOCKS5", &self.users, listen, self.allow_open)?;
        if self
            .udp_max_destinations
            .is_some_and(|n| !(1..=MAX_UDP_DESTINATIONS).contains(&n))
        {
            let message = format!("must be from 1 to {MAX_UDP_DESTINATIONS}");
            return Err(InvalidOptions::at("udp_max_destinations", message));
        }
        let defaults = Socks5Settings::default();
        Ok(Socks5Settings {
            users,
            udp: self.udp,
            handshake_timeout: self.handshake_timeout.unwrap_or(defaults.handshake_timeout),
            udp_idle_timeout: self.udp_idle_timeout.unwrap_or(defaults.udp_idle_timeout),
            udp_max_destinations: self
                .udp_max_destinations
                .unwrap_or(defaults.udp_max_destinations),
            policy: DestinationPolicy::for_listener(listen, self.allow_private),
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
    fn a_public_listener_needs_users_and_reaches_only_public_addresses() {
        let public: SocketAddr = "0.0.0.0:1080".parse().unwrap();
        let err = options("{}").settings(public).unwrap_err().to_string();
        assert!(err.contains("open SOCKS5 proxy"), "{err}");
        let open = options("{ allow_open: true }").settings(public).unwrap();
        assert_eq!(open.policy, DestinationPolicy::public_only());
        let private = options("{ allow_open: true, allow_private: true }");
        assert_eq!(
            private.settings(public).unwrap().policy,
            DestinationPolicy::not_self()
        );
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
