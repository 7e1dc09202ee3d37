//! The reply: `VER | REP | RSV | ATYP | BND.ADDR | BND.PORT`.

use super::{ProtoError, parse_address, write_address};
use xypro_core::{Address, Failure};

/// A reply code (RFC 1928 section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyCode {
    /// `00`.
    Succeeded,
    /// `01`.
    GeneralFailure,
    /// `02`.
    NotAllowed,
    /// `03`.
    NetworkUnreachable,
    /// `04`.
    HostUnreachable,
    /// `05`.
    ConnectionRefused,
    /// `06`.
    TtlExpired,
    /// `07`.
    CommandNotSupported,
    /// `08`.
    AddressTypeNotSupported,
    /// Any other byte.
    Other(u8),
}

impl ReplyCode {
    /// The wire byte.
    pub fn byte(self) -> u8 {
        match self {
            ReplyCode::Succeeded => 0,
            ReplyCode::GeneralFailure => 1,
            ReplyCode::NotAllowed => 2,
            ReplyCode::NetworkUnreachable => 3,
            ReplyCode::HostUnreachable => 4,
            ReplyCode::ConnectionRefused => 5,
            ReplyCode::TtlExpired => 6,
            ReplyCode::CommandNotSupported => 7,
            ReplyCode::AddressTypeNotSupported => 8,
            ReplyCode::Other(b) => b,
        }
    }

    /// The code for a wire byte.
    pub fn from_byte(byte: u8) -> Self {
        match byte {
            0 => ReplyCode::Succeeded,
            1 => ReplyCode::GeneralFailure,
            2 => ReplyCode::NotAllowed,
            3 => ReplyCode::NetworkUnreachable,
            4 => ReplyCode::HostUnreachable,
            5 => ReplyCode::ConnectionRefused,
            6 => ReplyCode::TtlExpired,
            7 => ReplyCode::CommandNotSupported,
            8 => ReplyCode::AddressTypeNotSupported,
            b => ReplyCode::Other(b),
        }
    }
}

impl From<Failure> for ReplyCode {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::NotAllowed => ReplyCode::NotAllowed,
            Failure::NetworkUnreachable => ReplyCode::NetworkUnreachable,
            Failure::HostUnreachable => ReplyCode::HostUnreachable,
            Failure::ConnectionRefused => ReplyCode::ConnectionRefused,
            Failure::TimedOut => ReplyCode::TtlExpired,
            Failure::CommandNotSupported => ReplyCode::CommandNotSupported,
            Failure::AddressTypeNotSupported => ReplyCode::AddressTypeNotSupported,
            _ => ReplyCode::GeneralFailure,
        }
    }
}

/// A reply message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The outcome.
    pub code: ReplyCode,
    /// The bound address the server reports.
    pub bound: Address,
}

impl Reply {
    /// A reply with the given code and an unspecified IPv4 bound address.
    pub fn with_code(code: ReplyCode) -> Self {
        Reply {
            code,
            bound: Address::Ip(([0, 0, 0, 0], 0).into()),
        }
    }

    /// Parses a reply; `Ok(None)` if more bytes are needed.
    pub fn parse(src: &[u8]) -> Result<Option<(Reply, usize)>, ProtoError> {
        let Some(head) = src.get(..3) else {
            return Ok(None);
        };
        if head[0] != 5 {
            return Err(ProtoError::Version(head[0]));
        }
        Ok(parse_address(&src[3..])?.map(|(bound, used)| {
            (
                Reply {
                    code: ReplyCode::from_byte(head[1]),
                    bound,
                },
                3 + used,
            )
        }))
    }

    /// Appends this reply's wire form.
    pub fn write_to_buf(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&[5, self.code.byte(), 0]);
        write_address(buf, &self.bound);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_failures_to_rfc_codes() {
        assert_eq!(ReplyCode::from(Failure::NotAllowed).byte(), 2);
        assert_eq!(ReplyCode::from(Failure::HostUnreachable).byte(), 4);
        assert_eq!(ReplyCode::from(Failure::ConnectionRefused).byte(), 5);
        assert_eq!(ReplyCode::from(Failure::TimedOut).byte(), 6);
    }

    #[test]
    fn writes_ten_byte_ipv4_reply() {
        let mut wire = Vec::new();
        Reply::with_code(ReplyCode::ConnectionRefused).write_to_buf(&mut wire);
        assert_eq!(wire, [5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            Reply::parse(&wire).unwrap().unwrap().0.code,
            ReplyCode::ConnectionRefused
        );
    }
}
