//! Errors of WebSocket handshakes and of validating WebSocket options.

use std::{io, net::SocketAddr, time::Duration};
use xypro_core::upgrade_request::UpgradeConfigError;

/// A WebSocket handshake that failed, on the client or the server side.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WsError {
    /// Reading or writing the handshake failed.
    #[error("I/O error during the WebSocket handshake")]
    Io(#[from] io::Error),
    /// The connection ended before the handshake finished.
    #[error("connection closed during the WebSocket handshake")]
    Eof,
    /// The server answered with a status other than `101 Switching Protocols`.
    #[error("WebSocket server answered HTTP {status} instead of 101")]
    Status {
        /// The status code the server sent.
        status: u16,
    },
    /// The server did not answer the upgrade request before the deadline.
    #[error("no answer to the WebSocket upgrade within {after:?}")]
    ResponseTimeout {
        /// The deadline that passed.
        after: Duration,
        /// What makes the failure a timeout (a SOCKS5 client gets reply `06`).
        #[source]
        source: tokio::time::error::Elapsed,
    },
    /// The server's response head is not valid HTTP.
    #[error("malformed HTTP response to the WebSocket upgrade")]
    Malformed(#[source] httparse::Error),
    /// The server's response head did not end within the size limit.
    #[error("HTTP response head larger than {limit} bytes")]
    HeadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The `101` lacks `Upgrade: websocket` or `Connection: upgrade`.
    #[error("101 response without `Upgrade: websocket` and `Connection: upgrade`")]
    NotWebSocket,
    /// `Sec-WebSocket-Accept` is missing or does not match the key sent.
    #[error("Sec-WebSocket-Accept missing or not derived from our key")]
    BadAccept,
    /// The server echoed a `Sec-WebSocket-Protocol` different from the early data sent.
    #[error("server echoed a different Sec-WebSocket-Protocol than the early data sent")]
    ProtocolMismatch,
    /// The client's request was not an upgrade for this endpoint; it was answered `404`.
    #[error("request from {peer} refused with 404: {reason}")]
    Rejected {
        /// The client's address.
        peer: SocketAddr,
        /// Which check failed (for logs only; never sent on the wire).
        reason: &'static str,
    },
    /// The client did not complete the upgrade before the deadline.
    #[error("WebSocket upgrade from {peer} not finished within {after:?}")]
    Timeout {
        /// The client's address.
        peer: SocketAddr,
        /// The deadline that passed.
        after: Duration,
    },
    /// hyper failed while reading the request or writing the response.
    #[error("HTTP error while serving the upgrade for {peer}")]
    Http {
        /// The client's address.
        peer: SocketAddr,
        /// What hyper reported.
        #[source]
        source: hyper::Error,
    },
    /// The client closed the connection without sending a complete request.
    #[error("client {peer} closed the connection without an upgrade request")]
    NoRequest {
        /// The client's address.
        peer: SocketAddr,
    },
}

impl From<ConfigError> for xypro_core::InvalidOptions {
    fn from(error: ConfigError) -> Self {
        xypro_core::InvalidOptions::keyed(error.key(), error.to_string())
    }
}

impl ConfigError {
    /// The option the error is about.
    pub fn key(&self) -> Option<String> {
        match self {
            ConfigError::Upgrade(error) => error.key(),
            ConfigError::EarlyDataInPath { .. } => Some("path".into()),
            ConfigError::EarlyDataConflict { .. } | ConfigError::EarlyDataTooLarge { .. } => {
                Some("early_data".into())
            }
        }
    }
}

/// A WebSocket option that cannot be turned into working settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `path`, `host`, `headers` or `handshake_timeout`, checked as for every HTTP/1.1 upgrade.
    #[error(transparent)]
    Upgrade(#[from] UpgradeConfigError),
    /// `?ed=` in the path is not a number.
    #[error("path `{path}`: `ed` must be a number of bytes")]
    EarlyDataInPath {
        /// The path as configured.
        path: String,
    },
    /// `early_data` and `?ed=` in the path disagree.
    #[error("early_data is {option} but the path says ed={in_path}")]
    EarlyDataConflict {
        /// The `early_data` option.
        option: usize,
        /// The `ed` value in the path.
        in_path: usize,
    },
    /// `early_data` exceeds what servers accept in one header.
    #[error("early_data {value} is larger than the maximum of {max} bytes")]
    EarlyDataTooLarge {
        /// The configured value.
        value: usize,
        /// The maximum.
        max: usize,
    },
}
