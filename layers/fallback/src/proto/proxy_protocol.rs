//! PROXY protocol headers (HAProxy's v1 text and v2 binary forms) for a TCP connection.
//!
//! Both addresses are sent in one family: IPv4 when both are IPv4 (an IPv4-mapped IPv6 address
//! counts as IPv4), otherwise IPv6 with any IPv4 address mapped. Without addresses the header
//! says `UNKNOWN` (v1) or is a `LOCAL` command (v2), and the backend uses the socket's own.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// The 12-byte signature that opens every v2 header.
pub const V2_SIGNATURE: [u8; 12] = [
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
];

/// Which form of the PROXY protocol a backend expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyVersion {
    /// The text form: `PROXY TCP4 src dst sport dport\r\n`.
    V1,
    /// The binary form: signature, command, family, length, addresses.
    V2,
}

impl ProxyVersion {
    /// Appends this version's header for `addresses` (client, then the address it connected to).
    pub fn write_to_buf(self, buf: &mut Vec<u8>, addresses: Option<(SocketAddr, SocketAddr)>) {
        match self {
            ProxyVersion::V1 => write_v1(buf, addresses),
            ProxyVersion::V2 => write_v2(buf, addresses),
        }
    }
}

/// The two addresses in one family: both IPv4, or both IPv6.
enum Pair {
    V4([u8; 4], [u8; 4]),
    V6(Ipv6Addr, Ipv6Addr),
}

fn pair(source: IpAddr, destination: IpAddr) -> Pair {
    match (source.to_canonical(), destination.to_canonical()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => Pair::V4(s.octets(), d.octets()),
        (s, d) => Pair::V6(to_v6(s), to_v6(d)),
    }
}

fn to_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// Appends a v1 header: `PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n`, or `PROXY UNKNOWN\r\n`.
pub fn write_v1(buf: &mut Vec<u8>, addresses: Option<(SocketAddr, SocketAddr)>) {
    let Some((source, destination)) = addresses else {
        buf.extend_from_slice(b"PROXY UNKNOWN\r\n");
        return;
    };
    let (sport, dport) = (source.port(), destination.port());
    let line = match pair(source.ip(), destination.ip()) {
        Pair::V4(s, d) => format!(
            "PROXY TCP4 {} {} {sport} {dport}\r\n",
            std::net::Ipv4Addr::from(s),
            std::net::Ipv4Addr::from(d)
        ),
        Pair::V6(s, d) => format!("PROXY TCP6 {s} {d} {sport} {dport}\r\n"),
    };
    buf.extend_from_slice(line.as_bytes());
}

/// Appends a v2 header: `PROXY` over `TCP4` (`21 11 000C`) or `TCP6` (`21 21 0024`), or a
/// `LOCAL` command with no addresses (`20 00 0000`).
pub fn write_v2(buf: &mut Vec<u8>, addresses: Option<(SocketAddr, SocketAddr)>) {
    buf.extend_from_slice(&V2_SIGNATURE);
    let Some((source, destination)) = addresses else {
        buf.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
        return;
    };
    match pair(source.ip(), destination.ip()) {
        Pair::V4(s, d) => {
            buf.extend_from_slice(&[0x21, 0x11, 0x00, 0x0C]);
            buf.extend_from_slice(&s);
            buf.extend_from_slice(&d);
        }
        Pair::V6(s, d) => {
            buf.extend_from_slice(&[0x21, 0x21, 0x00, 0x24]);
            buf.extend_from_slice(&s.octets());
            buf.extend_from_slice(&d.octets());
        }
    }
    buf.extend_from_slice(&source.port().to_be_bytes());
    buf.extend_from_slice(&destination.port().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(s: &str, d: &str) -> Option<(SocketAddr, SocketAddr)> {
        Some((s.parse().unwrap(), d.parse().unwrap()))
    }

    fn v1(addresses: Option<(SocketAddr, SocketAddr)>) -> String {
        let mut buf = Vec::new();
        ProxyVersion::V1.write_to_buf(&mut buf, addresses);
        String::from_utf8(buf).unwrap()
    }

    fn v2(addresses: Option<(SocketAddr, SocketAddr)>) -> Vec<u8> {
        let mut buf = Vec::new();
        ProxyVersion::V2.write_to_buf(&mut buf, addresses);
        buf
    }

    #[test]
    fn v1_lines() {
        assert_eq!(
            v1(addrs("192.0.2.1:56324", "127.0.0.1:443")),
            "PROXY TCP4 192.0.2.1 127.0.0.1 56324 443\r\n"
        );
        assert_eq!(
            v1(addrs("[2001:db8::1]:1000", "[::1]:443")),
            "PROXY TCP6 2001:db8::1 ::1 1000 443\r\n"
        );
        assert_eq!(
            v1(addrs("[::ffff:192.0.2.1]:1", "127.0.0.1:2")),
            "PROXY TCP4 192.0.2.1 127.0.0.1 1 2\r\n",
            "a mapped address is IPv4"
        );
        assert_eq!(
            v1(addrs("192.0.2.1:1", "[::1]:2")),
            "PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n",
            "mixed families are sent as IPv6"
        );
        assert_eq!(v1(None), "PROXY UNKNOWN\r\n");
    }

    #[test]
    fn v2_bytes() {
        let mut want = V2_SIGNATURE.to_vec();
        want.extend_from_slice(&[0x21, 0x11, 0x00, 0x0C, 192, 0, 2, 1, 127, 0, 0, 1]);
        want.extend_from_slice(&[0xDC, 0x04, 0x01, 0xBB]);
        assert_eq!(v2(addrs("192.0.2.1:56324", "127.0.0.1:443")), want);
        assert_eq!(
            &want[..12],
            b"\r\n\r\n\0\r\nQUIT\n",
            "the signature as the spec spells it"
        );

        let six = v2(addrs("[2001:db8::1]:1000", "[::1]:443"));
        assert_eq!(six.len(), 16 + 36);
        assert_eq!(&six[12..16], &[0x21, 0x21, 0x00, 0x24]);
        assert_eq!(&six[16..18], &[0x20, 0x01]);
        assert_eq!(six[47], 1, "the last byte of ::1");
        assert_eq!(&six[48..], &[0x03, 0xE8, 0x01, 0xBB]);

        let mut local = V2_SIGNATURE.to_vec();
        local.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
        assert_eq!(v2(None), local);
    }
}
