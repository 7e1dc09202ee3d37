//! gRPC gun framing: `xypro_h2::proto::gun::Decoder` fed the input in pieces whose sizes come
//! from its first byte, with a fuzzer-chosen cap on each payload slice.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use xypro_h2::proto::gun::{Decoder, write_header};

fuzz_target!(|data: &[u8]| {
    let Some((&shape, wire)) = data.split_first() else {
        return;
    };
    let step = usize::from(shape & 0x0F) + 1;
    let limit = usize::from(shape >> 4) * 512 + 1;
    let mut decoder = Decoder::new(1 << 16);
    let mut payload = Vec::new();
    let mut failed = false;
    'pieces: for piece in wire.chunks(step) {
        let mut input = Bytes::copy_from_slice(piece);
        loop {
            match decoder.decode(&mut input, limit) {
                Ok(Some(slice)) => {
                    assert!(!slice.is_empty() && slice.len() <= limit);
                    payload.extend_from_slice(&slice);
                }
                Ok(None) => break,
                Err(_) => {
                    failed = true;
                    break 'pieces;
                }
            }
        }
    }
    assert!(payload.len() <= wire.len(), "payload comes out of the input");
    if failed || decoder.finish().is_err() || payload.is_empty() {
        return;
    }
    // What decoded cleanly re-encodes as one message that decodes to the same bytes.
    let mut again = Vec::new();
    write_header(&mut again, payload.len());
    again.extend_from_slice(&payload);
    let mut decoder = Decoder::default();
    let mut input = Bytes::from(again);
    let mut out = Vec::new();
    while let Some(slice) = decoder.decode(&mut input, usize::MAX).unwrap() {
        out.extend_from_slice(&slice);
    }
    assert_eq!(out, payload);
    assert!(decoder.at_boundary());
});
