//! Absolute-URI forwarding: a session on the client connection that serves its requests in
//! order, each one a logical connection of its own, routed and dialled through the dispatch.
//!
//! Requests are read one at a time: the next head is parsed only once the previous response
//! has been forwarded, so pipelined requests wait in the socket buffers (held back by TCP flow
//! control) and the proxy keeps at most one head's worth of them. Consecutive requests to the
//! same host reuse the connection to it while both ends keep it open.

mod exchange;
mod upstream;

use crate::{
    HttpError,
    conn::ClientConn,
    request::{Kind, Request},
    tunnel::tunnel_reply,
};
use std::sync::Arc;
use upstream::Upstreams;
use xypro_core::{BoxError, BoxFuture, Network, Session, SessionDispatch};

/// The requests of one client connection, from its first absolute-URI request on.
#[derive(Debug)]
pub(crate) struct ForwardSession {
    client: ClientConn,
    first: Request,
    user: Option<Arc<str>>,
}

impl ForwardSession {
    /// A session that starts by serving `first`, authenticated as `user`.
    pub(crate) fn new(client: ClientConn, first: Request, user: Option<Arc<str>>) -> Self {
        ForwardSession {
            client,
            first,
            user,
        }
    }

    async fn serve(self, dispatch: SessionDispatch) -> Result<(), HttpError> {
        let ForwardSession {
            mut client,
            first,
            user,
        } = self;
        let idle = dispatch.settings().idle_timeout;
        let keepalive = client.settings.keepalive_timeout;
        let mut request = first;
        let mut upstreams = Upstreams::new(&dispatch);
        loop {
            if !matches!(request.kind, Kind::Forward { upgrade: false, .. }) {
                // A CONNECT or an upgrade: the connection becomes a tunnel, its last use.
                drop(upstreams);
                let target = dispatch.child(request.destination().clone(), Network::Tcp);
                if let Ok(tunnel) = dispatch.connect(target, tunnel_reply(client, &request)) {
                    tunnel.await;
                }
                return Ok(());
            }
            if !upstreams.forward(&mut client, &request, idle).await? {
                return Ok(());
            }
            client.release_buffer();
            request = match client.next_request(keepalive, user.as_ref()).await {
                Ok(Some(next)) => next.request,
                Ok(None) | Err(HttpError::Idle(_)) => return Ok(()),
                Err(e) => return Err(e),
            };
        }
    }
}

impl Session for ForwardSession {
    fn run(self: Box<Self>, dispatch: SessionDispatch) -> BoxFuture<Result<(), BoxError>> {
        Box::pin(async move { self.serve(dispatch).await.map_err(Into::into) })
    }
}
