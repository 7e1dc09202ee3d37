//! The write half: each write becomes one binary frame. Small writes are queued in a buffer
//! borrowed only while it holds bytes; large unmasked writes go to the socket directly, the
//! header and the caller's bytes in one vectored write.

use crate::proto::frame::{MAX_CONTROL, MAX_HEAD, apply_mask, encode_head};
use std::{
    cell::RefCell,
    io::{self, IoSlice},
    pin::Pin,
    task::{Context, Poll, ready},
};
use tokio::io::AsyncWrite;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Control, Data, OpCode};

/// Queued frames are written to the socket once they reach this many bytes (and on flush).
pub const WRITE_BUFFER_SIZE: usize = 128 * 1024;

/// Largest message one write sends; longer writes are taken in part.
pub const MAX_WRITE_MESSAGE: usize = 64 * 1024;

/// Writes at least this long skip the queue when it is empty and the frame needs no mask.
const DIRECT_WRITE_MIN: usize = 16 * 1024;

/// Slices of a direct write: the header and up to three of the caller's buffers.
const DIRECT_SLICES: usize = 4;

/// Capacity of a queue buffer: the flush threshold, one more message, and control frames.
const QUEUE_CAPACITY: usize = WRITE_BUFFER_SIZE + MAX_WRITE_MESSAGE + 4 * (MAX_HEAD + MAX_CONTROL);

/// How many spare queue buffers each thread keeps.
const SPARE_PER_THREAD: usize = 8;

thread_local! {
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// Where the close frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// Not sent: data may still be written.
    Open,
    /// To be queued behind the data with this code.
    Queued(u16),
    /// Queued or written: nothing more may be sent.
    Sent,
}

/// The write state of one WebSocket byte stream.
#[derive(Debug)]
pub(crate) struct Outbound {
    queue: Vec<u8>,
    /// Bytes of `queue` already written.
    written: usize,
    /// Whether frames are masked (client side).
    masked: bool,
    /// The answer to the latest ping not yet queued (only the latest needs one).
    pong: Option<([u8; MAX_CONTROL], usize)>,
    close: Close,
}

impl Outbound {
    /// A writer masking its frames (client side) or not (server side).
    pub(crate) fn new(masked: bool) -> Self {
        Outbound {
            queue: Vec::new(),
            written: 0,
            masked,
            pong: None,
            close: Close::Open,
        }
    }

    /// Whether the close frame has been queued or sent.
    pub(crate) fn is_closing(&self) -> bool {
        self.close != Close::Open
    }

    /// Whether a pong or close frame waits to be queued.
    pub(crate) fn has_control(&self) -> bool {
        self.pong.is_some() || matches!(self.close, Close::Queued(_))
    }

    /// Answers a ping with `payload`, replacing an earlier unanswered one.
    pub(crate) fn queue_pong(&mut self, payload: &[u8]) {
        let mut copy = [0; MAX_CONTROL];
        copy[..payload.len()].copy_from_slice(payload);
        self.pong = Some((copy, payload.len()));
    }

    /// Sends a close frame with `code` after the queued data, unless one was sent already.
    pub(crate) fn queue_close(&mut self, code: u16) {
        if self.close == Close::Open {
            self.close = Close::Queued(code);
        }
    }

    /// Queues `payload` as one binary message.
    pub(crate) fn queue_message(&mut self, payload: &[u8]) {
        self.push(
            OpCode::Data(Data::Binary),
            &[IoSlice::new(payload)],
            payload.len(),
        );
    }

    /// Bytes queued and not yet written.
    pub(super) fn pending(&self) -> usize {
        self.queue.len() - self.written
    }

