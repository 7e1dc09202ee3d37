//! `Preconnect`: a few connected, idle sessions to one server, so that a new tunnel skips the
//! TCP and TLS handshakes.
//!
//! Each session is handed out once and replaced. A session nobody takes within
//! [`PreconnectTiming::lifetime`] is closed, before the server's deadline for the request that
//! should follow its handshake, and a new one is dialled. The pool refills only while the client
//! is in use: [`PreconnectTiming::quiet_after`] after the last tunnel it closes what it holds
//! and stops, until the next tunnel starts it again. One task per pool keeps it; it holds only a
//! weak reference, and stops when the last connector sharing the pool is dropped.

use std::{
    collections::VecDeque,
    fmt,
    sync::{Arc, Mutex, MutexGuard, PoisonError, Weak},
    time::Duration,
};
use tokio::{sync::Notify, task::JoinSet, time::Instant};
use xypro_core::{BoxError, BoxFuture};

/// How long a preconnected session waits for a tunnel before it is closed unused: under the
/// 4 s that Xray, v2ray and other Go servers give a connection to send its HTTP request once
/// the TLS handshake is done (this project's server gives 10 s).
pub const PRECONNECT_LIFETIME: Duration = Duration::from_secs(3);

/// How long after the last tunnel a pool keeps sessions ready.
pub const PRECONNECT_QUIET_AFTER: Duration = Duration::from_secs(60);

/// The pause before dialling again after a failed dial; it doubles with every further failure.
const FIRST_RETRY: Duration = Duration::from_millis(500);

/// The longest pause between failed dials.
const LAST_RETRY: Duration = Duration::from_secs(30);

/// How long a pool keeps what it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreconnectTiming {
    /// How long a session waits to be taken before it is closed.
    pub lifetime: Duration,
    /// How long after the last tunnel the pool keeps refilling.
    pub quiet_after: Duration,
}

impl Default for PreconnectTiming {
    fn default() -> Self {
        PreconnectTiming {
            lifetime: PRECONNECT_LIFETIME,
            quiet_after: PRECONNECT_QUIET_AFTER,
        }
    }
}

/// Dials one new session for a pool.
pub(crate) type Dial<T> = Box<dyn Fn() -> BoxFuture<Result<T, BoxError>> + Send>;

/// What a pool keeps.
pub(crate) trait Session: Send + Sized + 'static {
    /// Whether it can still carry a tunnel (the server has not closed it).
    fn is_open(&mut self) -> bool;

    /// Ends it unused, so that the server sees an orderly close.
    fn retire(self);
}

/// Up to `size` ready sessions of type `T`, shared by the clones of one connector.
pub(crate) struct Pool<T> {
    size: usize,
    timing: PreconnectTiming,
    shared: Arc<Shared<T>>,
}

/// What a pool shares with its keeper, which outlives the pool long enough to retire what it
/// holds.
struct Shared<T> {
    state: Mutex<State<T>>,
    /// Tells the keeper a session was taken or the pool is gone.
    wake: Notify,
}

struct State<T> {
    /// Oldest first, so the first to expire is at the front.
    ready: VecDeque<Ready<T>>,
    last_use: Instant,
    keeping: bool,
}

struct Ready<T> {
    session: T,
    expires: Instant,
}

impl<T> fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("size", &self.size)
            .field("timing", &self.timing)
            .field("ready", &self.ready())
            .finish()
    }
}

impl<T> Drop for Pool<T> {
    fn drop(&mut self) {
        self.shared.wake.notify_one();
    }
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T> Pool<T> {
    /// An empty pool of up to `size` sessions; nothing is dialled before the first
    /// [`take`](Self::take).
    pub(crate) fn new(size: usize, timing: PreconnectTiming) -> Arc<Self> {
        let state = State {
            ready: VecDeque::new(),
            last_use: Instant::now(),
            keeping: false,
        };
        Arc::new(Pool {
            size,
            timing,
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                wake: Notify::new(),
            }),
        })
    }

    /// Sessions ready now (some may have expired since the keeper last looked).
    pub(crate) fn ready(&self) -> usize {
        self.shared.lock().ready.len()
    }
}

impl<T: Session> Pool<T> {
    /// Records a use of the client and hands out the oldest unexpired session that is still
    /// open (the others are retired), if any; starts the keeper with `dial` when it is not
    /// running. Must be called inside a tokio runtime.
    pub(crate) fn take(self: &Arc<Self>, dial: impl FnOnce() -> Dial<T>) -> Option<T> {
        let now = Instant::now();
        let mut state = self.shared.lock();
        state.last_use = now;
        let mut taken = None;
        while let Some(mut ready) = state.ready.pop_front() {
            if ready.expires > now && ready.session.is_open() {
                taken = Some(ready.session);
                break;
            }
            ready.session.retire();
        }
        if state.keeping {
            self.shared.wake.notify_one();
        } else {
            state.keeping = true;
            let keeper = Keeper {
                pool: Arc::downgrade(self),
                shared: self.shared.clone(),
                size: self.size,
                timing: self.timing,
                dial: dial(),
            };
            tokio::spawn(keeper.run());
        }
        taken
    }
}

