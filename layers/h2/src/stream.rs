//! `H2Stream`: one HTTP/2 stream as a byte stream, raw (`h2`) or in gun messages (`grpc`),
//! with flow control tied to what the reader consumes.

use crate::{
    H2Error,
    pool::Lease,
    proto::gun::{self, Decoder},
    tuning::MAX_WRITE,
};
use bytes::{Buf, Bytes, BytesMut};
use h2::{Reason, RecvStream, SendStream, client::ResponseFuture};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use std::{
    fmt,
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll, ready},
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How the stream's bytes are carried.
#[derive(Debug)]
pub(crate) enum Framing {
    /// DATA frames carry the bytes as they are (v2ray and sing-box `http`).
    Raw,
    /// Every write is one gun message; reads decode them.
    Gun(Decoder),
}

/// How the stream's sending half ends on shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// An empty DATA frame with END_STREAM.
    EndStream,
    /// Trailers `grpc-status: 0` (a gRPC server).
    GrpcTrailers,
}

/// The receiving half: the client's may still wait for the response head.
enum Recv {
    Response(ResponseFuture),
    Body(RecvStream),
    Done,
}

/// One tunnel over one HTTP/2 stream.
///
/// Writes wait for send window (at most 64 KiB each) and go out at once; flush does nothing.
/// Reads release window as the bytes are consumed, so a slow reader stops the peer rather
/// than growing a buffer. END_STREAM, and a reset with `NO_ERROR` or `CANCEL`, read as EOF;
/// shutdown ends the sending half (END_STREAM, or status-0 trailers for a gRPC server);
/// dropping the stream without it resets the stream with `CANCEL`. On a client, a response
/// other than 200 (or a non-zero `grpc-status`) is an error on the first read.
pub struct H2Stream {
    send: SendStream<Bytes>,
    recv: Recv,
    framing: Framing,
    ending: Ending,
    /// Payload bytes received and not yet read; their window is released as they are read.
    ready: Bytes,
    /// Gun bytes received and not yet decoded.
    undecoded: Bytes,
    shut: bool,
    lease: Option<Lease>,
}

impl fmt::Debug for H2Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let recv = match self.recv {
            Recv::Response(_) => "awaiting response",
            Recv::Body(_) => "open",
            Recv::Done => "done",
        };
        f.debug_struct("H2Stream")
            .field("id", &self.send.stream_id().as_u32())
            .field("recv", &recv)
            .field("gun", &matches!(self.framing, Framing::Gun(_)))
            .field("shut", &self.shut)
            .finish()
    }
}

impl H2Stream {
    /// A client's stream whose request went out and whose response is still to come.
    pub(crate) fn client(
        send: SendStream<Bytes>,
        response: ResponseFuture,
        framing: Framing,
        lease: Lease,
    ) -> Self {
        Self::new(
            send,
            Recv::Response(response),
            framing,
            Ending::EndStream,
            Some(lease),
        )
    }

    /// A server's stream whose response head was sent.
    pub(crate) fn server(
        send: SendStream<Bytes>,
        body: RecvStream,
        framing: Framing,
        ending: Ending,
    ) -> Self {
        Self::new(send, Recv::Body(body), framing, ending, None)
    }

    fn new(
        send: SendStream<Bytes>,
        recv: Recv,
        framing: Framing,
        ending: Ending,
        lease: Option<Lease>,
    ) -> Self {
        H2Stream {
            send,
            recv,
            framing,
            ending,
            ready: Bytes::new(),
            undecoded: Bytes::new(),
            shut: false,
            lease,
        }
    }

    /// The id of the pooled connection a client stream runs on, for tests and logs.
    pub fn connection_id(&self) -> Option<u64> {
        self.lease.as_ref().map(Lease::connection_id)
    }

    /// Gives `n` bytes of receive window back to the peer.
    fn release(&mut self, n: usize) {
        if let (Recv::Body(body), true) = (&mut self.recv, n > 0) {
            let _ = body.flow_control().release_capacity(n);
        }
    }

