//! The VLESS request header, `ver | uuid | addons_len | addons | cmd | [port | atyp | addr]`.

use super::{ProtoError, VERSION, address_len, parse_address, write_address};
use uuid::Uuid;
use xypro_core::Address;

const CMD_TCP: u8 = 1;
const CMD_UDP: u8 = 2;
const CMD_MUX: u8 = 3;

/// What the client asks the server to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// cmd 1: a TCP stream to the address.
    Tcp(Address),
    /// cmd 2: UDP to the address, each datagram framed as `len(2, big-endian) | data`.
    Udp(Address),
    /// cmd 3: Mux.Cool / XUDP frames follow; no address in the header.
    Mux,
}

impl Command {
    /// The command byte on the wire.
    pub fn byte(&self) -> u8 {
        match self {
            Command::Tcp(_) => CMD_TCP,
            Command::Udp(_) => CMD_UDP,
            Command::Mux => CMD_MUX,
        }
    }

    /// The destination, absent for mux.
    pub fn address(&self) -> Option<&Address> {
        match self {
            Command::Tcp(address) | Command::Udp(address) => Some(address),
            Command::Mux => None,
        }
    }
}

/// A VLESS request header (client to server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The user id.
    pub user: Uuid,
    /// The raw addons protobuf; servers skip it, clients without a flow send none.
    pub addons: Vec<u8>,
    /// The command and its destination.
    pub command: Command,
}

impl Request {
    /// A request with no addons.
    pub fn new(user: Uuid, command: Command) -> Self {
        Request {
            user,
            addons: Vec::new(),
            command,
        }
    }

    /// How many bytes [`Request::write_to_buf`] appends.
    pub fn serialized_len(&self) -> usize {
        1 + 16 + 1 + self.addons.len() + 1 + self.command.address().map_or(0, address_len)
    }

    /// Appends the header to `buf`; fails on addons over 255 bytes or an unencodable domain.
    pub fn write_to_buf(&self, buf: &mut Vec<u8>) -> Result<(), ProtoError> {
        let addons_len = u8::try_from(self.addons.len()).map_err(|_| ProtoError::AddonsTooLong)?;
        let start = buf.len();
        buf.reserve(self.serialized_len());
        buf.push(VERSION);
        buf.extend_from_slice(self.user.as_bytes());
        buf.push(addons_len);
        buf.extend_from_slice(&self.addons);
        buf.push(self.command.byte());
        if let Some(address) = self.command.address()
            && let Err(e) = write_address(address, buf)
        {
            buf.truncate(start);
            return Err(e);
        }
        Ok(())
    }

    /// Parses a header from the start of `buf`; `Ok(None)` means more bytes are needed.
    pub fn parse(buf: &[u8]) -> Result<Option<(Request, usize)>, ProtoError> {
        let Some(&version) = buf.first() else {
            return Ok(None);
        };
        if version != VERSION {
            return Err(ProtoError::Version(version));
        }
        let (Some(user), Some(&addons_len)) = (buf.get(1..17), buf.get(17)) else {
            return Ok(None);
        };
        let user = Uuid::from_slice(user).map_err(|_| ProtoError::Version(version))?;
        let cmd_at = 18 + usize::from(addons_len);
        let (Some(addons), Some(&cmd)) = (buf.get(18..cmd_at), buf.get(cmd_at)) else {
            return Ok(None);
        };
        let rest = &buf[cmd_at + 1..];
        let (command, used) = match cmd {
            CMD_MUX => (Command::Mux, 0),
            CMD_TCP | CMD_UDP => {
                let Some((address, used)) = parse_address(rest)? else {
                    return Ok(None);
                };
                match cmd {
                    CMD_TCP => (Command::Tcp(address), used),
                    _ => (Command::Udp(address), used),
                }
            }
            other => return Err(ProtoError::Command(other)),
        };
        let request = Request {
            user,
            addons: addons.to_vec(),
            command,
        };
        Ok(Some((request, cmd_at + 1 + used)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: Uuid = Uuid::from_bytes([
        0x2a, 0xd0, 0x43, 0xa0, 0xb9, 0x30, 0x46, 0xf8, 0xbd, 0x55, 0x1f, 0xce, 0xfc, 0x93, 0x33,
        0x9a,
    ]);

    fn wire(addons: &[u8], tail: &[u8]) -> Vec<u8> {
        let mut wire = vec![0];
        wire.extend_from_slice(USER.as_bytes());
        wire.push(addons.len() as u8);
        wire.extend_from_slice(addons);
        wire.extend_from_slice(tail);
        wire
    }

    #[test]
    fn tcp_request_matches_the_documented_layout() {
        let request = Request::new(USER, Command::Tcp("example.com:443".parse().unwrap()));
        let mut buf = Vec::new();
        request.write_to_buf(&mut buf).unwrap();
        let expected = wire(&[], &[&[1, 0x01, 0xbb, 2, 11][..], b"example.com"].concat());
        assert_eq!(buf, expected);
        assert_eq!(request.serialized_len(), buf.len());
    }

    #[test]
    fn parses_every_prefix_as_incomplete_then_the_whole_with_payload_left() {
        let request = Request::new(USER, Command::Udp("[2001:db8::1]:53".parse().unwrap()));
        let mut buf = Vec::new();
        request.write_to_buf(&mut buf).unwrap();
        let header_len = buf.len();
        for cut in 0..header_len {
            assert_eq!(Request::parse(&buf[..cut]).unwrap(), None, "cut at {cut}");
        }
        buf.extend_from_slice(b"payload");
        assert_eq!(Request::parse(&buf).unwrap(), Some((request, header_len)));
    }

    #[test]
    fn mux_has_no_address_and_addons_are_skipped() {
        let addons = [0x0a, 0x03, b'x', b'y', b'z'];
        let buf = wire(&addons, &[3, 0xaa]);
        let (request, used) = Request::parse(&buf).unwrap().unwrap();
        assert_eq!(request.command, Command::Mux);
        assert_eq!(request.addons, addons);
        assert_eq!(used, buf.len() - 1);
        let mut again = Vec::new();
        request.write_to_buf(&mut again).unwrap();
        assert_eq!(again, buf[..used]);
    }

    #[test]
    fn the_longest_addons_are_skipped() {
        let addons = [7u8; 255];
        let buf = wire(&addons, &[1, 0, 80, 1, 10, 0, 0, 1]);
        let (request, used) = Request::parse(&buf).unwrap().unwrap();
        assert_eq!(used, buf.len());
        assert_eq!(
            request.command,
            Command::Tcp("10.0.0.1:80".parse().unwrap())
        );
    }

    #[test]
    fn refuses_bad_version_command_and_address_type() {
        assert_eq!(Request::parse(&[1]), Err(ProtoError::Version(1)));
        assert_eq!(
            Request::parse(&wire(&[], &[4, 0, 80, 1])),
            Err(ProtoError::Command(4))
        );
        assert_eq!(
            Request::parse(&wire(&[], &[0])),
            Err(ProtoError::Command(0))
        );
        assert_eq!(
            Request::parse(&wire(&[], &[1, 0, 80, 9])),
            Err(ProtoError::AddressType(9))
        );
    }

    #[test]
    fn refuses_to_encode_oversized_addons() {
        let mut request = Request::new(USER, Command::Mux);
        request.addons = vec![0; 256];
        let mut buf = vec![9];
        assert_eq!(
            request.write_to_buf(&mut buf),
            Err(ProtoError::AddonsTooLong)
        );
        assert_eq!(buf, [9]);
    }
}
