//! Errors of WebSocket handshakes and of validating WebSocket options.

use std::{io, net::SocketAddr, time::Duration};

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
        let message = error.to_string();
        match error.key() {
            Some(key) => xypro_core::InvalidOptions::at(key, message),
            None => xypro_core::InvalidOptions::new(message),
        }
    }
}

impl ConfigError {
    /// The option the error is about.
    pub fn key(&self) -> Option<String> {
        Some(match self {
            ConfigError::Path { .. } | ConfigError::EarlyDataInPath { .. } => "path".into(),
            ConfigError::EarlyDataConflict { .. } | ConfigError::EarlyDataTooLarge { .. } => {
                "early_data".into()
            }
            ConfigError::Host(_) | ConfigError::HostConflict { .. } => "host".into(),
            ConfigError::Header { name, .. } => format!("headers.{name}"),
            ConfigError::ZeroTimeout => "handshake_timeout".into(),
            ConfigError::MissingHost => return None,
        })
    }
}

/// A WebSocket option that cannot be turned into working settings.
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
