//! Property tests: heads encode and parse back to themselves wherever the input is cut, chunked
//! bodies end where their encoding ends whatever the reads, URIs give back what built them.

use proptest::prelude::*;
use std::net::{IpAddr, SocketAddr};
use xypro_core::Address;
use xypro_http::proto::{
    BodyProgress, Framing, Header, ProtoError, RequestHead, ResponseHead, Version, forward_target,
};

fn version() -> impl Strategy<Value = Version> {
    prop_oneof![Just(Version::Http10), Just(Version::Http11)]
}

/// Header fields: token names, visible-ASCII values without surrounding spaces.
fn headers() -> impl Strategy<Value = Vec<Header>> {
    prop::collection::vec(
        ("[A-Za-z][A-Za-z0-9-]{0,20}", "([!-~]([ !-~]{0,30}[!-~])?)?")
            .prop_map(|(name, value)| Header::new(name, value)),
        0..20,
    )
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
    more.extend_from_slice(b"GET http://next/ HTTP/1.1\r\n");
    for input in [wire, &more[..]] {
        match parse(input) {
            Ok(Some((parsed, used))) => {
                prop_assert_eq!(&parsed, expected);
                prop_assert_eq!(used, wire.len());
            }
            Ok(None) => prop_assert!(false, "a whole head reads as incomplete"),
            Err(e) => prop_assert!(false, "a whole head fails: {}", e),
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn request_heads_round_trip(
        method in "[A-Z]{1,10}",
        path in "/[!-~]{0,40}",
        version in version(),
        headers in headers(),
    ) {
        let head = RequestHead { method, target: format!("http://example.com{path}"), version, headers };
        let mut wire = Vec::new();
        head.write_to_buf(&mut wire);
        parses_exactly(&wire, &head, RequestHead::parse)?;
    }

    #[test]
    fn response_heads_round_trip(
        code in 100u16..1000,
        reason in "([!-~]([ !-~]{0,20}[!-~])?)?",
        version in version(),
        headers in headers(),
    ) {
        let head = ResponseHead { version, code, reason: reason.into_bytes(), headers };
        let mut wire = Vec::new();
        head.write_to_buf(&mut wire);
        parses_exactly(&wire, &head, ResponseHead::parse)?;
    }

    #[test]
    fn chunked_bodies_end_where_their_encoding_ends(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..300), 0..8),
        extension in prop::option::of("[a-z]{1,8}(=[a-z0-9]{1,8})?"),
        trailers in prop::collection::vec(("[A-Za-z]{1,10}", "[!-~]{0,20}"), 0..3),
        steps in prop::collection::vec(1usize..64, 1..8),
    ) {
        let mut wire = Vec::new();
        for chunk in &chunks {
            wire.extend_from_slice(format!("{:x}", chunk.len()).as_bytes());
            if let Some(extension) = &extension {
                wire.extend_from_slice(format!(";{extension}").as_bytes());
            }
            wire.extend_from_slice(b"\r\n");
            wire.extend_from_slice(chunk);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b"0\r\n");
        for (name, value) in &trailers {
            wire.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        wire.extend_from_slice(b"\r\n");
        let end = wire.len();
        wire.extend_from_slice(b"GET http://next/ HTTP/1.1\r\n\r\n");
        let mut progress = BodyProgress::new(Framing::Chunked);
        let (mut at, mut step) = (0, 0);
        while !progress.is_done() {
            prop_assert!(at < wire.len(), "the body never ended");
            let size = steps[step % steps.len()];
            step += 1;
            let piece = &wire[at..(at + size).min(wire.len())];
            at += progress.advance(piece).unwrap();
        }
        prop_assert_eq!(at, end);
    }

    #[test]
    fn absolute_uris_give_back_destination_and_path(
        host in prop_oneof![
            "[a-z][a-z0-9-]{0,20}(\\.[a-z][a-z0-9-]{0,10}){0,3}",
            any::<IpAddr>().prop_map(|ip| match ip {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            }),
        ],
        port in 1u16..,
        path in "(/[!-~&&[^#]]{0,30})?",
    ) {
        let uri = format!("http://{host}:{port}{path}");
        let target = forward_target(&uri, None).unwrap();
        let expected = Address::from_host(&host, port).unwrap();
        prop_assert_eq!(&target.destination, &expected);
        let expected_path = if path.is_empty() { "/".to_owned() } else { path.clone() };
        prop_assert_eq!(&target.path, &expected_path);
        if let Address::Ip(SocketAddr::V6(_)) = expected {
            prop_assert!(target.host.starts_with('['));
        }
        prop_assert_eq!(target.host.ends_with(":80"), false);
    }
}
