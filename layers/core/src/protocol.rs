//! A proxy protocol's server side as a tower service: one handshake per accepted connection,
//! every clone sharing the protocol's settings.

use crate::{Accepted, BoxError, BoxFuture, Incoming};
use std::{
    fmt,
    future::Future,
    sync::Arc,
    task::{Context, Poll},
};
use tower::Service;

/// A proxy protocol's handshake: reads a client's request and yields what it asks for.
pub trait Handshake: Send + Sync + 'static {
    /// Runs the handshake of one accepted connection, within the protocol's own deadline.
    fn handshake(
        self: Arc<Self>,
        incoming: Incoming,
    ) -> impl Future<Output = Result<Accepted, BoxError>> + Send;
}

/// Any [`Handshake`] as a `Service<Incoming, Response = Accepted>`, ready at once.
pub struct ProtocolAcceptor<H> {
    handshake: Arc<H>,
}

impl<H> ProtocolAcceptor<H> {
    /// An acceptor running `handshake` (or the settings it is made from).
    pub fn new(handshake: impl Into<H>) -> Self {
        ProtocolAcceptor {
            handshake: Arc::new(handshake.into()),
        }
    }

    /// The protocol's settings in force.
    pub fn settings(&self) -> &H {
        &self.handshake
    }
}

impl<H> Clone for ProtocolAcceptor<H> {
    fn clone(&self) -> Self {
        ProtocolAcceptor {
            handshake: self.handshake.clone(),
        }
    }
}

impl<H: fmt::Debug> fmt::Debug for ProtocolAcceptor<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ProtocolAcceptor")
            .field(&self.handshake)
            .finish()
    }
}

impl<H: Handshake> Service<Incoming> for ProtocolAcceptor<H> {
    type Response = Accepted;
    type Error = BoxError;
    type Future = BoxFuture<Result<Accepted, BoxError>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, incoming: Incoming) -> Self::Future {
        Box::pin(self.handshake.clone().handshake(incoming))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Target;
    use tokio::io::duplex;
    use tower::ServiceExt;

    /// A protocol whose every client asks for the same port.
    #[derive(Debug)]
    struct FixedPort(u16);

    impl Handshake for FixedPort {
        async fn handshake(self: Arc<Self>, incoming: Incoming) -> Result<Accepted, BoxError> {
            let address = std::net::SocketAddr::from(([127, 0, 0, 1], self.0));
            Ok(Accepted::Connect {
                target: Target::tcp(address),
                reply: crate::Handover::new(incoming.io),
            })
        }
    }

    #[tokio::test]
    async fn clones_share_the_settings_and_each_call_runs_the_handshake() {
        let acceptor = ProtocolAcceptor::<FixedPort>::new(FixedPort(7));
        assert_eq!(acceptor.clone().settings().0, 7);
        let (io, _client) = duplex(64);
        let at = "127.0.0.1:1".parse().unwrap();
        let incoming = Incoming::new(io, at, at, "in".into());
        let Accepted::Connect { target, .. } = acceptor.oneshot(incoming).await.unwrap() else {
            panic!("expected a connect");
        };
        assert_eq!(target.destination.to_string(), "127.0.0.1:7");
    }
}
