//! `H2Acceptor`: the accept side of the `h2` and `grpc` transports as an acceptor. Each
//! HTTP/2 connection becomes a session, and each tunnel stream of it runs the inner acceptor
//! (VLESS) and then the dispatch, as a child connection of the session.

use crate::{H2Error, ServerSettings, grpc, serve_until};
use bytes::BytesMut;
use std::{
    fmt,
    net::SocketAddr,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};
use tokio::{io::AsyncReadExt, task::JoinSet};
use tower::{Layer, Service, ServiceExt};
use xypro_core::{
    Accepted, Address, BoxError, BoxFuture, Incoming, Network, Refused, Session, SessionDispatch,
    Target, TlsInfo, error_chain,
};

/// The HTTP/2 client connection preface, the first bytes of every HTTP/2 connection.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How long a closed session keeps serving to end cleanly: GOAWAY, the streams' resets.
pub const CLOSING_GRACE: Duration = Duration::from_millis(500);

/// Which transport the connections speak.
#[derive(Debug)]
enum Transport {
    H2(ServerSettings),
    Grpc(grpc::ServerSettings),
}

impl Transport {
    fn handshake_timeout(&self) -> Duration {
        match self {
            Transport::H2(settings) => settings.handshake_timeout,
            Transport::Grpc(settings) => settings.handshake_timeout,
        }
    }
}

/// Builds [`H2Acceptor`]s for the `h2` or the `grpc` transport.
#[derive(Debug, Clone)]
pub struct H2AcceptorLayer {
    transport: Arc<Transport>,
}

impl H2AcceptorLayer {
    /// Acceptors serving the `h2` transport.
    pub fn h2(settings: ServerSettings) -> Self {
        H2AcceptorLayer {
            transport: Arc::new(Transport::H2(settings)),
        }
    }

    /// Acceptors serving the `grpc` transport.
    pub fn grpc(settings: grpc::ServerSettings) -> Self {
        H2AcceptorLayer {
            transport: Arc::new(Transport::Grpc(settings)),
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
/// tunnel stream and hands what it yields to [`SessionDispatch::serve`], so each tunnel is a
/// child of the connection in the table, and closing the connection closes them.
///
/// When the inbound has a fallback ([`xypro_core::HandBack`]), a connection that does not start
/// with the HTTP/2 preface (an HTTP/1.1 client) is handed back as a [`Refused`] with the bytes
/// read. A closed session sends GOAWAY and gets [`CLOSING_GRACE`] to end.
#[derive(Clone)]
pub struct H2Acceptor<S> {
    inner: S,
    transport: Arc<Transport>,
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
        Box::pin(async move {
            let incoming = match incoming.hands_back() {
                true => check_preface(incoming, transport.handshake_timeout()).await?,
                false => incoming,
            };
            let target = Target::new(Address::Ip(incoming.local), Network::Tcp, incoming.meta());
            let session = H2Session {
                incoming,
                inner,
                transport,
            };
            Ok(Accepted::Session {
                target,
                session: Box::new(session),
            })
        })
    }
}

/// Reads the first bytes and hands the connection back unless they are the HTTP/2 preface.
async fn check_preface(mut incoming: Incoming, after: Duration) -> Result<Incoming, BoxError> {
    let mut io = incoming.take_io();
    let mut read = BytesMut::with_capacity(PREFACE.len());
    let reading = async {
        while read.len() < PREFACE.len() && PREFACE.starts_with(&read) {
            if io.read_buf(&mut read).await? == 0 {
                break;
            }
        }
        Ok::<_, std::io::Error>(())
    };
    let outcome = tokio::time::timeout(after, reading).await;
    if read[..] == *PREFACE {
        incoming.replace_io(xypro_core::Prefixed::new(read.freeze(), io));
        return Ok(incoming);
    }
    let reason: BoxError = match outcome {
        Err(_) => H2Error::Timeout { after }.into(),
        Ok(Err(e)) => e.into(),
        Ok(Ok(())) => "not an HTTP/2 connection preface".into(),
    };
    match read.is_empty() {
        true => Err(reason),
        false => Err(Refused::new(incoming, io, read.freeze(), reason).into()),
    }
}

/// One HTTP/2 connection being served.
struct H2Session<S> {
    incoming: Incoming,
    inner: S,
    transport: Arc<Transport>,
}

impl<S> fmt::Debug for H2Session<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("H2Session")
            .field("peer", &self.incoming.peer)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl<S> Session for H2Session<S>
where
    S: Service<Incoming, Response = Accepted> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    fn run(self: Box<Self>, dispatch: SessionDispatch) -> BoxFuture<Result<(), BoxError>> {
        Box::pin(async move {
            let H2Session {
                mut incoming,
                inner,
                transport,
            } = *self;
            let io = incoming.take_io();
            let context = dispatch.parent().context.clone();
            let closed = async move { context.closed().await };
            let mut streams = Streams {
                inner,
                dispatch: Arc::new(dispatch),
                peer: incoming.peer,
                local: incoming.local,
                inbound: incoming.inbound.clone(),
                tls: incoming.extensions.get::<TlsInfo>().cloned(),
                tasks: JoinSet::new(),
            };
            let on_stream = |_, stream| streams.spawn(stream);
            let served = match &*transport {
                Transport::H2(settings) => serve_until(io, settings, closed, on_stream).await,
                Transport::Grpc(settings) => {
                    grpc::serve_until(io, settings, closed, on_stream).await
                }
            };
            // The connection is gone, so are its streams: their tunnels end on their own.
            while streams.tasks.join_next().await.is_some() {}
            served.map_err(Into::into)
        })
    }

    fn closing_grace(&self) -> Duration {
        CLOSING_GRACE
    }
}

/// What each tunnel stream of a connection needs, and the tasks running them.
struct Streams<S> {
    inner: S,
    dispatch: Arc<SessionDispatch>,
    peer: SocketAddr,
    local: SocketAddr,
    inbound: Arc<str>,
    tls: Option<TlsInfo>,
    tasks: JoinSet<()>,
}

impl<S> Streams<S>
where
    S: Service<Incoming, Response = Accepted> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    /// Runs the inner acceptor on `stream` and dispatches what it yields, on a task of the
    /// session's (finished tasks are collected on the way, so the set stays as small as the
    /// number of open tunnels).
    fn spawn(&mut self, stream: crate::H2Stream) {
        while self.tasks.try_join_next().is_some() {}
        let mut incoming = Incoming::new(stream, self.peer, self.local, self.inbound.clone());
        if let Some(tls) = &self.tls {
            incoming.extensions.insert(tls.clone());
        }
        let acceptor = self.inner.clone();
        let dispatch = self.dispatch.clone();
        self.tasks.spawn(async move {
            let accepted = acceptor.oneshot(incoming).await.map_err(Into::into);
            match accepted {
                Ok(accepted) => dispatch.serve(accepted).await,
                Err(e) => {
                    let e: BoxError = e;
                    tracing::info!("handshake failed on an HTTP/2 stream: {}", error_chain(&*e));
                }
            }
        });
    }
}
