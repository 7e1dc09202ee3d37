//! The gun decoder never panics on arbitrary input, and payloads survive any split.

use bytes::Bytes;
use proptest::prelude::*;
use xypro_h2::proto::gun::{Decoder, write_header};

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(wire in proptest::collection::vec(any::<u8>(), 0..300), step in 1usize..20) {
        let mut decoder = Decoder::new(1024);
        for piece in wire.chunks(step) {
            let mut input = Bytes::copy_from_slice(piece);
            while let Ok(Some(payload)) = decoder.decode(&mut input, 7) {
                prop_assert!(!payload.is_empty() && payload.len() <= 7);
            }
        }
    }

    #[test]
    fn round_trips_under_any_split(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..400), 1..8),
        step in 1usize..50,
        limit in 1usize..1000,
    ) {
        let mut wire = Vec::new();
        for payload in &payloads {
            write_header(&mut wire, payload.len());
            wire.extend_from_slice(payload);
        }
        let mut decoder = Decoder::default();
        let mut out = Vec::new();
        for piece in wire.chunks(step) {
            let mut input = Bytes::copy_from_slice(piece);
            while let Some(payload) = decoder.decode(&mut input, limit).unwrap() {
                prop_assert!(payload.len() <= limit);
                out.extend_from_slice(&payload);
            }
        }
        prop_assert!(decoder.finish().is_ok());
        prop_assert_eq!(out, payloads.concat());
    }
}
