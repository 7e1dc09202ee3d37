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
    /// Wrong username or password; the name as the client sent it, escaped and truncated for
    /// logs (see [`Socks5Error::auth_failed`]).
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

/// The most characters of a failed user name a log line shows.
const LOGGED_NAME: usize = 32;

impl Socks5Error {
    /// The error for a failed login as `user`: the name escaped (so control characters cannot
    /// forge log lines) and cut to 32 characters (a password typed into the name field is not
    /// logged whole).
    pub fn auth_failed(user: &[u8]) -> Self {
        let name = String::from_utf8_lossy(user);
        let mut shown: String = name
            .chars()
            .take(LOGGED_NAME)
            .collect::<String>()
            .escape_debug()
            .collect();
        if name.chars().count() > LOGGED_NAME {
            shown.push('…');
        }
        Socks5Error::AuthFailed(shown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_user_names_are_escaped_and_truncated() {
        assert_eq!(
            Socks5Error::auth_failed(b"alice").to_string(),
            "authentication failed for user `alice`"
        );
        let forged = Socks5Error::auth_failed(b"x\nINFO admin logged in").to_string();
        assert!(!forged.contains('\n'), "{forged}");
        assert!(forged.contains("x\\nINFO"), "{forged}");
        let long = Socks5Error::auth_failed("p".repeat(200).as_bytes()).to_string();
        assert!(long.len() < 80, "{long}");
    }
}
