//! The HTTP proxy inbound: a `Service<Incoming>` that reads the first request that may pass
//! and yields a tunnel or a forwarding session.

use crate::{
    HttpError, HttpSettings,
    conn::{Authorized, ClientConn},
    forward::ForwardSession,
    request::Kind,
    tunnel::tunnel_reply,
};
use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};
use tower::Service;
use xypro_core::{
    Accepted, BoxError, Handover, Incoming, Network, Prefixed, Reply as _, Target, sniff_client,
};

/// Accepts HTTP proxy clients: CONNECT (and a first request asking for an upgrade) becomes
/// [`Accepted::Connect`]; absolute-URI requests become a session that routes and dials each
/// request on its own.
#[derive(Debug, Clone)]
pub struct HttpAcceptor {
    settings: Arc<HttpSettings>,
}

impl HttpAcceptor {
    /// An acceptor with the given settings.
    pub fn new(settings: HttpSettings) -> Self {
        HttpAcceptor {
            settings: Arc::new(settings),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }
}

impl Service<Incoming> for HttpAcceptor {
    type Response = Accepted;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Accepted, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, incoming: Incoming) -> Self::Future {
        let settings = self.settings.clone();
        Box::pin(async move { handshake(settings, incoming).await.map_err(Into::into) })
    }
}

async fn handshake(settings: Arc<HttpSettings>, incoming: Incoming) -> Result<Accepted, HttpError> {
    let meta = incoming.meta();
    let policy = settings.policy();
    let first_wait = settings.handshake_timeout;
    let mut client = ClientConn::new(incoming.io, settings);
    let Authorized { request, user } = client
        .next_request(first_wait, None)
        .await?
        .ok_or(HttpError::NoRequest)?;
    let destination = request.destination().clone();
    let mut target =
        Target::new(destination, Network::Tcp, meta.with_user(user.clone())).with_policy(policy);
    let sniff = client.settings.sniff;
    Ok(match (&request.kind, sniff) {
        (Kind::Forward { upgrade: false, .. }, _) => Accepted::Session {
            target,
            session: Box::new(ForwardSession::new(client, request, user)),
        },
        (Kind::Connect(_), Some(sniff)) => {
            // The `200` goes first: the client sends nothing before it.
            let mut io = tunnel_reply(client, &request).succeed().await?;
            let first =
                sniff_client(&mut io, sniff, &target.context, &mut target.destination).await?;
            Accepted::Connect {
                target,
                reply: Handover::new(Prefixed::new(first.freeze(), io)),
            }
        }
        _ => Accepted::Connect {
            target,
            reply: tunnel_reply(client, &request),
        },
    })
}
