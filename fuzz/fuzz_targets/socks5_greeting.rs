//! SOCKS5 method-selection greeting: `VER | NMETHODS | METHODS`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xypro_fuzz::check_incremental;
use xypro_socks5::proto::Greeting;

fuzz_target!(|data: &[u8]| {
    let Some((greeting, used)) = check_incremental(data, 2 + 255, Greeting::parse) else {
        return;
    };
    assert_eq!(used, 2 + greeting.methods.len());
    let mut wire = Vec::new();
    greeting.write_to_buf(&mut wire);
    assert_eq!(wire, data[..used], "re-encoding differs");
});
