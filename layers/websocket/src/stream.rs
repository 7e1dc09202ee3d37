//! `WsByteStream`: a WebSocket connection used as a plain byte stream.

use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Sink, Stream};
use std::{
    io::{self, IoSlice},
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::{Sleep, sleep},
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{Error as TError, Message, error::ProtocolError, protocol::WebSocketConfig},
};

/// Bytes tungstenite reads from the stream at a time. It allocates (and zero-fills) this
/// buffer eagerly for every connection, so it is kept small: with 4 KiB an idle tunnel costs
/// about 21 KB in the client and 20 KB in the server (16 KiB: 34 and 32 KB; tungstenite's
/// 128 KiB default would make 10k idle tunnels hold 1.25 GiB), and bulk throughput is the same
/// because TLS below still decrypts whole 16 KiB records.
pub const READ_BUFFER_SIZE: usize = 4 * 1024;

/// Queued outgoing frames are written to the socket once they exceed this (and on flush).
pub const WRITE_BUFFER_SIZE: usize = 128 * 1024;

/// Hard cap on queued outgoing bytes: the target above, plus two of the largest messages
/// this adapter writes, plus control frames.
pub const MAX_WRITE_BUFFER_SIZE: usize = 384 * 1024;

/// Largest incoming message or frame. Peers write one message per write of a relay buffer
/// (Xray and v2ray 2-8 KiB, sing-box up to 32 KiB, this crate up to 64 KiB), so 1 MiB leaves
/// 16x headroom while one hostile connection can pin at most ~1 MiB (tungstenite's 64 MiB
/// default would let a few hundred connections exhaust memory).
pub const MAX_MESSAGE_SIZE: usize = 1024 * 1024;

/// How long shutting down waits after the last data before sending the close frame, unless
/// the peer closes first. v2ray and Xray read a close frame as an error and drop data they
/// have received but not yet handed to the application, so the close must not arrive right
/// behind the data (v2ray itself waits 2 s after a finished download before closing).
pub const CLOSE_DELAY: Duration = Duration::from_secs(1);

/// Largest message one `poll_write` sends; longer writes are taken in part.
pub const MAX_WRITE_MESSAGE: usize = 64 * 1024;

/// The tungstenite limits every connection of this crate uses (see the constants above).
pub fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_SIZE)
        .write_buffer_size(WRITE_BUFFER_SIZE)
        .max_write_buffer_size(MAX_WRITE_BUFFER_SIZE)
        .max_message_size(Some(MAX_MESSAGE_SIZE))
        .max_frame_size(Some(MAX_MESSAGE_SIZE))
}

/// Reads concatenate message payloads (binary and text); each write is one binary message,
/// queued without a flush so many small writes leave in one socket write.
///
/// A close frame or the end of the connection reads as end of stream; shutting down flushes,
/// then sends a close frame [`CLOSE_DELAY`] later (at once if the peer has closed). Pings are answered by tungstenite. WebSocket has no half-close: once the peer
/// has sent its close frame, writes fail with `BrokenPipe` (peers like Xray close both ways).
#[derive(Debug)]
pub struct WsByteStream<S> {
    ws: WebSocketStream<S>,
    /// The unread rest of the current message (or of the early data given first).
    pending: Bytes,
    read_done: bool,
    close_delay: Duration,
    close_timer: Option<Pin<Box<Sleep>>>,
}

impl<S> WsByteStream<S> {
    /// Wraps an open WebSocket.
    pub fn new(ws: WebSocketStream<S>) -> Self {
        Self::with_prefix(ws, Bytes::new())
    }

    /// Wraps an open WebSocket that yields `prefix` (e.g. decoded early data) before its messages.
    pub fn with_prefix(ws: WebSocketStream<S>, prefix: Bytes) -> Self {
        WsByteStream {
            ws,
            pending: prefix,
            read_done: false,
            close_delay: CLOSE_DELAY,
            close_timer: None,
        }
    }

    /// Sets how long shutdown waits after the last data before the close frame.
    pub fn set_close_delay(&mut self, delay: Duration) {
        self.close_delay = delay;
    }

