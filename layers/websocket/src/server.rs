//! `WsUpgrade`: serves the HTTP/1.1 upgrade with hyper, then hands the inner acceptor the
//! WebSocket as a byte stream.
//!
//! Every well-formed request that is not an upgrade for this endpoint (path, method, headers,
//! version, host) gets the same bytes: `404`, `connection: close`, `content-length: 0`, no
//! `date`. Requests hyper cannot parse (a malformed line, a head past [`MAX_REQUEST_HEAD`])
//! get those same bytes instead of hyper's own `400`/`414`/`431`, so a probe cannot tell this
//! endpoint from any other miss; an unfinished head is closed silently at the deadline.
//!
//! When the inbound has a fallback ([`HandBack`]), a miss is not answered: the connection goes
//! back as a [`Refused`] with every byte hyper read from it, for the fallback to replay.

use crate::{
    WsByteStream, WsError, WsServerSettings,
    proto::accept::{check_request, not_found, switching},
    stream::Role,
};
use bytes::Bytes;
use http_body_util::Empty;
use hyper::{Request, Response, body::Incoming as Body, server::conn::http1, upgrade::OnUpgrade};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::{
    convert::Infallible,
    fmt,
    future::{Ready, ready},
    io,
    pin::Pin,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, ready},
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::oneshot;
use xypro_core::{
    BoxError, BoxFuture, BoxIo, HandBack, Incoming, Refused, Upgrade, UpgradeAcceptor, UpgradeLayer,
};

/// Largest request head (request line and headers) the server reads.
pub const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// Most bytes kept for a fallback to replay; hyper buffers at most half of it.
const MAX_HANDED_BACK: usize = 4 * MAX_REQUEST_HEAD;

/// The HTTP/1.1 upgrade of the accept side, as an [`Upgrade`]: answers the upgrade on the
/// incoming stream (an identical empty `404` to anything else) and replaces the stream with the
/// WebSocket byte stream, early data first.
///
/// A miss, a timeout or an HTTP error fails the upgrade once the connection is answered. No
/// task is spawned.
#[derive(Debug, Clone)]
pub struct WsUpgrade {
    shared: Arc<Shared>,
}

/// Accepts the WebSocket upgrade and calls the inner acceptor with the byte stream.
pub type WsAcceptor<S> = UpgradeAcceptor<WsUpgrade, S>;

/// Builds [`WsAcceptor`]s.
pub type WsAcceptorLayer = UpgradeLayer<WsUpgrade>;

struct Shared {
    settings: WsServerSettings,
    http: http1::Builder,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.settings.fmt(f)
    }
}

