//! WebSocket frame pieces the byte stream needs: header checks, header encoding, masking and
//! close codes. Headers are parsed and formatted by tungstenite's `FrameHeader`.

use std::io::{self, Cursor};
use tokio_tungstenite::tungstenite::protocol::frame::{
    FrameHeader,
    coding::{Control, Data, OpCode},
};

/// Longest frame header: 2 bytes, an 8-byte length and a 4-byte mask.
pub(crate) const MAX_HEAD: usize = 14;

/// Largest control-frame payload (RFC 6455, 5.5).
pub(crate) const MAX_CONTROL: usize = 125;

/// Close code for a normal close.
pub(crate) const CLOSE_NORMAL: u16 = 1000;

/// Close code for a protocol violation.
pub(crate) const CLOSE_PROTOCOL: u16 = 1002;

/// Close code for a frame larger than this side accepts.
pub(crate) const CLOSE_TOO_BIG: u16 = 1009;

/// Header bytes in total of a frame whose second byte is `second`.
pub(crate) fn head_len(second: u8) -> usize {
    let length = match second & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    2 + length + if second & 0x80 != 0 { 4 } else { 0 }
}

/// Parses a complete header (exactly [`head_len`] bytes) into the header and payload length.
pub(crate) fn parse_head(bytes: &[u8]) -> Result<(FrameHeader, u64), Violation> {
    match FrameHeader::parse(&mut Cursor::new(bytes)) {
        Ok(Some(parsed)) => Ok(parsed),
        Ok(None) => Err(Violation::protocol("truncated frame header")),
        Err(_) => Err(Violation::protocol("reserved opcode")),
    }
}

/// Writes a final frame's header for `len` payload bytes into `out`; returns its length.
pub(crate) fn encode_head(
    out: &mut [u8; MAX_HEAD],
    opcode: OpCode,
    len: usize,
    mask: Option<[u8; 4]>,
) -> usize {
    let head = FrameHeader {
        opcode,
        mask,
        ..FrameHeader::default()
    };
    let mut cursor = Cursor::new(&mut out[..]);
    head.format(len as u64, &mut cursor)
        .expect("a frame header fits in MAX_HEAD bytes");
    cursor.position() as usize
}

/// XORs `buf` with `mask`, where `buf` starts `offset` bytes into the masked payload.
pub(crate) fn apply_mask(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    let mut rotated = [0u8; 8];
    for (i, byte) in rotated.iter_mut().enumerate() {
        *byte = mask[(offset + i) % 4];
    }
    let word = u64::from_ne_bytes(rotated);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let masked = u64::from_ne_bytes((&*chunk).try_into().expect("8-byte chunk")) ^ word;
        chunk.copy_from_slice(&masked.to_ne_bytes());
    }
    for (byte, key) in chunks.into_remainder().iter_mut().zip(rotated) {
        *byte ^= key;
    }
}

/// What a received frame is, once its header passed the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A data frame (binary, text or continuation): its payload is stream bytes.
    Data,
    /// A ping, to be answered with a pong carrying its payload.
    Ping,
    /// A pong, ignored.
    Pong,
    /// A close frame.
    Close,
}

/// A frame the peer should not have sent: the close code to answer with and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
}

impl Violation {
    fn protocol(reason: &'static str) -> Self {
        Violation {
            code: CLOSE_PROTOCOL,
            reason,
        }
    }

    /// The error a read reports for this violation.
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("WebSocket protocol error: {}", self.reason),
        )
    }
}

/// Checks a received header against RFC 6455 and this side's limits, tracking whether a
/// fragmented message is open.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeaderCheck {
    /// Whether received frames must be masked (server side) or unmasked (client side).
    pub(crate) expect_masked: bool,
    /// Largest accepted payload of one frame.
    pub(crate) max_frame: u64,
    /// A data frame without FIN has been received and its message is not finished.
    pub(crate) in_message: bool,
}

