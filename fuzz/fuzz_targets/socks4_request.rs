//! SOCKS4 and SOCKS4a request: `VN | CD | DSTPORT | DSTIP | USERID 0 [| DOMAIN 0]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xypro_fuzz::check_incremental;
use xypro_socks5::proto::{MAX_SOCKS4_FIELD, Socks4Request};

/// The fixed part, then the longest user id and domain with their zeros.
const MAX: usize = 8 + 2 * (MAX_SOCKS4_FIELD + 1);

fuzz_target!(|data: &[u8]| {
    let Some((request, _)) = check_incremental(data, MAX, Socks4Request::parse) else {
        return;
    };
    let mut wire = Vec::new();
    request
        .write_to_buf(&mut wire)
        .expect("a parsed request is IPv4 or a domain");
    assert_eq!(
        Socks4Request::parse(&wire),
        Ok(Some((request, wire.len()))),
        "re-encoded request"
    );
});
