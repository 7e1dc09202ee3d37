//! YAML options of the `vless` layers and the settings they validate into.

use crate::{VlessAcceptor, VlessConnectorLayer, proto::parse_user_id};
use serde::Deserialize;
use std::{collections::HashMap, time::Duration};
use uuid::Uuid;
use xypro_core::{BuildContext, InvalidOptions, LayerOptions};

/// How long the server waits for a whole request header by default.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the client holds the request header for a first payload by default (as Xray).
pub const DEFAULT_HEADER_DELAY: Duration = Duration::from_millis(500);

/// Options of the outbound `vless` layer.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClientOptions {
    /// The user id: a UUID or a 1-30 byte string.
    pub id: String,
}

impl LayerOptions for ClientOptions {
    type Output = VlessConnectorLayer;

    fn validate(self, _: &BuildContext<'_>) -> Result<VlessConnectorLayer, InvalidOptions> {
        self.settings().map(VlessConnectorLayer::new)
    }
}

impl ClientOptions {
    /// Checks the id and builds the client settings.
    pub fn settings(&self) -> Result<VlessClientSettings, InvalidOptions> {
        let id = parse_user_id(&self.id).map_err(|e| invalid_id("id", e))?;
        warn_if_guessable("id", &self.id);
        Ok(VlessClientSettings::new(id))
    }
}

/// Warns about an id given as a short string: it maps to a UUID anyone can compute, so a
/// dictionary of common words finds it.
fn warn_if_guessable(key: &str, id: &str) {
    if id.len() <= crate::proto::MAX_NAME_ID {
        tracing::warn!(
            "vless: `{key}` is a short string, which maps to a UUID anyone can derive from a \
             dictionary; use a random UUID (`xypro-stack uuid`)"
        );
    }
}

/// The error for a user id that is neither a UUID nor a 1-30 byte string.
fn invalid_id(key: impl Into<String>, source: crate::proto::UserIdError) -> InvalidOptions {
    InvalidOptions::at(key, "not a valid user id").with_source(source)
}

/// Validated settings of a VLESS client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlessClientSettings {
    /// The user id sent in every request.
    pub id: Uuid,
    /// How long to hold the header for a first payload before sending it alone.
    pub header_delay: Duration,
}

impl VlessClientSettings {
    /// Settings for user `id` with the default header delay.
    pub fn new(id: Uuid) -> Self {
        VlessClientSettings {
            id,
            header_delay: DEFAULT_HEADER_DELAY,
        }
    }
}

/// One user of a VLESS server.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UserOptions {
    /// The name used in logs and accounting.
    pub name: String,
    /// The user id: a UUID or a 1-30 byte string.
    pub id: String,
}

/// Options of the inbound `vless` layer.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ServerOptions {
    /// The accepted users; at least one.
    pub users: Vec<UserOptions>,
    /// Let clients reach loopback, private and other internal addresses (default false).
    #[serde(default)]
    pub allow_private: bool,
    /// Deadline for the request header (default 10s).
    #[serde(default, with = "xypro_core::duration::option")]
    pub handshake_timeout: Option<Duration>,
}

impl LayerOptions for ServerOptions {
    type Output = VlessAcceptor;

    fn validate(self, _: &BuildContext<'_>) -> Result<VlessAcceptor, InvalidOptions> {
        self.settings().map(VlessAcceptor::new)
    }
}

impl ServerOptions {
    /// Checks every user and builds the server settings.
    pub fn settings(&self) -> Result<VlessServerSettings, InvalidOptions> {
        if self.users.is_empty() {
            return Err(InvalidOptions::at("users", "must list at least one user"));
        }
        let mut ids: HashMap<Uuid, String> = HashMap::new();
        let mut names: HashMap<&str, String> = HashMap::new();
        let mut users = Vec::with_capacity(self.users.len());
        for (i, user) in self.users.iter().enumerate() {
            let name_key = format!("users[{i}].name");
            if user.name.is_empty() {
                return Err(InvalidOptions::at(name_key, "must not be empty"));
            }
            let option = format!("users[{i}].id");
            let id = parse_user_id(&user.id).map_err(|e| invalid_id(option.clone(), e))?;
            warn_if_guessable(&option, &user.id);
            if let Some(first) = ids.get(&id) {
                let message = format!("the same user id as `{first}`");
                return Err(InvalidOptions::at(option, message));
            }
            if let Some(first) = names.get(user.name.as_str()) {
                let message = format!("repeats the user name of `{first}`");
                return Err(InvalidOptions::at(name_key, message));
            }
            ids.insert(id, option);
            names.insert(&user.name, format!("users[{i}].name"));
            users.push((user.name.clone(), id));
        }
        let handshake_timeout = self.handshake_timeout.unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT);
        if handshake_timeout.is_zero() {
            return Err(InvalidOptions::at(
                "handshake_timeout",
                "must be greater than zero",
            ));
        }
        Ok(VlessServerSettings {
            users,
            allow_private: self.allow_private,
            handshake_timeout,
        })
    }
}

