//! Mux.Cool / XUDP frames (VLESS command 3), one after another as they arrive on the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xypro_fuzz::check_incremental;
use xypro_vless::proto::xudp::{Frame, MAX_META};

/// Metadata length, metadata, data length and the longest payload.
const MAX: usize = 2 + MAX_META + 2 + u16::MAX as usize;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Some((frame, used)) = check_incremental(rest, MAX, Frame::parse) {
        let mut wire = Vec::new();
        frame
            .write_to_buf(&mut wire)
            .expect("a parsed frame encodes");
        assert_eq!(frame.serialized_len(), wire.len());
        assert_eq!(
            Frame::parse(&wire),
            Ok(Some((frame.clone(), wire.len()))),
            "re-encoded frame"
        );
        if let Some(payload) = frame.data {
            assert!(wire.ends_with(payload) && rest[..used].ends_with(payload));
        }
        rest = &rest[used..];
    }
});
