//! What the local proxy inbounds (SOCKS5, SOCKS4, HTTP, mixed) share: password users and the
//! rules for a listener that other machines can reach.

use crate::{DestinationPolicy, InvalidOptions};
use serde::Deserialize;
use std::net::SocketAddr;

/// One user name and password (SOCKS5's RFC 1929 login, HTTP Basic).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UserOptions {
    /// User name, 1-255 bytes.
    pub user: String,
    /// Password, 1-255 bytes.
    pub pass: String,
}

/// Checks that every name and password is 1 to 255 bytes and gives the `(user, pass)` pairs.
pub fn password_users(users: &[UserOptions]) -> Result<Vec<(String, String)>, InvalidOptions> {
    for (i, user) in users.iter().enumerate() {
        for (field, value) in [("user", &user.user), ("pass", &user.pass)] {
            if value.is_empty() || value.len() > 255 {
                return Err(InvalidOptions::at(
                    format!("users[{i}].{field}"),
                    "must be 1 to 255 bytes long",
                ));
            }
        }
    }
    Ok(users
        .iter()
        .map(|u| (u.user.clone(), u.pass.clone()))
        .collect())
}

/// Refuses a `protocol` proxy with no users on a non-loopback `listen` unless `allow_open`.
pub fn refuse_open_proxy(
    protocol: &str,
    users: &[UserOptions],
    listen: SocketAddr,
    allow_open: bool,
) -> Result<(), InvalidOptions> {
    if users.is_empty() && !listen.ip().is_loopback() && !allow_open {
        return Err(InvalidOptions::new(format!(
            "refusing an open {protocol} proxy on non-loopback address {listen}: \
             add `users`, or set `allow_open: true` if you really mean it"
        )));
    }
    Ok(())
}

impl DestinationPolicy {
    /// A local proxy's policy: on a listener other machines reach, public addresses only
    /// unless `allow_private`; never this process's own ports.
    pub fn for_listener(listen: SocketAddr, allow_private: bool) -> Self {
        match !listen.ip().is_loopback() && !allow_private {
            true => DestinationPolicy::public_only(),
            false => DestinationPolicy::not_self(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(yaml: &str) -> Vec<UserOptions> {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn names_and_passwords_are_one_to_255_bytes() {
        let long = "x".repeat(256);
        let err = password_users(&users(&format!("[{{ user: a, pass: {long} }}]"))).unwrap_err();
        assert_eq!(err.key(), Some("users[0].pass"));
        let err = password_users(&users("[{ user: a, pass: b }, { user: '', pass: b }]"));
        assert_eq!(err.unwrap_err().key(), Some("users[1].user"));
        let pairs = password_users(&users("[{ user: a, pass: b }]")).unwrap();
        assert_eq!(pairs, [("a".to_owned(), "b".to_owned())]);
    }

    #[test]
    fn an_open_proxy_is_refused_only_where_others_reach_it() {
        let public: SocketAddr = "0.0.0.0:1080".parse().unwrap();
        let loopback: SocketAddr = "[::1]:1080".parse().unwrap();
        let err = refuse_open_proxy("SOCKS5", &[], public, false).unwrap_err();
        assert!(err.to_string().contains("open SOCKS5 proxy"), "{err}");
        assert!(refuse_open_proxy("SOCKS5", &[], public, true).is_ok());
        assert!(
            refuse_open_proxy("SOCKS5", &users("[{ user: a, pass: b }]"), public, false).is_ok()
        );
        assert!(refuse_open_proxy("SOCKS5", &[], loopback, false).is_ok());
    }

    #[test]
    fn a_public_listener_reaches_only_public_addresses_unless_allowed() {
        let public: SocketAddr = "0.0.0.0:1080".parse().unwrap();
        let loopback: SocketAddr = "127.0.0.1:1080".parse().unwrap();
        assert_eq!(
            DestinationPolicy::for_listener(public, false),
            DestinationPolicy::public_only()
        );
        assert_eq!(
            DestinationPolicy::for_listener(public, true),
            DestinationPolicy::not_self()
        );
        assert_eq!(
            DestinationPolicy::for_listener(loopback, false),
            DestinationPolicy::not_self()
        );
    }
}
