//! Property tests: early data survives the `Sec-WebSocket-Protocol` header both ways.

use base64::Engine;
use proptest::prelude::*;
use xypro_websocket::early_data::{decode, encode};

proptest! {
    #[test]
    fn early_data_round_trips(data in prop::collection::vec(any::<u8>(), 1..4096)) {
        let value = encode(&data);
        // A header value of url-safe characters only, without padding.
        prop_assert!(value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        prop_assert_eq!(value.len(), (data.len() * 4).div_ceil(3));
        prop_assert_eq!(decode(value.as_bytes()), Some(bytes::Bytes::from(data.clone())));
    }

    #[test]
    fn the_standard_alphabet_decodes_too(data in prop::collection::vec(any::<u8>(), 1..1024)) {
        let padded = base64::engine::general_purpose::STANDARD.encode(&data);
        prop_assert_eq!(decode(padded.as_bytes()), Some(bytes::Bytes::from(data.clone())));
        let unpadded = padded.trim_end_matches('=');
        prop_assert_eq!(decode(unpadded.as_bytes()), Some(bytes::Bytes::from(data.clone())));
    }

    #[test]
    fn decoding_never_panics_and_never_returns_empty(value in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Some(data) = decode(&value) {
            prop_assert!(!data.is_empty() && data.len() <= value.len() * 3 / 4);
        }
    }
}
