//! The request: `VER | CMD | RSV | ATYP | DST.ADDR | DST.PORT`.

use super::{ProtoError, parse_address, write_address};
use xypro_core::Address;

/// What the client asks the server to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `0x01`: open a TCP connection.
    Connect,
    /// `0x02`: accept one inbound TCP connection (not supported by this server).
    Bind,
    /// `0x03`: relay UDP datagrams.
    UdpAssociate,
}

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The command.
    pub command: Command,
    /// The destination (for UDP ASSOCIATE: where the client will send from, often zeros).
    pub address: Address,
}

impl Request {
    /// Parses a request; `Ok(None)` if more bytes are needed.
    pub fn parse(src: &[u8]) -> Result<Option<(Request, usize)>, ProtoError> {
        let Some(head) = src.get(..3) else {
            return match src.first() {
                Some(&v) if v != 5 => Err(ProtoError::Version(v)),
                _ => Ok(None),
            };
        };
        if head[0] != 5 {
            return Err(ProtoError::Version(head[0]));
        }
        let command = match head[1] {
            1 => Command::Connect,
            2 => Command::Bind,
            3 => Command::UdpAssociate,
            other => return Err(ProtoError::Command(other)),
        };
        if head[2] != 0 {
            return Err(ProtoError::Reserved);
        }
        Ok(parse_address(&src[3..])?
            .map(|(address, used)| (Request { command, address }, 3 + used)))
    }

    /// Appends this request's wire form.
    pub fn write_to_buf(&self, buf: &mut Vec<u8>) {
        let cmd = match self.command {
            Command::Connect => 1,
            Command::Bind => 2,
            Command::UdpAssociate => 3,
        };
        buf.extend_from_slice(&[5, cmd, 0]);
        write_address(buf, &self.address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reports_incomplete() {
        let request = Request {
            command: Command::Connect,
            address: "example.com:443".parse().unwrap(),
        };
        let mut wire = Vec::new();
        request.write_to_buf(&mut wire);
        for cut in 0..wire.len() {
            assert_eq!(Request::parse(&wire[..cut]), Ok(None));
        }
        assert_eq!(Request::parse(&wire), Ok(Some((request, wire.len()))));
    }

    #[test]
    fn maps_errors_to_reply_codes() {
        use super::super::ReplyCode;
        let unknown = Request::parse(&[5, 9, 0, 1]).unwrap_err();
        assert_eq!(unknown.as_reply(), ReplyCode::CommandNotSupported);
        let atyp = Request::parse(&[5, 1, 0, 7]).unwrap_err();
        assert_eq!(atyp.as_reply(), ReplyCode::AddressTypeNotSupported);
        assert_eq!(Request::parse(&[4]), Err(ProtoError::Version(4)));
    }
}
