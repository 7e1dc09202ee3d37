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

/// An HTTPUpgrade option that cannot be turned into working settings: HTTPUpgrade's options
/// are the ones every HTTP/1.1 upgrade transport has, checked as WebSocket's are.
pub type ConfigError = xypro_core::upgrade_request::UpgradeConfigError;
