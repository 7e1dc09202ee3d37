//! `IdleDeadline`: fires once nothing has happened for a while, without re-arming a timer on
//! every read or write.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};
use tokio::time::{Instant, Sleep, sleep_until};

/// A deadline `limit` after the last activity the caller reports.
///
/// Activity only moves an [`Instant`] the caller keeps; the timer (created the first time the
/// deadline is polled) is moved forward only when it fires early, never per read or write.
#[derive(Debug)]
pub struct IdleDeadline {
    limit: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl IdleDeadline {
    /// A deadline `limit` after each activity.
    pub fn new(limit: Duration) -> Self {
        IdleDeadline { limit, timer: None }
    }

    /// The idle limit.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// Ready once `limit` has passed since `last`; otherwise registers `cx` to be woken then.
    pub fn poll_expired(&mut self, cx: &mut Context<'_>, last: Instant) -> Poll<()> {
        let deadline = last + self.limit;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(sleep_until(deadline)));
        loop {
            ready!(timer.as_mut().poll(cx));
            if Instant::now() >= deadline {
                return Poll::Ready(());
            }
            timer.as_mut().reset(deadline);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::poll_fn;

    #[tokio::test(start_paused = true)]
    async fn fires_limit_after_the_last_activity() {
        let mut deadline = IdleDeadline::new(Duration::from_secs(10));
        let start = Instant::now();
        let mut last = start;
        // Activity at 6 s moves the deadline to 16 s although the timer was armed for 10 s.
        tokio::time::sleep(Duration::from_secs(6)).await;
        last = last.max(Instant::now());
        poll_fn(|cx| deadline.poll_expired(cx, last)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(16));
    }
}