/// Retires sessions that are no longer wanted.
fn retire_all<T: Session>(sessions: impl Iterator<Item = Ready<T>>) {
    sessions.for_each(|ready| ready.session.retire());
}

/// The pause after failed dials.
#[derive(Debug, Default)]
struct Backoff {
    until: Option<Instant>,
    pause: Option<Duration>,
}

impl Backoff {
    /// A failed dial; other dials of the same round failing during the pause change nothing.
    fn failed(&mut self, now: Instant) {
        if !self.allows(now) {
            return;
        }
        let pause = self.pause.map_or(FIRST_RETRY, |p| (p * 2).min(LAST_RETRY));
        self.pause = Some(pause);
        self.until = Some(now + pause);
    }

    fn succeeded(&mut self) {
        *self = Backoff::default();
    }

    /// Whether dialling may start at `now`.
    fn allows(&self, now: Instant) -> bool {
        self.until.is_none_or(|until| now >= until)
    }
}

/// The task that keeps a pool filled; it holds the pool only weakly.
struct Keeper<T> {
    pool: Weak<Pool<T>>,
    shared: Arc<Shared<T>>,
    size: usize,
    timing: PreconnectTiming,
    dial: Dial<T>,
}

impl<T: Session> Keeper<T> {
    /// Keeps the pool filled until it has been quiet for `quiet_after` or is dropped, then
    /// retires what it holds.
    async fn run(self) {
        let mut dialing = JoinSet::new();
        let mut backoff = Backoff::default();
        while let Some(wake_at) = self.refill(&mut dialing, &backoff) {
            tokio::select! {
                Some(done) = dialing.join_next() => match done {
                    Ok(Ok(session)) => {
                        backoff.succeeded();
                        let expires = Instant::now() + self.timing.lifetime;
                        self.shared.lock().ready.push_back(Ready { session, expires });
                    }
                    Ok(Err(error)) => {
                        backoff.failed(Instant::now());
                        let error = xypro_core::error_chain(&*error);
                        tracing::debug!("tls: preconnect failed: {error}");
                    }
                    Err(join) => {
                        backoff.failed(Instant::now());
                        tracing::debug!("tls: preconnect task ended: {join}");
                    }
                },
                () = tokio::time::sleep_until(wake_at) => {}
                () = self.shared.wake.notified() => {}
            }
        }
    }

