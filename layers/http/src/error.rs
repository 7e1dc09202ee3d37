//! Errors of the HTTP proxy inbound.

use crate::proto::ProtoError;
use std::io;

/// Why a client connection of the HTTP inbound ended early.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Reading or writing the client's stream failed.
    #[error("i/o error")]
    Io(#[from] io::Error),
    /// The client sent a request that cannot be served (answered with 400, 431 or 505).
    #[error("bad request")]
    Proto(#[from] ProtoError),
    /// The client closed in the middle of a message.
    #[error("client closed mid-request")]
    Truncated,
    /// The client closed before sending any request.
    #[error("client closed without a request")]
    NoRequest,
    /// No request started within the wait for one.
    #[error("no request within {0:?}")]
    Idle(std::time::Duration),
    /// A request head started but did not finish within its deadline.
    #[error("request head not finished within {0:?}")]
    HeadTimeout(std::time::Duration),
    /// The client sent no credentials and gave up on the challenge.
    #[error("no credentials")]
    AuthRequired,
    /// Wrong credentials, too often or on a connection that cannot stay open.
    #[error("authentication failed for user {0}")]
    AuthFailed(String),
    /// A request on the same connection authenticated as another user.
    #[error("credentials of another user on the same connection")]
    UserChanged,
}
