//! A write half that puts a header in front of the first payload, in one inner write.

use std::{
    fmt,
    io::{self, IoSlice},
    pin::Pin,
    task::{Context, Poll, ready},
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A stream whose write side holds a header until the first write (or an explicit
/// [`Prepend::queue_alone`]), then writes header and payload as one buffer; reads pass through.
///
/// Once the combined buffer is built, the payload counts as written: the rest of the buffer is
/// written by later writes, flushes or shutdown, as a `BufWriter` would.
pub(crate) struct Prepend<W> {
    inner: W,
    header: Option<Vec<u8>>,
    pending: Vec<u8>,
    pos: usize,
}

impl<W> fmt::Debug for Prepend<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepend")
            .field("header_sent", &!self.is_unsent())
            .finish_non_exhaustive()
    }
}

impl<W> Prepend<W> {
    /// Holds `header` for the first write to `inner`.
    pub(crate) fn new(inner: W, header: Vec<u8>) -> Self {
        Prepend {
            inner,
            header: Some(header),
            pending: Vec::new(),
            pos: 0,
        }
    }

    /// The wrapped stream.
    pub(crate) fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The wrapped stream, mutably; writing to it directly skips the header.
    pub(crate) fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Whether the header is still waiting for a payload.
    pub(crate) fn is_unsent(&self) -> bool {
        self.header.is_some()
    }

    /// Queues the header on its own; it goes out with the next write, flush or shutdown.
    pub(crate) fn queue_alone(&mut self) {
        if let Some(header) = self.header.take() {
            self.pending = header;
            self.pos = 0;
        }
    }
}

impl<W: AsyncWrite + Unpin> Prepend<W> {
    /// Writes whatever is queued.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.pos < self.pending.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.pos..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pos += n;
        }
        if !self.pending.is_empty() {
            self.pending = Vec::new();
            self.pos = 0;
        }
        Poll::Ready(Ok(()))
    }

    /// Starts writing `header ++ payload` and reports the whole payload as taken.
    fn poll_first(
        &mut self,
        cx: &mut Context<'_>,
        mut combined: Vec<u8>,
        payload: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut taken = 0;
        for slice in payload {
            combined.extend_from_slice(slice);
            taken += slice.len();
        }
        self.pending = combined;
        self.pos = 0;
        if let Poll::Ready(Err(e)) = self.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(taken))
    }
}

impl<W: AsyncRead + Unpin> AsyncRead for Prepend<W> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Prepend<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    /// Writes `bufs`, merged with the header if this is the first payload.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        if let Some(header) = this.header.take() {
            return this.poll_first(cx, header, bufs);
        }
        ready!(this.poll_drain(cx))?;
        if this.inner.is_write_vectored() {
            return Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        }
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &b[..]);
        Pin::new(&mut this.inner).poll_write(cx, first)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    /// Writes what is queued, then flushes.
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    /// Sends the header (alone, if nothing was written), then shuts the write side down.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.queue_alone();
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// Records every inner write call; accepts at most `limit` bytes per call.
    #[derive(Default)]
    struct Recorder {
        writes: Vec<Vec<u8>>,
        limit: usize,
        shut: bool,
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.limit);
            self.writes.push(buf[..n].to_vec());
            Poll::Ready(Ok(n))
        }
        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.shut = true;
            Poll::Ready(Ok(()))
        }
    }

    fn stream(limit: usize) -> Prepend<Recorder> {
        let recorder = Recorder {
            limit,
            ..Recorder::default()
        };
        Prepend::new(recorder, b"HD".to_vec())
    }

    #[tokio::test]
    async fn header_rides_with_the_first_write_only() {
        let mut s = stream(usize::MAX);
        assert_eq!(s.write(b"pay").await.unwrap(), 3);
        s.write_all(b"more").await.unwrap();
        s.flush().await.unwrap();
        assert_eq!(s.get_ref().writes, [&b"HDpay"[..], b"more"]);
        assert!(!s.is_unsent());
    }

    #[tokio::test]
    async fn a_short_inner_write_finishes_before_the_next_payload() {
        let mut s = stream(3);
        assert_eq!(s.write(b"payload").await.unwrap(), 7);
        s.write_all(b"xy").await.unwrap();
        s.flush().await.unwrap();
        assert_eq!(s.get_ref().writes.concat(), b"HDpayloadxy");
        assert_eq!(s.get_ref().writes[0], b"HDp");
    }

    #[tokio::test]
    async fn vectored_first_write_is_one_buffer() {
        let mut s = stream(usize::MAX);
        let bufs = [IoSlice::new(b"ab"), IoSlice::new(b""), IoSlice::new(b"cd")];
        assert_eq!(s.write_vectored(&bufs).await.unwrap(), 4);
        assert_eq!(s.write_vectored(&bufs).await.unwrap(), 2);
        assert_eq!(s.get_ref().writes, [&b"HDabcd"[..], b"ab"]);
    }

    #[tokio::test]
    async fn shutdown_without_payload_sends_the_header_alone() {
        let mut s = stream(usize::MAX);
        assert_eq!(s.write(b"").await.unwrap(), 0);
        assert!(s.get_ref().writes.is_empty());
        s.shutdown().await.unwrap();
        assert_eq!(s.get_ref().writes, [b"HD"]);
        assert!(s.get_ref().shut);
    }
}
