//! `Http1Tunnel`: one `h2` tunnel carried over HTTP/1.1 (from nginx's `proxy_pass`, or
//! sing-box's client without TLS): the request body decoded on read, the response body raw on
//! write until the connection closes.

use crate::proto::http1::{Body, ChunkedDecoder, Http1Error};
use bytes::{Buf, Bytes};
use std::{
    io,
    pin::Pin,
    task::{Context, Poll, ready},
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use xypro_core::BoxIo;

/// The answer to a tunnel request: `200` at once, the body until the connection closes.
pub(crate) const OK: &[u8] =
    b"HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";

/// The answer to every other request, byte for byte the WebSocket server's.
pub(crate) const NOT_FOUND: &[u8] =
    b"HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";

/// How many bytes one read from the connection takes at most.
const READ_CHUNK: usize = 16 * 1024;

/// How the rest of the request body is read.
#[derive(Debug)]
enum Reader {
    Chunked(ChunkedDecoder),
    Length(u64),
    UntilClose,
}

/// The request body as the tunnel's upstream, the connection itself as its downstream.
#[derive(Debug)]
pub(crate) struct Http1Tunnel {
    io: BoxIo,
    reader: Reader,
    /// Body bytes read from the connection and not yet decoded.
    undecoded: Bytes,
    /// Payload decoded and not yet read.
    ready: Bytes,
    eof: bool,
    scratch: Vec<u8>,
}

impl Http1Tunnel {
    /// The tunnel on `io`, whose request body (delimited as `body`) starts with `after_head`.
    pub(crate) fn new(io: BoxIo, body: Body, after_head: Bytes) -> Self {
        let reader = match body {
            Body::Chunked => Reader::Chunked(ChunkedDecoder::default()),
            Body::Length(n) => Reader::Length(n),
            Body::UntilClose => Reader::UntilClose,
        };
        Http1Tunnel {
            io,
            reader,
            undecoded: after_head,
            ready: Bytes::new(),
            eof: false,
            scratch: Vec::new(),
        }
    }

    /// Moves the next payload out of `undecoded` into `ready`.
    fn decode(&mut self) -> Result<(), Http1Error> {
        match &mut self.reader {
            Reader::Chunked(decoder) => {
                match decoder.decode(&mut self.undecoded)? {
                    Some(data) => self.ready = data,
                    None if decoder.is_done() => self.eof = true,
                    None => {}
                }
                if decoder.is_done() {
                    self.undecoded.clear();
                }
            }
            Reader::Length(left) => {
                let n = usize::try_from(*left)
                    .unwrap_or(usize::MAX)
                    .min(self.undecoded.len());
                self.ready = self.undecoded.split_to(n);
                *left -= n as u64;
                if *left == 0 {
                    self.eof = true;
                    self.undecoded.clear();
                }
            }
            Reader::UntilClose => self.ready = std::mem::take(&mut self.undecoded),
        }
        Ok(())
    }
}

impl AsyncRead for Http1Tunnel {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.ready.is_empty() {
                let n = buf.remaining().min(this.ready.len());
                buf.put_slice(&this.ready[..n]);
                this.ready.advance(n);
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            if !this.undecoded.is_empty() {
                this.decode()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                continue;
            }
            this.scratch.resize(READ_CHUNK, 0);
            let mut read = ReadBuf::new(&mut this.scratch);
            ready!(Pin::new(&mut this.io).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                // The client (or the proxy in front) closed: the body ends here.
                this.eof = true;
                continue;
            }
            this.undecoded = Bytes::copy_from_slice(read.filled());
        }
    }
}

impl AsyncWrite for Http1Tunnel {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    async fn body_of(body: Body, after_head: &'static [u8], rest: &'static [u8]) -> Vec<u8> {
        let (mut client, server) = duplex(1024);
        let mut tunnel = Http1Tunnel::new(BoxIo::new(server), body, Bytes::from_static(after_head));
        client.write_all(rest).await.unwrap();
        drop(client);
        let mut out = Vec::new();
        tunnel.read_to_end(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn each_body_form_reads_to_its_end() {
        let chunked = body_of(
            Body::Chunked,
            b"3\r\nabc\r",
            b"\n2\r\nde\r\n0\r\n\r\nignored",
        )
        .await;
        assert_eq!(chunked, b"abcde");
        assert_eq!(body_of(Body::Length(4), b"ab", b"cdef").await, b"abcd");
        assert_eq!(body_of(Body::UntilClose, b"ab", b"cdef").await, b"abcdef");
    }
}
