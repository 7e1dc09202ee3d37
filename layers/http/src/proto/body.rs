//! Message bodies: how long each one is (RFC 9112 §6.3) and where a body in transit ends.
//!
//! The proxy forwards bodies byte for byte, chunked ones included; [`BodyProgress`] only finds
//! their end, so the next message on the connection starts in the right place.

use super::{Header, ProtoError, RequestHead, ResponseHead, Version, content_length, is_chunked};

/// Longest chunk extension accepted, per chunk.
const MAX_CHUNK_EXTENSION: usize = 4096;
/// Longest trailer section accepted.
const MAX_TRAILERS: usize = 16 * 1024;

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding, up to and including the last chunk and trailers.
    Chunked,
    /// Everything until the sender closes (responses only).
    UntilClose,
}

impl Framing {
    /// The body of a request. Ambiguous framing is refused rather than guessed, since the
    /// origin might guess differently (request smuggling): `Transfer-Encoding` whose last
    /// coding is not `chunked`, with a `Content-Length`, or in an HTTP/1.0 request.
    pub fn request(head: &RequestHead) -> Result<Framing, ProtoError> {
        match is_chunked(&head.headers) {
            Some(_) if head.version == Version::Http10 => Err(ProtoError::Framing(
                "Transfer-Encoding in an HTTP/1.0 request",
            )),
            Some(_) if head.header("content-length").is_some() => Err(ProtoError::Framing(
                "both Transfer-Encoding and Content-Length",
            )),
            Some(true) => Ok(Framing::Chunked),
            Some(false) => Err(ProtoError::Framing("request body not chunked last")),
            None => Ok(by_length(&head.headers)?.unwrap_or(Framing::Empty)),
        }
    }

    /// The body of a response to a request with `method`.
    pub fn response(head: &ResponseHead, method: &str) -> Result<Framing, ProtoError> {
        if method == "HEAD" || head.is_interim() || head.code == 204 || head.code == 304 {
            return Ok(Framing::Empty);
        }
        match is_chunked(&head.headers) {
            Some(true) => Ok(Framing::Chunked),
            Some(false) => Ok(Framing::UntilClose),
            None => Ok(by_length(&head.headers)?.unwrap_or(Framing::UntilClose)),
        }
    }
}

fn by_length(headers: &[Header]) -> Result<Option<Framing>, ProtoError> {
    Ok(content_length(headers)?.map(|n| match n {
        0 => Framing::Empty,
        n => Framing::Length(n),
    }))
}

/// Follows a body through the bytes that carry it, to find where it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyProgress {
    state: State,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Length(u64),
    Chunked(Chunk),
    UntilClose,
    Done,
}

/// Where a chunked body's reader stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading the hex size; `digits` so far.
    Size {
        size: u64,
        digits: u8,
    },
    /// Skipping a chunk extension (or whitespace before one).
    Extension {
        size: u64,
        len: usize,
    },
    /// After the size line's CR.
    SizeLf {
        size: u64,
    },
    /// Inside a chunk's data.
    Data {
        left: u64,
    },
    /// After a chunk's data: CR, then LF.
    DataCr,
    DataLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart {
        total: usize,
    },
    /// Inside a trailer line; `cr` once its CR was seen.
    Trailer {
        total: usize,
        cr: bool,
    },
    /// After the final empty line's CR.
    EndLf,
}

impl BodyProgress {
    /// Starts following a body framed as `framing`.
    pub fn new(framing: Framing) -> Self {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Chunked(Chunk::Size { size: 0, digits: 0 }),
            Framing::UntilClose => State::UntilClose,
        };
        BodyProgress { state }
    }

    /// Whether the whole body has gone by.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Whether the sender closing now ends the body well (a body delimited by the close).
    pub fn ends_at_close(&self) -> bool {
        matches!(self.state, State::UntilClose | State::Done)
    }

    /// Consumes the prefix of `input` that belongs to the body and returns its length; the
    /// rest (if the body ended) belongs to the next message.
    pub fn advance(&mut self, input: &[u8]) -> Result<usize, ProtoError> {
        match &mut self.state {
            State::Done => Ok(0),
            State::UntilClose => Ok(input.len()),
            State::Length(left) => {
                let n = (*left).min(input.len() as u64);
                *left -= n;
                if *left == 0 {
                    self.state = State::Done;
                }
                Ok(n as usize)
            }
            State::Chunked(chunk) => {
                let (used, done) = advance_chunked(chunk, input)?;
                if done {
                    self.state = State::Done;
                }
                Ok(used)
            }
        }
    }
}

