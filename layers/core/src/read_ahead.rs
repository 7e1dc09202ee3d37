//! `ReadAhead`: reads a socket in large chunks for a reader that asks for little at a time.

use crate::pool;
use std::{
    io::{self},
    pin::Pin,
    task::{Context, Poll},
};
use tokio::io::{AsyncRead, ReadBuf};

/// Reads the inner stream 256 KiB at a time and serves smaller reads from that chunk, which is
/// borrowed from a pool only while it holds unread bytes; writes pass straight through.
///
/// rustls reads at most 4 KiB per call, so under TLS a 16 KiB record costs four `recv`
/// calls (and on loopback four ACK round trips); below it, this makes it a fraction of one.
#[derive(Debug)]
pub struct ReadAhead<S> {
    io: S,
    chunk: Option<Box<[u8]>>,
    pos: usize,
    end: usize,
}

impl<S> ReadAhead<S> {
    /// Wraps `io`.
    pub fn new(io: S) -> Self {
        ReadAhead {
            io,
            chunk: None,
            pos: 0,
            end: 0,
        }
    }

    /// The inner stream.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The inner stream, mutably; reading from it directly skips bytes already read ahead.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// Copies read-ahead bytes into `buf`, giving the chunk back once it is empty.
    fn drain_into(&mut self, buf: &mut ReadBuf<'_>) {
        let chunk = self
            .chunk
            .as_deref()
            .expect("read-ahead bytes imply a chunk");
        let n = buf.remaining().min(self.end - self.pos);
        buf.put_slice(&chunk[self.pos..self.pos + n]);
        self.pos += n;
        if self.pos == self.end {
            pool::give(self.chunk.take().expect("checked above"));
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadAhead<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.chunk.is_some() {
            this.drain_into(buf);
            return Poll::Ready(Ok(()));
        }
        if buf.remaining() >= pool::BUF_SIZE {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        }
        let mut chunk = pool::take();
        let mut read = ReadBuf::new(&mut chunk);
        let polled = Pin::new(&mut this.io).poll_read(cx, &mut read);
        let n = read.filled().len();
        if n == 0 {
            pool::give(chunk);
            return polled;
        }
        (this.chunk, this.pos, this.end) = (Some(chunk), 0, n);
        this.drain_into(buf);
        Poll::Ready(Ok(()))
    }
}

crate::forward_write!(ReadAhead<S>, io, S);

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    #[tokio::test]
    async fn small_reads_are_served_from_one_chunk_that_is_returned_when_empty() {
        let (a, mut b) = duplex(1 << 20);
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        b.write_all(&data).await.unwrap();
        drop(b);
        let mut ahead = ReadAhead::new(a);
        let mut small = [0u8; 4096];
        let n = ahead.read(&mut small).await.unwrap();
        assert_eq!(n, 4096);
        assert!(ahead.chunk.is_some(), "the rest of the chunk waits");
        let mut got = small.to_vec();
        ahead.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, data);
        assert!(ahead.chunk.is_none(), "an idle stream holds no chunk");
    }
}
