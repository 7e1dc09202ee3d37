//! `WsByteStream`: a WebSocket connection used as a plain byte stream, framed in place.

mod read;
mod write;

use crate::proto::frame::CLOSE_NORMAL;
use bytes::Bytes;
use read::Inbound;
use std::{
    io::{self, IoSlice},
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::{Sleep, sleep},
};
use write::Outbound;
pub use write::{MAX_WRITE_MESSAGE, WRITE_BUFFER_SIZE};

/// Largest frame accepted; a larger one closes the connection with code 1009. Frames are
/// streamed, not buffered, so this costs no memory: it refuses what no peer sends (Xray and
/// v2ray write 2-8 KiB frames, sing-box up to 32 KiB, this crate up to 64 KiB).
pub const MAX_FRAME_SIZE: usize = 1024 * 1024;

/// How long shutting down waits after the last data before sending the close frame, unless
/// the peer closes first. v2ray and Xray read a close frame as an error and drop data they
/// have received but not yet handed to the application, so the close must not arrive right
/// behind the data (v2ray itself waits 2 s after a finished download before closing).
pub const CLOSE_DELAY: Duration = Duration::from_secs(1);

/// Which end of the connection a stream is: clients mask their frames, servers do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The side that sent the upgrade request.
    Client,
    /// The side that answered it.
    Server,
}

/// Reads concatenate the payloads of data frames (binary, text and continuation); each write
/// is one binary message. Small writes are queued until flushed (or until
/// [`WRITE_BUFFER_SIZE`] bytes wait), so many of them leave in one socket write; the queue's
/// buffer is borrowed only while it holds bytes, so an idle stream holds a few hundred bytes.
///
/// Pings are answered. A close frame or the end of the connection reads as end of stream; a
/// protocol violation is answered with a close frame and read as an `InvalidData` error.
/// Shutting down flushes, then sends a close frame [`CLOSE_DELAY`] later (at once if the
/// peer has closed). WebSocket has no half-close: once either side has closed, writes fail
/// with `BrokenPipe` (peers like Xray close both ways).
#[derive(Debug)]
pub struct WsByteStream<S> {
    io: S,
    inbound: Inbound,
    outbound: Outbound,
    close_delay: Duration,
    close_timer: Option<Pin<Box<Sleep>>>,
}

impl<S> WsByteStream<S> {
    /// Wraps a connection whose upgrade handshake is done, as the given end.
    pub fn new(io: S, role: Role) -> Self {
        let client = role == Role::Client;
        WsByteStream {
            io,
            inbound: Inbound::new(!client, MAX_FRAME_SIZE as u64),
            outbound: Outbound::new(client),
            close_delay: CLOSE_DELAY,
            close_timer: None,
        }
    }

    /// Adds bytes already read from the connection after the HTTP head (the first frames).
    pub fn with_read_ahead(mut self, bytes: Bytes) -> Self {
        self.inbound.set_leftover(bytes);
        self
    }

    /// Adds payload bytes (such as decoded early data) that reads return before any frame.
    pub fn with_prefix(mut self, prefix: Bytes) -> Self {
        self.inbound.set_prefix(prefix);
        self
    }

    /// Sets how long shutdown waits after the last data before the close frame.
    pub fn set_close_delay(&mut self, delay: Duration) {
        self.close_delay = delay;
    }

    /// The connection.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The connection, mutably; bytes read or written around the framing corrupt the stream.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// The connection, dropping unread bytes and unsent frames.
    pub fn into_inner(self) -> S {
        self.io
    }

    /// Queues `payload` as one binary message, sent with the next flush.
    pub(crate) fn queue_message(&mut self, payload: &[u8]) {
        self.outbound.queue_message(payload);
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsByteStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let read = this
            .inbound
            .poll_read(&mut this.io, cx, buf, &mut this.outbound);
        // Best effort: answer pings and closes now rather than with the next write.
        if this.outbound.has_control() && this.outbound.poll_drain(&mut this.io, cx).is_ready() {
            let _ = Pin::new(&mut this.io).poll_flush(cx);
        }
        read
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsByteStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.as_mut().poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.inbound.closed {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "WebSocket closed by the peer",
            )));
        }
        this.outbound.poll_write(&mut this.io, cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.outbound.poll_drain(&mut this.io, cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.outbound.is_closing() {
            if !this.inbound.closed && !this.close_delay.is_zero() {
                ready!(this.outbound.poll_drain(&mut this.io, cx))?;
                ready!(Pin::new(&mut this.io).poll_flush(cx))?;
                let delay = this.close_delay;
                let timer = this
                    .close_timer
                    .get_or_insert_with(|| Box::pin(sleep(delay)));
                ready!(timer.as_mut().poll(cx));
            }
            this.outbound.queue_close(CLOSE_NORMAL);
        }
        ready!(this.outbound.poll_drain(&mut this.io, cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }
}

#[cfg(test)]
mod tests;
