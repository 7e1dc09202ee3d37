//! A byte token bucket that may go into debt, shared by every stream of a rate limit.
//!
//! Why not governor for bytes: a read learns how many bytes it moved only after it happened,
//! and governor cannot charge a cell it has not admitted (it refuses rather than owing). This
//! bucket admits an operation while at least one byte of budget is left, then charges what
//! actually moved, possibly going negative; the next operation waits until the debt is paid
//! back. Over any long stretch the rate is exact; the overshoot is bounded by one chunk per
//! stream that was admitted at the same moment.

use std::{
    future::Future,
    num::NonZeroU64,
    pin::Pin,
    sync::{Mutex, PoisonError},
    task::{Context, Poll, ready},
    time::Duration,
};
use tokio::time::{Instant, Sleep, sleep_until};

/// Fraction of a second of traffic the bucket holds when full (its burst), and the largest
/// single read or write it admits.
const BURST_SECONDS: f64 = 0.1;

/// Bytes per second with a burst of [`BURST_SECONDS`] worth, refilled continuously.
#[derive(Debug)]
pub(crate) struct ByteBucket {
    rate: f64,
    capacity: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    tokens: f64,
    updated: Instant,
}

impl ByteBucket {
    /// A full bucket for `rate` bytes per second.
    pub(crate) fn new(rate: NonZeroU64) -> Self {
        let rate = rate.get() as f64;
        let capacity = (rate * BURST_SECONDS).max(1.0);
        ByteBucket {
            rate,
            capacity,
            state: Mutex::new(State {
                tokens: capacity,
                updated: Instant::now(),
            }),
        }
    }

    /// The largest read or write to attempt at once.
    pub(crate) fn chunk(&self) -> usize {
        self.capacity as usize
    }

    fn refill(&self, state: &mut State, now: Instant) {
        let elapsed = now.saturating_duration_since(state.updated).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.rate).min(self.capacity);
        state.updated = now;
    }

    /// Ready once at least one byte of budget is left; otherwise arms `timer` for that moment.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        timer: &mut Option<Pin<Box<Sleep>>>,
    ) -> Poll<()> {
        loop {
            let now = Instant::now();
            let missing = {
                let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
                self.refill(&mut state, now);
                if state.tokens >= 1.0 {
                    return Poll::Ready(());
                }
                1.0 - state.tokens
            };
            let wait = Duration::from_nanos((missing / self.rate * 1e9).ceil() as u64);
            let deadline = now + wait;
            if timer.as_ref().is_none_or(|timer| timer.is_elapsed()) {
                xypro_core::events::RATE_LIMIT_BYTE_WAITS.inc();
            }
            let timer = match timer {
                Some(timer) => {
                    timer.as_mut().reset(deadline);
                    timer
                }
                None => timer.insert(Box::pin(sleep_until(deadline))),
            };
            ready!(timer.as_mut().poll(cx));
        }
    }

    /// Charges `bytes` that moved, going into debt if need be.
    pub(crate) fn charge(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        self.refill(&mut state, Instant::now());
        state.tokens -= bytes as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;

    #[tokio::test(start_paused = true)]
    async fn debt_is_paid_back_before_the_next_admission() {
        let bucket = ByteBucket::new(NonZeroU64::new(1000).unwrap());
        assert_eq!(bucket.chunk(), 100);
        let mut timer = None;
        let start = Instant::now();
        poll_fn(|cx| bucket.poll_ready(cx, &mut timer)).await;
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "a full bucket admits at once"
        );
        // 100 tokens, 1100 charged: 1000 bytes of debt, paid back in one second.
        bucket.charge(1100);
        poll_fn(|cx| bucket.poll_ready(cx, &mut timer)).await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_millis(1001) && waited <= Duration::from_millis(1003),
            "{waited:?}"
        );
    }
}
