//! Bidirectional copy with half-close, an idle deadline, live byte counts, and buffers that are
//! borrowed only while data is in flight.

use crate::{IdleDeadline, Traffic, pool};
use std::{
    future::poll_fn,
    io,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::Instant,
};

/// Bytes moved by a finished relay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Bytes copied from the client to the remote.
    pub up: u64,
    /// Bytes copied from the remote to the client.
    pub down: u64,
}

/// Copies both ways until both sides have closed, an error occurs, or nothing moved for `idle`,
/// counting every chunk into `traffic` as it is read (`up` from the client, `down` to it).
///
/// An end of stream on one side is passed on as a write shutdown on the other, and copying
/// continues the other way. Each direction borrows a 256 KiB buffer only while it holds data.
pub async fn relay<A, B>(
    client: &mut A,
    remote: &mut B,
    idle: Option<Duration>,
    traffic: &Traffic,
) -> io::Result<RelayStats>
where
    A: AsyncRead + AsyncWrite + Unpin + ?Sized,
    B: AsyncRead + AsyncWrite + Unpin + ?Sized,
{
    let mut up = Direction::default();
    let mut down = Direction::default();
    let mut idle = idle.map(IdleDeadline::new);
    let mut last_activity = Instant::now();
    poll_fn(|cx| {
        let before = (up.moved, down.moved);
        let up_done = up.poll_copy(cx, &mut *client, &mut *remote)?.is_ready();
        let down_done = down.poll_copy(cx, &mut *remote, &mut *client)?.is_ready();
        if up.moved != before.0 {
            traffic.add_up(up.moved - before.0);
        }
        if down.moved != before.1 {
            traffic.add_down(down.moved - before.1);
        }
        if up_done && down_done {
            return Poll::Ready(Ok(RelayStats {
                up: up.moved,
                down: down.moved,
            }));
        }
        if let Some(deadline) = idle.as_mut() {
            if (up.moved, down.moved) != before {
                last_activity = Instant::now();
            }
            ready!(deadline.poll_expired(cx, last_activity));
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "relay idle timeout",
            )));
        }
        Poll::Pending
    })
    .await
}

/// One direction of the copy.
#[derive(Default)]
struct Direction {
    buf: Option<Box<[u8]>>,
    pos: usize,
    end: usize,
    moved: u64,
    unflushed: bool,
    eof: bool,
    done: bool,
}

impl Direction {
    fn poll_copy<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        reader: &mut R,
        writer: &mut W,
    ) -> Poll<io::Result<()>>
    where
        R: AsyncRead + Unpin + ?Sized,
        W: AsyncWrite + Unpin + ?Sized,
    {
        loop {
            if self.done {
                return Poll::Ready(Ok(()));
            }
            if self.pos == self.end && !self.eof {
                ready!(self.poll_fill(cx, reader, writer))?;
            }
            while self.pos < self.end {
                let buf = self.buf.as_deref().expect("data implies a buffer");
                let n = ready!(Pin::new(&mut *writer).poll_write(cx, &buf[self.pos..self.end]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                self.pos += n;
                self.unflushed = true;
            }
            if let Some(buf) = self.buf.take() {
                pool::give(buf);
            }
            if self.eof {
                ready!(Pin::new(&mut *writer).poll_flush(cx))?;
                ready!(Pin::new(&mut *writer).poll_shutdown(cx))?;
                self.done = true;
            }
        }
    }

    /// Reads the next chunk; when the reader would block, flushes what was written and waits.
    fn poll_fill<R, W>(
        &mut self,
        cx: &mut Context<'_>,
        reader: &mut R,
        writer: &mut W,
    ) -> Poll<io::Result<()>>
    where
        R: AsyncRead + Unpin + ?Sized,
        W: AsyncWrite + Unpin + ?Sized,
    {
        let mut buf = self.buf.take().unwrap_or_else(pool::take);
        let mut read_buf = ReadBuf::new(&mut buf);
        match Pin::new(&mut *reader).poll_read(cx, &mut read_buf) {
            Poll::Ready(Ok(())) => {
                let n = read_buf.filled().len();
                if n == 0 {
                    self.eof = true;
                    pool::give(buf);
                } else {
                    (self.pos, self.end) = (0, n);
                    self.moved += n as u64;
                    self.buf = Some(buf);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => {
                pool::give(buf);
                Poll::Ready(Err(e))
            }
            Poll::Pending => {
                pool::give(buf);
                if self.unflushed {
                    ready!(Pin::new(&mut *writer).poll_flush(cx))?;
                    self.unflushed = false;
                }
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    #[tokio::test]
    async fn copies_both_ways_and_passes_half_close() {
        let (mut client, mut client_end) = duplex(1024);
        let (mut remote, mut remote_end) = duplex(1024);
        let task = tokio::spawn(async move {
            relay(&mut client_end, &mut remote_end, None, &Traffic::default()).await
        });
        client.write_all(b"request").await.unwrap();
        client.shutdown().await.unwrap();
        let mut got = Vec::new();
        remote.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"request");
        remote.write_all(b"a longer response").await.unwrap();
        remote.shutdown().await.unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"a longer response");
        let stats = task.await.unwrap().unwrap();
        assert_eq!(stats, RelayStats { up: 7, down: 17 });
    }

    #[tokio::test]
    async fn moves_more_than_one_buffer_through_a_small_pipe() {
        let (mut client, mut client_end) = duplex(4096);
        let (mut remote, mut remote_end) = duplex(4096);
        let traffic = std::sync::Arc::new(Traffic::default());
        let counted = traffic.clone();
        let task =
            tokio::spawn(
                async move { relay(&mut client_end, &mut remote_end, None, &counted).await },
            );
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let sent = data.clone();
        let writer = tokio::spawn(async move {
            client.write_all(&sent).await.unwrap();
            client.shutdown().await.unwrap();
            client
        });
        let mut got = Vec::new();
        remote.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, data);
        assert_eq!(traffic.up(), 300_000, "counted while the relay still runs");
        drop(remote);
        drop(writer.await.unwrap());
        assert_eq!(task.await.unwrap().unwrap().up, 300_000);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_relay_times_out_but_active_one_does_not() {
        let (mut client, mut client_end) = duplex(64);
        let (_remote, mut remote_end) = duplex(64);
        let started = Instant::now();
        let task = tokio::spawn(async move {
            relay(
                &mut client_end,
                &mut remote_end,
                Some(Duration::from_secs(2)),
                &Traffic::default(),
            )
            .await
        });
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            client.write_all(b"x").await.unwrap();
        }
        let err = task.await.unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(6500), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(7000), "{elapsed:?}");
    }

    #[tokio::test]
    async fn closes_from_both_sides_end_the_relay() {
        let (client, mut client_end) = duplex(64);
        let (mut remote, mut remote_end) = duplex(64);
        let task = tokio::spawn(async move {
            relay(&mut client_end, &mut remote_end, None, &Traffic::default()).await
        });
        drop(client);
        let mut got = Vec::new();
        remote.read_to_end(&mut got).await.unwrap();
        assert!(
            got.is_empty(),
            "the client's close reaches the remote as end of stream"
        );
        assert!(
            !task.is_finished(),
            "the remote may still answer after a half-close"
        );
        drop(remote);
        let stats = tokio::time::timeout(Duration::from_secs(5), task).await;
        assert!(stats.expect("relay ends once both sides closed").is_ok());
    }
}
