//! VLESS request header: `ver | uuid | addons_len | addons | cmd | [port | atyp | addr]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xypro_fuzz::check_incremental;
use xypro_vless::proto::Request;

/// Version, id, addons, command and the longest address (port, type, length, 255 bytes).
const MAX: usize = 1 + 16 + 1 + 255 + 1 + 2 + 1 + 1 + 255;

fuzz_target!(|data: &[u8]| {
    let Some((request, used)) = check_incremental(data, MAX, Request::parse) else {
        return;
    };
    let mut wire = Vec::new();
    request
        .write_to_buf(&mut wire)
        .expect("a parsed request encodes");
    assert_eq!(request.serialized_len(), wire.len());
    assert!(wire.len() <= MAX);
    assert_eq!(
        Request::parse(&wire),
        Ok(Some((request, wire.len()))),
        "re-encoded request"
    );
    // Only an IP literal sent as a domain changes length when re-encoded.
    if wire.len() == used {
        assert_eq!(Request::parse(&data[..used]), Request::parse(&wire));
    }
});
