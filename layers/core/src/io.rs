//! `BoxIo`: a type-erased byte stream that keeps vectored writes.

use std::{
    any::Any,
    fmt,
    io::{self, IoSlice},
    pin::Pin,
    task::{Context, Poll},
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Any stream a connector may return or an acceptor may take.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A boxed [`Io`] that forwards every method, vectored writes included.
pub struct BoxIo(Box<dyn Io>);

impl BoxIo {
    /// Boxes a stream; a stream that is already a `BoxIo` is returned as it is.
    pub fn new<T: Io>(io: T) -> Self {
        let mut slot = Some(io);
        if let Some(boxed) = (&mut slot as &mut dyn Any).downcast_mut::<Option<BoxIo>>() {
            return boxed.take().expect("slot was just filled");
        }
        BoxIo(Box::new(slot.expect("slot was just filled")))
    }
}

impl fmt::Debug for BoxIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BoxIo")
    }
}

impl AsyncRead for BoxIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for BoxIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    #[tokio::test]
    async fn forwards_reads_and_writes() {
        let (a, b) = duplex(64);
        let (mut a, mut b) = (BoxIo::new(a), BoxIo::new(BoxIo::new(b)));
        a.write_all(b"ping").await.unwrap();
        let mut buf = [0; 4];
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
    }

    #[test]
    fn does_not_box_twice() {
        let (a, _b) = duplex(64);
        let once = BoxIo::new(a);
        let inner: *const dyn Io = &*once.0;
        let twice = BoxIo::new(once);
        assert!(std::ptr::addr_eq(inner, &*twice.0 as *const dyn Io));
    }
}
