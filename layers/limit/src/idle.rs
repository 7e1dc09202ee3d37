//! `IdleTimeout`: a stream that fails once no byte has moved either way for a while.

use crate::error::IdleTimedOut;
use std::{
    io::{self, IoSlice},
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::Instant,
};
use xypro_core::IdleDeadline;

/// A stream whose reads and writes fail with [`io::ErrorKind::TimedOut`] after `idle` without
/// a byte moving in either direction.
///
/// Activity only records an [`Instant`]; each direction waits on its own [`IdleDeadline`] (the
/// two halves may be polled from different tasks), whose timer moves forward only when it
/// fires early. With no idle limit the stream just forwards.
#[derive(Debug)]
pub struct IdleTimeout<S> {
    inner: S,
    idle: Option<Duration>,
    last: Instant,
    read_deadline: Option<IdleDeadline>,
    write_deadline: Option<IdleDeadline>,
}

impl<S> IdleTimeout<S> {
    /// Wraps `inner`; the first deadline is `idle` from now.
    pub fn new(inner: S, idle: Option<Duration>) -> Self {
        IdleTimeout {
            inner,
            idle,
            last: Instant::now(),
            read_deadline: idle.map(IdleDeadline::new),
            write_deadline: idle.map(IdleDeadline::new),
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the stream, dropping the deadline.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The idle limit, if any.
    pub fn idle(&self) -> Option<Duration> {
        self.idle
    }

    fn touch(&mut self) {
        if self.idle.is_some() {
            self.last = Instant::now();
        }
    }
}

/// Waits on `deadline` (if any) and turns its expiry into the stream's timeout error.
fn poll_expired(
    deadline: &mut Option<IdleDeadline>,
    cx: &mut Context<'_>,
    last: Instant,
) -> Poll<io::Error> {
    let Some(deadline) = deadline else {
        return Poll::Pending;
    };
    deadline.poll_expired(cx, last).map(|()| {
        io::Error::new(
            io::ErrorKind::TimedOut,
            IdleTimedOut {
                idle: deadline.limit(),
            },
        )
    })
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.touch();
                }
                Poll::Ready(result)
            }
            Poll::Pending => poll_expired(&mut this.read_deadline, cx, this.last).map(Err),
        }
    }
}

impl<S: AsyncWrite + Unpin> IdleTimeout<S> {
    /// Runs a write-side operation, recording progress or waiting on the write timer.
    fn poll_write_op<T>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnOnce(Pin<&mut S>, &mut Context<'_>) -> Poll<io::Result<T>>,
        moved: impl FnOnce(&T) -> bool,
    ) -> Poll<io::Result<T>> {
        match op(Pin::new(&mut self.inner), cx) {
            Poll::Ready(Ok(value)) => {
                if moved(&value) {
                    self.touch();
                }
                Poll::Ready(Ok(value))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => poll_expired(&mut self.write_deadline, cx, self.last).map(Err),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_op(cx, |s, cx| s.poll_write(cx, buf), |n| *n > 0)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_op(cx, |s, cx| s.poll_write_vectored(cx, bufs), |n| *n > 0)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_write_op(cx, |s, cx| s.poll_flush(cx), |_| false)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_write_op(cx, |s, cx| s.poll_shutdown(cx), |_| false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    const IDLE: Duration = Duration::from_secs(10);

    #[tokio::test(start_paused = true)]
    async fn an_active_stream_stays_open_past_the_idle_time() {
        let (ours, mut theirs) = duplex(64);
        let mut stream = IdleTimeout::new(ours, Some(IDLE));
        let start = Instant::now();
        let peer = tokio::spawn(async move {
            // A byte every 6 s for a minute: never 10 s of silence.
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_secs(6)).await;
                theirs.write_all(b"x").await.unwrap();
            }
            theirs
        });
        let mut got = 0;
        let mut buf = [0; 8];
        while got < 10 {
            got += stream.read(&mut buf).await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::from_secs(60));
        let _theirs = peer.await.unwrap();
        // Then silence: the stream closes 10 s after the last byte.
        let err = stream.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), Duration::from_secs(70));
        assert!(err.to_string().contains("10s"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn writes_count_as_activity_for_a_waiting_reader() {
        let (ours, mut theirs) = duplex(1 << 16);
        let stream = IdleTimeout::new(ours, Some(IDLE));
        let (mut reader, mut writer) = tokio::io::split(stream);
        let start = Instant::now();
        let writes = tokio::spawn(async move {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_secs(8)).await;
                writer.write_all(b"up").await.unwrap();
            }
            writer
        });
        // Nothing is ever read, yet uploads keep the stream alive until 10 s after the last one.
        let err = reader.read(&mut [0; 8]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), Duration::from_secs(50));
        let _writer = writes.await.unwrap();
        let mut buf = [0; 10];
        theirs.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"upupupupup");
    }

    #[tokio::test(start_paused = true)]
    async fn a_blocked_writer_times_out() {
        let (ours, _theirs) = duplex(4);
        let mut stream = IdleTimeout::new(ours, Some(IDLE));
        let start = Instant::now();
        let err = stream.write_all(b"more than four").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), IDLE);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_limit_it_only_forwards() {
        let (ours, _theirs) = duplex(4);
        let mut stream = IdleTimeout::new(ours, None);
        let read = tokio::time::timeout(Duration::from_secs(3600), stream.read(&mut [0; 4])).await;
        assert!(read.is_err(), "a silent stream without a limit stays open");
    }
}
