//! `Timeout`: a deadline over the inner connector's readiness and call, and an idle deadline on
//! its stream.

use crate::{IdleTimeout, TimeoutSettings, error::ConnectTimeout};
use pin_project_lite::pin_project;
use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};
use tokio::time::{Instant, Sleep, sleep, sleep_until};
use tower::Service;
use tower_layer::Layer;
use xypro_core::{BoxError, Target};

/// Builds [`Timeout`] connectors from validated settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeoutLayer {
    settings: TimeoutSettings,
}

impl TimeoutLayer {
    /// A layer applying `settings.connect` to each call and `settings.idle` to each stream.
    pub fn new(settings: TimeoutSettings) -> Self {
        TimeoutLayer { settings }
    }
}

impl<C> Layer<C> for TimeoutLayer {
    type Service = Timeout<C>;

    fn layer(&self, inner: C) -> Timeout<C> {
        Timeout::new(inner, self.settings)
    }
}

/// A connector that fails with [`ConnectTimeout`] when waiting for the inner connector to be
/// ready (a concurrency or rate limit below) plus its call outlast `connect`, and wraps the
/// stream in [`IdleTimeout`].
pub struct Timeout<C> {
    inner: C,
    settings: TimeoutSettings,
    /// The connect deadline, armed while `poll_ready` waits on the inner connector.
    waiting: Option<Pin<Box<Sleep>>>,
}

impl<C: Clone> Clone for Timeout<C> {
    fn clone(&self) -> Self {
        Timeout::new(self.inner.clone(), self.settings)
    }
}

impl<C: fmt::Debug> fmt::Debug for Timeout<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout")
            .field("inner", &self.inner)
            .field("settings", &self.settings)
            .finish()
    }
}

impl<C> Timeout<C> {
    /// Wraps `inner` with the given deadlines.
    pub fn new(inner: C, settings: TimeoutSettings) -> Self {
        Timeout {
            inner,
            settings,
            waiting: None,
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

impl<C> Service<Target> for Timeout<C>
where
    C: Service<Target>,
    C::Error: Into<BoxError>,
{
    type Response = IdleTimeout<C::Response>;
    type Error = BoxError;
    type Future = ConnectFuture<C::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        if let Poll::Ready(ready) = self.inner.poll_ready(cx) {
            return Poll::Ready(ready.map_err(Into::into));
        }
        let Some(limit) = self.settings.connect else {
            return Poll::Pending;
        };
        let waiting = self.waiting.get_or_insert_with(|| Box::pin(sleep(limit)));
        ready!(waiting.as_mut().poll(cx));
        self.waiting = None;
        Poll::Ready(Err(Box::new(ConnectTimeout::new(limit))))
    }

    fn call(&mut self, target: Target) -> Self::Future {
        // The call gets what is left of the deadline that started while waiting to be ready.
        let deadline = match self.waiting.take() {
            Some(waiting) => Some(waiting.deadline()),
            None => self.settings.connect.map(|limit| Instant::now() + limit),
        };
        ConnectFuture {
            inner: self.inner.call(target),
            deadline: deadline.map(sleep_until),
            limit: self.settings.connect.unwrap_or_default(),
            idle: self.settings.idle,
        }
    }
}

pin_project! {
    /// The future of [`Timeout::call`]: the inner call raced against the connect deadline.
    #[derive(Debug)]
    pub struct ConnectFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        deadline: Option<Sleep>,
        limit: Duration,
        idle: Option<Duration>,
    }
}

impl<F, S, E> Future for ConnectFuture<F>
where
    F: Future<Output = Result<S, E>>,
    E: Into<BoxError>,
{
    type Output = Result<IdleTimeout<S>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(result) = this.inner.poll(cx) {
            return Poll::Ready(
                result
                    .map(|io| IdleTimeout::new(io, *this.idle))
                    .map_err(Into::into),
            );
        }
        if let Some(deadline) = this.deadline.as_pin_mut() {
            ready!(deadline.poll(cx));
            return Poll::Ready(Err(Box::new(ConnectTimeout::new(*this.limit))));
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex},
        time::Instant,
    };
    use tower::ServiceExt;
    use tower_test::mock;
    use xypro_core::{Address, Failure};

    fn target() -> Target {
        Target::tcp("example.com:80".parse::<Address>().unwrap())
    }

    fn layer(connect: Option<u64>, idle: Option<u64>) -> TimeoutLayer {
        TimeoutLayer::new(TimeoutSettings {
            connect: connect.map(Duration::from_secs),
            idle: idle.map(Duration::from_secs),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn connect_deadline_fires_and_classifies_as_timed_out() {
        let (service, mut handle) = mock::pair::<Target, DuplexStream>();
        let service = layer(Some(10), None).layer(service);
        let start = Instant::now();
        let call = tokio::spawn(service.oneshot(target()));
        // The inner call is made but never answered.
        let (request, _pending) = handle.next_request().await.unwrap();
        assert_eq!(request, target());
        let err = call.await.unwrap().unwrap_err();
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        assert_eq!(Failure::classify(&*err), Failure::TimedOut);
        assert!(err.to_string().contains("10s"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_prompt_connection_passes_and_inner_errors_are_kept() {
        let (service, mut handle) = mock::pair::<Target, DuplexStream>();
        let service = layer(Some(10), None).layer(service);
        let call = tokio::spawn(service.clone().oneshot(target()));
        let (_, reply) = handle.next_request().await.unwrap();
        tokio::time::sleep(Duration::from_secs(9)).await;
        let (ours, mut theirs) = duplex(64);
        reply.send_response(ours);
        let mut stream = call.await.unwrap().unwrap();
        theirs.write_all(b"ok").await.unwrap();
        let mut buf = [0; 2];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ok");

        let call = tokio::spawn(service.oneshot(target()));
        let (_, reply) = handle.next_request().await.unwrap();
        reply.send_error(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let err = call.await.unwrap().unwrap_err();
        assert_eq!(Failure::classify(&*err), Failure::ConnectionRefused);
    }

    #[tokio::test(start_paused = true)]
    async fn idle_closes_a_silent_stream_in_about_the_idle_time() {
        let (service, mut handle) = mock::pair::<Target, DuplexStream>();
        let service = layer(None, Some(30)).layer(service);
        let call = tokio::spawn(service.oneshot(target()));
        let (ours, _theirs) = duplex(64);
        handle.next_request().await.unwrap().1.send_response(ours);
        let mut stream = call.await.unwrap().unwrap();
        let start = Instant::now();
        let err = stream.read(&mut [0; 8]).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(start.elapsed(), Duration::from_secs(30));
        assert_eq!(Failure::classify(&err), Failure::TimedOut);
    }
}
