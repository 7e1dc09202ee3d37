//! gRPC "gun" framing: every message is `00 | u32 BE length | Hunk`, and a `Hunk` (or a
//! one-element `MultiHunk`, which is byte-identical) is the protobuf `0A <varint len> <data>`.
//!
//! The encoder writes one header per payload and never an empty message (gun-lite's reader
//! cannot skip one). The decoder is fed whatever DATA frames bring: a message may span frames
//! and a frame may hold several messages; payload bytes come out as slices of the input,
//! without buffering a whole message. A message with several `0A` fields (a longer
//! `MultiHunk`) yields their data in order.

use bytes::{Buf, BufMut, Bytes};

/// The largest message the decoder takes by default: grpc-go's default receive limit, so
/// anything a grpc-go peer would accept. Nothing is buffered per message, so this bounds no
/// memory; it refuses nonsense lengths.
pub const DEFAULT_MAX_MESSAGE: usize = 4 << 20;

/// The gRPC length-prefix: a compression flag and a big-endian length.
const PREFIX_LEN: usize = 5;

/// The protobuf key of field 1 (`data`), length-delimited.
const DATA_KEY: u8 = 0x0A;

/// A malformed gun stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GunError {
    /// The message is flagged compressed, which gun never negotiates.
    #[error("compressed gRPC message (flag {0:#04x})")]
    Compressed(u8),
    /// The message is longer than the limit.
    #[error("gRPC message of {len} bytes exceeds the {max}-byte limit")]
    TooLarge {
        /// The announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A protobuf field other than `data` (key `0A`).
    #[error("unexpected protobuf key {0:#04x} in a gun message")]
    UnexpectedField(u8),
    /// A `data` length that is not a valid varint or runs past its message.
    #[error("bad data length in a gun message")]
    BadLength,
    /// The stream ended inside a message.
    #[error("stream ended inside a gun message")]
    Truncated,
}

/// The length of the header [`write_header`] writes for a payload of `len` bytes.
pub fn header_len(len: usize) -> usize {
    PREFIX_LEN + 1 + varint_len(len as u64)
}

/// Appends the header of a message carrying `len` payload bytes; the payload follows it.
///
/// # Panics
///
/// On `len == 0` (an empty message breaks gun-lite) or a message over 4 GiB.
pub fn write_header(buf: &mut impl BufMut, len: usize) {
    assert!(len > 0, "gun messages are never empty");
    let message = 1 + varint_len(len as u64) + len;
    buf.put_u8(0);
    buf.put_u32(u32::try_from(message).expect("gun messages stay under 4 GiB"));
    buf.put_u8(DATA_KEY);
    let mut value = len as u64;
    while value >= 0x80 {
        buf.put_u8(value as u8 | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

fn varint_len(value: u64) -> usize {
    (64 - value.max(1).leading_zeros() as usize).div_ceil(7)
}

/// Where the decoder is inside the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting the 5-byte prefix; `have` bytes of it are in `prefix`.
    Prefix { have: usize },
    /// Expecting a field key, with `left` bytes of the message to go.
    Key { left: usize },
    /// Reading the data length varint.
    Length { left: usize, value: u64, shift: u32 },
    /// Passing `data` bytes of payload through.
    Data { left: usize, data: usize },
}

/// An incremental gun decoder.
#[derive(Debug, Clone)]
pub struct Decoder {
    state: State,
    prefix: [u8; PREFIX_LEN],
    max_message: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_MESSAGE)
    }
}

