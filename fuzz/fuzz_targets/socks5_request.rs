//! SOCKS5 request and reply (same layout): `VER | CMD/REP | RSV | ATYP | ADDR | PORT`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xypro_fuzz::check_incremental;
use xypro_socks5::proto::{Reply, Request};

/// Header, address type, length byte, a 255-byte domain and the port.
const MAX: usize = 3 + 1 + 1 + 255 + 2;

fuzz_target!(|data: &[u8]| {
    if let Some((request, _)) = check_incremental(data, MAX, Request::parse) {
        let mut wire = Vec::new();
        request.write_to_buf(&mut wire);
        assert_eq!(
            Request::parse(&wire),
            Ok(Some((request, wire.len()))),
            "re-encoded request"
        );
    }
    if let Some((reply, _)) = check_incremental(data, MAX, Reply::parse) {
        let mut wire = Vec::new();
        reply.write_to_buf(&mut wire);
        assert_eq!(
            Reply::parse(&wire),
            Ok(Some((reply, wire.len()))),
            "re-encoded reply"
        );
    }
});
