//! The read half: frames are parsed as they arrive and data payloads are read straight into
//! the caller's buffer (unmasked in place), so nothing is buffered but a header's worth.

use super::write::Outbound;
use crate::proto::frame::{
    CLOSE_NORMAL, CLOSE_PROTOCOL, HeaderCheck, Kind, MAX_CONTROL, MAX_HEAD, Violation, apply_mask,
    head_len, parse_head,
};
use bytes::{Buf, Bytes};
use std::{
    io,
    pin::Pin,
    task::{Context, Poll, ready},
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;

/// The bytes of the connection in order: read-ahead of a header, then bytes read before this
/// stream took over, then the socket.
#[derive(Debug, Default)]
struct Source {
    ahead: [u8; MAX_HEAD],
    start: usize,
    end: usize,
    leftover: Bytes,
}

impl Source {
    /// Reads up to `dst.len()` bytes; 0 means the connection ended.
    fn poll_read<S: AsyncRead + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
        dst: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if self.start < self.end {
            let n = dst.len().min(self.end - self.start);
            dst[..n].copy_from_slice(&self.ahead[self.start..self.start + n]);
            self.start += n;
            return Poll::Ready(Ok(n));
        }
        poll_read_behind(&mut self.leftover, io, cx, dst)
    }

    /// Reads the next frame header; `None` when the connection ended cleanly before it.
    fn poll_head<S: AsyncRead + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<(FrameHeader, u64)>, Fault>> {
        loop {
            let have = &self.ahead[self.start..self.end];
            if have.len() >= 2 && have.len() >= head_len(have[1]) {
                let len = head_len(have[1]);
                let parsed = parse_head(&have[..len])?;
                self.start += len;
                return Poll::Ready(Ok(Some(parsed)));
            }
            self.ahead.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
            let room = &mut self.ahead[self.end..];
            let n = ready!(poll_read_behind(&mut self.leftover, io, cx, room))?;
            if n == 0 {
                if self.end == 0 {
                    return Poll::Ready(Ok(None));
                }
                return Poll::Ready(Err(Fault::Io(truncated())));
            }
            self.end += n;
        }
    }
}

/// Reads into `dst` from `leftover` while it lasts, then from `io`; 0 means the connection ended.
fn poll_read_behind<S: AsyncRead + Unpin>(
    leftover: &mut Bytes,
    io: &mut S,
    cx: &mut Context<'_>,
    dst: &mut [u8],
) -> Poll<io::Result<usize>> {
    if !leftover.is_empty() {
        let n = dst.len().min(leftover.len());
        dst[..n].copy_from_slice(&leftover[..n]);
        consume(leftover, n);
        return Poll::Ready(Ok(n));
    }
    let mut read = ReadBuf::new(dst);
    ready!(Pin::new(io).poll_read(cx, &mut read))?;
    Poll::Ready(Ok(read.filled().len()))
}

/// Drops the first `n` bytes, letting go of the buffer behind them once none are left (they
/// are usually a slice of a larger HTTP read buffer).
fn consume(bytes: &mut Bytes, n: usize) {
    bytes.advance(n);
    if bytes.is_empty() {
        *bytes = Bytes::new();
    }
}

/// Where the reader is within the frame sequence.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Between frames.
    Head,
    /// Inside a data frame's payload.
    Data {
        left: u64,
        mask: Option<[u8; 4]>,
        offset: usize,
    },
    /// Collecting a control frame's payload.
    Control {
        kind: Kind,
        mask: Option<[u8; 4]>,
        len: usize,
        got: usize,
    },
}

/// Why reading stopped: the socket failed, or the peer broke the protocol.
#[derive(Debug)]
enum Fault {
    Io(io::Error),
    Violation(Violation),
}

impl From<io::Error> for Fault {
    fn from(err: io::Error) -> Self {
        Fault::Io(err)
    }
}

impl From<Violation> for Fault {
    fn from(violation: Violation) -> Self {
        Fault::Violation(violation)
    }
}

fn truncated() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "WebSocket connection ended inside a frame",
    )
}

/// The read state of one WebSocket byte stream.
#[derive(Debug)]
pub(crate) struct Inbound {
    source: Source,
    /// Payload bytes given before any frame (decoded early data).
    prefix: Bytes,
    state: State,
    check: HeaderCheck,
    control: [u8; MAX_CONTROL],
    /// The peer closed (close frame, end of connection or violation): reads return EOF.
    pub(crate) closed: bool,
    /// An error to report on the next read, once the data before it has been returned.
    error: Option<io::Error>,
}

impl Inbound {
    /// A reader expecting masked frames (server side) or unmasked ones (client side).
    pub(crate) fn new(expect_masked: bool, max_frame: u64) -> Self {
        Inbound {
            source: Source::default(),
            prefix: Bytes::new(),
            state: State::Head,
            check: HeaderCheck {
                expect_masked,
                max_frame,
                in_message: false,
            },
            control: [0; MAX_CONTROL],
            closed: false,
            error: None,
        }
    }

    /// Sets the connection bytes already read past the HTTP head.
    pub(crate) fn set_leftover(&mut self, leftover: Bytes) {
        self.source.leftover = leftover;
        consume(&mut self.source.leftover, 0);
    }

