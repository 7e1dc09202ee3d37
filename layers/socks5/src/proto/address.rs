//! The `ATYP | ADDR | PORT` block shared by requests, replies and UDP headers.

use super::ProtoError;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use xypro_core::Address;

const IPV4: u8 = 1;
const DOMAIN: u8 = 3;
const IPV6: u8 = 4;

/// Parses `ATYP | ADDR | PORT`; `Ok(None)` if `src` is too short.
pub fn parse_address(src: &[u8]) -> Result<Option<(Address, usize)>, ProtoError> {
    let Some(&atyp) = src.first() else {
        return Ok(None);
    };
    let (addr_len, start) = match atyp {
        IPV4 => (4, 1),
        IPV6 => (16, 1),
        DOMAIN => match src.get(1) {
            Some(&len) => (len as usize, 2),
            None => return Ok(None),
        },
        other => return Err(ProtoError::AddressType(other)),
    };
    let end = start + addr_len + 2;
    let Some(block) = src.get(start..end) else {
        return Ok(None);
    };
    let (host, port) = block.split_at(addr_len);
    let port = u16::from_be_bytes([port[0], port[1]]);
    let address = match atyp {
        IPV4 => Address::Ip(SocketAddr::new(
            Ipv4Addr::from(<[u8; 4]>::try_from(host).expect("4 bytes")).into(),
            port,
        )),
        IPV6 => Address::Ip(SocketAddr::new(
            Ipv6Addr::from(<[u8; 16]>::try_from(host).expect("16 bytes")).into(),
            port,
        )),
        _ => {
            let name = std::str::from_utf8(host).map_err(|_| ProtoError::Domain)?;
            if name.is_empty() || name.len() > 253 {
                return Err(ProtoError::Domain);
            }
            Address::from_host(name, port).map_err(|_| ProtoError::Domain)?
        }
    };
    Ok(Some((address, end)))
}

/// Appends `ATYP | ADDR | PORT` for `address`; a domain longer than 255 bytes is truncated
/// by no one: callers only hold validated addresses.
pub fn write_address(buf: &mut Vec<u8>, address: &Address) {
    match address {
        Address::Ip(SocketAddr::V4(v4)) => {
            buf.push(IPV4);
            buf.extend_from_slice(&v4.ip().octets());
        }
        Address::Ip(SocketAddr::V6(v6)) => {
            buf.push(IPV6);
            buf.extend_from_slice(&v6.ip().octets());
        }
        Address::Domain(name, _) => {
            buf.push(DOMAIN);
            buf.push(name.len() as u8);
            buf.extend_from_slice(name.as_bytes());
        }
    }
    buf.extend_from_slice(&address.port().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_type_and_reports_incomplete_prefixes() {
        for text in ["1.2.3.4:80", "[2001:db8::1]:443", "example.com:8080"] {
            let address: Address = text.parse().unwrap();
            let mut wire = Vec::new();
            write_address(&mut wire, &address);
            for cut in 0..wire.len() {
                assert_eq!(parse_address(&wire[..cut]), Ok(None), "{text} cut at {cut}");
            }
            assert_eq!(parse_address(&wire), Ok(Some((address, wire.len()))));
        }
    }

    #[test]
    fn rejects_unknown_type_and_bad_domains() {
        assert_eq!(parse_address(&[9, 0, 0]), Err(ProtoError::AddressType(9)));
        assert_eq!(parse_address(&[3, 0, 0, 80]), Err(ProtoError::Domain));
        let mut long = vec![3, 255];
        long.extend(std::iter::repeat_n(b'a', 255));
        long.extend_from_slice(&[0, 80]);
        assert_eq!(parse_address(&long), Err(ProtoError::Domain));
        assert_eq!(
            parse_address(&[3, 3, b'a', b' ', b'b', 0, 80]),
            Err(ProtoError::Domain)
        );
    }
}
