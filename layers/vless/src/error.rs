//! Errors of the VLESS client and server.

use crate::proto::ProtoError;
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