/// Validated settings of a VLESS server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VlessServerSettings {
    /// `(name, id)` of every accepted user.
    pub users: Vec<(String, Uuid)>,
    /// Whether clients may reach internal addresses.
    pub allow_private: bool,
    /// Deadline for the request header.
    pub handshake_timeout: Duration,
}

impl VlessServerSettings {
    /// Settings for these users, refusing internal destinations, with the default deadline.
    pub fn new(users: Vec<(String, Uuid)>) -> Self {
        VlessServerSettings {
            users,
            allow_private: false,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "2ad043a0-b930-46f8-bd55-1fcefc93339a";

    fn server(yaml: &str) -> Result<VlessServerSettings, InvalidOptions> {
        serde_yaml::from_str::<ServerOptions>(yaml)
            .unwrap()
            .settings()
    }

    fn key(result: Result<VlessServerSettings, InvalidOptions>) -> String {
        result.unwrap_err().key().unwrap_or_default().to_owned()
    }

    #[test]
    fn server_options_with_defaults_and_humane_timeout() {
        let settings = server(&format!("users: [{{ name: demo, id: {ID} }}]")).unwrap();
        assert_eq!(settings.users, [("demo".to_owned(), ID.parse().unwrap())]);
        assert!(!settings.allow_private);
        assert_eq!(settings.handshake_timeout, Duration::from_secs(10));
        let settings = server(
            "{ users: [{ name: a, id: short }], allow_private: true, handshake_timeout: 3s }",
        )
        .unwrap();
        assert!(settings.allow_private);
        assert_eq!(settings.handshake_timeout, Duration::from_secs(3));
        assert_eq!(settings.users[0].1, parse_user_id("short").unwrap());
    }

    #[test]
    fn errors_name_the_offending_option() {
        let err = server(&format!(
            "users: [{{ name: a, id: {ID} }}, {{ name: b, id: {} }}]",
            "x".repeat(31)
        ))
        .unwrap_err();
        assert!(err.to_string().contains("users[1].id"), "{err}");
        let err = server(&format!(
            "users: [{{ name: a, id: {ID} }}, {{ name: b, id: {} }}]",
            ID.to_uppercase()
        ))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "users[1].id: the same user id as `users[0].id`"
        );
        let err = server("users: [{ name: a, id: x }, { name: a, id: y }]").unwrap_err();
        assert!(err.to_string().contains("users[1].name"), "{err}");
        assert_eq!(key(server("users: []")), "users");
        assert_eq!(
            key(server(
                "{ users: [{ name: a, id: b }], handshake_timeout: 0s }"
            )),
            "handshake_timeout"
        );
    }

    #[test]
    fn unknown_keys_and_bad_durations_are_refused() {
        assert!(
            serde_yaml::from_str::<ServerOptions>("{ users: [], allow_privat: true }").is_err()
        );
        assert!(
            serde_yaml::from_str::<ServerOptions>("{ users: [{ name: a, id: b, flow: x }] }")
                .is_err()
        );
        assert!(
            serde_yaml::from_str::<ServerOptions>("{ users: [], handshake_timeout: soon }")
                .is_err()
        );
        assert!(serde_yaml::from_str::<ClientOptions>("{ id: a, uuid: b }").is_err());
    }

    #[test]
    fn client_options_validate_the_id() {
        let options: ClientOptions = serde_yaml::from_str(&format!("id: {ID}")).unwrap();
        assert_eq!(options.settings().unwrap().id, ID.parse::<Uuid>().unwrap());
        let err = ClientOptions { id: String::new() }.settings().unwrap_err();
        assert_eq!(err.key(), Some("id"), "{err}");
    }
}
