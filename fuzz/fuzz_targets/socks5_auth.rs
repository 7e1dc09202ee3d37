//! SOCKS5 username/password sub-negotiation (RFC 1929): `VER | ULEN | UNAME | PLEN | PASSWD`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xypro_fuzz::check_incremental;
use xypro_socks5::proto::Credentials;

fuzz_target!(|data: &[u8]| {
    let Some((credentials, used)) = check_incremental(data, 3 + 2 * 255, Credentials::parse) else {
        return;
    };
    assert!(!credentials.user.is_empty() && !credentials.pass.is_empty());
    let mut wire = Vec::new();
    credentials.write_to_buf(&mut wire);
    assert_eq!(wire, data[..used], "re-encoding differs");
});
