//! The `h2` transport's HTTP/1.1 form, as a reverse proxy (nginx `proxy_pass`) or sing-box's
//! client without TLS sends it: a request head, then a body that is chunked, of a given length,
//! or (sing-box) raw until the connection closes. No I/O here.

use bytes::{Buf, Bytes};
use http::{HeaderValue, Request, header, request::Parts};

/// Largest request head taken, request line and headers.
pub const MAX_HEAD: usize = 16 * 1024;

/// Most headers in a request head.
const MAX_HEADERS: usize = 64;

/// Longest chunk-size line extension or trailer line.
const MAX_LINE: usize = 1024;

/// An HTTP/1.1 request head or chunked body that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Http1Error {
    /// The head is not valid HTTP/1.1.
    #[error("malformed HTTP/1.1 request head")]
    Malformed(#[source] httparse::Error),
    /// The head is not a request this transport can carry (a bad URI or header value).
    #[error("unusable HTTP/1.1 request: {0}")]
    Unusable(&'static str),
    /// The head did not end within [`MAX_HEAD`] bytes.
    #[error("HTTP/1.1 request head larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    /// The chunked body is malformed.
    #[error("malformed chunked body")]
    Chunked,
}

/// How the request body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// `Content-Length`.
    Length(u64),
    /// Neither: the body runs until the client closes (sing-box's client).
    UntilClose,
}

/// A parsed request head: its parts (method, URI with the path, `Host`), how the body is
/// delimited, and the head's length.
#[derive(Debug)]
pub struct Head {
    /// Method, path and headers.
    pub parts: Parts,
    /// How the body ends.
    pub body: Body,
    /// Bytes of the head, the blank line included.
    pub len: usize,
}

/// Parses the request head at the start of `buf`; `Ok(None)` while it is incomplete.
pub fn parse_head(buf: &[u8]) -> Result<Option<Head>, Http1Error> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let len = match request.parse(buf).map_err(Http1Error::Malformed)? {
        httparse::Status::Complete(len) => len,
        httparse::Status::Partial if buf.len() >= MAX_HEAD => {
            return Err(Http1Error::HeadTooLarge);
        }
        httparse::Status::Partial => return Ok(None),
    };
    if len > MAX_HEAD {
        return Err(Http1Error::HeadTooLarge);
    }
    let mut builder = Request::builder()
        .method(request.method.unwrap_or_default())
        .uri(request.path.unwrap_or_default());
    let mut body = Body::UntilClose;
    for h in request.headers.iter() {
        let value =
            HeaderValue::from_bytes(h.value).map_err(|_| Http1Error::Unusable("a header value"))?;
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            body = match value.as_bytes().eq_ignore_ascii_case(b"chunked") {
                true => Body::Chunked,
                false => {
                    return Err(Http1Error::Unusable(
                        "a transfer-encoding other than chunked",
                    ));
                }
            };
        } else if h.name.eq_ignore_ascii_case("content-length") && body != Body::Chunked {
            let length = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok());
            body = Body::Length(length.ok_or(Http1Error::Unusable("content-length"))?);
        } else if h.name.eq_ignore_ascii_case("host") {
            builder = builder.header(header::HOST, value);
        }
    }
    let parts = builder
        .body(())
        .map_err(|_| Http1Error::Unusable("the method or path"))?
        .into_parts()
        .0;
    Ok(Some(Head { parts, body, len }))
}

/// Where the chunked decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hex chunk size.
    Size {
        value: u64,
        digits: u8,
    },
    /// Skipping a chunk extension up to its CR.
    Extension {
        value: u64,
        len: usize,
    },
    /// Expecting the LF ending the size line.
    SizeLf {
        value: u64,
    },
    /// Passing chunk data through.
    Data {
        left: u64,
    },
    /// Expecting the CR, then the LF, after a chunk's data.
    DataCr,
    DataLf,
    /// Skipping trailer lines; `len` bytes of the current one so far.
    Trailer {
        len: usize,
    },
    /// Expecting the LF ending a trailer line (or the final blank line when `len` is 0).
    TrailerLf {
        len: usize,
    },
    /// The last chunk and trailers are through.
    Done,
}

/// An incremental decoder of a chunked body: payload comes out as slices of the input.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder {
            state: State::Size {
                value: 0,
                digits: 0,
            },
        }
    }
}

impl ChunkedDecoder {
    /// Whether the body is complete (the zero-size chunk and the trailers were read).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes framing from the front of `input` up to the next payload bytes and returns
    /// them (a slice of `input`); `Ok(None)` once `input` is used up or the body is done.
    pub fn decode(&mut self, input: &mut Bytes) -> Result<Option<Bytes>, Http1Error> {
        while !input.is_empty() {
            if let State::Data { left } = self.state {
                let n = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
                let data = input.split_to(n);
                self.state = match left - n as u64 {
                    0 => State::DataCr,
                    left => State::Data { left },
                };
                return Ok(Some(data));
            }
            if self.state == State::Done {
                return Ok(None);
            }
            let byte = input.get_u8();
            self.state = self.step(byte).ok_or(Http1Error::Chunked)?;
        }
        Ok(None)
    }

