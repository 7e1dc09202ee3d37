//! VLESS response header: `ver | addons_len | addons`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xypro_fuzz::check_incremental;
use xypro_vless::proto::Response;

fuzz_target!(|data: &[u8]| {
    let Some((response, used)) = check_incremental(data, 2 + 255, Response::parse) else {
        return;
    };
    let mut wire = Vec::new();
    response
        .write_to_buf(&mut wire)
        .expect("a parsed response encodes");
    assert_eq!(response.serialized_len(), wire.len());
    assert_eq!(wire, data[..used], "re-encoding differs");
});
