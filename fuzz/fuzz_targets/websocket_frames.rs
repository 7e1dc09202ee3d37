//! WebSocket frames read by `WsByteStream` as either end, with the stream cut into reads of
//! fuzzer-chosen sizes and read through buffers of a fuzzer-chosen size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tokio::io::AsyncReadExt;
use xypro_fuzz::{ChunkedReader, run_ready};
use xypro_websocket::{Role, WsByteStream};

fuzz_target!(|input: &[u8]| {
    // First byte: the role (low bit) and how many read sizes follow; second: the buffer size.
    let [control, buffer, rest @ ..] = input else {
        return;
    };
    let role = if control & 1 == 0 { Role::Server } else { Role::Client };
    let count = usize::from((control >> 1) % 8).min(rest.len());
    let (sizes, stream) = rest.split_at(count);
    let sizes = sizes.iter().map(|&s| usize::from(s)).collect();
    let mut ws = WsByteStream::new(ChunkedReader::new(stream, sizes), role);
    let mut buf = vec![0u8; usize::from(*buffer).max(1)];
    let mut payload = 0usize;
    loop {
        match run_ready(ws.read(&mut buf)) {
            Ok(0) | Err(_) => break,
            Ok(n) => payload += n,
        }
    }
    // Payload bytes come out of the stream: each frame costs at least a 2-byte header.
    assert!(payload + 2 <= stream.len() || payload == 0, "more payload than input");
});
