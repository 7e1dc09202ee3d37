//! SOCKS5 UDP relay header: `RSV(2) | FRAG | ATYP | ADDR | PORT | DATA`, one whole datagram.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xypro_socks5::{
    decode_udp, encode_udp,
    proto::{UdpHeader, parse_address},
};

fuzz_target!(|data: &[u8]| {
    let parsed = UdpHeader::parse(data);
    let decoded = decode_udp(data);
    assert_eq!(parsed.is_ok(), decoded.is_ok());
    // The address parser on its own must agree with the header parser.
    let address = data.get(3..).map(parse_address);
    let Ok((header, used)) = parsed else {
        return;
    };
    assert!(used <= data.len(), "consumed {used} of {}", data.len());
    assert_eq!(address, Some(Ok(Some((header.address.clone(), used - 3)))));
    assert_eq!(header.frag, data[2]);
    let (source, payload) = decoded.expect("decode_udp agrees");
    assert_eq!((&source, payload), (&header.address, &data[used..]));
    // Encoding the same destination and payload gives a datagram that decodes to both.
    let again = encode_udp(&source, payload);
    assert_eq!(decode_udp(&again), Ok((source, payload)));
});
