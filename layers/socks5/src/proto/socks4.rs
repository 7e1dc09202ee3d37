//! SOCKS4 and SOCKS4a: the request `VN=4 | CD | DSTPORT | DSTIP | USERID 0 [| DOMAIN 0]` and
//! the 8-byte reply `0 | 5A/5B | DSTPORT | DSTIP`.

use super::ProtoError;
use std::net::{Ipv4Addr, SocketAddr};
use xypro_core::Address;

/// The longest user id or SOCKS4a domain accepted, without its terminating zero.
pub const MAX_SOCKS4_FIELD: usize = 255;

/// The reply code for a granted request.
pub const SOCKS4_GRANTED: u8 = 0x5a;
/// The reply code for a rejected or failed request.
pub const SOCKS4_REJECTED: u8 = 0x5b;

/// What a SOCKS4 client asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Socks4Command {
    /// `0x01`: open a TCP connection.
    Connect,
    /// `0x02`: accept one inbound TCP connection (not supported by this server).
    Bind,
}

/// A parsed SOCKS4 or SOCKS4a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socks4Request {
    /// The command.
    pub command: Socks4Command,
    /// The destination: an IPv4 address (SOCKS4) or a domain (SOCKS4a).
    pub address: Address,
    /// The user id field, as sent (SOCKS4 has no passwords; it identifies nobody).
    pub user_id: Vec<u8>,
}

impl Socks4Request {
    /// Parses a request; `Ok(None)` if more bytes are needed. A destination IP of `0.0.0.x`
    /// (`x` not zero) means a domain follows the user id (SOCKS4a).
    pub fn parse(src: &[u8]) -> Result<Option<(Socks4Request, usize)>, ProtoError> {
        if let Some(&version) = src.first()
            && version != 4
        {
            return Err(ProtoError::Version(version));
        }
        let command = match src.get(1) {
            None => return Ok(None),
            Some(1) => Socks4Command::Connect,
            Some(2) => Socks4Command::Bind,
            Some(&other) => return Err(ProtoError::Command(other)),
        };
        let Some(fixed) = src.get(2..8) else {
            return Ok(None);
        };
        let port = u16::from_be_bytes([fixed[0], fixed[1]]);
        let ip = Ipv4Addr::new(fixed[2], fixed[3], fixed[4], fixed[5]);
        let Some((user_id, user_len)) = terminated(&src[8..])? else {
            return Ok(None);
        };
        let mut used = 8 + user_len;
        let [0, 0, 0, last] = ip.octets() else {
            let address = Address::Ip(SocketAddr::new(ip.into(), port));
            return Ok(Some((Socks4Request::new(command, address, user_id), used)));
        };
        if last == 0 {
            return Err(ProtoError::Domain);
        }
        let Some((domain, domain_len)) = terminated(&src[used..])? else {
            return Ok(None);
        };
        used += domain_len;
        let name = std::str::from_utf8(domain).map_err(|_| ProtoError::Domain)?;
        if name.is_empty() {
            return Err(ProtoError::Domain);
        }
        let address = Address::from_host(name, port).map_err(|_| ProtoError::Domain)?;
        Ok(Some((Socks4Request::new(command, address, user_id), used)))
    }

    fn new(command: Socks4Command, address: Address, user_id: &[u8]) -> Self {
        Socks4Request {
            command,
            address,
            user_id: user_id.to_vec(),
        }
    }

    /// Appends this request's wire form: SOCKS4 for an IPv4 address, SOCKS4a for a domain.
    /// An IPv6 address cannot be expressed and is an error.
    pub fn write_to_buf(&self, buf: &mut Vec<u8>) -> Result<(), ProtoError> {
        let command = match self.command {
            Socks4Command::Connect => 1,
            Socks4Command::Bind => 2,
        };
        let ip = match &self.address {
            Address::Ip(SocketAddr::V4(v4)) => v4.ip().octets(),
            Address::Domain(..) => [0, 0, 0, 1],
            Address::Ip(SocketAddr::V6(_)) => return Err(ProtoError::AddressType(4)),
        };
        buf.extend_from_slice(&[4, command]);
        buf.extend_from_slice(&self.address.port().to_be_bytes());
        buf.extend_from_slice(&ip);
        buf.extend_from_slice(&self.user_id);
        buf.push(0);
        if let Address::Domain(name, _) = &self.address {
            buf.extend_from_slice(name.as_bytes());
            buf.push(0);
        }
        Ok(())
    }
}

