//! `ConcurrencyLimit`: at most `max` open connections; each stream holds its permit until dropped.

use crate::error::LimitClosed;
use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::PollSemaphore;
use tower::Service;
use tower_layer::Layer;
use xypro_core::{BoxError, Guarded, Target};

/// Builds [`ConcurrencyLimit`] connectors that all share one budget of `max` connections.
#[derive(Debug, Clone)]
pub struct ConcurrencyLimitLayer {
    semaphore: Arc<Semaphore>,
}

impl ConcurrencyLimitLayer {
    /// A layer allowing `max` open connections across every service it builds and their clones.
    pub fn new(max: usize) -> Self {
        ConcurrencyLimitLayer {
            semaphore: Arc::new(Semaphore::new(max.min(Semaphore::MAX_PERMITS))),
        }
    }

    /// How many more connections may open right now.
    pub fn available(&self) -> usize {
        self.semaphore.available_permits()
    }
}

impl<C> Layer<C> for ConcurrencyLimitLayer {
    type Service = ConcurrencyLimit<C>;

    fn layer(&self, inner: C) -> ConcurrencyLimit<C> {
        ConcurrencyLimit::new(inner, self.semaphore.clone())
    }
}

/// A connector that waits in `poll_ready` for a permit (as tower's own limit does) before the
/// inner one is called; the returned [`Permitted`] stream keeps the permit until dropped.
pub struct ConcurrencyLimit<C> {
    inner: C,
    semaphore: PollSemaphore,
    /// The permit taken by `poll_ready` for the next call.
    permit: Option<OwnedSemaphorePermit>,
}

impl<C: Clone> Clone for ConcurrencyLimit<C> {
    /// A clone shares the budget but not a permit its original holds for its next call.
    fn clone(&self) -> Self {
        ConcurrencyLimit {
            inner: self.inner.clone(),
            semaphore: self.semaphore.clone(),
            permit: None,
        }
    }
}

impl<C: fmt::Debug> fmt::Debug for ConcurrencyLimit<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrencyLimit")
            .field("inner", &self.inner)
            .field("available", &self.semaphore.available_permits())
            .field("holds_permit", &self.permit.is_some())
            .finish()
    }
}

impl<C> ConcurrencyLimit<C> {
    /// Wraps `inner`, drawing permits from `semaphore`.
    pub fn new(inner: C, semaphore: Arc<Semaphore>) -> Self {
        ConcurrencyLimit {
            inner,
            semaphore: PollSemaphore::new(semaphore),
            permit: None,
        }
    }

    /// The inner connector.
    pub fn get_ref(&self) -> &C {
        &self.inner
    }

    /// The inner connector, mutably.
    pub fn get_mut(&mut self) -> &mut C {
        &mut self.inner
    }

    /// Unwraps the inner connector.
    pub fn into_inner(self) -> C {
        self.inner
    }
}

impl<C> Service<Target> for ConcurrencyLimit<C>
where
    C: Service<Target> + Clone + Send + 'static,
    C::Future: Send,
    C::Error: Into<BoxError>,
{
    type Response = Permitted<C::Response>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        if self.permit.is_none() {
            let permit = ready!(self.semaphore.poll_acquire(cx)).ok_or(LimitClosed)?;
            self.permit = Some(permit);
        }
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, target: Target) -> Self::Future {
        let permit = self.permit.take();
        // Take the service that was made ready; leave a fresh clone for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let permit = permit.ok_or("ConcurrencyLimit called before poll_ready")?;
            let io = inner.call(target).await.map_err(Into::into)?;
            Ok(Guarded::new(io, permit))
        })
    }
}

/// A stream that holds one connection permit until it is dropped.
pub type Permitted<S> = Guarded<S, OwnedSemaphorePermit>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::{DuplexStream, duplex};
    use tower::ServiceExt;
    use tower_test::mock;
    use xypro_core::Address;

    fn target(port: u16) -> Target {
        Target::tcp(Address::Domain("example.com".into(), port))
    }

    #[tokio::test(start_paused = true)]
    async fn the_stream_holds_the_permit_until_dropped() {
        let (service, mut handle) = mock::pair::<Target, DuplexStream>();
        let layer = ConcurrencyLimitLayer::new(2);
        let service = layer.layer(service);

        // Two connections open through two different clones of the service.
        let mut streams = Vec::new();
        for port in [1, 2] {
            let call = tokio::spawn(service.clone().oneshot(target(port)));
            let (request, reply) = handle.next_request().await.unwrap();
            assert_eq!(request, target(port));
            reply.send_response(duplex(8).0);
            streams.push(call.await.unwrap().unwrap());
        }
        assert_eq!(layer.available(), 0, "open streams keep their permits");

        // A third caller waits, and the inner connector is not even called.
        let third = tokio::spawn(service.clone().oneshot(target(3)));
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(!third.is_finished());
        assert!(
            handle.poll_request().is_pending(),
            "no dial without a permit"
        );

        // Dropping one stream lets the third connection through.
        drop(streams.pop());
        let (request, reply) = handle.next_request().await.unwrap();
        assert_eq!(request, target(3));
        reply.send_response(duplex(8).0);
        let third = third.await.unwrap().unwrap();
        assert_eq!(layer.available(), 0);
        drop(third);
        drop(streams);
        assert_eq!(layer.available(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_call_returns_its_permit() {
        let (service, mut handle) = mock::pair::<Target, DuplexStream>();
        let layer = ConcurrencyLimitLayer::new(1);
        let call = tokio::spawn(layer.layer(service).oneshot(target(1)));
        let (_, reply) = handle.next_request().await.unwrap();
        reply.send_error(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(call.await.unwrap().is_err());
        assert_eq!(layer.available(), 1);
    }
}
