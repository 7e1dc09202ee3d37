//! `Lingering`: an accepted TCP stream that can be closed gracefully after its users are done
//! with it.
//!
//! Closing a socket while the peer's last bytes (a TLS `close_notify`, a WebSocket close reply)
//! are still unread makes the kernel answer with a reset, and a reset can make the peer drop
//! data it has received but not yet delivered. [`LingerHandle::linger`] sends a FIN and reads
//! until the peer's FIN (or a deadline) before the socket is closed.

use std::{
    io::{self, IoSlice},
    net::Shutdown,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};

/// A TCP stream shared with a [`LingerHandle`] that outlives it.
#[derive(Debug)]
pub(crate) struct Lingering {
    stream: Arc<TcpStream>,
}

/// Keeps the socket open after the [`Lingering`] stream is dropped, for a graceful close.
#[derive(Debug)]
pub(crate) struct LingerHandle {
    stream: Arc<TcpStream>,
}

impl Lingering {
    /// Wraps `stream`, returning the stream and the handle that closes it gracefully.
    pub(crate) fn new(stream: TcpStream) -> (Lingering, LingerHandle) {
        let stream = Arc::new(stream);
        (
            Lingering {
                stream: stream.clone(),
            },
            LingerHandle { stream },
        )
    }
}

impl LingerHandle {
    /// Sends a FIN if none was sent, then discards what the peer still sends until its FIN,
    /// at most `limit` long and at most 64 KiB.
    pub(crate) async fn linger(self, limit: Duration) {
        let _ = socket2::SockRef::from(&*self.stream).shutdown(Shutdown::Write);
        let drain = async {
            let mut left: usize = 64 * 1024;
            // On the heap and only while lingering: an array here would sit in every
            // connection's task state for the connection's whole life.
            let mut buf = vec![0u8; 4096];
            while left > 0 {
                if self.stream.readable().await.is_err() {
                    return;
                }
                match self.stream.try_read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => left = left.saturating_sub(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(_) => return,
                }
            }
        };
        let _ = tokio::time::timeout(limit, drain).await;
    }
}

impl AsyncRead for Lingering {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.stream.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match self.stream.try_read(unfilled) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for Lingering {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.stream.poll_write_ready(cx))?;
            match self.stream.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                result => return Poll::Ready(result),
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.stream.poll_write_ready(cx))?;
            match self.stream.try_write_vectored(bufs) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                result => return Poll::Ready(result),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(socket2::SockRef::from(&*self.stream).shutdown(Shutdown::Write))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn unread_bytes_do_not_turn_the_close_into_a_reset() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut peer = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        let (mut stream, handle) = Lingering::new(accepted);
        stream.write_all(&[7u8; 100_000]).await.unwrap();
        // The peer's goodbye arrives after we stopped reading.
        peer.write_all(b"close_notify").await.unwrap();
        drop(stream);
        let closing = tokio::spawn(handle.linger(Duration::from_secs(5)));
        let mut got = Vec::new();
        peer.read_to_end(&mut got)
            .await
            .expect("a FIN, not a reset");
        assert_eq!(got.len(), 100_000);
        drop(peer);
        closing.await.unwrap();
    }
}
