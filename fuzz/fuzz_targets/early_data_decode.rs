//! WebSocket early data: a `Sec-WebSocket-Protocol` value decoded as base64 (either alphabet).
#![no_main]

use libfuzzer_sys::fuzz_target;
use xypro_websocket::early_data::{decode, encode};

fuzz_target!(|value: &[u8]| {
    let Some(data) = decode(value) else {
        return;
    };
    assert!(!data.is_empty(), "empty early data is no early data");
    assert!(
        data.len() <= value.len() * 3 / 4,
        "decoded more than base64 can carry"
    );
    let again = encode(&data);
    assert!(
        again
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert!(again.len() <= value.len());
    assert_eq!(
        decode(again.as_bytes()),
        Some(data),
        "re-encoded early data"
    );
});
