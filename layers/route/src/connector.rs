//! `RouteConnector`: the `route` outbound, which sends each connection to the outbound its
//! rules choose; and `Reject`, the outbound that refuses everything.

use crate::{Facts, Protocol, Router};
use std::{
    collections::HashMap,
    fmt,
    sync::Arc,
    task::{Context, Poll},
};
use tower::{Service, ServiceExt};
use xypro_core::{BoxConnector, BoxError, BoxFuture, BoxIo, Denied, SharedResolver, Target};

/// Chooses an outbound per connection with a [`Router`] and connects through it, recording
/// the rule in the connection's route.
#[derive(Clone)]
pub struct RouteConnector {
    router: Arc<Router>,
    outbounds: Arc<HashMap<String, BoxConnector>>,
    resolver: SharedResolver,
}

impl fmt::Debug for RouteConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteConnector")
            .field("outbounds", &self.outbounds.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl RouteConnector {
    /// Routes with `router` to the named `outbounds` (every name the router can choose),
    /// resolving domains for IP rules with `resolver`.
    pub fn new(
        router: Router,
        outbounds: HashMap<String, BoxConnector>,
        resolver: SharedResolver,
    ) -> Self {
        RouteConnector {
            router: Arc::new(router),
            outbounds: Arc::new(outbounds),
            resolver,
        }
    }
}

impl Service<Target> for RouteConnector {
    type Response = BoxIo;
    type Error = BoxError;
    type Future = BoxFuture<Result<BoxIo, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        // Which outbound is not known before the call: the chosen one is readied then.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, target: Target) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let chosen = this.choose(&target).await;
            let outbound = this.outbounds.get(&chosen).cloned().ok_or_else(|| {
                BoxError::from(format!("route chose `{chosen}`, which is not built"))
            })?;
            outbound.oneshot(target).await
        })
    }
}

impl RouteConnector {
    /// Runs the rules for `target` and records the one that matched.
    async fn choose(&self, target: &Target) -> String {
        let route = target.context.route();
        let meta = target.meta();
        let facts = Facts {
            inbound: &meta.inbound,
            network: target.network,
            user: meta.user.as_deref(),
            protocol: route.sniffed_protocol.and_then(protocol),
            sniffed_host: route.sniffed_host.as_deref(),
            destination: &target.destination,
            source: meta.peer,
        };
        let resolver = &self.resolver;
        let resolve = |host: &str| resolver.resolve(host);
        let decision = self.router.decide(&facts, &resolve).await;
        let label = decision.label;
        let rule = (Arc::from(label.kind), Arc::from(label.payload.as_str()));
        let resolved = decision
            .resolved
            .as_ref()
            .and_then(|ips| ips.first())
            .copied();
        target.context.update_route(|route| {
            route.rule = Some(rule);
            if let Some(ip) = resolved {
                route.resolved = Some(std::net::SocketAddr::new(ip, target.destination.port()));
            }
        });
        decision.outbound.to_owned()
    }
}

/// The rule-engine name of a sniffed protocol.
fn protocol(name: &str) -> Option<Protocol> {
    match name {
        "tls" => Some(Protocol::Tls),
        "http" => Some(Protocol::Http),
        "quic" => Some(Protocol::Quic),
        _ => None,
    }
}

/// Refuses every connection as not allowed: SOCKS5 reply `02`, HTTP `403`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reject;

impl Service<Target> for Reject {
    type Response = BoxIo;
    type Error = BoxError;
    type Future = BoxFuture<Result<BoxIo, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, target: Target) -> Self::Future {
        let denied = Denied {
            destination: target.destination.to_string(),
            reason: "rejected by a rule",
        };
        Box::pin(std::future::ready(Err(denied.into())))
    }
}
