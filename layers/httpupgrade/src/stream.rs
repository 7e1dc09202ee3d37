//! `HttpUpgradeStream`: the client's byte stream, which may still owe the server's `101`.

use crate::{HttpUpgradeError, proto::response::parse_response};
use bytes::{Buf, Bytes};
use std::{
    fmt, io,
    pin::Pin,
    task::{Context, Poll, ready},
};
use tokio::io::{AsyncRead, ReadBuf};

/// How many bytes one read of the response head asks for.
const HEAD_READ: usize = 1024;

/// The client side of an HTTPUpgrade tunnel: raw bytes both ways after the `101`.
///
/// With `early` on, the stream is returned before the `101` arrives: writes go out at once and
/// the first read parses the `101` (a refusal or malformed answer is a read error). Bytes that
/// arrive after the head are read first.
pub struct HttpUpgradeStream<S> {
    io: S,
    /// The response head read so far, while the `101` is still owed.
    awaiting: Option<Vec<u8>>,
    /// Bytes read past the `101`, served before the stream's own.
    leftover: Bytes,
}

impl<S> fmt::Debug for HttpUpgradeStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpUpgradeStream")
            .field("awaiting_101", &self.awaiting.is_some())
            .field("leftover", &self.leftover.len())
            .finish()
    }
}

impl<S> HttpUpgradeStream<S> {
    /// A stream whose request was sent and whose `101` has not been read yet.
    pub(crate) fn awaiting(io: S) -> Self {
        HttpUpgradeStream {
            io,
            awaiting: Some(Vec::new()),
            leftover: Bytes::new(),
        }
    }

    /// The inner stream.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The inner stream, mutably; reading from it directly skips the `101` and leftover bytes.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }
}

impl<S: AsyncRead + Unpin> HttpUpgradeStream<S> {
    /// Reads until the `101` is parsed, keeping what follows it; ready at once when it was.
    pub(crate) fn poll_response(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), HttpUpgradeError>> {
        while let Some(head) = &mut self.awaiting {
            if let Some(len) = parse_response(head)? {
                self.leftover = Bytes::from(head.split_off(len));
                self.awaiting = None;
                break;
            }
            let mut chunk = [0; HEAD_READ];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut self.io).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                return Poll::Ready(Err(HttpUpgradeError::Eof));
            }
            head.extend_from_slice(read.filled());
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for HttpUpgradeStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_response(cx)).map_err(|e| match e {
            HttpUpgradeError::Io(e) => e,
            HttpUpgradeError::Eof => io::Error::new(io::ErrorKind::UnexpectedEof, e),
            e => io::Error::new(io::ErrorKind::ConnectionRefused, e),
        })?;
        if this.leftover.is_empty() {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        }
        let n = buf.remaining().min(this.leftover.len());
        buf.put_slice(&this.leftover[..n]);
        this.leftover.advance(n);
        Poll::Ready(Ok(()))
    }
}

xypro_core::forward_write!(HttpUpgradeStream<S>, io, S);

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_test::io::Builder;

    #[tokio::test]
    async fn reads_past_a_101_that_arrives_in_pieces() {
        let io = Builder::new()
            .write(b"sent before the 101")
            .read(b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n")
            .read(b"Upgrade: websocket\r\n\r\n\x00\x00he")
            .read(b"llo")
            .build();
        let mut stream = HttpUpgradeStream::awaiting(io);
        stream.write_all(b"sent before the 101").await.unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"\x00\x00hello");
    }

    #[tokio::test]
    async fn a_refusal_is_a_read_error_every_time() {
        let io = Builder::new()
            .read(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            .build();
        let mut stream = HttpUpgradeStream::awaiting(io);
        let mut buf = [0; 8];
        for _ in 0..2 {
            let err = stream.read(&mut buf).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
            assert!(err.to_string().contains("404"), "{err}");
        }
        let closed = Builder::new().read(b"HTTP/1.1 101 Swi").build();
        let err = HttpUpgradeStream::awaiting(closed)
            .read(&mut buf)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
