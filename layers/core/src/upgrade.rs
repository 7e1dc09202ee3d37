//! `UpgradeAcceptor`: the accept-side wrapper every stream upgrade (TLS, WebSocket, ...) shares.
//!
//! An upgrade only does its own handshake ([`Upgrade::upgrade`]); taking the ready inner
//! acceptor, upgrading the stream and calling the inner acceptor with it happens here, once.

use crate::{Accepted, BoxError, BoxFuture, Incoming};
use std::{
    fmt,
    sync::Arc,
    task::{Context, Poll},
};
use tower::{Layer, Service};

/// One accept-side handshake: turns the stream of an [`Incoming`] into the upgraded stream and
/// records what it learned in the incoming's extensions.
pub trait Upgrade: Send + Sync + 'static {
    /// Upgrades `incoming`'s stream, or fails (the connection is then dropped).
    fn upgrade(&self, incoming: Incoming) -> BoxFuture<Result<Incoming, BoxError>>;
}

/// Builds [`UpgradeAcceptor`]s around an inner acceptor.
pub struct UpgradeLayer<U> {
    upgrade: Arc<U>,
}

impl<U> UpgradeLayer<U> {
    /// A layer that runs `upgrade` before the acceptor it wraps.
    pub fn new(upgrade: U) -> Self {
        UpgradeLayer {
            upgrade: Arc::new(upgrade),
        }
    }
}

impl<U> Clone for UpgradeLayer<U> {
    fn clone(&self) -> Self {
        UpgradeLayer {
            upgrade: self.upgrade.clone(),
        }
    }
}

impl<U: fmt::Debug> fmt::Debug for UpgradeLayer<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UpgradeLayer").field(&self.upgrade).finish()
    }
}

impl<U, S> Layer<S> for UpgradeLayer<U> {
    type Service = UpgradeAcceptor<U, S>;

    fn layer(&self, inner: S) -> UpgradeAcceptor<U, S> {
        UpgradeAcceptor {
            upgrade: self.upgrade.clone(),
            inner,
        }
    }
}

/// Upgrades each accepted stream, then hands it to the inner acceptor.
pub struct UpgradeAcceptor<U, S> {
    upgrade: Arc<U>,
    inner: S,
}

impl<U, S> UpgradeAcceptor<U, S> {
    /// Wraps `inner` so that it receives streams upgraded by `upgrade`.
    pub fn new(upgrade: U, inner: S) -> Self {
        UpgradeLayer::new(upgrade).layer(inner)
    }

    /// The upgrade this acceptor runs.
    pub fn upgrade(&self) -> &U {
        &self.upgrade
    }

    /// The inner acceptor.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner acceptor, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner acceptor.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<U, S: Clone> Clone for UpgradeAcceptor<U, S> {
    fn clone(&self) -> Self {
        UpgradeAcceptor {
            upgrade: self.upgrade.clone(),
            inner: self.inner.clone(),
        }
    }
}

impl<U: fmt::Debug, S: fmt::Debug> fmt::Debug for UpgradeAcceptor<U, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpgradeAcceptor")
            .field("upgrade", &self.upgrade)
            .field("inner", &self.inner)
            .finish()
    }
}

impl<U, S> Service<Incoming> for UpgradeAcceptor<U, S>
where
    U: Upgrade,
    S: Service<Incoming, Response = Accepted> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Accepted;
    type Error = BoxError;
    type Future = BoxFuture<Result<Accepted, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, incoming: Incoming) -> Self::Future {
        // Take the service that was polled ready; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let upgrade = self.upgrade.clone();
        Box::pin(async move {
            let upgraded = upgrade.upgrade(incoming).await?;
            inner.call(upgraded).await.map_err(Into::into)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BoxIo, Handover, Target};
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};
    use tower::{ServiceExt, service_fn};

    /// Strips one greeting byte and records that it did.
    #[derive(Debug)]
    struct Greeting;

    #[derive(Debug, PartialEq)]
    struct Greeted(u8);

    impl Upgrade for Greeting {
        fn upgrade(&self, mut incoming: Incoming) -> BoxFuture<Result<Incoming, BoxError>> {
            Box::pin(async move {
                let mut io = incoming.take_io();
                let byte = io.read_u8().await?;
                incoming.extensions.insert(Greeted(byte));
                incoming.replace_io(io);
                Ok(incoming)
            })
        }
    }

    #[tokio::test]
    async fn the_inner_acceptor_sees_the_upgraded_stream_and_what_was_learned() {
        let inner = service_fn(|mut incoming: Incoming| async move {
            let greeted = incoming.extensions.remove::<Greeted>().unwrap();
            let mut rest = [0; 3];
            incoming.io.read_exact(&mut rest).await?;
            assert_eq!((greeted, &rest), (Greeted(7), b"abc"));
            Ok::<_, BoxError>(Accepted::Connect {
                target: Target::tcp("example.com:80".parse::<crate::Address>().unwrap()),
                reply: Handover::new(incoming.io),
            })
        });
        let (client, server) = duplex(64);
        let incoming = Incoming::new(
            BoxIo::new(server),
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:2".parse().unwrap(),
            "in".into(),
        );
        let mut client = client;
        client.write_all(b"\x07abc").await.unwrap();
        let accepted = UpgradeAcceptor::new(Greeting, inner)
            .oneshot(incoming)
            .await
            .unwrap();
        assert!(matches!(accepted, Accepted::Connect { .. }));
    }
}
