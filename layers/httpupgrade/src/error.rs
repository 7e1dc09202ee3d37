//! Errors of HTTPUpgrade handshakes and of validating HTTPUpgrade options.

use std::{io, time::Duration};

/// An HTTPUpgrade handshake that failed, on the client or the server side.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpUpgradeError {
    /// Reading or writing the handshake failed.
    #[error("I/O error during the HTTPUpgrade handshake")]
    Io(#[from] io::Error),
    /// The connection ended before the head was complete.
    #[error("connection closed during the HTTPUpgrade handshake")]
    Eof,
    /// The server answered with a status other than `101 Switching Protocols`.
    #[error("HTTPUpgrade server answered HTTP {status} instead of 101")]
    Status {
        /// The status code the server sent.
        status: u16,
    },
    /// The head is not valid HTTP/1.1.
    #[error("malformed HTTP head in the HTTPUpgrade handshake")]
    Malformed(#[source] httparse::Error),
    /// The head did not end within the size limit.
    #[error("HTTP head larger than {limit} bytes")]
    HeadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The `101` lacks `Upgrade: websocket` or `Connection: upgrade`.
    #[error("101 response without `Upgrade: websocket` and `Connection: upgrade`")]
    NotUpgrade,
    /// The request is not an upgrade for this endpoint.
    #[error("request refused: {reason}")]
    Rejected {
        /// Which check failed (for logs only; never sent on the wire).
        reason: &'static str,
    },
    /// The client did not send its request head before the deadline.
    #[error("HTTPUpgrade request not received within {after:?}")]
    Timeout {
        /// The deadline that passed.
        after: Duration,
    },
}

/// An HTTPUpgrade option that cannot be turned into working settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `path` is empty, lacks the leading `/`, or holds characters not allowed in a request line.
    #[error("path `{path}`: {reason}")]
    Path {
        /// The path as configured.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The client has no host: neither `host`, nor a `Host` header, nor a default from below.
    #[error("host is required (set `host`, or put a TLS server_name or tcp address below)")]
    MissingHost,
    /// `host` is empty or holds characters not allowed in a header value.
    #[error("host `{0}` is not a valid Host header value")]
    Host(String),
    /// `host` and a `Host` entry in `headers` disagree.
    #[error("host `{host}` conflicts with headers.Host `{header}`")]
    HostConflict {
        /// The `host` option.
        host: String,
        /// The `Host` entry of `headers`.
        header: String,
    },
    /// A `headers` entry with an invalid name or value, or one the handshake sets itself.
    #[error("headers.{name}: {reason}")]
    Header {
        /// The header name as configured.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `handshake_timeout` is zero.
    #[error("handshake_timeout must be greater than zero")]
    ZeroTimeout,
}

impl ConfigError {
    /// The option the error is about.
    pub fn key(&self) -> Option<String> {
        Some(match self {
            ConfigError::Path { .. } => "path".into(),
            ConfigError::Host(_) | ConfigError::HostConflict { .. } => "host".into(),
            ConfigError::Header { name, .. } => format!("headers.{name}"),
            ConfigError::ZeroTimeout => "handshake_timeout".into(),
            ConfigError::MissingHost => return None,
        })
    }
}

impl From<ConfigError> for xypro_core::InvalidOptions {
    fn from(error: ConfigError) -> Self {
        let message = error.to_string();
        match error.key() {
            Some(key) => xypro_core::InvalidOptions::at(key, message),
            None => xypro_core::InvalidOptions::new(message),
        }
    }
}