impl Decoder {
    /// A decoder that refuses messages longer than `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Decoder {
            state: State::Prefix { have: 0 },
            prefix: [0; PREFIX_LEN],
            max_message,
        }
    }

    /// Whether the decoder is between messages (the stream may end here).
    pub fn at_boundary(&self) -> bool {
        self.state == State::Prefix { have: 0 }
    }

    /// Consumes framing from the front of `input` up to the next payload bytes and returns
    /// them (a slice of `input`, at most `limit` bytes but at least one); `Ok(None)` once `input` is used up.
    pub fn decode(&mut self, input: &mut Bytes, limit: usize) -> Result<Option<Bytes>, GunError> {
        while !input.is_empty() {
            match self.state {
                State::Prefix { have } => {
                    let n = (PREFIX_LEN - have).min(input.len());
                    self.prefix[have..have + n].copy_from_slice(&input[..n]);
                    input.advance(n);
                    self.state = State::Prefix { have: have + n };
                    if have + n == PREFIX_LEN {
                        self.start_message()?;
                    }
                }
                State::Key { left } => {
                    let key = input.get_u8();
                    if key != DATA_KEY {
                        return Err(GunError::UnexpectedField(key));
                    }
                    if left == 1 {
                        return Err(GunError::BadLength);
                    }
                    self.state = State::Length {
                        left: left - 1,
                        value: 0,
                        shift: 0,
                    };
                }
                State::Length { left, value, shift } => {
                    let byte = input.get_u8();
                    let value = value | u64::from(byte & 0x7F) << shift;
                    let left = left - 1;
                    let more = byte & 0x80 != 0;
                    if more && (left == 0 || shift >= 28) {
                        return Err(GunError::BadLength);
                    }
                    self.state = if more {
                        State::Length {
                            left,
                            value,
                            shift: shift + 7,
                        }
                    } else if value > left as u64 {
                        return Err(GunError::BadLength);
                    } else {
                        Self::after_field(left, value as usize)
                    };
                }
                State::Data { left, data } => {
                    let n = data.min(input.len()).min(limit.max(1));
                    let payload = input.split_to(n);
                    self.state = Self::after_field(left - n, data - n);
                    return Ok(Some(payload));
                }
            }
        }
        Ok(None)
    }

    /// Errors unless the stream may end here.
    pub fn finish(&self) -> Result<(), GunError> {
        if self.at_boundary() {
            Ok(())
        } else {
            Err(GunError::Truncated)
        }
    }

    fn start_message(&mut self) -> Result<(), GunError> {
        let [flag, len @ ..] = self.prefix;
        if flag != 0 {
            return Err(GunError::Compressed(flag));
        }
        let len = u32::from_be_bytes(len) as usize;
        if len > self.max_message {
            return Err(GunError::TooLarge {
                len,
                max: self.max_message,
            });
        }
        self.state = Self::after_field(len, 0);
        Ok(())
    }

    /// The state once `data` bytes of payload are left in a field and `left` in its message.
    fn after_field(left: usize, data: usize) -> State {
        match (left, data) {
            (0, _) => State::Prefix { have: 0 },
            (left, 0) => State::Key { left },
            (left, data) => State::Data { left, data },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(payload: &[u8]) -> Vec<u8> {
        let mut buf = Vec::new();
        write_header(&mut buf, payload.len());
        assert_eq!(buf.len(), header_len(payload.len()));
        buf.extend_from_slice(payload);
        buf
    }

    /// Feeds `wire` to a fresh decoder in pieces of `step` bytes and returns the payload.
    fn decode_in_steps(wire: &[u8], step: usize) -> Result<Vec<u8>, GunError> {
        let mut decoder = Decoder::default();
        let mut out = Vec::new();
        for piece in wire.chunks(step.max(1)) {
            let mut input = Bytes::copy_from_slice(piece);
            while let Some(payload) = decoder.decode(&mut input, usize::MAX)? {
                out.extend_from_slice(&payload);
            }
        }
        decoder.finish()?;
        Ok(out)
    }

    #[test]
    fn worked_examples_byte_for_byte() {
        assert_eq!(encode(b"abc"), b"\x00\x00\x00\x00\x05\x0a\x03abc");
        let vless = encode(&[0; 26]);
        assert_eq!(&vless[..7], b"\x00\x00\x00\x00\x1c\x0a\x1a");
        let reply = encode(&[0; 187]);
        assert_eq!(&reply[..8], b"\x00\x00\x00\x00\xbe\x0a\xbb\x01");
        let big = encode(&[0; 16384]);
        assert_eq!(&big[..9], b"\x00\x00\x00\x40\x04\x0a\x80\x80\x01");
        assert_eq!(header_len(127), 7);
        assert_eq!(header_len(128), 8);
    }

    #[test]
    fn decodes_messages_split_anywhere_and_several_per_frame() {
        let mut wire = encode(b"abc");
        wire.extend(encode(&[7; 187]));
        wire.extend(encode(&[9; 16384]));
        let mut want = b"abc".to_vec();
        want.extend([7; 187]);
        want.extend([9; 16384]);
        for step in [1, 2, 5, 6, 7, 100, 4096, wire.len()] {
            assert_eq!(decode_in_steps(&wire, step).unwrap(), want, "step {step}");
        }
    }

    #[test]
    fn multi_element_and_empty_messages() {
        // A two-element MultiHunk: 0A 01 'x' 0A 02 'y' 'z'.
        let multi = b"\x00\x00\x00\x00\x07\x0a\x01x\x0a\x02yz";
        assert_eq!(decode_in_steps(multi, 1).unwrap(), b"xyz");
        // An empty message and an empty Hunk carry nothing.
        let empty = b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x0a\x00";
        assert_eq!(decode_in_steps(empty, 3).unwrap(), b"");
    }

    #[test]
    fn the_limit_bounds_each_slice() {
        let wire = encode(&[1; 100]);
        let mut decoder = Decoder::default();
        let mut input = Bytes::from(wire);
        let first = decoder.decode(&mut input, 30).unwrap().unwrap();
        assert_eq!(first.len(), 30);
        assert!(!decoder.at_boundary());
        let rest = decoder.decode(&mut input, usize::MAX).unwrap().unwrap();
        assert_eq!(rest.len(), 70);
        assert!(decoder.at_boundary());
    }

    #[test]
    fn refuses_malformed_streams() {
        let err = |wire: &[u8]| decode_in_steps(wire, 3).unwrap_err();
        assert_eq!(err(b"\x01\x00\x00\x00\x01\x0a"), GunError::Compressed(1));
        assert_eq!(
            err(b"\x00\x00\x50\x00\x01"),
            GunError::TooLarge {
                len: 0x0050_0001,
                max: DEFAULT_MAX_MESSAGE
            }
        );
        assert_eq!(
            err(b"\x00\x00\x00\x00\x02\x12\x00"),
            GunError::UnexpectedField(0x12)
        );
        assert_eq!(err(b"\x00\x00\x00\x00\x03\x0a\x05ab"), GunError::BadLength);
        assert_eq!(err(b"\x00\x00\x00\x00\x02\x0a\x80"), GunError::BadLength);
        assert_eq!(err(b"\x00\x00\x00\x00\x05\x0a\x03ab"), GunError::Truncated);
        assert_eq!(err(b"\x00\x00"), GunError::Truncated);
        assert_eq!(err(b"\x00\x00\x00\x00\x01\x0a\x00"), GunError::BadLength);
        let long_varint = b"\x00\x00\x00\x00\x08\x0a\xff\xff\xff\xff\xff\x01x";
        assert_eq!(err(long_varint), GunError::BadLength);
    }
}
