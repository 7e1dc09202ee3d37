//! An inbound's fallback at work: a connection its pipeline refused goes, with every byte
//! already read replayed, through the dispatch to the outbound its SNI, ALPN and path choose,
//! behind a PROXY protocol header when the entry asks for one.

use crate::pipeline::InboundFallback;
use bytes::Bytes;
use std::{
    net::SocketAddr,
    sync::Arc,
    task::{Context, Poll},
};
use tokio::io::AsyncWriteExt;
use tower::Service;
use xypro_core::{
    Address, BoxConnector, BoxError, BoxFuture, BoxIo, DestinationPolicy, Dispatch, HandBack,
    Handover, Incoming, Network, Refused, Target, TlsInfo, error_chain,
};
use xypro_fallback::{ProxyVersion, Request};

/// Marks `incoming` so the acceptors hand a refused connection back, when there is a fallback.
pub(super) fn arm(incoming: &mut Incoming, fallback: &Option<Arc<InboundFallback>>) {
    if fallback.is_some() {
        incoming.extensions.insert(HandBack);
    }
}

/// A refused connection on its way to the outbound chosen for it.
pub(super) struct Fallback {
    incoming: Incoming,
    connector: BoxConnector,
}

/// The fallback for the connection inside `error`, if the pipeline refused one and an entry of
/// `fallback` covers it.
pub(super) fn refused(
    error: &BoxError,
    fallback: &Option<Arc<InboundFallback>>,
) -> Option<Fallback> {
    let (fallback, refused) = (fallback.as_ref()?, Refused::find(error)?);
    let incoming = refused.take_incoming()?;
    let tls = incoming.extensions.get::<TlsInfo>();
    let request = Request {
        sni: tls.and_then(|t| t.server_name.as_deref()),
        alpn: tls
            .and_then(|t| t.alpn.as_deref())
            .and_then(|alpn| std::str::from_utf8(alpn).ok()),
        first_bytes: refused.read(),
    };
    let (connector, proxy) = fallback.choose(&request)?;
    tracing::debug!("to the fallback: {}", error_chain(&**error));
    let connector = match proxy {
        Some(version) => ProxyHeader::boxed(connector, version, incoming.peer, incoming.local),
        None => connector,
    };
    Some(Fallback {
        incoming,
        connector,
    })
}

impl Fallback {
    /// Connects the chosen outbound, then relays the client to it (the bytes already read
    /// first), as one logical connection of the dispatch.
    pub(super) async fn serve(self, dispatch: &Dispatch) {
        let Fallback {
            incoming,
            connector,
        } = self;
        let local = incoming.local;
        let destination = match incoming.extensions.get::<TlsInfo>() {
            Some(TlsInfo {
                server_name: Some(name),
                ..
            }) => Address::Domain(name.to_string(), local.port()),
            _ => Address::Ip(local),
        };
        // Whatever the fallback outbound dials, it is never one of this process's listeners.
        let policy = DestinationPolicy::not_self();
        let target = Target::new(destination, Network::Tcp, incoming.meta()).with_policy(policy);
        dispatch
            .connect(target, Handover::new(incoming.io), connector)
            .await;
    }
}

/// Writes a PROXY protocol header to each connection of the inner connector before anything else.
#[derive(Clone)]
struct ProxyHeader {
    inner: BoxConnector,
    header: Bytes,
}

impl ProxyHeader {
    /// `inner`, sending `version`'s header for a client at `peer` that connected to `local`.
    fn boxed(
        inner: BoxConnector,
        version: ProxyVersion,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> BoxConnector {
        let mut header = Vec::with_capacity(64);
        version.write_to_buf(&mut header, Some((peer, local)));
        BoxConnector::new(ProxyHeader {
            inner,
            header: header.into(),
        })
    }
}

impl Service<Target> for ProxyHeader {
    type Response = BoxIo;
    type Error = BoxError;
    type Future = BoxFuture<Result<BoxIo, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, target: Target) -> Self::Future {
        let connect = self.inner.call(target);
        let header = self.header.clone();
        Box::pin(async move {
            let mut io = connect.await?;
            io.write_all(&header).await?;
            Ok(io)
        })
    }
}
