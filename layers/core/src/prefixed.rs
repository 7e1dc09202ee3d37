//! `Prefixed`: a stream that yields bytes already read by a handshake before its own.

use bytes::{Buf, Bytes};
use std::{
    io::{self},
    pin::Pin,
    task::{Context, Poll},
};
use tokio::io::{AsyncRead, ReadBuf};

/// Replays `prefix` on read before reading from the inner stream; writes pass straight through.
#[derive(Debug)]
pub struct Prefixed<T> {
    prefix: Bytes,
    inner: T,
}

impl<T> Prefixed<T> {
    /// Wraps `inner`, replaying `prefix` first.
    pub fn new(prefix: impl Into<Bytes>, inner: T) -> Self {
        let prefix = prefix.into();
        Prefixed {
            // An empty view may still hold a handshake's whole buffer: let it go.
            prefix: if prefix.is_empty() {
                Bytes::new()
            } else {
                prefix
            },
            inner,
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }

    /// The unread prefix and the wrapped stream.
    pub fn into_parts(self) -> (Bytes, T) {
        (self.prefix, self.inner)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Prefixed<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.prefix.is_empty() {
            return Pin::new(&mut self.inner).poll_read(cx, buf);
        }
        let n = buf.remaining().min(self.prefix.len());
        buf.put_slice(&self.prefix[..n]);
        self.prefix.advance(n);
        if self.prefix.is_empty() {
            // Replayed: release the buffer rather than keep it for the stream's life.
            self.prefix = Bytes::new();
        }
        Poll::Ready(Ok(()))
    }
}

crate::forward_write!(Prefixed<T>, inner, T);

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn replays_prefix_then_inner() {
        let inner = tokio_test::io::Builder::new().read(b" world").build();
        let mut io = Prefixed::new(&b"hello"[..], inner);
        let mut out = String::new();
        io.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "hello world");
    }

    #[tokio::test]
    async fn a_replayed_or_empty_prefix_lets_its_buffer_go() {
        let buffer = Bytes::from(b"hello".to_vec());
        let mut io = Prefixed::new(buffer.clone(), &b""[..]);
        assert!(
            !buffer.is_unique(),
            "the prefix shares the buffer until it is read"
        );
        io.read_to_end(&mut Vec::new()).await.unwrap();
        assert!(buffer.is_unique(), "a replayed prefix holds no buffer");
        let mut empty = buffer.clone();
        empty.advance(5);
        let _io = Prefixed::new(empty, &b""[..]);
        assert!(buffer.is_unique(), "an empty prefix holds no buffer");
    }
}