    /// The response body, once the head has arrived and was a success.
    fn poll_body(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<&mut RecvStream>, H2Error>> {
        if let Recv::Response(response) = &mut self.recv {
            let result = ready!(Pin::new(response).poll(cx));
            // A refused or failed response is reported once; later reads see the end.
            self.recv = Recv::Done;
            self.recv = Recv::Body(check_response(result?)?);
        }
        Poll::Ready(Ok(match &mut self.recv {
            Recv::Body(body) => Some(body),
            _ => None,
        }))
    }

    /// Reads the next DATA frame (maybe empty) into `ready` or `undecoded`; `false` at the end
    /// of the stream.
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> Poll<Result<bool, H2Error>> {
        let Some(body) = ready!(self.poll_body(cx))? else {
            return Poll::Ready(Ok(false));
        };
        let data = match ready!(body.poll_data(cx)) {
            Some(Ok(data)) => data,
            Some(Err(err)) if !is_graceful(&err) => return Poll::Ready(Err(err.into())),
            Some(Err(_)) | None => {
                self.recv = Recv::Done;
                if let Framing::Gun(decoder) = &self.framing {
                    decoder.finish()?;
                }
                return Poll::Ready(Ok(false));
            }
        };
        match self.framing {
            Framing::Raw => self.ready = data,
            Framing::Gun(_) => self.undecoded = data,
        }
        Poll::Ready(Ok(true))
    }

    /// Decodes the next payload out of `undecoded`, giving back the framing's window at once.
    fn decode(&mut self) -> Result<(), H2Error> {
        let Framing::Gun(decoder) = &mut self.framing else {
            return Ok(());
        };
        let before = self.undecoded.len();
        let payload = decoder.decode(&mut self.undecoded, usize::MAX)?;
        let consumed = before - self.undecoded.len();
        let payload_len = payload.as_ref().map_or(0, Bytes::len);
        if let Some(payload) = payload {
            self.ready = payload;
        }
        self.release(consumed - payload_len);
        Ok(())
    }

    /// Waits for send window; returns how many bytes may go now (at least one).
    fn poll_window(&mut self, cx: &mut Context<'_>, want: usize) -> Poll<io::Result<usize>> {
        self.send.reserve_capacity(want);
        loop {
            let capacity = self.send.capacity();
            if capacity > 0 {
                return Poll::Ready(Ok(capacity));
            }
            match self.send.poll_capacity(cx) {
                Poll::Ready(Some(Ok(_))) => continue,
                Poll::Ready(Some(Err(err))) => return Poll::Ready(Err(H2Error::from(err).into())),
                Poll::Ready(None) => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
                Poll::Pending => {}
            }
            return match self.send.poll_reset(cx) {
                Poll::Ready(Ok(reason)) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    format!("HTTP/2 stream reset by the peer ({reason})"),
                ))),
                Poll::Ready(Err(err)) => Poll::Ready(Err(H2Error::from(err).into())),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

/// Whether a stream error is the peer's way of ending the stream: `RST_STREAM` with
/// `NO_ERROR` (grpc-go after its trailers, gun-lite) or `CANCEL` (gun-lite's client close).
fn is_graceful(err: &h2::Error) -> bool {
    err.is_reset()
        && err.is_remote()
        && matches!(err.reason(), Some(Reason::NO_ERROR | Reason::CANCEL))
}

/// The body of a 200 response; any other status, or a gRPC status other than 0 in a
/// trailers-only answer, is an error.
fn check_response(response: Response<RecvStream>) -> Result<RecvStream, H2Error> {
    let status = response.status();
    if status != StatusCode::OK {
        return Err(H2Error::Status {
            status: status.as_u16(),
        });
    }
    if let Some(grpc) = response.headers().get("grpc-status")
        && grpc != "0"
    {
        return Err(H2Error::GrpcStatus {
            status: String::from_utf8_lossy(grpc.as_bytes()).into_owned(),
        });
    }
    Ok(response.into_body())
}

impl AsyncRead for H2Stream {
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
                this.release(n);
                return Poll::Ready(Ok(()));
            }
            if !this.undecoded.is_empty() {
                this.decode().map_err(io::Error::from)?;
                continue;
            }
            if !ready!(this.poll_frame(cx)).map_err(io::Error::from)? {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl AsyncWrite for H2Stream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let this = &mut *self;
        let want = buf.len().min(MAX_WRITE);
        let window = ready!(this.poll_window(cx, want))?;
        let n = want.min(window);
        let data = match this.framing {
            Framing::Raw => Bytes::copy_from_slice(&buf[..n]),
            Framing::Gun(_) => {
                let mut message = BytesMut::with_capacity(gun::header_len(n) + n);
                gun::write_header(&mut message, n);
                message.extend_from_slice(&buf[..n]);
                message.freeze()
            }
        };
        this.send
            .send_data(data, false)
            .map_err(|err| io::Error::from(H2Error::from(err)))?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.shut {
            return Poll::Ready(Ok(()));
        }
        this.shut = true;
        let sent = match this.ending {
            Ending::EndStream => this.send.send_data(Bytes::new(), true),
            Ending::GrpcTrailers => {
                let mut trailers = HeaderMap::new();
                trailers.insert("grpc-status", HeaderValue::from_static("0"));
                this.send.send_trailers(trailers)
            }
        };
        match sent {
            Err(err) if !err.is_reset() => Poll::Ready(Err(H2Error::from(err).into())),
            _ => Poll::Ready(Ok(())),
        }
    }
}