    /// The WebSocket.
    pub fn get_ref(&self) -> &WebSocketStream<S> {
        &self.ws
    }

    /// The WebSocket, mutably.
    pub fn get_mut(&mut self) -> &mut WebSocketStream<S> {
        &mut self.ws
    }

    /// The WebSocket, dropping any unread bytes.
    pub fn into_inner(self) -> WebSocketStream<S> {
        self.ws
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsByteStream<S> {
    fn send(&mut self, cx: &mut Context<'_>, payload: Bytes) -> Poll<io::Result<usize>> {
        ready!(Pin::new(&mut self.ws).poll_ready(cx)).map_err(io_error)?;
        let n = payload.len();
        Pin::new(&mut self.ws)
            .start_send(Message::Binary(payload))
            .map_err(io_error)?;
        Poll::Ready(Ok(n))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsByteStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        while this.pending.is_empty() {
            if this.read_done {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut this.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => this.pending = data,
                Some(Ok(Message::Text(text))) => this.pending = text.into(),
                Some(Ok(Message::Close(_))) => {
                    this.read_done = true;
                    // Best effort: send tungstenite's close reply now rather than on the next write.
                    let _ = Pin::new(&mut this.ws).poll_flush(cx);
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                Some(Err(TError::Protocol(ProtocolError::ResetWithoutClosingHandshake))) | None => {
                    this.read_done = true;
                }
                Some(Err(err)) => {
                    this.read_done = true;
                    return Poll::Ready(Err(io_error(err)));
                }
            }
        }
        let n = buf.remaining().min(this.pending.len());
        buf.put_slice(&this.pending[..n]);
        this.pending.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsByteStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let n = buf.len().min(MAX_WRITE_MESSAGE);
        self.send(cx, Bytes::copy_from_slice(&buf[..n]))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        let mut payload = BytesMut::with_capacity(total.min(MAX_WRITE_MESSAGE));
        for b in bufs {
            let room = MAX_WRITE_MESSAGE - payload.len();
            payload.extend_from_slice(&b[..b.len().min(room)]);
            if payload.len() == MAX_WRITE_MESSAGE {
                break;
            }
        }
        self.send(cx, payload.freeze())
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_flush(cx).map_err(io_error)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if !this.read_done && !this.close_delay.is_zero() {
            ready!(Pin::new(&mut this.ws).poll_flush(cx)).map_err(io_error)?;
            let delay = this.close_delay;
            let timer = this
                .close_timer
                .get_or_insert_with(|| Box::pin(sleep(delay)));
            ready!(timer.as_mut().poll(cx));
        }
        match ready!(Pin::new(&mut this.ws).poll_close(cx)) {
            Ok(()) | Err(TError::AlreadyClosed | TError::ConnectionClosed) => Poll::Ready(Ok(())),
            Err(err) => Poll::Ready(Err(io_error(err))),
        }
    }
}

/// Maps a tungstenite error to the `io::Error` a byte stream reports.
pub(crate) fn io_error(err: TError) -> io::Error {
    match err {
        TError::Io(err) => err,
        TError::ConnectionClosed | TError::AlreadyClosed => {
            io::Error::new(io::ErrorKind::BrokenPipe, "WebSocket closed")
        }
        TError::Protocol(ProtocolError::SendAfterClosing) => {
            io::Error::new(io::ErrorKind::BrokenPipe, "WebSocket closed")
        }
        other => io::Error::new(io::ErrorKind::InvalidData, other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::SinkExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};
    use tokio_tungstenite::tungstenite::protocol::Role;

    async fn pair() -> (
        WsByteStream<tokio::io::DuplexStream>,
        WebSocketStream<tokio::io::DuplexStream>,
    ) {
        let (a, b) = duplex(1 << 20);
        let client =
            WebSocketStream::from_raw_socket(a, Role::Client, Some(websocket_config())).await;
        let server =
            WebSocketStream::from_raw_socket(b, Role::Server, Some(websocket_config())).await;
        (
            WsByteStream::with_prefix(client, Bytes::from_static(b"early ")),
            server,
        )
    }

    #[tokio::test(start_paused = true)]
    async fn close_frame_follows_the_data_after_the_delay_unless_the_peer_closed() {
        use futures_util::StreamExt;
        let (mut bytes, mut server) = pair().await;
        bytes.write_all(b"last data").await.unwrap();
        let started = tokio::time::Instant::now();
        let shutdown = tokio::spawn(async move {
            bytes.shutdown().await.unwrap();
            bytes
        });
        let first = server.next().await.unwrap().unwrap();
        assert_eq!(
            first,
            Message::binary(&b"last data"[..]),
            "data leaves at once"
        );
        assert!(matches!(
            server.next().await.unwrap().unwrap(),
            Message::Close(_)
        ));
        assert_eq!(
            started.elapsed(),
            CLOSE_DELAY,
            "the close waits for the delay"
        );
        shutdown.await.unwrap();

        let (mut bytes, mut server) = pair().await;
        server.close(None).await.unwrap();
        let mut out = Vec::new();
        bytes.read_to_end(&mut out).await.unwrap();
        let started = tokio::time::Instant::now();
        bytes.shutdown().await.unwrap();
        assert!(
            started.elapsed() < CLOSE_DELAY,
            "no delay once the peer has closed"
        );
    }

    #[tokio::test]
    async fn reads_prefix_then_concatenated_messages_until_close() {
        let (mut bytes, mut server) = pair().await;
        server.feed(Message::binary(&b"bin"[..])).await.unwrap();
        server
            .feed(Message::Ping(Bytes::from_static(b"p")))
            .await
            .unwrap();
        server.feed(Message::binary(Bytes::new())).await.unwrap();
        server.feed(Message::text(" text")).await.unwrap();
        server.close(None).await.unwrap();
        let mut out = Vec::new();
        bytes.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"early bin text");
    }

    #[tokio::test]
    async fn keeps_the_unread_rest_of_a_message() {
        let (mut bytes, mut server) = pair().await;
        server
            .send(Message::binary(&b"0123456789"[..]))
            .await
            .unwrap();
        let mut small = [0; 4];
        bytes.read_exact(&mut small).await.unwrap();
        assert_eq!(&small, b"earl");
        let mut rest = [0; 12];
        bytes.read_exact(&mut rest).await.unwrap();
        assert_eq!(&rest, b"y 0123456789");
    }

    #[tokio::test]
    async fn each_write_is_one_binary_message_and_shutdown_closes() {
        let (mut bytes, mut server) = pair().await;
        bytes.write_all(b"one").await.unwrap();
        let bufs = [IoSlice::new(b"tw"), IoSlice::new(b"o")];
        assert_eq!(bytes.write_vectored(&bufs).await.unwrap(), 3);
        bytes.shutdown().await.unwrap();
        use futures_util::StreamExt;
        assert_eq!(
            server.next().await.unwrap().unwrap(),
            Message::binary(&b"one"[..])
        );
        assert_eq!(
            server.next().await.unwrap().unwrap(),
            Message::binary(&b"two"[..])
        );
        assert!(matches!(
            server.next().await.unwrap().unwrap(),
            Message::Close(_)
        ));
    }

    #[tokio::test]
    async fn oversized_messages_are_refused() {
        let (a, b) = duplex(1 << 16);
        let client =
            WebSocketStream::from_raw_socket(a, Role::Client, Some(websocket_config())).await;
        let mut bytes = WsByteStream::with_prefix(client, Bytes::from_static(b"early "));
        // tungstenite's defaults on the sending side, so the big message can be sent at all.
        let mut server = WebSocketStream::from_raw_socket(b, Role::Server, None).await;
        let big = vec![0u8; MAX_MESSAGE_SIZE + 1];
        tokio::spawn(async move { server.send(Message::binary(big)).await });
        let mut out = Vec::new();
        // The prefix is delivered first, then the oversized frame is an error.
        let err = bytes.read_to_end(&mut out).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
