//! `RateLimit`: a shared connection rate (governor) and shared byte rates (a debt-allowing
//! token bucket), optionally one budget per user.

use crate::{RateLimitSettings, bucket::ByteBucket};
use governor::{
    Quota, RateLimiter,
    clock::Clock,
    middleware::NoOpMiddleware,
    state::{InMemoryState, NotKeyed, keyed::DefaultKeyedStateStore},
};
use std::{
    collections::HashMap,
    fmt,
    future::Future,
    io::{self, IoSlice},
    num::NonZeroU64,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll, ready},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::Sleep,
};
use tower::Service;
use tower_layer::Layer;
use xypro_core::{BoxError, Target};

/// Who a budget belongs to: the authenticated user, or `None` for anonymous connections.
type User = Option<Arc<str>>;

/// governor's clock on tokio's time, so paused-time tests and the runtime agree.
#[derive(Debug, Clone)]
struct TokioClock {
    start: tokio::time::Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.start.elapsed()
    }
}

type Direct = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;
type Keyed = RateLimiter<User, DefaultKeyedStateStore<User>, TokioClock, NoOpMiddleware<Duration>>;

enum Connections {
    Shared(Direct),
    PerUser(Keyed),
}

/// Download and upload budgets of one user (or of everyone).
#[derive(Debug)]
struct Budgets {
    down: ByteBucket,
    up: ByteBucket,
}

enum Bytes {
    Shared(Arc<Budgets>),
    PerUser {
        rate: NonZeroU64,
        users: Mutex<HashMap<User, Arc<Budgets>>>,
    },
}

/// The state every service and stream built from one layer shares.
struct Shared {
    clock: TokioClock,
    connections: Option<Connections>,
    bytes: Option<Bytes>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitState")
            .field("connections", &self.connections.is_some())
            .field("bytes", &self.bytes.is_some())
            .finish()
    }
}

impl Shared {
    fn new(settings: RateLimitSettings) -> Self {
        let clock = TokioClock {
            start: tokio::time::Instant::now(),
        };
        let connections = settings.connections.map(|rate| {
            let quota = Quota::per_second(rate.per_second).allow_burst(rate.burst);
            if settings.per_user {
                Connections::PerUser(RateLimiter::new(
                    quota,
                    DefaultKeyedStateStore::default(),
                    clock.clone(),
                ))
            } else {
                Connections::Shared(RateLimiter::direct_with_clock(quota, clock.clone()))
            }
        });
        let bytes = settings.bytes_per_second.map(|rate| {
            if settings.per_user {
                Bytes::PerUser {
                    rate,
                    users: Mutex::new(HashMap::new()),
                }
            } else {
                Bytes::Shared(Arc::new(Budgets::new(rate)))
            }
        });
        Shared {
            clock,
            connections,
            bytes,
        }
    }

    /// Admits one more connection now, or says how long until the shared rate would.
    fn check_shared(&self) -> Result<(), Duration> {
        match &self.connections {
            Some(Connections::Shared(limiter)) => limiter
                .check()
                .map_err(|not_until| not_until.wait_time_from(self.clock.now())),
            _ => Ok(()),
        }
    }

    /// Waits until the per-user connection rate admits one more connection for `user`.
    async fn admit_user(&self, user: &User) {
        let Some(Connections::PerUser(limiter)) = &self.connections else {
            return;
        };
        // Not governor's `until_ready`: it sleeps on a wall-clock timer that paused tokio
        // time cannot drive.
        while let Err(not_until) = limiter.check_key(user) {
            xypro_core::events::RATE_LIMIT_CONNECTION_WAITS.inc();
            tokio::time::sleep(not_until.wait_time_from(self.clock.now())).await;
        }
    }

    /// The byte budgets a new stream of `user` draws on, if bytes are limited.
    fn budgets(&self, user: &User) -> Option<Arc<Budgets>> {
        match self.bytes.as_ref()? {
            Bytes::Shared(budgets) => Some(budgets.clone()),
            Bytes::PerUser { rate, users } => {
                let mut users = users.lock().unwrap_or_else(PoisonError::into_inner);
                let budgets = users
                    .entry(user.clone())
                    .or_insert_with(|| Arc::new(Budgets::new(*rate)));
                Some(budgets.clone())
            }
        }
    }
}

impl Budgets {
    fn new(rate: NonZeroU64) -> Self {
        Budgets {
            down: ByteBucket::new(rate),
            up: ByteBucket::new(rate),
        }
    }
}

/// Builds [`RateLimit`] connectors; every service built from one layer, and every clone of
/// them, draws on the same budgets.
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    shared: Arc<Shared>,
}