/// The 8-byte reply: granted (`5A`) or rejected (`5B`); the address fields are zero.
pub fn socks4_reply(granted: bool) -> [u8; 8] {
    let code = match granted {
        true => SOCKS4_GRANTED,
        false => SOCKS4_REJECTED,
    };
    [0, code, 0, 0, 0, 0, 0, 0]
}

/// A zero-terminated field at the start of `src`: (field, bytes used with the zero).
fn terminated(src: &[u8]) -> Result<Option<(&[u8], usize)>, ProtoError> {
    match src.iter().take(MAX_SOCKS4_FIELD + 1).position(|&b| b == 0) {
        Some(end) => Ok(Some((&src[..end], end + 1))),
        None if src.len() > MAX_SOCKS4_FIELD => Err(ProtoError::Unterminated),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_curl_sends_and_reports_incomplete_prefixes() {
        // curl --socks4 127.0.0.1:1080 http://127.0.0.1:8000/
        let v4 = [4, 1, 0x1f, 0x40, 127, 0, 0, 1, 0];
        // curl --socks4a 127.0.0.1:1080 http://localhost:8000/ (user id "bob")
        let mut v4a = vec![4, 1, 0x1f, 0x40, 0, 0, 0, 1, b'b', b'o', b'b', 0];
        v4a.extend_from_slice(b"localhost\0");
        for (wire, address, user) in [
            (&v4[..], "127.0.0.1:8000", &b""[..]),
            (&v4a[..], "localhost:8000", b"bob"),
        ] {
            for cut in 0..wire.len() {
                assert_eq!(Socks4Request::parse(&wire[..cut]), Ok(None), "cut at {cut}");
            }
            let (request, used) = Socks4Request::parse(wire).unwrap().unwrap();
            assert_eq!(used, wire.len());
            assert_eq!(request.address.to_string(), address);
            assert_eq!(
                (request.command, request.user_id.as_slice()),
                (Socks4Command::Connect, user)
            );
            let mut again = Vec::new();
            request.write_to_buf(&mut again).unwrap();
            assert_eq!(again, wire, "re-encodes to the same bytes");
        }
    }

    #[test]
    fn refuses_bad_versions_commands_fields_and_addresses() {
        assert_eq!(Socks4Request::parse(&[5, 1]), Err(ProtoError::Version(5)));
        assert_eq!(Socks4Request::parse(&[4, 3]), Err(ProtoError::Command(3)));
        assert_eq!(
            Socks4Request::parse(&[4, 1, 0, 80, 0, 0, 0, 0, 0]),
            Err(ProtoError::Domain),
            "0.0.0.0 is neither an address nor the SOCKS4a marker"
        );
        assert_eq!(
            Socks4Request::parse(&[4, 1, 0, 80, 0, 0, 0, 1, 0, 0]),
            Err(ProtoError::Domain),
            "an empty SOCKS4a domain"
        );
        let mut long = vec![4, 1, 0, 80, 1, 2, 3, 4];
        long.extend_from_slice(&[b'u'; MAX_SOCKS4_FIELD + 1]);
        assert_eq!(Socks4Request::parse(&long), Err(ProtoError::Unterminated));
        let v6 = Socks4Request {
            command: Socks4Command::Connect,
            address: "[::1]:80".parse().unwrap(),
            user_id: Vec::new(),
        };
        assert!(v6.write_to_buf(&mut Vec::new()).is_err());
        assert_eq!(socks4_reply(true), [0, 0x5a, 0, 0, 0, 0, 0, 0]);
    }
}
