//! `UdpStream`: a connected UDP socket seen as a stream of `len(2) | data` frames.

use bytes::{Buf, BytesMut};
use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll, ready},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::UdpSocket,
};
use xypro_core::MAX_DATAGRAM;

/// How many framed bytes a writer may queue before `poll_write` waits for the socket.
const WRITE_QUEUE: usize = 2 * (MAX_DATAGRAM + 2);

/// A UDP socket connected to one destination, carrying framed datagrams both ways.
#[derive(Debug)]
pub struct UdpStream {
    socket: UdpSocket,
    /// Framed datagrams received but not yet read.
    inbound: BytesMut,
    /// Framed bytes written but not yet sent as datagrams.
    outbound: BytesMut,
}

impl UdpStream {
    /// Binds an ephemeral socket of the right family and connects it to `peer`.
    pub async fn connect(peer: SocketAddr) -> io::Result<Self> {
        let bind: SocketAddr = match peer {
            SocketAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
            SocketAddr::V6(_) => ([0u16; 8], 0).into(),
        };
        let socket = UdpSocket::bind(bind).await?;
        socket.connect(peer).await?;
        Ok(UdpStream {
            socket,
            inbound: BytesMut::new(),
            outbound: BytesMut::new(),
        })
    }

    /// Sends every complete frame queued in `outbound`.
    fn poll_send_frames(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.outbound.len() >= 2 {
            let len = u16::from_be_bytes([self.outbound[0], self.outbound[1]]) as usize;
            if self.outbound.len() < 2 + len {
                break;
            }
            match ready!(self.socket.poll_send(cx, &self.outbound[2..2 + len])) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
            self.outbound.advance(2 + len);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for UdpStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        while this.inbound.is_empty() {
            ready!(this.socket.poll_recv_ready(cx))?;
            let mut datagram = [0u8; MAX_DATAGRAM];
            match this.socket.try_recv(&mut datagram) {
                Ok(n) => {
                    this.inbound.extend_from_slice(&(n as u16).to_be_bytes());
                    this.inbound.extend_from_slice(&datagram[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                // An ICMP port unreachable for an earlier datagram: UDP goes on.
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        let n = buf.remaining().min(this.inbound.len());
        buf.put_slice(&this.inbound[..n]);
        this.inbound.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for UdpStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.outbound.len() >= WRITE_QUEUE {
            ready!(this.poll_send_frames(cx))?;
        }
        let n = buf
            .len()
            .min(WRITE_QUEUE - this.outbound.len().min(WRITE_QUEUE));
        this.outbound.extend_from_slice(&buf[..n]);
        if let Poll::Ready(Err(e)) = this.poll_send_frames(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_send_frames(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_send_frames(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use xypro_core::{DatagramReader, encode_datagram};

    #[tokio::test]
    async fn frames_become_datagrams_and_back() {
        let echo = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut stream = UdpStream::connect(echo.local_addr().unwrap())
            .await
            .unwrap();
        let mut wire = Vec::new();
        encode_datagram(&mut wire, b"first").unwrap();
        encode_datagram(&mut wire, b"second").unwrap();
        // Write the two frames in awkward pieces: a datagram leaves only once complete.
        stream.write_all(&wire[..3]).await.unwrap();
        stream.write_all(&wire[3..]).await.unwrap();
        stream.flush().await.unwrap();
        let mut buf = [0; 100];
        for expected in [&b"first"[..], b"second"] {
            let (n, from) = echo.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], expected);
            echo.send_to(&buf[..n], from).await.unwrap();
        }
        let mut reader = DatagramReader::new();
        assert_eq!(
            &reader.next(&mut stream).await.unwrap().unwrap()[..],
            b"first"
        );
        assert_eq!(
            &reader.next(&mut stream).await.unwrap().unwrap()[..],
            b"second"
        );
    }
}
