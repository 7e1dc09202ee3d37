//! The VLESS destination, `port(2, big-endian) | atyp(1) | addr`, shared by requests and XUDP.

use super::ProtoError;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use xypro_core::Address;

const ATYP_IPV4: u8 = 1;
const ATYP_DOMAIN: u8 = 2;
const ATYP_IPV6: u8 = 3;

/// How many bytes [`write_address`] appends for `address`.
pub fn address_len(address: &Address) -> usize {
    3 + match address {
        Address::Ip(SocketAddr::V4(_)) => 4,
        Address::Ip(SocketAddr::V6(_)) => 16,
        Address::Domain(name, _) => 1 + name.len(),
    }
}

/// Appends `port | atyp | addr`; fails on a domain that is empty or longer than 255 bytes.
pub fn write_address(address: &Address, buf: &mut Vec<u8>) -> Result<(), ProtoError> {
    buf.extend_from_slice(&address.port().to_be_bytes());
    match address {
        Address::Ip(SocketAddr::V4(v4)) => {
            buf.push(ATYP_IPV4);
            buf.extend_from_slice(&v4.ip().octets());
        }
        Address::Ip(SocketAddr::V6(v6)) => {
            buf.push(ATYP_IPV6);
            buf.extend_from_slice(&v6.ip().octets());
        }
        Address::Domain(name, _) => {
            let len = u8::try_from(name.len()).map_err(|_| ProtoError::Domain)?;
            if len == 0 {
                return Err(ProtoError::Domain);
            }
            buf.push(ATYP_DOMAIN);
            buf.push(len);
            buf.extend_from_slice(name.as_bytes());
        }
    }
    Ok(())
}

/// Parses `port | atyp | addr` from the start of `buf`.
pub fn parse_address(buf: &[u8]) -> Result<Option<(Address, usize)>, ProtoError> {
    let (Some(port), Some(&atyp)) = (buf.get(..2), buf.get(2)) else {
        return Ok(None);
    };
    let port = u16::from_be_bytes([port[0], port[1]]);
    let rest = &buf[3..];
    let (address, len) = match atyp {
        ATYP_IPV4 => {
            let Some(ip) = rest.get(..4) else {
                return Ok(None);
            };
            let ip = Ipv4Addr::from(<[u8; 4]>::try_from(ip).map_err(|_| ProtoError::Domain)?);
            (Address::Ip(SocketAddr::new(ip.into(), port)), 4)
        }
        ATYP_IPV6 => {
            let Some(ip) = rest.get(..16) else {
                return Ok(None);
            };
            let ip = Ipv6Addr::from(<[u8; 16]>::try_from(ip).map_err(|_| ProtoError::Domain)?);
            (Address::Ip(SocketAddr::new(ip.into(), port)), 16)
        }
        ATYP_DOMAIN => {
            let Some(&len) = rest.first() else {
                return Ok(None);
            };
            let len = usize::from(len);
            let Some(name) = rest.get(1..1 + len) else {
                return Ok(None);
            };
            let name = std::str::from_utf8(name).map_err(|_| ProtoError::Domain)?;
            let address = Address::from_host(name, port).map_err(|_| ProtoError::Domain)?;
            (address, 1 + len)
        }
        other => return Err(ProtoError::AddressType(other)),
    };
    Ok(Some((address, 3 + len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(address: Address, wire: &[u8]) {
        let mut buf = Vec::new();
        write_address(&address, &mut buf).unwrap();
        assert_eq!(buf, wire);
        assert_eq!(address_len(&address), wire.len());
        assert_eq!(parse_address(wire).unwrap(), Some((address, wire.len())));
        for cut in 0..wire.len() {
            assert_eq!(parse_address(&wire[..cut]).unwrap(), None, "cut at {cut}");
        }
    }

    #[test]
    fn every_address_type_round_trips_port_first() {
        round_trip("1.2.3.4:80".parse().unwrap(), &[0, 80, 1, 1, 2, 3, 4]);
        round_trip(
            "[::1]:443".parse().unwrap(),
            &[1, 187, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        );
        round_trip(
            Address::Domain("ab.c".into(), 8080),
            &[0x1f, 0x90, 2, 4, b'a', b'b', b'.', b'c'],
        );
    }

    #[test]
    fn refuses_bad_types_and_domains() {
        assert_eq!(
            parse_address(&[0, 80, 4, 0]),
            Err(ProtoError::AddressType(4))
        );
        assert_eq!(parse_address(&[0, 80, 2, 0]), Err(ProtoError::Domain));
        assert_eq!(
            parse_address(&[0, 80, 2, 3, b'a', b' ', b'b']),
            Err(ProtoError::Domain)
        );
        assert_eq!(
            parse_address(&[0, 80, 2, 2, 0xff, 0xfe]),
            Err(ProtoError::Domain)
        );
        let long = Address::Domain("a".repeat(256), 1);
        assert_eq!(
            write_address(&long, &mut Vec::new()),
            Err(ProtoError::Domain)
        );
    }

    #[test]
    fn an_ip_literal_sent_as_a_domain_becomes_an_ip() {
        let wire = [0, 53, 2, 7, b'8', b'.', b'8', b'.', b'8', b'.', b'8'];
        assert_eq!(
            parse_address(&wire).unwrap(),
            Some(("8.8.8.8:53".parse().unwrap(), wire.len()))
        );
    }
}