/// Steps a chunked body's reader through `input`: (bytes consumed, whether the body ended).
fn advance_chunked(chunk: &mut Chunk, input: &[u8]) -> Result<(usize, bool), ProtoError> {
    let mut at = 0;
    while at < input.len() {
        if let Chunk::Data { left } = chunk {
            let n = (*left).min((input.len() - at) as u64);
            *left -= n;
            at += n as usize;
            if *left == 0 {
                *chunk = Chunk::DataCr;
            }
            continue;
        }
        let byte = input[at];
        at += 1;
        *chunk = match (*chunk, byte) {
            (Chunk::Size { size, digits }, b) if b.is_ascii_hexdigit() => {
                if digits == 16 {
                    return Err(ProtoError::Chunk("chunk size too large"));
                }
                let digit = (b as char).to_digit(16).expect("a hex digit") as u64;
                Chunk::Size {
                    size: size << 4 | digit,
                    digits: digits + 1,
                }
            }
            (Chunk::Size { digits: 0, .. }, _) => return Err(ProtoError::Chunk("no chunk size")),
            (Chunk::Size { size, .. }, b';' | b' ' | b'\t') => Chunk::Extension { size, len: 1 },
            (Chunk::Size { size, .. } | Chunk::Extension { size, .. }, b'\r') => {
                Chunk::SizeLf { size }
            }
            (Chunk::Size { .. }, _) => return Err(ProtoError::Chunk("bad chunk size")),
            (Chunk::Extension { .. }, b'\n') => return Err(ProtoError::Chunk("bare LF")),
            (Chunk::Extension { len, .. }, _) if len >= MAX_CHUNK_EXTENSION => {
                return Err(ProtoError::Chunk("chunk extension too long"));
            }
            (Chunk::Extension { size, len }, _) => Chunk::Extension { size, len: len + 1 },
            (Chunk::SizeLf { size: 0 }, b'\n') => Chunk::TrailerStart { total: 0 },
            (Chunk::SizeLf { size }, b'\n') => Chunk::Data { left: size },
            (Chunk::DataCr, b'\r') => Chunk::DataLf,
            (Chunk::DataLf, b'\n') => Chunk::Size { size: 0, digits: 0 },
            (Chunk::TrailerStart { .. }, b'\r') => Chunk::EndLf,
            (Chunk::EndLf, b'\n') => return Ok((at, true)),
            (Chunk::TrailerStart { total }, b) if b != b'\n' => Chunk::Trailer {
                total: total + 1,
                cr: false,
            },
            (Chunk::Trailer { total, .. }, _) if total >= MAX_TRAILERS => {
                return Err(ProtoError::Chunk("trailers too long"));
            }
            (Chunk::Trailer { total, cr: false }, b'\r') => Chunk::Trailer {
                total: total + 1,
                cr: true,
            },
            (Chunk::Trailer { total, cr: true }, b'\n') => Chunk::TrailerStart { total: total + 1 },
            (Chunk::Trailer { total, cr: false }, b) if b != b'\n' => Chunk::Trailer {
                total: total + 1,
                cr: false,
            },
            _ => return Err(ProtoError::Chunk("missing CRLF")),
        };
    }
    Ok((at, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes; returns the consumed length once done.
    fn feed(framing: Framing, input: &[u8], step: usize) -> Result<Option<usize>, ProtoError> {
        let mut progress = BodyProgress::new(framing);
        let mut at = 0;
        while at < input.len() && !progress.is_done() {
            let end = (at + step).min(input.len());
            at += progress.advance(&input[at..end])?;
        }
        Ok(progress.is_done().then_some(at))
    }

    #[test]
    fn finds_the_end_of_chunked_bodies_whatever_the_reads() {
        let body = b"5;name=value\r\nhello\r\n0a\r\n0123456789\r\n0\r\nX-Sum: 1\r\n\r\nGET /next";
        let end = body.len() - b"GET /next".len();
        for step in [1, 2, 3, 7, 100] {
            assert_eq!(
                feed(Framing::Chunked, body, step),
                Ok(Some(end)),
                "step {step}"
            );
        }
        assert_eq!(feed(Framing::Chunked, b"0\r\n\r\n", 1), Ok(Some(5)));
        assert_eq!(feed(Framing::Chunked, b"5\r\nhel", 2), Ok(None));
    }

    #[test]
    fn refuses_malformed_chunks() {
        for bad in [
            &b"\r\n"[..],
            b"g\r\n",
            b"5\nhello\r\n",
            b"5\r\nhelloX\r\n",
            b"1;ext\n",
            b"11111111111111111\r\n",
            b"0\r\nX: 1\n\r\n",
            b"0\r\n\n",
        ] {
            assert!(feed(Framing::Chunked, bad, 1).is_err(), "{bad:?}");
        }
        let mut long = b"1;".to_vec();
        long.resize(MAX_CHUNK_EXTENSION + 10, b'x');
        assert!(feed(Framing::Chunked, &long, 64).is_err());
    }

    #[test]
    fn lengths_and_close_delimited_bodies() {
        assert_eq!(feed(Framing::Length(3), b"abcdef", 2), Ok(Some(3)));
        assert_eq!(feed(Framing::Empty, b"abc", 1), Ok(Some(0)));
        let mut close = BodyProgress::new(Framing::UntilClose);
        assert_eq!(close.advance(b"anything"), Ok(8));
        assert!(!close.is_done() && close.ends_at_close());
        assert!(!BodyProgress::new(Framing::Length(1)).ends_at_close());
    }

    fn request(version: Version, fields: &[(&str, &str)]) -> RequestHead {
        RequestHead {
            method: "POST".into(),
            target: "http://a/".into(),
            version,
            headers: fields.iter().map(|(n, v)| Header::new(*n, *v)).collect(),
        }
    }

    #[test]
    fn request_framing_refuses_what_could_be_smuggled() {
        let v11 = Version::Http11;
        assert_eq!(Framing::request(&request(v11, &[])), Ok(Framing::Empty));
        assert_eq!(
            Framing::request(&request(v11, &[("Content-Length", "7")])),
            Ok(Framing::Length(7))
        );
        assert_eq!(
            Framing::request(&request(v11, &[("Transfer-Encoding", "chunked")])),
            Ok(Framing::Chunked)
        );
        for fields in [
            &[("Transfer-Encoding", "chunked"), ("Content-Length", "7")][..],
            &[("Transfer-Encoding", "gzip")],
            &[("Content-Length", "7"), ("Content-Length", "8")],
        ] {
            assert!(
                Framing::request(&request(v11, fields)).is_err(),
                "{fields:?}"
            );
        }
        let old = request(Version::Http10, &[("Transfer-Encoding", "chunked")]);
        assert!(Framing::request(&old).is_err());
    }

    #[test]
    fn response_framing_by_method_status_and_fields() {
        let response = |code, fields: &[(&str, &str)]| ResponseHead {
            version: Version::Http11,
            code,
            reason: Vec::new(),
            headers: fields.iter().map(|(n, v)| Header::new(*n, *v)).collect(),
        };
        let sized = response(200, &[("Content-Length", "9")]);
        assert_eq!(Framing::response(&sized, "GET"), Ok(Framing::Length(9)));
        assert_eq!(Framing::response(&sized, "HEAD"), Ok(Framing::Empty));
        for code in [100, 204, 304] {
            assert_eq!(
                Framing::response(&response(code, &[]), "GET"),
                Ok(Framing::Empty)
            );
        }
        assert_eq!(
            Framing::response(&response(200, &[]), "GET"),
            Ok(Framing::UntilClose)
        );
        let both = response(
            200,
            &[("Transfer-Encoding", "chunked"), ("Content-Length", "9")],
        );
        assert_eq!(Framing::response(&both, "GET"), Ok(Framing::Chunked));
        let gzip = response(200, &[("Transfer-Encoding", "gzip")]);
        assert_eq!(Framing::response(&gzip, "GET"), Ok(Framing::UntilClose));
    }
}