    /// Sets payload bytes to return before any frame.
    pub(crate) fn set_prefix(&mut self, prefix: Bytes) {
        self.prefix = prefix;
        consume(&mut self.prefix, 0);
    }

    /// Fills `buf` with payload bytes from as many frames as are ready, answering control
    /// frames through `out`.
    pub(crate) fn poll_read<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
        out: &mut Outbound,
    ) -> Poll<io::Result<()>> {
        if let Some(err) = self.error.take() {
            return Poll::Ready(Err(err));
        }
        if !self.prefix.is_empty() {
            let n = buf.remaining().min(self.prefix.len());
            buf.put_slice(&self.prefix[..n]);
            consume(&mut self.prefix, n);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        loop {
            if self.closed || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            let step = match self.state {
                State::Data { left, .. } if left > 0 => self.poll_data(io, cx, buf),
                State::Control { .. } => self.poll_control(io, cx, out),
                State::Head | State::Data { .. } => self.poll_next_head(io, cx),
            };
            let progressed = buf.filled().len() > before;
            match step {
                Poll::Ready(Ok(())) => {}
                Poll::Pending if progressed => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(fault)) => {
                    self.closed = true;
                    let err = match fault {
                        Fault::Io(err) => err,
                        Fault::Violation(violation) => {
                            tracing::debug!(reason = violation.reason, "websocket: closing");
                            out.queue_close(violation.code);
                            violation.into_io()
                        }
                    };
                    if progressed {
                        self.error = Some(err);
                        return Poll::Ready(Ok(()));
                    }
                    return Poll::Ready(Err(err));
                }
            }
        }
    }

    /// Reads the next header and enters its frame.
    fn poll_next_head<S: AsyncRead + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Fault>> {
        let Some((head, len)) = ready!(self.source.poll_head(io, cx))? else {
            self.closed = true;
            return Poll::Ready(Ok(()));
        };
        let kind = self.check.check(&head, len)?;
        self.state = match kind {
            Kind::Data => State::Data {
                left: len,
                mask: head.mask,
                offset: 0,
            },
            _ => State::Control {
                kind,
                mask: head.mask,
                len: len as usize,
                got: 0,
            },
        };
        Poll::Ready(Ok(()))
    }

    /// Reads payload of the current data frame into `buf`.
    fn poll_data<S: AsyncRead + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<Result<(), Fault>> {
        let State::Data { left, mask, offset } = self.state else {
            return Poll::Ready(Ok(()));
        };
        let want = buf
            .remaining()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        let dst = buf.initialize_unfilled_to(want);
        let n = ready!(self.source.poll_read(io, cx, dst))?;
        if n == 0 {
            return Poll::Ready(Err(Fault::Io(truncated())));
        }
        if let Some(mask) = mask {
            apply_mask(&mut dst[..n], mask, offset);
        }
        buf.advance(n);
        self.state = State::Data {
            left: left - n as u64,
            mask,
            offset: offset + n,
        };
        Poll::Ready(Ok(()))
    }

    /// Collects the current control frame and acts on it once complete.
    fn poll_control<S: AsyncRead + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
        out: &mut Outbound,
    ) -> Poll<Result<(), Fault>> {
        let State::Control {
            kind,
            mask,
            len,
            mut got,
        } = self.state
        else {
            return Poll::Ready(Ok(()));
        };
        while got < len {
            let n = ready!(self.source.poll_read(io, cx, &mut self.control[got..len]))?;
            if n == 0 {
                return Poll::Ready(Err(Fault::Io(truncated())));
            }
            got += n;
            self.state = State::Control {
                kind,
                mask,
                len,
                got,
            };
        }
        let payload = &mut self.control[..len];
        if let Some(mask) = mask {
            apply_mask(payload, mask, 0);
        }
        match kind {
            Kind::Ping => out.queue_pong(payload),
            Kind::Close => {
                self.closed = true;
                out.queue_close(close_reply(payload)?);
            }
            Kind::Pong | Kind::Data => {}
        }
        self.state = State::Head;
        Poll::Ready(Ok(()))
    }
}

/// The code to answer a close frame with: its own code when valid (RFC 6455, 7.4).
fn close_reply(payload: &[u8]) -> Result<u16, Violation> {
    let code = match payload {
        [] => return Ok(CLOSE_NORMAL),
        [high, low, ..] => u16::from_be_bytes([*high, *low]),
        [_] => 0,
    };
    match code {
        1000..=1003 | 1007..=1014 | 3000..=4999 => Ok(code),
        _ => Err(Violation {
            code: CLOSE_PROTOCOL,
            reason: "invalid close code",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_frames_are_answered_with_their_code_or_refused() {
        assert_eq!(close_reply(&[]), Ok(1000));
        assert_eq!(close_reply(&[0x03, 0xe9, b'x']), Ok(1001));
        assert_eq!(close_reply(&[0x0f, 0xa0]), Ok(4000));
        for bad in [&[0x03][..], &[0x03, 0xed], &[0x03, 0xee], &[0, 0]] {
            assert_eq!(close_reply(bad).unwrap_err().code, CLOSE_PROTOCOL);
        }
    }
}
