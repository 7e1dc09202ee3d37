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
    /// The request names a user id this server does not know (logged as a short hash, never
    /// the id itself: it may be a real user's id with a typo).
    #[error("unknown user id (hash {})", id_hash(.0))]
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

/// A short, stable hash of a user id, for logs.
fn id_hash(id: &uuid::Uuid) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    id.hash(&mut hasher);
    format!("{:08x}", hasher.finish() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_id_is_logged_as_a_hash_only() {
        let id = uuid::Uuid::from_u128(0x2ad043a0_b930_46f8_bd55_1fcefc93339a);
        let text = VlessError::UnknownUser(id).to_string();
        assert!(
            !text.contains("2ad043a0") && !text.contains("93339a"),
            "{text}"
        );
        assert_eq!(text, VlessError::UnknownUser(id).to_string(), "stable");
        assert!(text.starts_with("unknown user id (hash "), "{text}");
    }
}
