//! Errors of the SOCKS5 inbound and client.

use crate::proto::{ProtoError, ReplyCode};
use std::io;

/// Why a SOCKS5 handshake or session ended.
#[derive(Debug, thiserror::Error)]
pub enum Socks5Error {
    /// Reading or writing the client's stream failed.
    #[error("i/o error")]
    Io(#[from] io::Error),
    /// The client sent a malformed message.
    #[error("malformed message")]
    Proto(#[from] ProtoError),
    /// The client closed before finishing a message.
    #[error("client closed mid-handshake")]
    Truncated,
    /// A handshake message exceeded any legal size.
    #[error("handshake message too long")]
    TooLong,
    /// The client offered no method this inbound accepts.
    #[error("no acceptable authentication method offered")]
    NoAcceptableMethod,
    /// Wrong username or password.
    #[error("authentication failed for user `{0}`")]
    AuthFailed(String),
    /// The handshake did not finish within its deadline.
    #[error("handshake timed out")]
    HandshakeTimeout,
    /// The client asked for something this inbound refuses.
    #[error("request refused: {0}")]
    Refused(&'static str),
    /// A server answered a client request with a failure code.
    #[error("server replied {0:?}")]
    Rejected(ReplyCode),
}
