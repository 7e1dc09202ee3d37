//! The HTTP proxy inbound: a `Service<Incoming>` that reads the first request that may pass
//! and yields a tunnel or a forwarding session.

use crate::{
    HttpError, HttpSettings,
    conn::{Authorized, ClientConn},
    forward::ForwardSession,
    request::Kind,
    tunnel::tunnel_reply,
};
use std::sync::Arc;
use xypro_core::{
    Accepted, BoxError, Handover, Handshake, Incoming, Network, Prefixed, ProtocolAcceptor,
    Reply as _, Target, sniff_client,
};

/// Accepts HTTP proxy clients: CONNECT (and a first request asking for an upgrade) becomes
/// [`Accepted::Connect`]; absolute-URI requests become a session that routes and dials each
/// request on its own.
pub type HttpAcceptor = ProtocolAcceptor<HttpSettings>;

impl Handshake for HttpSettings {
    async fn handshake(self: Arc<Self>, incoming: Incoming) -> Result<Accepted, BoxError> {
        handshake(self, incoming).await.map_err(Into::into)
    }
}

async fn handshake(settings: Arc<HttpSettings>, incoming: Incoming) -> Result<Accepted, HttpError> {
    let meta = incoming.meta();
    let policy = settings.policy.clone();
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