    /// Retires expired sessions and starts the dials that are missing; returns when to look
    /// again, or `None` (with everything retired) once the pool is gone or quiet.
    fn refill(
        &self,
        dialing: &mut JoinSet<Result<T, BoxError>>,
        backoff: &Backoff,
    ) -> Option<Instant> {
        let now = Instant::now();
        let mut state = self.shared.lock();
        let quiet_at = state.last_use + self.timing.quiet_after;
        if self.pool.strong_count() == 0 || now >= quiet_at {
            retire_all(state.ready.drain(..));
            state.keeping = false;
            tracing::debug!("tls: preconnect pool idle; no sessions kept");
            return None;
        }
        let expired = state.ready.partition_point(|ready| ready.expires <= now);
        retire_all(state.ready.drain(..expired));
        if backoff.allows(now) {
            let missing = self.size.saturating_sub(state.ready.len() + dialing.len());
            for _ in 0..missing {
                dialing.spawn((self.dial)());
            }
        }
        let next_expiry = state.ready.front().map(|ready| ready.expires);
        let retry_at = backoff.until.filter(|&until| until > now);
        [next_expiry, retry_at]
            .into_iter()
            .flatten()
            .fold(quiet_at, Instant::min)
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// Dial takes this long in the tests.
    const DIAL: Duration = Duration::from_millis(40);

    /// A session numbered in dial order; `open` is what `is_open` says.
    #[derive(Debug)]
    struct Fake {
        id: usize,
        open: bool,
        retired: Arc<AtomicUsize>,
    }

    impl Session for Fake {
        fn is_open(&mut self) -> bool {
            self.open
        }

        fn retire(self) {
            self.retired.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Dials fakes; every dial fails while `fail` is set, and dialled sessions are closed
    /// while `closed` is set.
    #[derive(Default)]
    struct Dialer {
        dialled: AtomicUsize,
        retired: Arc<AtomicUsize>,
        fail: AtomicBool,
        closed: AtomicBool,
    }

    impl Dialer {
        fn dial(self: &Arc<Self>) -> Dial<Fake> {
            let me = self.clone();
            Box::new(move || {
                let me = me.clone();
                Box::pin(async move {
                    tokio::time::sleep(DIAL).await;
                    let id = me.dialled.fetch_add(1, Ordering::SeqCst);
                    if me.fail.load(Ordering::SeqCst) {
                        return Err("refused".into());
                    }
                    let open = !me.closed.load(Ordering::SeqCst);
                    let retired = me.retired.clone();
                    Ok(Fake { id, open, retired })
                })
            })
        }

        fn dialled(&self) -> usize {
            self.dialled.load(Ordering::SeqCst)
        }

        fn retired(&self) -> usize {
            self.retired.load(Ordering::SeqCst)
        }
    }

    fn pool(size: usize) -> (Arc<Pool<Fake>>, Arc<Dialer>) {
        (
            Pool::new(size, PreconnectTiming::default()),
            Arc::new(Dialer::default()),
        )
    }

    fn take(pool: &Arc<Pool<Fake>>, dialer: &Arc<Dialer>) -> Option<usize> {
        pool.take(|| dialer.dial()).map(|fake| fake.id)
    }

    /// Lets the keeper and its dials run for `by` of paused time.
    async fn advance(by: Duration) {
        tokio::time::sleep(by).await;
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_is_dialled_before_the_first_use() {
        let (pool, dialer) = pool(2);
        advance(Duration::from_secs(5)).await;
        assert_eq!((pool.ready(), dialer.dialled()), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_use_fills_the_pool_and_each_session_is_handed_out_once() {
        let (pool, dialer) = pool(2);
        assert_eq!(
            take(&pool, &dialer),
            None,
            "the first use finds the pool empty"
        );
        advance(DIAL * 2).await;
        assert_eq!((pool.ready(), dialer.dialled()), (2, 2));
        let first = take(&pool, &dialer).unwrap();
        let second = take(&pool, &dialer).unwrap();
        assert_ne!(first, second);
        assert_eq!(take(&pool, &dialer), None, "both taken, none dialled yet");
        advance(DIAL * 2).await;
        assert_eq!((pool.ready(), dialer.dialled()), (2, 4));
        let mut seen = vec![first, second];
        for _ in 0..2 {
            let next = take(&pool, &dialer).unwrap();
            assert!(!seen.contains(&next), "{next} handed out twice");
            seen.push(next);
        }
        assert_eq!(dialer.retired(), 0, "sessions handed out are not retired");
    }

    #[tokio::test(start_paused = true)]
    async fn sessions_expire_before_the_servers_deadline_and_are_replaced() {
        let (pool, dialer) = pool(2);
        take(&pool, &dialer);
        advance(DIAL * 2).await;
        assert_eq!(dialer.dialled(), 2);
        // Just after the lifetime: the first two are retired and replaced.
        advance(PRECONNECT_LIFETIME + DIAL / 2).await;
        assert_eq!((dialer.dialled(), dialer.retired()), (4, 2));
        let taken = take(&pool, &dialer).unwrap();
        assert!(taken >= 2, "an expired session ({taken}) was handed out");
        // Every session is replaced once per lifetime while the client is in use.
        advance(DIAL * 2).await;
        let before = dialer.dialled();
        advance(PRECONNECT_LIFETIME * 3).await;
        let replaced = dialer.dialled() - before;
        assert!(
            (4..=6).contains(&replaced),
            "{replaced} dials in 3 lifetimes"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_pool_stops_after_the_quiet_period() {
        let (pool, dialer) = pool(2);
        take(&pool, &dialer);
        advance(PRECONNECT_QUIET_AFTER + DIAL).await;
        assert_eq!(pool.ready(), 0, "nothing is kept once quiet");
        let dialled = dialer.dialled();
        advance(PRECONNECT_QUIET_AFTER * 2).await;
        assert_eq!(dialer.dialled(), dialled, "no dials after the quiet period");
        // A new use starts it again.
        assert_eq!(take(&pool, &dialer), None);
        advance(DIAL * 2).await;
        assert_eq!(pool.ready(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn sessions_the_server_closed_are_retired_not_handed_out() {
        let (pool, dialer) = pool(2);
        dialer.closed.store(true, Ordering::SeqCst);
        take(&pool, &dialer);
        advance(DIAL * 2).await;
        dialer.closed.store(false, Ordering::SeqCst);
        assert_eq!(take(&pool, &dialer), None);
        assert_eq!(dialer.retired(), 2);
        advance(DIAL * 2).await;
        assert_eq!(take(&pool, &dialer), Some(2), "the replacements are open");
    }

    #[tokio::test(start_paused = true)]
    async fn failed_dials_back_off() {
        let (pool, dialer) = pool(2);
        dialer.fail.store(true, Ordering::SeqCst);
        take(&pool, &dialer);
        advance(Duration::from_secs(10)).await;
        // Rounds of 2 with pauses of 0.5, 1, 2, 4, 8 s: 5 rounds in 10 s, not 10 s / 40 ms.
        assert!(dialer.dialled() <= 12, "{} dials", dialer.dialled());
        dialer.fail.store(false, Ordering::SeqCst);
        advance(LAST_RETRY).await;
        assert!(
            take(&pool, &dialer).is_some(),
            "refilled once the server answers again"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_the_pool_retires_its_sessions_and_stops_the_keeper() {
        let (pool, dialer) = pool(2);
        take(&pool, &dialer);
        advance(DIAL * 2).await;
        drop(pool);
        tokio::task::yield_now().await;
        assert_eq!(dialer.retired(), 2, "the keeper retires what the pool held");
        advance(PRECONNECT_LIFETIME * 2).await;
        assert_eq!(dialer.dialled(), 2, "nothing dialled for a dropped pool");
    }
}
