//! A write half that puts a header in front of the first payload, in one inner write.

use std::{
    io::{self, IoSlice},
    pin::Pin,
    task::{Context, Poll, ready},
};
use tokio::io::AsyncWrite;

/// Holds a header until the first write (or an explicit [`Prepend::queue_alone`]), then writes
/// header and payload as one buffer.
///
/// Once the combined buffer is built, the payload counts as written: the rest of the buffer is
/// written by later writes, flushes or shutdown, as a `BufWriter` would.
#[derive(Debug)]
pub(crate) struct Prepend {
    header: Option<Vec<u8>>,
    pending: Vec<u8>,
    pos: usize,
}

impl Prepend {
    /// Holds `header` for the first write.
    pub(crate) fn new(header: Vec<u8>) -> Self {
        Prepend {
            header: Some(header),
            pending: Vec::new(),
            pos: 0,
        }
    }

    /// Whether the header is still waiting for a payload.
    pub(crate) fn is_unsent(&self) -> bool {
        self.header.is_some()
    }

    /// Queues the header on its own; it goes out with the next drain.
    pub(crate) fn queue_alone(&mut self) {
        if let Some(header) = self.header.take() {
            self.pending = header;
            self.pos = 0;
        }
    }

    /// Writes whatever is queued.
    pub(crate) fn poll_drain<W: AsyncWrite + Unpin>(
        &mut self,
        w: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while self.pos < self.pending.len() {
            let n = ready!(Pin::new(&mut *w).poll_write(cx, &self.pending[self.pos..]))?;
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
    fn poll_first<W: AsyncWrite + Unpin>(
        &mut self,
        w: &mut W,
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
        if let Poll::Ready(Err(e)) = self.poll_drain(w, cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(taken))
    }

    /// Writes `buf`, merged with the header if this is the first payload.
    pub(crate) fn poll_write<W: AsyncWrite + Unpin>(
        &mut self,
        w: &mut W,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(w, cx, &[IoSlice::new(buf)], false)
    }

    /// Writes `bufs`, merged with the header if this is the first payload.
    pub(crate) fn poll_write_vectored<W: AsyncWrite + Unpin>(
        &mut self,
        w: &mut W,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
        vectored: bool,
    ) -> Poll<io::Result<usize>> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        if let Some(header) = self.header.take() {
            return self.poll_first(w, cx, header, bufs);
        }
        ready!(self.poll_drain(w, cx))?;
        match vectored {
            true => Pin::new(w).poll_write_vectored(cx, bufs),
            false => {
                let first = bufs
                    .iter()
                    .find(|b| !b.is_empty())
                    .map_or(&[][..], |b| &b[..]);
                Pin::new(w).poll_write(cx, first)
            }
        }
    }

    /// Writes what is queued, then flushes.
    pub(crate) fn poll_flush<W: AsyncWrite + Unpin>(
        &mut self,
        w: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(w, cx))?;
        Pin::new(w).poll_flush(cx)
    }

    /// Sends the header (alone, if nothing was written), then shuts the write side down.
    pub(crate) fn poll_shutdown<W: AsyncWrite + Unpin>(
        &mut self,
        w: &mut W,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        self.queue_alone();
        ready!(self.poll_drain(w, cx))?;
        Pin::new(w).poll_shutdown(cx)
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

    struct Stream {
        prepend: Prepend,
        inner: Recorder,
    }

    impl AsyncWrite for Stream {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let this = &mut *self;
            this.prepend.poll_write(&mut this.inner, cx, buf)
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let this = &mut *self;
            this.prepend
                .poll_write_vectored(&mut this.inner, cx, bufs, false)
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            let this = &mut *self;
            this.prepend.poll_flush(&mut this.inner, cx)
        }
        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            let this = &mut *self;
            this.prepend.poll_shutdown(&mut this.inner, cx)
        }
    }

    fn stream(limit: usize) -> Stream {
        Stream {
            prepend: Prepend::new(b"HD".to_vec()),
            inner: Recorder {
                limit,
                ..Recorder::default()
            },
        }
    }

    #[tokio::test]
    async fn header_rides_with_the_first_write_only() {
        let mut s = stream(usize::MAX);
        assert_eq!(s.write(b"pay").await.unwrap(), 3);
        s.write_all(b"more").await.unwrap();
        s.flush().await.unwrap();
        assert_eq!(s.inner.writes, [&b"HDpay"[..], b"more"]);
        assert!(!s.prepend.is_unsent());
    }

    #[tokio::test]
    async fn a_short_inner_write_finishes_before_the_next_payload() {
        let mut s = stream(3);
        assert_eq!(s.write(b"payload").await.unwrap(), 7);
        s.write_all(b"xy").await.unwrap();
        s.flush().await.unwrap();
        assert_eq!(s.inner.writes.concat(), b"HDpayloadxy");
        assert_eq!(s.inner.writes[0], b"HDp");
    }

    #[tokio::test]
    async fn vectored_first_write_is_one_buffer() {
        let mut s = stream(usize::MAX);
        let bufs = [IoSlice::new(b"ab"), IoSlice::new(b""), IoSlice::new(b"cd")];
        assert_eq!(s.write_vectored(&bufs).await.unwrap(), 4);
        assert_eq!(s.write_vectored(&bufs).await.unwrap(), 2);
        assert_eq!(s.inner.writes, [&b"HDabcd"[..], b"ab"]);
    }

    #[tokio::test]
    async fn shutdown_without_payload_sends_the_header_alone() {
        let mut s = stream(usize::MAX);
        assert_eq!(s.write(b"").await.unwrap(), 0);
        assert!(s.inner.writes.is_empty());
        s.shutdown().await.unwrap();
        assert_eq!(s.inner.writes, [b"HD"]);
        assert!(s.inner.shut);
    }
}
