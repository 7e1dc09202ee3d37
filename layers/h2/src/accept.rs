//! `H2Acceptor`: the accept side of the `h2` and `grpc` transports. An HTTP/2 connection
//! becomes a session whose every tunnel stream runs the inner acceptor (VLESS) and then the
//! dispatch; an `h2` tunnel that arrives as HTTP/1.1 (through nginx's `proxy_pass`) runs the
//! inner acceptor directly.

use crate::{
    H2Error, ServerSettings, Transport, grpc,
    http1::{Http1Tunnel, NOT_FOUND, OK},
    proto::http1::{Head, parse_head},
    server::is_tunnel,
    session::H2Session,
};
use bytes::{Bytes, BytesMut};
use std::{
    fmt,
    sync::Arc,
    task::{Context, Poll},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    time::Instant,
};
use tower::{Layer, Service, ServiceExt};
use xypro_core::{
    Accepted, Address, BoxError, BoxFuture, BoxIo, HandBack, Incoming, Network, Prefixed, Refused,
    Target,
};

/// The HTTP/2 client connection preface, the first bytes of every HTTP/2 connection.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Which transport the connections speak, with its settings.
#[derive(Debug)]
pub(crate) enum TransportSettings {
    H2(ServerSettings),
    Grpc(grpc::ServerSettings),
}

impl<'a> From<&'a TransportSettings> for Transport<'a> {
    fn from(settings: &'a TransportSettings) -> Self {
        match settings {
            TransportSettings::H2(settings) => Transport::H2(settings),
            TransportSettings::Grpc(settings) => Transport::Grpc(settings),
        }
    }
}

/// Builds [`H2Acceptor`]s for the `h2` or the `grpc` transport.
#[derive(Debug, Clone)]
pub struct H2AcceptorLayer {
    transport: Arc<TransportSettings>,
}

impl H2AcceptorLayer {
    /// Acceptors serving the `h2` transport.
    pub fn h2(settings: ServerSettings) -> Self {
        H2AcceptorLayer {
            transport: Arc::new(TransportSettings::H2(settings)),
        }
    }

    /// Acceptors serving the `grpc` transport.
    pub fn grpc(settings: grpc::ServerSettings) -> Self {
        H2AcceptorLayer {
            transport: Arc::new(TransportSettings::Grpc(settings)),
        }
    }
}

impl<S> Layer<S> for H2AcceptorLayer {
    type Service = H2Acceptor<S>;

    fn layer(&self, inner: S) -> H2Acceptor<S> {
        H2Acceptor {
            inner,
            transport: self.transport.clone(),
        }
    }
}

/// Accepts an HTTP/2 connection (through TLS with ALPN `h2`, or h2c) as an
/// [`Accepted::Session`]: the session serves the connection, runs the inner acceptor on each
/// tunnel stream and hands what it yields to
/// [`SessionDispatch::serve`](xypro_core::SessionDispatch::serve), so each tunnel is a child of
/// the connection in the table, and closing the connection closes them. A closed session sends
/// GOAWAY and gets [`CLOSING_GRACE`](crate::CLOSING_GRACE) to end.
///
/// The `h2` transport also takes a tunnel as an HTTP/1.1 request (nginx's `proxy_pass` to it,
/// sing-box's client without TLS), checked as an HTTP/2 one, answered `200` at once: its body
/// (chunked, sized, or until the connection closes) is the tunnel's upstream. Any other
/// request gets the identical empty `404` — or, when the inbound has a fallback
/// ([`HandBack`]), is handed back as a [`Refused`] with every byte read.
#[derive(Clone)]
pub struct H2Acceptor<S> {
    inner: S,
    transport: Arc<TransportSettings>,
}

impl<S: fmt::Debug> fmt::Debug for H2Acceptor<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("H2Acceptor")
            .field("transport", &self.transport)
            .field("inner", &self.inner)
            .finish()
    }
}

impl<S> H2Acceptor<S> {
    /// The acceptor each tunnel stream runs.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner acceptor, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner acceptor.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Service<Incoming> for H2Acceptor<S>
where
    S: Service<Incoming, Response = Accepted> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Accepted;
    type Error = BoxError;
    type Future = BoxFuture<Result<Accepted, BoxError>>;

