//! RFC 1929 username/password sub-negotiation: `VER(1) | ULEN | UNAME | PLEN | PASSWD`.

use super::ProtoError;

/// A username and password as sent by the client.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The username bytes.
    pub user: Vec<u8>,
    /// The password bytes.
    pub pass: Vec<u8>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &String::from_utf8_lossy(&self.user))
            .finish_non_exhaustive()
    }
}

/// The server's verdict on a sub-negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthStatus {
    /// `01 00`.
    Success,
    /// `01 01`, after which the server closes.
    Failure,
}

impl AuthStatus {
    /// The two-byte wire form.
    pub fn to_bytes(self) -> [u8; 2] {
        match self {
            AuthStatus::Success => [1, 0],
            AuthStatus::Failure => [1, 1],
        }
    }
}

impl Credentials {
    /// Parses a sub-negotiation request; `Ok(None)` if more bytes are needed.
    pub fn parse(src: &[u8]) -> Result<Option<(Credentials, usize)>, ProtoError> {
        let Some(&version) = src.first() else {
            return Ok(None);
        };
        if version != 1 {
            return Err(ProtoError::Version(version));
        }
        let Some(user) = field(src, 1)? else {
            return Ok(None);
        };
        let pass_at = 2 + user.len();
        let Some(pass) = field(src, pass_at)? else {
            return Ok(None);
        };
        let used = pass_at + 1 + pass.len();
        Ok(Some((
            Credentials {
                user: user.to_vec(),
                pass: pass.to_vec(),
            },
            used,
        )))
    }

    /// Appends this request's wire form; fields longer than 255 bytes are the caller's bug.
    pub fn write_to_buf(&self, buf: &mut Vec<u8>) {
        buf.push(1);
        for part in [&self.user, &self.pass] {
            buf.push(part.len() as u8);
            buf.extend_from_slice(part);
        }
    }
}

/// A length-prefixed field at `at`: `Ok(None)` if incomplete, an error if empty.
fn field(src: &[u8], at: usize) -> Result<Option<&[u8]>, ProtoError> {
    let Some(&len) = src.get(at) else {
        return Ok(None);
    };
    if len == 0 {
        return Err(ProtoError::EmptyCredential);
    }
    Ok(src.get(at + 1..at + 1 + len as usize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_credentials_byte_by_byte() {
        let wire = [1, 3, b'b', b'o', b'b', 2, b'p', b'w'];
        for cut in 0..wire.len() {
            assert_eq!(Credentials::parse(&wire[..cut]), Ok(None));
        }
        let (creds, used) = Credentials::parse(&wire).unwrap().unwrap();
        assert_eq!(
            (creds.user.as_slice(), creds.pass.as_slice(), used),
            (&b"bob"[..], &b"pw"[..], 8)
        );
    }

    #[test]
    fn rejects_bad_version_and_empty_fields() {
        assert_eq!(
            Credentials::parse(&[5, 1, b'a']),
            Err(ProtoError::Version(5))
        );
        assert_eq!(
            Credentials::parse(&[1, 0]),
            Err(ProtoError::EmptyCredential)
        );
        assert_eq!(
            Credentials::parse(&[1, 1, b'a', 0]),
            Err(ProtoError::EmptyCredential)
        );
    }

    #[test]
    fn debug_never_shows_the_password() {
        let creds = Credentials {
            user: b"bob".to_vec(),
            pass: b"hunter2".to_vec(),
        };
        assert!(!format!("{creds:?}").contains("hunter2"));
    }
}