    /// Writes up to [`MAX_WRITE_MESSAGE`] bytes of `bufs` as one binary message.
    pub(crate) fn poll_write<S: AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.close != Close::Open {
            return Poll::Ready(Err(closed()));
        }
        let total = bufs
            .iter()
            .map(|b| b.len())
            .sum::<usize>()
            .min(MAX_WRITE_MESSAGE);
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        if self.pending() >= WRITE_BUFFER_SIZE {
            ready!(self.poll_drain(io, cx))?;
        }
        let direct = !self.masked
            && self.pending() == 0
            && self.pong.is_none()
            && total >= DIRECT_WRITE_MIN
            && bufs.len() < DIRECT_SLICES
            && io.is_write_vectored();
        if direct {
            return self.poll_write_direct(io, cx, bufs, total);
        }
        self.push(OpCode::Data(Data::Binary), bufs, total);
        Poll::Ready(Ok(total))
    }

    /// Writes the frame of `total` bytes of `bufs` straight to `io`, queueing what it left.
    fn poll_write_direct<S: AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
        total: usize,
    ) -> Poll<io::Result<usize>> {
        let mut head = [0; MAX_HEAD];
        let head_len = encode_head(&mut head, OpCode::Data(Data::Binary), total, None);
        let mut slices = [IoSlice::new(&[]); DIRECT_SLICES];
        slices[0] = IoSlice::new(&head[..head_len]);
        let mut room = total;
        for (slot, buf) in slices[1..].iter_mut().zip(bufs) {
            let take = buf.len().min(room);
            *slot = IoSlice::new(&buf[..take]);
            room -= take;
        }
        let n = ready!(Pin::new(&mut *io).poll_write_vectored(cx, &slices))?;
        if n == 0 {
            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
        }
        let mut skip = n;
        for slice in &slices {
            let len = slice.len();
            if skip < len {
                self.extend(&slice[skip..]);
            }
            skip = skip.saturating_sub(len);
        }
        Poll::Ready(Ok(total))
    }

    /// Writes the queue (and any pong or close frame) to `io`.
    pub(crate) fn poll_drain<S: AsyncWrite + Unpin>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pending() < WRITE_BUFFER_SIZE
            && let Some((payload, len)) = self.pong.take()
        {
            self.push(
                OpCode::Control(Control::Pong),
                &[IoSlice::new(&payload[..len])],
                len,
            );
        }
        if let Close::Queued(code) = self.close {
            let code = code.to_be_bytes();
            self.push(OpCode::Control(Control::Close), &[IoSlice::new(&code)], 2);
            self.close = Close::Sent;
        }
        while self.written < self.queue.len() {
            let n = ready!(Pin::new(&mut *io).poll_write(cx, &self.queue[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.release();
        Poll::Ready(Ok(()))
    }

    /// Appends one final frame of `total` bytes taken from `bufs`.
    fn push(&mut self, opcode: OpCode, bufs: &[IoSlice<'_>], total: usize) {
        let mask = self.masked.then(rand::random::<[u8; 4]>);
        let mut head = [0; MAX_HEAD];
        let head_len = encode_head(&mut head, opcode, total, mask);
        self.reserve(head_len + total);
        self.queue.extend_from_slice(&head[..head_len]);
        let start = self.queue.len();
        let mut room = total;
        for buf in bufs {
            let take = buf.len().min(room);
            self.queue.extend_from_slice(&buf[..take]);
            room -= take;
        }
        if let Some(mask) = mask {
            apply_mask(&mut self.queue[start..], mask, 0);
        }
    }

    /// Appends raw bytes (the unwritten rest of a direct write).
    fn extend(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        self.queue.extend_from_slice(bytes);
    }

    /// Makes room for `more` bytes, borrowing a buffer or moving the unwritten bytes forward.
    fn reserve(&mut self, more: usize) {
        if self.queue.capacity() == 0 {
            self.queue = SPARE
                .with(|spare| spare.borrow_mut().pop())
                .unwrap_or_else(|| Vec::with_capacity(QUEUE_CAPACITY));
        } else if self.queue.len() + more > self.queue.capacity() && self.written > 0 {
            self.queue.drain(..self.written);
            self.written = 0;
        }
    }

    /// Gives the emptied queue buffer back, so an idle stream holds none.
    fn release(&mut self) {
        let mut queue = std::mem::take(&mut self.queue);
        self.written = 0;
        if queue.capacity() == QUEUE_CAPACITY {
            queue.clear();
            SPARE.with(|spare| {
                let mut spare = spare.borrow_mut();
                if spare.len() < SPARE_PER_THREAD {
                    spare.push(queue);
                }
            });
        }
    }
}

/// The error for writes after the close frame.
fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "WebSocket closed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drained_queue_returns_its_buffer() {
        let mut out = Outbound::new(true);
        out.queue_message(b"hello");
        assert_eq!(out.pending(), 2 + 4 + 5);
        assert_eq!(out.queue.capacity(), QUEUE_CAPACITY);
        let mut sink = Vec::new();
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(matches!(
            out.poll_drain(&mut sink, &mut cx),
            Poll::Ready(Ok(()))
        ));
        assert_eq!(sink.len(), 11);
        assert_eq!(out.queue.capacity(), 0, "an idle stream holds no buffer");
        assert_eq!(sink[0], 0x82);
        assert_eq!(sink[1], 0x85, "client frames are masked");
    }

    #[test]
    fn only_the_latest_pong_waits_and_close_ends_writing() {
        let mut out = Outbound::new(false);
        out.queue_pong(b"one");
        out.queue_pong(b"two");
        out.queue_close(1002);
        out.queue_close(1000);
        let mut sink = Vec::new();
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        assert!(out.poll_drain(&mut sink, &mut cx).is_ready());
        assert_eq!(sink, [0x8a, 3, b't', b'w', b'o', 0x88, 2, 0x03, 0xea]);
        let write = out.poll_write(&mut sink, &mut cx, &[IoSlice::new(b"late")]);
        assert!(matches!(write, Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe));
    }
}
