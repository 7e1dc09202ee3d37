//! Property tests: every SOCKS5 message encodes and parses back to itself, whatever follows it
//! and wherever the input is cut.

use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use xypro_core::Address;
use xypro_socks5::{
    decode_udp, encode_udp,
    proto::{
        Command, Credentials, Greeting, ProtoError, Reply, ReplyCode, Request, Socks4Command,
        Socks4Request, UdpHeader, parse_address, write_address,
    },
};

/// Any address SOCKS5 can carry: IPv4, IPv6 (no flow info or scope) or a host name of at most
/// 253 bytes (the parser's limit) that is not an IP literal.
fn address() -> impl Strategy<Value = Address> {
    prop_oneof![
        (any::<Ipv4Addr>(), any::<u16>())
            .prop_map(|(ip, port)| Address::Ip(SocketAddr::new(ip.into(), port))),
        (any::<Ipv6Addr>(), any::<u16>())
            .prop_map(|(ip, port)| Address::Ip(SocketAddr::new(ip.into(), port))),
        ("[a-zA-Z0-9_.-]{1,253}", any::<u16>()).prop_filter_map("IP literal", |(host, port)| {
            match Address::from_host(&host, port) {
                Ok(address @ Address::Domain(..)) => Some(address),
                _ => None,
            }
        }),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        Just(Command::Connect),
        Just(Command::Bind),
        Just(Command::UdpAssociate)
    ]
}

/// Checks that `wire` parses to `expected` using all of it, that every proper prefix asks for
/// more bytes, and that bytes after it change nothing.
fn parses_exactly<T: PartialEq + std::fmt::Debug>(
    wire: &[u8],
    expected: &T,
    parse: impl Fn(&[u8]) -> Result<Option<(T, usize)>, ProtoError>,
) -> Result<(), TestCaseError> {
    for cut in 0..wire.len() {
        prop_assert!(matches!(parse(&wire[..cut]), Ok(None)), "cut at {}", cut);
    }
    let mut more = wire.to_vec();
    more.extend_from_slice(b"\x05\x01tail");
    for input in [wire, &more[..]] {
        match parse(input) {
            Ok(Some((parsed, used))) => {
                prop_assert_eq!(&parsed, expected);
                prop_assert_eq!(used, wire.len());
            }
            Ok(None) => prop_assert!(false, "a whole message reads as incomplete"),
            Err(e) => prop_assert!(false, "a whole message fails: {}", e),
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn address_round_trips(address in address()) {
        let mut wire = Vec::new();
        write_address(&mut wire, &address);
        parses_exactly(&wire, &address, parse_address)?;
    }

    #[test]
    fn greeting_round_trips(methods in prop::collection::vec(any::<u8>(), 1..=255)) {
        let greeting = Greeting { methods };
        let mut wire = Vec::new();
        greeting.write_to_buf(&mut wire);
        prop_assert_eq!(wire.len(), 2 + greeting.methods.len());
        parses_exactly(&wire, &greeting, Greeting::parse)?;
    }

    #[test]
    fn credentials_round_trip(
        user in prop::collection::vec(any::<u8>(), 1..=255),
        pass in prop::collection::vec(any::<u8>(), 1..=255),
    ) {
        let credentials = Credentials { user, pass };
        let mut wire = Vec::new();
        credentials.write_to_buf(&mut wire);
        parses_exactly(&wire, &credentials, Credentials::parse)?;
    }

    #[test]
    fn request_round_trips(command in command(), address in address()) {
        let request = Request { command, address };
        let mut wire = Vec::new();
        request.write_to_buf(&mut wire);
        parses_exactly(&wire, &request, Request::parse)?;
    }

    #[test]
    fn reply_round_trips(code in any::<u8>(), bound in address()) {
        let reply = Reply { code: ReplyCode::from_byte(code), bound };
        let mut wire = Vec::new();
        reply.write_to_buf(&mut wire);
        prop_assert_eq!(wire[1], code);
        parses_exactly(&wire, &reply, Reply::parse)?;
    }

    #[test]
    fn udp_header_round_trips(
        address in address(),
        data in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let packet = encode_udp(&address, &data);
        prop_assert_eq!(decode_udp(&packet), Ok((address.clone(), &data[..])));
        let (header, at) = UdpHeader::parse(&packet).unwrap();
        prop_assert_eq!((header.frag, header.address, &packet[at..]), (0, address, &data[..]));
        // A datagram cut inside its header is refused, never misread.
        let header_len = packet.len() - data.len();
        for cut in 0..header_len {
            prop_assert!(UdpHeader::parse(&packet[..cut]).is_err(), "cut at {}", cut);
        }
    }

    #[test]
    fn socks4_request_round_trips(
        connect in any::<bool>(),
        address in address(),
        user_id in prop::collection::vec(1u8..=255, 0..=255),
    ) {
        let command = match connect {
            true => Socks4Command::Connect,
            false => Socks4Command::Bind,
        };
        let request = Socks4Request { command, address, user_id };
        let mut wire = Vec::new();
        match (request.write_to_buf(&mut wire), &request.address) {
            (Err(_), Address::Ip(SocketAddr::V6(_))) => return Ok(()),
            // 0.0.0.x is SOCKS4a's marker, not an address.
            (Ok(()), Address::Ip(SocketAddr::V4(v4))) if v4.ip().octets()[..3] == [0, 0, 0] => {
                return Ok(());
            }
            (written, _) => prop_assert!(written.is_ok()),
        }
        parses_exactly(&wire, &request, Socks4Request::parse)?;
    }
}
