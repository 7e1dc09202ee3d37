//! `H2Session`: one HTTP/2 connection served as a session; each tunnel stream runs the inner
//! acceptor and goes to the dispatch as a child of the session.

use crate::{H2Stream, accept::TransportSettings, serve_until};
use std::{fmt, net::SocketAddr, sync::Arc, time::Duration};
use tokio::task::JoinSet;
use tower::{Service, ServiceExt};
use xypro_core::{
    Accepted, BoxError, BoxFuture, Incoming, Session, SessionDispatch, TlsInfo, error_chain,
};

/// How long a closed session keeps serving to end cleanly: GOAWAY, the streams' resets.
pub const CLOSING_GRACE: Duration = Duration::from_millis(500);

/// One HTTP/2 connection being served.
pub(crate) struct H2Session<S> {
    pub(crate) incoming: Incoming,
    pub(crate) inner: S,
    pub(crate) transport: Arc<TransportSettings>,
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
            let served = serve_until(io, &*transport, closed, on_stream).await;
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
    fn spawn(&mut self, stream: H2Stream) {
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
