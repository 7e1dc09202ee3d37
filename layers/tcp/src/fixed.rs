//! `TcpConnector`: dials one fixed address whatever the request's destination.

use crate::{
    DEFAULT_CONNECT_TIMEOUT,
    dial::{connect_any, resolve, within},
};
use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};
use tokio::net::TcpStream;
use tower::Service;
use xypro_core::{Address, BoxError, DestinationPolicy, SharedResolver, SystemResolver, Target};

/// Dials a fixed address (a tunnel's server); the destination travels in a protocol above.
#[derive(Debug, Clone)]
pub struct TcpConnector {
    address: Address,
    nodelay: bool,
    connect_timeout: Duration,
    resolver: SharedResolver,
}

impl TcpConnector {
    /// A connector for `address`, with `TCP_NODELAY` on and a 10 s dial deadline.
    pub fn new(address: Address) -> Self {
        TcpConnector {
            address,
            nodelay: true,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            resolver: SystemResolver::shared(),
        }
    }

    /// Sets the resolver for a domain address (the system's by default).
    pub fn resolver(mut self, resolver: SharedResolver) -> Self {
        self.resolver = resolver;
        self
    }

    /// Sets the deadline for name resolution plus connecting.
    pub fn connect_timeout(mut self, limit: Duration) -> Self {
        self.connect_timeout = limit;
        self
    }

    /// The deadline for name resolution plus connecting.
    pub fn timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// Sets whether `TCP_NODELAY` is enabled on new connections.
    pub fn nodelay(mut self, nodelay: bool) -> Self {
        self.nodelay = nodelay;
        self
    }

    /// The address this connector dials.
    pub fn address(&self) -> &Address {
        &self.address
    }
}

impl Service<Target> for TcpConnector {
    type Response = TcpStream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<TcpStream, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _target: Target) -> Self::Future {
        let (address, nodelay) = (self.address.clone(), self.nodelay);
        let resolver = self.resolver.clone();
        Box::pin(within(self.connect_timeout, async move {
            let addrs = resolve(&address, &DestinationPolicy::default(), &*resolver).await?;
            connect_any(&addrs, nodelay).await
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tower::ServiceExt;

    #[tokio::test]
    async fn dials_the_fixed_address_not_the_destination() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = listener.local_addr().unwrap();
        let connector = TcpConnector::new(server.into());
        let target = Target::tcp("unrelated.invalid:9".parse::<Address>().unwrap());
        let (mut dialled, accepted) =
            tokio::join!(async { connector.oneshot(target).await.unwrap() }, async {
                listener.accept().await.unwrap().0
            });
        assert!(dialled.nodelay().unwrap());
        let mut accepted = accepted;
        dialled.write_all(b"hi").await.unwrap();
        let mut buf = [0; 2];
        accepted.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hi");
    }
}
