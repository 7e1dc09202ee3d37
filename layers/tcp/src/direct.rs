//! `DirectConnector`: dials each request's own destination, TCP or UDP.

use crate::{
    DEFAULT_CONNECT_TIMEOUT, UdpStream,
    dial::{connect_any, resolve, within},
};
use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};
use tower::Service;
use xypro_core::{BoxError, BoxIo, Network, SharedResolver, SystemResolver, Target};

/// Dials the request's destination after checking resolved addresses against its policy.
#[derive(Debug, Clone)]
pub struct DirectConnector {
    nodelay: bool,
    connect_timeout: Duration,
    resolver: SharedResolver,
}

impl DirectConnector {
    /// A direct connector with `TCP_NODELAY` on.
    pub fn new() -> Self {
        DirectConnector {
            nodelay: true,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            resolver: SystemResolver::shared(),
        }
    }

    /// Sets the deadline for name resolution plus connecting.
    pub fn connect_timeout(mut self, limit: Duration) -> Self {
        self.connect_timeout = limit;
        self
    }

    /// Sets whether `TCP_NODELAY` is enabled on new TCP connections.
    pub fn nodelay(mut self, nodelay: bool) -> Self {
        self.nodelay = nodelay;
        self
    }

    /// Sets the resolver for domain destinations (the system's by default).
    pub fn resolver(mut self, resolver: SharedResolver) -> Self {
        self.resolver = resolver;
        self
    }

    /// The deadline for name resolution plus connecting.
    pub fn timeout(&self) -> Duration {
        self.connect_timeout
    }
}

impl Default for DirectConnector {
    fn default() -> Self {
        Self::new()
    }
}

impl Service<Target> for DirectConnector {
    type Response = BoxIo;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<BoxIo, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, target: Target) -> Self::Future {
        let (nodelay, limit) = (self.nodelay, self.connect_timeout);
        let resolver = self.resolver.clone();
        let dial = async move {
            let addrs = resolve(&target.destination, &target.policy, &*resolver).await?;
            target
                .context
                .update_route(|route| route.resolved = Some(addrs[0]));
            match target.network {
                Network::Udp => Ok::<_, BoxError>(BoxIo::new(UdpStream::connect(addrs[0]).await?)),
                _ => Ok(BoxIo::new(connect_any(&addrs, nodelay).await?)),
            }
        };
        Box::pin(within(limit, dial))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;
    use xypro_core::{Address, DestinationPolicy, Failure};

    #[tokio::test]
    async fn refuses_loopback_under_public_only_policy_without_dialling() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut target = Target::tcp(Address::Ip(listener.local_addr().unwrap()));
        target.policy = DestinationPolicy::public_only();
        let err = DirectConnector::new().oneshot(target).await.unwrap_err();
        assert_eq!(Failure::classify(&*err), Failure::NotAllowed);
        let nothing =
            tokio::time::timeout(std::time::Duration::from_millis(50), listener.accept()).await;
        assert!(nothing.is_err(), "nothing may be dialled");
    }
}
