//! Connections to origins: each a child connection of the session, dialled and relayed by the
//! dispatch; the session talks to it through an in-memory pipe.

use super::exchange::{Failed, exchange};
use crate::{
    HttpError,
    conn::ClientConn,
    proto::{Framing, Status},
    request::Request,
    tunnel::failure_status,
};
use bytes::BytesMut;
use std::{io, time::Duration};
use tokio::{
    io::DuplexStream,
    sync::oneshot,
    task::{AbortHandle, JoinSet},
};
use xypro_core::{Address, BoxFuture, BoxIo, Failure, Network, Reply, SessionDispatch};

/// Bytes the pipe between the session and a dispatched connection holds each way.
const PIPE_SIZE: usize = 64 * 1024;

/// An open connection to an origin.
#[derive(Debug)]
pub(super) struct Upstream {
    pub(super) destination: Address,
    /// The session's end of the pipe the dispatch relays to the origin.
    pub(super) io: DuplexStream,
    /// Bytes read from the origin but not yet used.
    pub(super) buf: BytesMut,
    task: AbortHandle,
}

impl Drop for Upstream {
    /// Ends the dispatched connection with the pipe: it is only dropped between responses or
    /// after a failure, so nothing in flight is lost.
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The session's connections to origins: the current one, kept while requests go to the same
/// destination, and the tasks the dispatch runs them on.
#[derive(Debug)]
pub(super) struct Upstreams<'a> {
    dispatch: &'a SessionDispatch,
    current: Option<Upstream>,
    tasks: JoinSet<()>,
}

impl<'a> Upstreams<'a> {
    pub(super) fn new(dispatch: &'a SessionDispatch) -> Self {
        Upstreams {
            dispatch,
            current: None,
            tasks: JoinSet::new(),
        }
    }

    /// Forwards `request` and its response; returns whether the client connection stays open.
    ///
    /// A kept-alive origin connection that turns out closed before a bodiless request got any
    /// answer is replaced and the request sent again, once; an origin that cannot be reached
    /// or answers garbage gets the client a `502` (`403` or `504` as the failure says).
    pub(super) async fn forward(
        &mut self,
        client: &mut ClientConn,
        request: &Request,
        idle: Duration,
    ) -> Result<bool, HttpError> {
        let destination = request.destination();
        if self
            .current
            .as_ref()
            .is_some_and(|u| &u.destination != destination)
        {
            self.current = None;
        }
        let close_client = !request.keep_alive();
        let mut may_retry = request.framing == Framing::Empty;
        loop {
            let reused = self.current.is_some();
            if !reused {
                match self.open(destination).await {
                    Ok(upstream) => self.current = Some(upstream),
                    Err(failure) => {
                        let (status, text) = failure_status(failure);
                        return refuse(client, request, status, text).await;
                    }
                }
            }
            let upstream = self.current.as_mut().expect("opened above");
            match exchange(client, upstream, request, close_client, idle).await {
                Ok(done) => {
                    if !done.upstream_keep {
                        self.current = None;
                    }
                    return Ok(done.client_keep);
                }
                Err(Failed::Client(e)) => return Err(e),
                Err(Failed::Upstream { responded, error }) => {
                    self.current = None;
                    if reused && may_retry && !responded {
                        tracing::debug!(%destination, "kept-alive connection gone ({error}): retrying");
                        may_retry = false;
                        continue;
                    }
                    tracing::info!(%destination, "bad response: {}", xypro_core::error_chain(&error));
                    if responded {
                        return Ok(false);
                    }
                    let text = "bad or no response from the destination\n";
                    return refuse(client, request, Status::BAD_GATEWAY, text).await;
                }
            }
        }
    }

    /// Dispatches a child connection to `destination` and waits for the outbound result.
    async fn open(&mut self, destination: &Address) -> Result<Upstream, Failure> {
        while self.tasks.try_join_next().is_some() {}
        let target = self.dispatch.child(destination.clone(), Network::Tcp);
        let (ours, theirs) = tokio::io::duplex(PIPE_SIZE);
        let (connected, result) = oneshot::channel();
        let reply = Box::new(UpstreamReply {
            io: theirs,
            connected,
        });
        // One request at a time never holds more than one of the session's dial slots.
        let dial = self
            .dispatch
            .connect(target, reply)
            .map_err(|_| Failure::General)?;
        let task = self.tasks.spawn(dial);
        match result.await {
            Ok(Ok(())) => Ok(Upstream {
                destination: destination.clone(),
                io: ours,
                buf: BytesMut::new(),
                task,
            }),
            Ok(Err(failure)) => Err(failure),
            // Closed before the outbound answered (the session is ending).
            Err(_) => Err(Failure::General),
        }
    }
}

/// Answers the client with an error of the proxy's own; the connection stays open only if the
/// request had no body (an unread body would stand where the next request starts).
async fn refuse(
    client: &mut ClientConn,
    request: &Request,
    status: Status,
    text: &str,
) -> Result<bool, HttpError> {
    let keep = request.keep_alive() && request.framing == Framing::Empty;
    client
        .respond(request.version(), status, &[], !keep, text)
        .await?;
    Ok(keep)
}

/// The reply of a forwarded request's connection: tells the session the outbound result and
/// hands the dispatch the pipe's other end to relay.
#[derive(Debug)]
struct UpstreamReply {
    io: DuplexStream,
    connected: oneshot::Sender<Result<(), Failure>>,
}

impl Reply for UpstreamReply {
    fn succeed(self: Box<Self>) -> BoxFuture<io::Result<BoxIo>> {
        let _ = self.connected.send(Ok(()));
        Box::pin(std::future::ready(Ok(BoxIo::new(self.io))))
    }

    fn fail(self: Box<Self>, failure: Failure) -> BoxFuture<io::Result<()>> {
        let _ = self.connected.send(Err(failure));
        Box::pin(std::future::ready(Ok(())))
    }
}
