//! `WsClientStream`: the client's byte stream, whose handshake may wait for the first write.

use crate::{WsByteStream, WsClientSettings, WsError, handshake::handshake};
use bytes::{Bytes, BytesMut};
use std::{
    fmt,
    future::Future,
    io::{self, IoSlice},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, Waker, ready},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::{Sleep, sleep},
};

/// How long a read waits for a first write before the handshake goes without early data
/// (Xray's wait for the first payload).
pub const EARLY_DATA_WAIT: Duration = Duration::from_millis(500);

type Handshake<S> = Pin<Box<dyn Future<Output = Result<WsByteStream<S>, WsError>> + Send>>;

// `Open` is the largest variant and the one a stream lives in; boxing it would only add a
// pointer chase to every read and write.
#[allow(clippy::large_enum_variant)]
enum State<S> {
    /// Connected below, no request sent yet: waiting for early data.
    Deferred {
        io: S,
        timer: Option<Pin<Box<Sleep>>>,
    },
    Handshaking(Handshake<S>),
    Open(WsByteStream<S>),
    Failed,
}

/// The client side of a WebSocket tunnel as a byte stream.
///
/// With early data on, the upgrade request waits for the first write, takes up to
/// `early_data` bytes of it into `Sec-WebSocket-Protocol`, and that write reports how many
/// bytes it took once the `101` is in. A read that comes first waits [`EARLY_DATA_WAIT`] for
/// a write, then upgrades without early data. The first write's bytes are captured at the
/// first call, so retry a pending write with the same buffer (as `write_all` does).
pub struct WsClientStream<S> {
    state: State<S>,
    settings: Arc<WsClientSettings>,
    /// Bytes of the first write sent as early data, owed to the writer as its result.
    owed: usize,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

impl<S> fmt::Debug for WsClientStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Deferred { .. } => "deferred",
            State::Handshaking(_) => "handshaking",
            State::Open(_) => "open",
            State::Failed => "failed",
        };
        f.debug_struct("WsClientStream")
            .field("state", &state)
            .finish()
    }
}

impl<S> WsClientStream<S> {
    /// A stream whose handshake is already done.
    pub(crate) fn open(stream: WsByteStream<S>, settings: Arc<WsClientSettings>) -> Self {
        Self::with_state(State::Open(stream), settings)
    }

    /// A stream that upgrades `io` on its first write (or after a read has waited).
    pub(crate) fn deferred(io: S, settings: Arc<WsClientSettings>) -> Self {
        Self::with_state(State::Deferred { io, timer: None }, settings)
    }

    fn with_state(state: State<S>, settings: Arc<WsClientSettings>) -> Self {
        WsClientStream {
            state,
            settings,
            owed: 0,
            read_waker: None,
            write_waker: None,
        }
    }

    /// Whether the WebSocket handshake has completed.
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open(_))
    }
}

impl<S: AsyncRead + AsyncWrite + Send + Unpin + 'static> WsClientStream<S> {
    /// Starts the handshake with `early` as early data (taken from a write when non-empty).
    fn start(&mut self, early: Bytes) {
        if let State::Deferred { .. } = self.state {
            let State::Deferred { io, .. } = std::mem::replace(&mut self.state, State::Failed)
            else {
                return;
            };
            self.owed = early.len();
            let settings = self.settings.clone();
            self.state =
                State::Handshaking(Box::pin(
                    async move { handshake(io, &settings, early).await },
                ));
        }
    }

    /// Drives the handshake until the stream is open (or failed); a pending caller's waker is
    /// kept so that whichever side finishes the handshake wakes the other.
    fn poll_open(&mut self, cx: &mut Context<'_>, reader: bool) -> Poll<io::Result<()>> {
        if let State::Handshaking(fut) = &mut self.state {
            let Poll::Ready(result) = fut.as_mut().poll(cx) else {
                let slot = if reader {
                    &mut self.read_waker
                } else {
                    &mut self.write_waker
                };
                *slot = Some(cx.waker().clone());
                return Poll::Pending;
            };
            let failed = match result {
                Ok(stream) => {
                    self.state = State::Open(stream);
                    None
                }
                Err(err) => {
                    self.state = State::Failed;
                    Some(err)
                }
            };
            for waker in [self.read_waker.take(), self.write_waker.take()]
                .into_iter()
                .flatten()
            {
                waker.wake();
            }
            if let Some(err) = failed {
                return Poll::Ready(Err(handshake_io_error(err)));
            }
        }
        Poll::Ready(self.open_mut().map(drop))
    }

    /// The open stream, or an error when the handshake failed or has not run.
    fn open_mut(&mut self) -> io::Result<&mut WsByteStream<S>> {
        match &mut self.state {
            State::Open(stream) => Ok(stream),
            State::Failed => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "WebSocket handshake failed",
            )),
            State::Deferred { .. } | State::Handshaking(_) => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "WebSocket handshake not done",
            )),
        }
    }

    /// The write side: start the handshake with `early` if deferred, or wait for it.
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        early: impl FnOnce(usize) -> Bytes,
        write: impl FnOnce(Pin<&mut WsByteStream<S>>, &mut Context<'_>) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        if let State::Deferred { .. } = self.state {
            let early = early(self.settings.early_data);
            if early.is_empty() {
                return Poll::Ready(Ok(0));
            }
            self.start(early);
        }
        ready!(self.poll_open(cx, false))?;
        if self.owed > 0 {
            return Poll::Ready(Ok(std::mem::take(&mut self.owed)));
        }
        write(Pin::new(self.open_mut()?), cx)
    }
}

/// Wraps a handshake error as an `io::Error` of the same kind, keeping it as the source.
fn handshake_io_error(err: WsError) -> io::Error {
    let kind = match &err {
        WsError::Io(io) => io.kind(),
        WsError::Eof => io::ErrorKind::UnexpectedEof,
        _ => io::ErrorKind::InvalidData,
    };
    io::Error::new(kind, err)
}

impl<S: AsyncRead + AsyncWrite + Send + Unpin + 'static> AsyncRead for WsClientStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if let State::Deferred { timer, .. } = &mut this.state {
            this.read_waker = Some(cx.waker().clone());
            let timer = timer.get_or_insert_with(|| Box::pin(sleep(EARLY_DATA_WAIT)));
            ready!(timer.as_mut().poll(cx));
            this.start(Bytes::new());
        }
        ready!(this.poll_open(cx, true))?;
        Pin::new(this.open_mut()?).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Send + Unpin + 'static> AsyncWrite for WsClientStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_with(
            cx,
            |max| Bytes::copy_from_slice(&buf[..buf.len().min(max)]),
            |stream, cx| stream.poll_write(cx, buf),
        )
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let gather = |max: usize| {
            let mut early = BytesMut::new();
            for b in bufs {
                let room = max - early.len();
                early.extend_from_slice(&b[..b.len().min(room)]);
            }
            early.freeze()
        };
        self.poll_write_with(cx, gather, |stream, cx| {
            stream.poll_write_vectored(cx, bufs)
        })
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let State::Deferred { .. } = self.state {
            return Poll::Ready(Ok(()));
        }
        ready!(self.poll_open(cx, false))?;
        Pin::new(self.open_mut()?).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Nothing written yet: upgrade anyway, so the server sees a clean close.
        self.start(Bytes::new());
        ready!(self.poll_open(cx, false))?;
        Pin::new(self.open_mut()?).poll_shutdown(cx)
    }
}