    /// Always ready: the inner acceptor is polled per stream.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, incoming: Incoming) -> Self::Future {
        let (inner, transport) = (self.inner.clone(), self.transport.clone());
        Box::pin(open(incoming, inner, transport))
    }
}

/// Tells an HTTP/2 connection from an HTTP/1.1 request by the first bytes and serves each.
async fn open<S>(
    mut incoming: Incoming,
    inner: S,
    transport: Arc<TransportSettings>,
) -> Result<Accepted, BoxError>
where
    S: Service<Incoming, Response = Accepted> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    let after = Transport::from(&*transport).handshake_timeout();
    let deadline = Instant::now() + after;
    let mut io = incoming.take_io();
    let mut read = BytesMut::with_capacity(PREFACE.len());
    let preface = read_while(&mut io, &mut read, deadline, |read| {
        read.len() < PREFACE.len() && PREFACE.starts_with(read)
    });
    if let Err(error) = preface.await {
        return refuse(incoming, io, read.freeze(), error, false).await;
    }
    if read[..] == *PREFACE {
        incoming.replace_io(Prefixed::new(read.freeze(), io));
        let target = Target::new(Address::Ip(incoming.local), Network::Tcp, incoming.meta());
        let session = H2Session {
            incoming,
            inner,
            transport,
        };
        return Ok(Accepted::Session {
            target,
            session: Box::new(session),
        });
    }
    let TransportSettings::H2(settings) = &*transport else {
        let error = "not an HTTP/2 connection preface".into();
        return refuse(incoming, io, read.freeze(), error, false).await;
    };
    let head = read_head(&mut io, &mut read, deadline).await;
    let head = match head {
        Ok(head) if is_tunnel(&head.parts, settings) => head,
        Ok(_) => {
            let error = "not a tunnel request".into();
            return refuse(incoming, io, read.freeze(), error, true).await;
        }
        Err(error) => {
            // An unfinished head is closed silently at the deadline, as the WebSocket server does.
            let answer = !error.is::<H2Error>();
            return refuse(incoming, io, read.freeze(), error, answer).await;
        }
    };
    io.write_all(OK).await?;
    let after_head = read.freeze().slice(head.len..);
    incoming.extensions.remove::<HandBack>();
    incoming.replace_io(Http1Tunnel::new(io, head.body, after_head));
    inner.oneshot(incoming).await.map_err(Into::into)
}

/// Reads into `read` while `more` says so, until `deadline`; the end of the stream stops it.
async fn read_while(
    io: &mut BoxIo,
    read: &mut BytesMut,
    deadline: Instant,
    more: impl Fn(&[u8]) -> bool,
) -> Result<(), BoxError> {
    let reading = async {
        while more(read) {
            if io.read_buf(read).await? == 0 {
                break;
            }
        }
        Ok::<_, BoxError>(())
    };
    let after = deadline.saturating_duration_since(Instant::now());
    match tokio::time::timeout_at(deadline, reading).await {
        Ok(read) => read,
        Err(_) => Err(H2Error::Timeout { after }.into()),
    }
}

/// Reads an HTTP/1.1 request head into `read`, within the deadline and the size limit.
async fn read_head(
    io: &mut BoxIo,
    read: &mut BytesMut,
    deadline: Instant,
) -> Result<Head, BoxError> {
    let mut parsed = parse_head(read)?;
    while parsed.is_none() {
        let before = read.len();
        read.reserve(4096);
        read_while(io, read, deadline, |r| r.len() == before).await?;
        if read.len() == before {
            return Err("connection closed inside an HTTP/1.1 request head".into());
        }
        parsed = parse_head(read)?;
    }
    Ok(parsed.expect("parsed above"))
}

/// Refuses a connection: hands it back with what was read when the inbound has a fallback,
/// else answers an HTTP/1.1 request the identical empty `404` (`answer`) and closes.
async fn refuse(
    incoming: Incoming,
    mut io: BoxIo,
    read: Bytes,
    error: BoxError,
    answer: bool,
) -> Result<Accepted, BoxError> {
    if incoming.hands_back() && !read.is_empty() {
        return Err(Refused::new(incoming, io, read, error).into());
    }
    if answer {
        let _ = io.write_all(NOT_FOUND).await;
        let _ = io.shutdown().await;
    }
    Err(error)
}
