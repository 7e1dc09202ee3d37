//! Property tests: VLESS request and response headers and XUDP frames encode and parse back to
//! themselves, whatever follows them and wherever the input is cut.

use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use uuid::Uuid;
use xypro_core::{Address, Network};
use xypro_vless::proto::{
    Command, ProtoError, Request, Response, address_len, parse_address, write_address,
    xudp::{Frame, Status},
};

/// Any address VLESS can carry: IPv4, IPv6 (no flow info or scope) or a host name of up to 255
/// bytes that is not an IP literal.
fn address() -> impl Strategy<Value = Address> {
    prop_oneof![
        (any::<Ipv4Addr>(), any::<u16>())
            .prop_map(|(ip, port)| Address::Ip(SocketAddr::new(ip.into(), port))),
        (any::<Ipv6Addr>(), any::<u16>())
            .prop_map(|(ip, port)| Address::Ip(SocketAddr::new(ip.into(), port))),
        ("[a-zA-Z0-9_.-]{1,255}", any::<u16>()).prop_filter_map("IP literal", |(host, port)| {
            match Address::from_host(&host, port) {
                Ok(address @ Address::Domain(..)) => Some(address),
                _ => None,
            }
        }),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        address().prop_map(Command::Tcp),
        address().prop_map(Command::Udp),
        Just(Command::Mux),
    ]
}

fn network() -> impl Strategy<Value = Network> {
    prop_oneof![Just(Network::Tcp), Just(Network::Udp)]
}

/// A frame as the parser returns it: only UDP `Keep` frames name an address, and only UDP
/// `New` frames with data carry a global id.
#[derive(Debug, Clone)]
struct OwnedFrame {
    session: u16,
    status: Status,
    target: Option<(Network, Address)>,
    global_id: Option<[u8; 8]>,
    error: bool,
    data: Option<Vec<u8>>,
}

impl OwnedFrame {
    fn frame(&self) -> Frame<'_> {
        Frame {
            session: self.session,
            status: self.status,
            target: self.target.clone(),
            global_id: self.global_id,
            error: self.error,
            data: self.data.as_deref(),
        }
    }
}

fn frame() -> impl Strategy<Value = OwnedFrame> {
    let data = prop::option::of(prop::collection::vec(any::<u8>(), 0..1024));
    let new = (network(), address(), any::<[u8; 8]>(), data.clone()).prop_map(
        |(network, address, id, data)| {
            let global_id = (network == Network::Udp && data.is_some()).then_some(id);
            (Status::New, Some((network, address)), global_id, data)
        },
    );
    let keep = (prop::option::of(address()), data.clone())
        .prop_map(|(address, data)| (Status::Keep, address.map(|a| (Network::Udp, a)), None, data));
    let other = (
        prop_oneof![Just(Status::End), Just(Status::KeepAlive)],
        data,
    )
        .prop_map(|(status, data)| (status, None, None, data));
    (any::<u16>(), any::<bool>(), prop_oneof![new, keep, other]).prop_map(
        |(session, error, (status, target, global_id, data))| OwnedFrame {
            session,
            status,
            target,
            global_id,
            error,
            data,
        },
    )
}

/// Checks that `wire` parses to `expected` using all of it, that every proper prefix asks for
/// more bytes, and that bytes after it change nothing.
fn parses_exactly<'a, T: PartialEq + std::fmt::Debug>(
    wire: &'a [u8],
    expected: &T,
    parse: impl Fn(&'a [u8]) -> Result<Option<(T, usize)>, ProtoError>,
    more: &'a [u8],
) -> Result<(), TestCaseError> {
    prop_assert!(more.starts_with(wire) && more.len() > wire.len());
    for cut in 0..wire.len() {
        prop_assert!(matches!(parse(&wire[..cut]), Ok(None)), "cut at {}", cut);
    }
    for input in [wire, more] {
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

fn with_tail(wire: &[u8]) -> Vec<u8> {
    [wire, b"\x00\x04payload"].concat()
}

proptest! {
    #[test]
    fn address_round_trips(address in address()) {
        let mut wire = Vec::new();
        write_address(&address, &mut wire).unwrap();
        prop_assert_eq!(address_len(&address), wire.len());
        let more = with_tail(&wire);
        parses_exactly(&wire, &address, parse_address, &more)?;
    }

    #[test]
    fn request_round_trips(
        user in any::<[u8; 16]>(),
        addons in prop::collection::vec(any::<u8>(), 0..=255),
        command in command(),
    ) {
        let request = Request { user: Uuid::from_bytes(user), addons, command };
        let mut wire = Vec::new();
        request.write_to_buf(&mut wire).unwrap();
        prop_assert_eq!(request.serialized_len(), wire.len());
        let more = with_tail(&wire);
        parses_exactly(&wire, &request, Request::parse, &more)?;
    }

    #[test]
    fn response_round_trips(addons in prop::collection::vec(any::<u8>(), 0..=255)) {
        let response = Response { addons };
        let mut wire = Vec::new();
        response.write_to_buf(&mut wire).unwrap();
        prop_assert_eq!(response.serialized_len(), wire.len());
        let more = with_tail(&wire);
        parses_exactly(&wire, &response, Response::parse, &more)?;
    }

    #[test]
    fn xudp_frame_round_trips(owned in frame()) {
        let frame = owned.frame();
        let mut wire = Vec::new();
        frame.write_to_buf(&mut wire).unwrap();
        prop_assert_eq!(frame.serialized_len(), wire.len());
        let more = with_tail(&wire);
        parses_exactly(&wire, &frame, Frame::parse, &more)?;
    }

    #[test]
    fn xudp_frames_back_to_back_read_in_order(frames in prop::collection::vec(frame(), 1..8)) {
        let mut wire = Vec::new();
        for owned in &frames {
            owned.frame().write_to_buf(&mut wire).unwrap();
        }
        let mut rest = &wire[..];
        for owned in &frames {
            let (parsed, used) = Frame::parse(rest).unwrap().unwrap();
            prop_assert_eq!(parsed, owned.frame());
            rest = &rest[used..];
        }
        prop_assert!(rest.is_empty());
        prop_assert_eq!(Frame::parse(rest), Ok(None));
    }
}