impl RateLimitLayer {
    /// A layer with fresh budgets for `settings`.
    pub fn new(settings: RateLimitSettings) -> Self {
        RateLimitLayer {
            shared: Arc::new(Shared::new(settings)),
        }
    }
}

impl<C> Layer<C> for RateLimitLayer {
    type Service = RateLimit<C>;

    fn layer(&self, inner: C) -> RateLimit<C> {
        RateLimit {
            inner,
            shared: self.shared.clone(),
            admitted: false,
            wait: None,
        }
    }
}

/// A connector that delays calls beyond the connection rate (it never fails them) and
/// returns [`Throttled`] streams held to the byte rate.
///
/// A shared connection rate is waited for in `poll_ready`, as tower's own middleware does; a
/// per-user rate can only be known from the target, so it is waited for in `call`.
pub struct RateLimit<C> {
    inner: C,
    shared: Arc<Shared>,
    /// Whether `poll_ready` already admitted the next call under the shared rate.
    admitted: bool,
    /// The wait for the shared rate, while `poll_ready` is pending on it.
    wait: Option<Pin<Box<Sleep>>>,
}

impl<C: Clone> Clone for RateLimit<C> {
    /// A clone shares the budgets but not an admission its original holds for its next call.
    fn clone(&self) -> Self {
        RateLimit {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
            admitted: false,
            wait: None,
        }
    }
}

impl<C: fmt::Debug> fmt::Debug for RateLimit<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .field("shared", &self.shared)
            .field("admitted", &self.admitted)
            .finish()
    }
}

impl<C> RateLimit<C> {
    /// Wraps `inner` with fresh budgets for `settings` (use [`RateLimitLayer`] to share them).
    pub fn new(inner: C, settings: RateLimitSettings) -> Self {
        RateLimitLayer::new(settings).layer(inner)
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

impl<C> Service<Target> for RateLimit<C>
where
    C: Service<Target> + Clone + Send + 'static,
    C::Future: Send,
    C::Error: Into<BoxError>,
{
    type Response = Throttled<C::Response>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        while !self.admitted {
            match self.shared.check_shared() {
                Ok(()) => {
                    self.admitted = true;
                    self.wait = None;
                }
                Err(wait) => {
                    if self.wait.is_none() {
                        xypro_core::events::RATE_LIMIT_CONNECTION_WAITS.inc();
                    }
                    let deadline = tokio::time::Instant::now() + wait;
                    let sleep = self
                        .wait
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                    sleep.as_mut().reset(deadline);
                    ready!(sleep.as_mut().poll(cx));
                }
            }
        }
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, target: Target) -> Self::Future {
        self.admitted = false;
        // Take the service that was made ready; leave a fresh clone for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        Box::pin(async move {
            let user = target.meta().user.clone();
            shared.admit_user(&user).await;
            let io = inner.call(target).await.map_err(Into::into)?;
            Ok(Throttled {
                inner: io,
                budgets: shared.budgets(&user),
                read_timer: None,
                write_timer: None,
            })
        })
    }
}

/// A stream whose reads draw on the download budget and writes on the upload budget.
///
/// Each operation waits until its budget is positive, moves at most a tenth of a second's
/// worth of bytes, and is then charged what it moved.
pub struct Throttled<S> {
    inner: S,
    budgets: Option<Arc<Budgets>>,
    read_timer: Option<Pin<Box<Sleep>>>,
    write_timer: Option<Pin<Box<Sleep>>>,
}

impl<S: fmt::Debug> fmt::Debug for Throttled<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Throttled")
            .field("inner", &self.inner)
            .field("limited", &self.budgets.is_some())
            .finish()
    }
}

impl<S> Throttled<S> {
    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the stream, leaving the byte budget behind.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Throttled<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let Some(budgets) = &this.budgets else {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        };
        ready!(budgets.down.poll_ready(cx, &mut this.read_timer));
        let chunk = budgets.down.chunk();
        let moved = if buf.remaining() > chunk {
            let mut limited = ReadBuf::new(buf.initialize_unfilled_to(chunk));
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut limited))?;
            let moved = limited.filled().len();
            buf.advance(moved);
            moved
        } else {
            let before = buf.filled().len();
            ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
            buf.filled().len() - before
        };
        budgets.down.charge(moved);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Throttled<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let Some(budgets) = &this.budgets else {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        };
        ready!(budgets.up.poll_ready(cx, &mut this.write_timer));
        let limit = buf.len().min(budgets.up.chunk());
        let moved = ready!(Pin::new(&mut this.inner).poll_write(cx, &buf[..limit]))?;
        budgets.up.charge(moved);
        Poll::Ready(Ok(moved))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.budgets.is_none() {
            return Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        }
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &**b);
        self.poll_write(cx, first)
    }

    fn is_write_vectored(&self) -> bool {
        self.budgets.is_none() && self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
