//! One balanced outbound: its connector, open-connection count and failure back-off.

use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};
use tokio::time::Instant;
use xypro_core::{BoxConnector, BoxIo, Guarded};

/// The first back-off after a failure; it doubles with each further failure.
pub(crate) const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest back-off.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// An outbound pipeline and what the balancer knows about it.
#[derive(Debug)]
pub(crate) struct Endpoint {
    pub(crate) name: Arc<str>,
    pub(crate) connector: BoxConnector,
    /// Connections being dialled or open through this endpoint.
    open: AtomicUsize,
    health: Mutex<Health>,
}

#[derive(Debug, Default)]
struct Health {
    /// Failures since the last success.
    failures: u32,
    /// When the endpoint may be tried again; `None` while healthy.
    retry_at: Option<Instant>,
    /// The last failure, for error messages about skipped endpoints.
    last_error: Option<String>,
}

impl Endpoint {
    pub(crate) fn new(name: String, connector: BoxConnector) -> Self {
        Endpoint {
            name: name.into(),
            connector,
            open: AtomicUsize::new(0),
            health: Mutex::new(Health::default()),
        }
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Connections being dialled or open.
    pub(crate) fn load(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// When a backed-off endpoint may be tried again; `None` if it may be tried now.
    pub(crate) fn backed_off_until(&self, now: Instant) -> Option<Instant> {
        self.health().retry_at.filter(|at| *at > now)
    }

    /// The last failure's message, if any.
    pub(crate) fn last_error(&self) -> Option<String> {
        self.health().last_error.clone()
    }

    /// Forgets past failures.
    pub(crate) fn succeeded(&self) {
        let mut health = self.health();
        if health.failures > 0 {
            tracing::info!(outbound = %self.name, "outbound recovered");
        }
        *health = Health::default();
    }

    /// Records a failure and backs off: 1 s, doubling per failure, at most 60 s.
    pub(crate) fn failed(&self, error: String, now: Instant) -> Duration {
        let mut health = self.health();
        health.failures = health.failures.saturating_add(1);
        let backoff = FIRST_BACKOFF
            .saturating_mul(1 << (health.failures - 1).min(16))
            .min(MAX_BACKOFF);
        health.retry_at = Some(now + backoff);
        tracing::warn!(outbound = %self.name, %error, ?backoff, "outbound failed; backing off");
        health.last_error = Some(error);
        backoff
    }
}

/// One unit of an outbound's load, held by a [`Balanced`] stream and given back when dropped.
pub struct Load {
    endpoints: Arc<[Endpoint]>,
    index: usize,
}

impl Load {
    pub(crate) fn new(endpoints: Arc<[Endpoint]>, index: usize) -> Self {
        endpoints[index].open.fetch_add(1, Ordering::Relaxed);
        Load { endpoints, index }
    }

    fn endpoint(&self) -> &Endpoint {
        &self.endpoints[self.index]
    }

    /// The name of the outbound this load counts toward.
    pub fn outbound(&self) -> &str {
        &self.endpoint().name
    }
}

impl std::fmt::Debug for Load {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Load").field(&self.endpoint().name).finish()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.endpoint().open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A stream from one of the balanced outbounds; it counts toward that outbound's load until
/// dropped, and `stream.guard().outbound()` names the outbound.
pub type Balanced = Guarded<BoxIo, Load>;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn backoff_doubles_to_a_minute_and_resets_on_success() {
        let (connector, _handle) = tower_test::mock::pair::<xypro_core::Target, BoxIo>();
        let endpoint = Endpoint::new("a".into(), BoxConnector::new(connector));
        let now = Instant::now();
        let backoffs: Vec<u64> = (0..9)
            .map(|_| endpoint.failed("down".into(), now).as_secs())
            .collect();
        assert_eq!(backoffs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(endpoint.backed_off_until(now), Some(now + MAX_BACKOFF));
        endpoint.succeeded();
        assert_eq!(endpoint.backed_off_until(now), None);
        assert_eq!(endpoint.failed("down".into(), now), FIRST_BACKOFF);
    }
}