    /// The state after one framing byte, or `None` when the byte is not allowed there.
    fn step(&self, byte: u8) -> Option<State> {
        Some(match (self.state, byte) {
            (State::Size { value, digits }, _) if byte.is_ascii_hexdigit() => {
                let digit = u64::from((byte as char).to_digit(16)?);
                match digits {
                    15.. => return None,
                    _ => State::Size {
                        value: value << 4 | digit,
                        digits: digits + 1,
                    },
                }
            }
            (State::Size { value, digits: 1.. }, b';') => State::Extension { value, len: 0 },
            (State::Size { value, digits: 1.. }, b'\r') => State::SizeLf { value },
            (State::Extension { value, .. }, b'\r') => State::SizeLf { value },
            (State::Extension { value, len }, _) if len < MAX_LINE => State::Extension {
                value,
                len: len + 1,
            },
            (State::SizeLf { value: 0 }, b'\n') => State::Trailer { len: 0 },
            (State::SizeLf { value }, b'\n') => State::Data { left: value },
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataLf, b'\n') => State::Size {
                value: 0,
                digits: 0,
            },
            (State::Trailer { len }, b'\r') => State::TrailerLf { len },
            (State::Trailer { len }, _) if len < MAX_LINE => State::Trailer { len: len + 1 },
            (State::TrailerLf { len: 0 }, b'\n') => State::Done,
            (State::TrailerLf { .. }, b'\n') => State::Trailer { len: 0 },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    /// Decodes `wire` fed in pieces of `step` bytes.
    fn decode_in_pieces(wire: &[u8], step: usize) -> Result<(Vec<u8>, bool), Http1Error> {
        let mut decoder = ChunkedDecoder::default();
        let mut out = Vec::new();
        for piece in wire.chunks(step) {
            let mut input = Bytes::copy_from_slice(piece);
            while let Some(data) = decoder.decode(&mut input)? {
                out.extend_from_slice(&data);
            }
        }
        Ok((out, decoder.is_done()))
    }

    #[test]
    fn chunks_decode_in_any_pieces() {
        let wire = b"5\r\nhello\r\n1A;name=x\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n\r\n";
        for step in [1, 2, 3, 7, wire.len()] {
            let (out, done) = decode_in_pieces(wire, step).unwrap();
            assert_eq!(out, b"helloabcdefghijklmnopqrstuvwxyz", "pieces of {step}");
            assert!(done);
        }
        let (out, done) = decode_in_pieces(b"3\r\nabc\r\n", 1).unwrap();
        assert_eq!((out.as_slice(), done), (&b"abc"[..], false));
    }

    #[test]
    fn bad_chunks_are_errors() {
        for wire in [
            &b"\r\n"[..],
            b"g\r\n",
            b"3\r\nabcX",
            b"3\nabc",
            b"11111111111111111\r\n",
        ] {
            assert_eq!(
                decode_in_pieces(wire, 1),
                Err(Http1Error::Chunked),
                "{wire:?}"
            );
        }
        let long = [b"1;".as_slice(), &[b'x'; 2000]].concat();
        assert_eq!(decode_in_pieces(&long, 64), Err(Http1Error::Chunked));
    }

    #[test]
    fn heads_say_how_the_body_ends() {
        let head = |wire: &[u8]| parse_head(wire).unwrap().unwrap();
        let nginx = head(
            b"PUT /h2 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\nbody",
        );
        assert_eq!(
            (nginx.body, nginx.len),
            (Body::Chunked, 81),
            "up to the blank line"
        );
        assert_eq!(nginx.parts.method, Method::PUT);
        assert_eq!(nginx.parts.uri.path(), "/h2");
        assert_eq!(nginx.parts.headers[header::HOST], "a.test");
        let sing_box = head(b"PUT /h2p HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        assert_eq!(sing_box.body, Body::UntilClose);
        let sized = head(b"POST /h2 HTTP/1.1\r\nContent-Length: 12\r\n\r\n");
        assert_eq!(sized.body, Body::Length(12));
        assert!(
            parse_head(b"PUT /h2 HTTP/1.1\r\nHost: a")
                .unwrap()
                .is_none()
        );
        assert!(parse_head(b"PUT /h2 HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n").is_err());
        assert!(parse_head(b"\x16\x03\x01\x00").is_err());
        let huge = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; MAX_HEAD]].concat();
        assert_eq!(parse_head(&huge).unwrap_err(), Http1Error::HeadTooLarge);
    }
}
