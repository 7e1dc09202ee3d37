//! The `h2` transport's HTTP/1.1 form: `xypro_h2::proto::http1::parse_head` on the input, then
//! the chunked decoder on what follows the head, fed in pieces whose size comes from the first
//! byte.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use xypro_h2::proto::http1::{Body, ChunkedDecoder, MAX_HEAD, parse_head};

fuzz_target!(|data: &[u8]| {
    let Some((&shape, wire)) = data.split_first() else {
        return;
    };
    let head = match parse_head(wire) {
        Ok(Some(head)) => head,
        Ok(None) => {
            assert!(wire.len() < MAX_HEAD, "waiting only below the cap");
            return;
        }
        Err(_) => return,
    };
    assert!(head.len <= wire.len() && head.len <= MAX_HEAD);
    // A complete head parses the same with nothing after it.
    let alone = parse_head(&wire[..head.len]).unwrap().unwrap();
    assert_eq!((alone.len, alone.body), (head.len, head.body));
    if head.body != Body::Chunked {
        return;
    }
    let step = usize::from(shape & 0x1F) + 1;
    let mut decoder = ChunkedDecoder::default();
    let mut payload = 0;
    for piece in wire[head.len..].chunks(step) {
        let mut input = Bytes::copy_from_slice(piece);
        loop {
            match decoder.decode(&mut input) {
                Ok(Some(slice)) => {
                    assert!(!slice.is_empty());
                    payload += slice.len();
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    assert!(payload <= wire.len() - head.len, "payload comes out of the input");
});