impl WsUpgrade {
    /// The upgrade for the given validated settings.
    pub fn new(settings: WsServerSettings) -> Self {
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(settings.handshake_timeout)
            .auto_date_header(false)
            .max_header_size(MAX_REQUEST_HEAD)
            .max_buf_size(2 * MAX_REQUEST_HEAD);
        WsUpgrade {
            shared: Arc::new(Shared { settings, http }),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &WsServerSettings {
        &self.shared.settings
    }
}

impl Upgrade for WsUpgrade {
    fn upgrade(&self, mut incoming: Incoming) -> BoxFuture<Result<Incoming, BoxError>> {
        let shared = self.shared.clone();
        Box::pin(async move {
            let (io, peer) = (incoming.take_io(), incoming.peer);
            match upgrade(shared, io, peer, incoming.hands_back()).await {
                Ok(ws) => {
                    // The client has its 101: nothing after this falls back.
                    incoming.extensions.remove::<HandBack>();
                    incoming.replace_io(ws);
                    Ok(incoming)
                }
                Err(Missed {
                    error,
                    handed_back: Some((io, read)),
                }) => Err(Refused::new(incoming, io, read, error).into()),
                Err(Missed { error, .. }) => Err(error.into()),
            }
        })
    }
}

/// A connection that did not become a WebSocket, and the stream with every byte read from it
/// when it is handed back unanswered.
struct Missed {
    error: WsError,
    handed_back: Option<(BoxIo, Bytes)>,
}

/// Serves one HTTP/1.1 exchange on `io` within the deadline; on an upgrade, returns the
/// WebSocket, which reads the early data first. With `hand_back`, a miss after at least one
/// byte is not answered and comes back with the stream.
async fn upgrade(
    shared: Arc<Shared>,
    io: BoxIo,
    peer: std::net::SocketAddr,
    hand_back: bool,
) -> Result<WsByteStream<BoxIo>, Missed> {
    let after = shared.settings.handshake_timeout;
    let outcome = Arc::new(Mutex::new(Outcome::None));
    let hit = Arc::new(AtomicBool::new(false));
    let service = UpgradeService {
        shared: shared.clone(),
        outcome: outcome.clone(),
        hit: hit.clone(),
    };
    let (back, mut handed_back) = oneshot::channel();
    let io = MissGate {
        io,
        hit,
        answer: None,
        hand_back: hand_back.then(|| HandBackSlot {
            read: Vec::new(),
            back: Some(back),
        }),
    };
    let conn = shared
        .http
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    // On a miss the connection ends here, and its gate (if handing back) sends the stream.
    let served = tokio::time::timeout(after, conn).await;
    let outcome = std::mem::replace(
        &mut *outcome.lock().unwrap_or_else(PoisonError::into_inner),
        Outcome::None,
    );
    let mut miss = |error| Missed {
        error,
        handed_back: handed_back.try_recv().ok(),
    };
    let (on_upgrade, early) = match (served, outcome) {
        (Err(_), _) => return Err(miss(WsError::Timeout { peer, after })),
        (Ok(_), Outcome::Miss(reason)) => return Err(miss(WsError::Rejected { peer, reason })),
        (Ok(Err(source)), _) => return Err(miss(WsError::Http { peer, source })),
        (Ok(Ok(())), Outcome::None) => return Err(miss(WsError::NoRequest { peer })),
        (Ok(Ok(())), Outcome::Hit { on_upgrade, early }) => (on_upgrade, early),
    };
    let upgraded = on_upgrade.await.map_err(|source| Missed {
        error: WsError::Http { peer, source },
        handed_back: None,
    })?;
    let (io, read_ahead) = match upgraded.downcast::<TokioIo<MissGate>>() {
        Ok(parts) => (parts.io.into_inner().into_io(), parts.read_buf),
        Err(upgraded) => (BoxIo::new(TokioIo::new(upgraded)), Bytes::new()),
    };
    let ws = WsByteStream::new(io, Role::Server)
        .with_read_ahead(read_ahead)
        .with_prefix(early);
    Ok(ws)
}

/// What the one request on a connection turned out to be.
enum Outcome {
    None,
    Miss(&'static str),
    Hit { on_upgrade: OnUpgrade, early: Bytes },
}

/// hyper's request handler: records the outcome and answers `101` or the `404`.
struct UpgradeService {
    shared: Arc<Shared>,
    outcome: Arc<Mutex<Outcome>>,
    hit: Arc<AtomicBool>,
}

impl hyper::service::Service<Request<Body>> for UpgradeService {
    type Response = Response<Empty<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn call(&self, mut req: Request<Body>) -> Self::Future {
        let (outcome, response) = match check_request(&req, &self.shared.settings) {
            Ok(upgrade) => {
                self.hit.store(true, Ordering::Release);
                let response = switching(&upgrade);
                let on_upgrade = hyper::upgrade::on(&mut req);
                let early = upgrade.early;
                (Outcome::Hit { on_upgrade, early }, response)
            }
            Err(reason) => (Outcome::Miss(reason), not_found()),
        };
        *self.outcome.lock().unwrap_or_else(PoisonError::into_inner) = outcome;
        ready(Ok(response))
    }
}

/// The wire bytes of [`not_found`] as hyper writes them (no `date`).
const NOT_FOUND_BYTES: &[u8] =
    b"HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";

/// The connection as hyper sees it: unless the request was an upgrade for this endpoint,
/// whatever hyper writes — its automatic answer to an unparsable request (`400`, `414`,
/// `431`), or our `404` in the request's HTTP version (`HTTP/1.0 404` for a 1.0 probe) — is
/// replaced by the same bytes every miss gets.
///
/// When handing back, it records every byte read and answers nothing on a miss (hyper's own
/// answer or our `404` is consumed unsent, and the stream is not shut down); dropped after a
/// miss, it sends the stream and the bytes back.
struct MissGate {
    io: BoxIo,
    hit: Arc<AtomicBool>,
    /// The rest of the replacement answer still to write, once hyper has started its own.
    answer: Option<&'static [u8]>,
    hand_back: Option<HandBackSlot>,
}

/// What a gate that hands misses back keeps.
struct HandBackSlot {
    /// Every byte read so far.
    read: Vec<u8>,
    /// Where the stream goes when the gate is dropped after a miss.
    back: Option<oneshot::Sender<(BoxIo, Bytes)>>,
}

impl MissGate {
    /// Whether what hyper writes now is an answer to a miss that must not be sent.
    fn swallows(&self) -> bool {
        self.hand_back.is_some() && !self.hit.load(Ordering::Acquire)
    }

    /// The stream, for the WebSocket after a hit; nothing is handed back.
    fn into_io(mut self) -> BoxIo {
        self.hand_back = None;
        std::mem::replace(&mut self.io, BoxIo::new(tokio::io::empty()))
    }
}

impl Drop for MissGate {
    fn drop(&mut self) {
        let Some(slot) = self.hand_back.as_mut() else {
            return;
        };
        if let Some(back) = slot.back.take().filter(|_| !slot.read.is_empty()) {
            let io = std::mem::replace(&mut self.io, BoxIo::new(tokio::io::empty()));
            let _ = back.send((io, std::mem::take(&mut slot.read).into()));
        }
    }
}

impl AsyncRead for MissGate {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.io).poll_read(cx, buf))?;
        if let Some(slot) = self.hand_back.as_mut() {
            let read = &buf.filled()[before..];
            if slot.read.len() + read.len() > MAX_HANDED_BACK {
                // Too much to replay: answer this one as if there were no fallback.
                self.hand_back = None;
            } else {
                slot.read.extend_from_slice(read);
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MissGate {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.swallows() {
            return Poll::Ready(Ok(buf.len()));
        }
        let this = &mut *self;
        if this.answer.is_none() && this.hit.load(Ordering::Acquire) {
            return Pin::new(&mut this.io).poll_write(cx, buf);
        }
        let rest = this.answer.get_or_insert(NOT_FOUND_BYTES);
        while !rest.is_empty() {
            let n = ready!(Pin::new(&mut this.io).poll_write(cx, rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *rest = &rest[n..];
        }
        // hyper's own bytes are consumed unsent.
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.swallows() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
