//! Errors of the VLESS client, server and options.

use crate::proto::{ProtoError, UserIdError};
use std::io;

/// Why a VLESS connection or handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum VlessError {
    /// Reading or writing the stream failed.
    #[error("i/o error")]
    Io(#[from] io::Error),
    /// The peer sent a malformed header, or a destination cannot be encoded.
    #[error("malformed VLESS header")]
    Proto(#[from] ProtoError),
    /// The request names a user id this server does not know.
    #[error("unknown user id {0}")]
    UnknownUser(uuid::Uuid),
    /// The client closed before sending a whole request header.
    #[error("client closed after {0} bytes, inside the request header")]
    Truncated(usize),
    /// The request header did not arrive within the handshake deadline.
    #[error("request header not received within {0:?}")]
    HandshakeTimeout(std::time::Duration),
    /// Dialling the next hop failed.
    #[error("connecting the VLESS transport failed")]
    Connect(#[source] xypro_core::BoxError),
}

/// An option of a `vless` layer that does not validate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A user id is neither a UUID nor a 1-30 byte string.
    #[error("`{option}` is not a valid user id")]
    InvalidId {
        /// Which option, such as `users[1].id`.
        option: String,
        /// What is wrong with it.
        #[source]
        source: UserIdError,
    },
    /// Two users share one id (after mapping strings to UUIDs).
    #[error("`{second}` has the same user id as `{first}`")]
    DuplicateId {
        /// The first option with the id.
        first: String,
        /// The option that repeats it.
        second: String,
    },
    /// Two users share one name.
    #[error("`{second}` repeats the user name of `{first}`")]
    DuplicateName {
        /// The first option with the name.
        first: String,
        /// The option that repeats it.
        second: String,
    },
    /// A user name is empty.
    #[error("`{0}` must not be empty")]
    EmptyName(String),
    /// A server with no users would refuse everyone.
    #[error("`users` must list at least one user")]
    NoUsers,
    /// The handshake timeout is zero.
    #[error("`handshake_timeout` must be greater than zero")]
    ZeroTimeout,
}