impl HeaderCheck {
    /// Classifies `head` with payload length `len`, or names the rule it breaks.
    pub(crate) fn check(&mut self, head: &FrameHeader, len: u64) -> Result<Kind, Violation> {
        if head.rsv1 || head.rsv2 || head.rsv3 {
            return Err(Violation::protocol("reserved bits set"));
        }
        if head.mask.is_some() != self.expect_masked {
            return Err(Violation::protocol(if self.expect_masked {
                "unmasked frame from a client"
            } else {
                "masked frame from a server"
            }));
        }
        let kind = match head.opcode {
            OpCode::Control(control) => {
                if !head.is_final || len > MAX_CONTROL as u64 {
                    return Err(Violation::protocol("fragmented or oversized control frame"));
                }
                match control {
                    Control::Ping => Kind::Ping,
                    Control::Pong => Kind::Pong,
                    Control::Close => Kind::Close,
                    Control::Reserved(_) => return Err(Violation::protocol("reserved opcode")),
                }
            }
            OpCode::Data(Data::Continue) if !self.in_message => {
                return Err(Violation::protocol("continuation without a message"));
            }
            OpCode::Data(Data::Binary | Data::Text) if self.in_message => {
                return Err(Violation::protocol("new message inside a fragmented one"));
            }
            OpCode::Data(Data::Reserved(_)) => return Err(Violation::protocol("reserved opcode")),
            OpCode::Data(_) => {
                self.in_message = !head.is_final;
                Kind::Data
            }
        };
        if len > self.max_frame {
            return Err(Violation {
                code: CLOSE_TOO_BIG,
                reason: "frame larger than the limit",
            });
        }
        Ok(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> (FrameHeader, u64) {
        assert_eq!(head_len(bytes[1]), bytes.len());
        parse_head(bytes).unwrap()
    }

    #[test]
    fn header_lengths_follow_the_length_and_mask_bits() {
        let mut head = [0; MAX_HEAD];
        for (len, mask, expected) in [
            (0, None, 2),
            (125, None, 2),
            (126, None, 4),
            (65535, None, 4),
            (65536, None, 10),
            (5, Some([1, 2, 3, 4]), 6),
            (70000, Some([1, 2, 3, 4]), 14),
        ] {
            let n = encode_head(&mut head, OpCode::Data(Data::Binary), len, mask);
            assert_eq!(n, expected, "length {len}");
            let (parsed, parsed_len) = parse(&head[..n]);
            assert_eq!(parsed_len, len as u64);
            assert_eq!(parsed.mask, mask);
            assert!(parsed.is_final);
        }
    }

    #[test]
    fn masking_at_any_offset_matches_the_bytewise_definition() {
        let mask = [0x11, 0x22, 0x33, 0x44];
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for offset in 0..9 {
            for split in [0, 1, 7, 8, 9, 500, 1000] {
                let mut masked = data.clone();
                apply_mask(&mut masked[..split], mask, offset);
                apply_mask(&mut masked[split..], mask, offset + split);
                let expected: Vec<u8> = data
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ mask[(offset + i) % 4])
                    .collect();
                assert_eq!(masked, expected, "offset {offset} split {split}");
            }
        }
    }

    fn checker(expect_masked: bool) -> HeaderCheck {
        HeaderCheck {
            expect_masked,
            max_frame: 1024,
            in_message: false,
        }
    }

    fn head(first: u8, masked: bool) -> FrameHeader {
        let mut bytes = vec![first, if masked { 0x80 } else { 0 }];
        if masked {
            bytes.extend_from_slice(&[0; 4]);
        }
        parse_head(&bytes).unwrap().0
    }

    #[test]
    fn headers_breaking_the_rules_are_violations() {
        let mut server = checker(true);
        assert_eq!(server.check(&head(0x82, true), 10), Ok(Kind::Data));
        assert_eq!(server.check(&head(0x89, true), 125), Ok(Kind::Ping));
        assert_eq!(server.check(&head(0x8a, true), 0), Ok(Kind::Pong));
        assert_eq!(server.check(&head(0x88, true), 2), Ok(Kind::Close));
        let code = |checker: &mut HeaderCheck, first, masked, len| {
            checker.check(&head(first, masked), len).unwrap_err().code
        };
        assert_eq!(
            code(&mut server, 0x82, false, 1),
            CLOSE_PROTOCOL,
            "unmasked"
        );
        assert_eq!(code(&mut checker(false), 0x82, true, 1), CLOSE_PROTOCOL);
        assert_eq!(code(&mut server, 0xc2, true, 1), CLOSE_PROTOCOL, "rsv1");
        assert_eq!(code(&mut server, 0x89, true, 126), CLOSE_PROTOCOL);
        assert_eq!(code(&mut server, 0x09, true, 1), CLOSE_PROTOCOL);
        assert_eq!(code(&mut server, 0x80, true, 1), CLOSE_PROTOCOL);
        assert_eq!(code(&mut server, 0x82, true, 1025), CLOSE_TOO_BIG);
        assert!(parse_head(&[0x83, 0]).is_err(), "reserved data opcode");
        assert!(parse_head(&[0x8b, 0]).is_err(), "reserved control opcode");
    }

    #[test]
    fn fragments_must_continue_an_open_message() {
        let mut server = checker(true);
        assert_eq!(server.check(&head(0x02, true), 1), Ok(Kind::Data));
        assert!(server.in_message);
        assert_eq!(server.check(&head(0x89, true), 1), Ok(Kind::Ping));
        assert_eq!(
            server.check(&head(0x82, true), 1).unwrap_err().code,
            CLOSE_PROTOCOL
        );
        assert_eq!(server.check(&head(0x00, true), 1), Ok(Kind::Data));
        assert_eq!(server.check(&head(0x80, true), 1), Ok(Kind::Data));
        assert!(!server.in_message);
    }
}
