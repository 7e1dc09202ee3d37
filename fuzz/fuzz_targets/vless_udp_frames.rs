//! UDP over a stream (VLESS command 2): `len(2, BE) | data` frames read by `DatagramReader`,
//! with the stream cut into reads of fuzzer-chosen sizes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::io;
use xypro_core::{DatagramReader, encode_datagram};
use xypro_fuzz::{ChunkedReader, run_ready};

fuzz_target!(|input: &[u8]| {
    // The first byte says how many read sizes follow; the rest is the stream.
    let Some((&count, rest)) = input.split_first() else {
        return;
    };
    let count = usize::from(count % 8).min(rest.len());
    let (sizes, stream) = rest.split_at(count);
    let sizes = sizes.iter().map(|&s| usize::from(s)).collect();
    let mut io = ChunkedReader::new(stream, sizes);
    let mut reader = DatagramReader::new();
    let mut reencoded = Vec::new();
    let end = loop {
        match run_ready(reader.next(&mut io)) {
            Ok(Some(datagram)) => encode_datagram(&mut reencoded, &datagram).expect("fits"),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    // Whatever the read sizes, the frames read are exactly a prefix of the stream, and the
    // stream ends cleanly only when nothing is left after the last frame.
    assert_eq!(
        reencoded,
        stream[..reencoded.len()],
        "frames differ from the stream"
    );
    match end {
        Ok(()) => assert_eq!(reencoded.len(), stream.len(), "clean end with bytes left"),
        Err(e) => {
            assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
            let left = &stream[reencoded.len()..];
            assert!(!left.is_empty(), "error with nothing left");
            let whole = left.len() >= 2
                && left.len() >= 2 + usize::from(u16::from_be_bytes([left[0], left[1]]));
            assert!(!whole, "a whole frame was left unread");
        }
    }
});
