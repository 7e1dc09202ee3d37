//! Errors of the limit layers.

use std::time::Duration;

/// The inner connector produced no stream within the `connect` deadline.
///
/// Its source is tower's `Elapsed`, so [`Failure::classify`](xypro_core::Failure::classify)
/// reports [`Failure::TimedOut`](xypro_core::Failure::TimedOut).
#[derive(Debug, thiserror::Error)]
#[error("no connection within {limit:?} (dial and handshakes)")]
pub struct ConnectTimeout {
    limit: Duration,
    #[source]
    source: tower::timeout::error::Elapsed,
}

impl ConnectTimeout {
    /// The error for a call that outlasted `limit`.
    pub fn new(limit: Duration) -> Self {
        ConnectTimeout {
            limit,
            source: tower::timeout::error::Elapsed::new(),
        }
    }

    /// The deadline that passed.
    pub fn limit(&self) -> Duration {
        self.limit
    }
}

/// No byte moved either way for the idle limit; carried inside an `io::Error` of kind
/// `TimedOut`.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("no data either way for {idle:?}")]
pub struct IdleTimedOut {
    /// The idle limit that passed.
    pub idle: Duration,
}

/// The concurrency limit's semaphore was closed; cannot happen while a layer holds it.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the concurrency limit is closed")]
pub struct LimitClosed;
