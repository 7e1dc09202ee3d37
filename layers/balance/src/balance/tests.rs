use super::*;
use std::{
    io,
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};
use tokio::io::duplex;
use tower::service_fn;
use xypro_core::{Address, BoxIo, Failure};

/// Switches a fake outbound up or down and counts its calls.
#[derive(Clone, Default)]
struct Control {
    calls: Arc<AtomicUsize>,
    down: Arc<Mutex<Option<io::ErrorKind>>>,
}

impl Control {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn set_down(&self, kind: Option<io::ErrorKind>) {
        *self.down.lock().unwrap() = kind;
    }
}

fn fake() -> (BoxConnector, Control) {
    let control = Control::default();
    let state = control.clone();
    let connector = service_fn(move |_: Target| {
        state.calls.fetch_add(1, Ordering::SeqCst);
        let down = *state.down.lock().unwrap();
        async move {
            match down {
                Some(kind) => Err(io::Error::new(kind, "fake outbound is down").into()),
                None => Ok::<_, BoxError>(BoxIo::new(duplex(64).0)),
            }
        }
    });
    (BoxConnector::new(connector), control)
}

fn two() -> (Balance, Control, Control) {
    let (a, ca) = fake();
    let (b, cb) = fake();
    (Balance::new(vec![("a".into(), a), ("b".into(), b)]), ca, cb)
}

fn target() -> Target {
    Target::tcp("example.com:80".parse::<Address>().unwrap())
}

async fn connect(balance: &Balance) -> Result<Balanced, BoxError> {
    balance.clone().oneshot(target()).await
}

#[tokio::test(start_paused = true)]
async fn skips_a_failing_endpoint_and_retries_it_after_backoff() {
    let (balance, a, b) = two();
    a.set_down(Some(io::ErrorKind::ConnectionRefused));
    // Every connection succeeds, through `b`, until `a` has been tried once.
    for _ in 0..64 {
        assert_eq!(connect(&balance).await.unwrap().guard().outbound(), "b");
        if a.calls() == 1 {
            break;
        }
    }
    assert_eq!(a.calls(), 1, "p2c picks `a` first about half the time");
    // Backing off for 1 s: `a` is skipped.
    tokio::time::sleep(Duration::from_millis(900)).await;
    for _ in 0..20 {
        assert_eq!(connect(&balance).await.unwrap().guard().outbound(), "b");
    }
    assert_eq!(a.calls(), 1);
    // After the back-off `a` is tried again, fails again, and now backs off for 2 s.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for _ in 0..64 {
        connect(&balance).await.unwrap();
        if a.calls() == 2 {
            break;
        }
    }
    assert_eq!(a.calls(), 2);
    tokio::time::sleep(Duration::from_millis(1900)).await;
    for _ in 0..20 {
        connect(&balance).await.unwrap();
    }
    assert_eq!(a.calls(), 2, "the second back-off is 2 s");
    // Once `a` is up and its back-off is over it carries connections again.
    a.set_down(None);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut through_a = 0;
    for _ in 0..64 {
        if connect(&balance).await.unwrap().guard().outbound() == "a" {
            through_a += 1;
        }
    }
    assert!(through_a > 10, "only {through_a} of 64 went through `a`");
    assert!(b.calls() > 0);
}

#[tokio::test(start_paused = true)]
async fn prefers_the_less_loaded_endpoint() {
    let (balance, _a, _b) = two();
    let mut streams = Vec::new();
    for _ in 0..10 {
        streams.push(connect(&balance).await.unwrap());
    }
    assert_eq!((balance.load("a"), balance.load("b")), (Some(5), Some(5)));
    // Close `a`'s connections: the next four all go to `a`, the less loaded one.
    streams.retain(|s| s.guard().outbound() == "b");
    assert_eq!(balance.load("a"), Some(0));
    for _ in 0..4 {
        let stream = connect(&balance).await.unwrap();
        assert_eq!(stream.guard().outbound(), "a");
        streams.push(stream);
    }
    assert_eq!((balance.load("a"), balance.load("b")), (Some(4), Some(5)));
    drop(streams);
    assert_eq!((balance.load("a"), balance.load("b")), (Some(0), Some(0)));
}

#[tokio::test(start_paused = true)]
async fn fails_with_every_reason_when_all_fail() {
    let (balance, a, b) = two();
    a.set_down(Some(io::ErrorKind::ConnectionRefused));
    b.set_down(Some(io::ErrorKind::TimedOut));
    let err = connect(&balance).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("all 2 balanced outbounds failed"),
        "{message}"
    );
    assert!(message.contains("`a`: fake outbound is down"), "{message}");
    assert!(message.contains("`b`: fake outbound is down"), "{message}");
    assert_eq!(Failure::classify(&*err), Failure::General, "they disagree");
    let all = err
        .downcast_ref::<io::Error>()
        .and_then(|e| e.get_ref())
        .and_then(|e| e.downcast_ref::<AllFailed>())
        .expect("an AllFailed inside");
    assert_eq!(all.failures.len(), 2);
    assert_eq!((a.calls(), b.calls()), (1, 1));

    // Both backing off: only the one whose back-off ends first is tried; the other is listed.
    b.set_down(Some(io::ErrorKind::ConnectionRefused));
    let err = connect(&balance).await.unwrap_err();
    assert_eq!(a.calls() + b.calls(), 3, "exactly one more attempt");
    let message = err.to_string();
    assert!(
        message.contains("backing off for 1.0s after: fake outbound is down"),
        "{message}"
    );
    // Only tried outbounds decide the kind, and the one tried was refused.
    assert_eq!(Failure::classify(&*err), Failure::ConnectionRefused);
}

#[tokio::test(start_paused = true)]
async fn when_all_back_off_the_earliest_to_recover_is_tried() {
    let (balance, a, b) = two();
    // `a` fails at t=0 and backs off until t=1 s.
    a.set_down(Some(io::ErrorKind::ConnectionRefused));
    for _ in 0..64 {
        connect(&balance).await.unwrap();
        if a.calls() == 1 {
            break;
        }
    }
    assert_eq!(a.calls(), 1);
    // At t=0.5 s `b` fails too (until 1.5 s); `a` is tried anyway and fails (until 2.5 s).
    tokio::time::sleep(Duration::from_millis(500)).await;
    b.set_down(Some(io::ErrorKind::ConnectionRefused));
    let err = connect(&balance).await.unwrap_err();
    assert_eq!(a.calls(), 2);
    assert_eq!(Failure::classify(&*err), Failure::ConnectionRefused);
    // Both come back, both still backing off: the call goes to `b`, whose back-off ends first.
    a.set_down(None);
    b.set_down(None);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (a_before, b_before) = (a.calls(), b.calls());
    let stream = connect(&balance).await.unwrap();
    assert_eq!(stream.guard().outbound(), "b");
    assert_eq!((a.calls(), b.calls()), (a_before, b_before + 1));
}

#[tokio::test]
async fn with_no_outbounds_every_call_fails() {
    let balance = Balance::new(Vec::new());
    let err = connect(&balance).await.unwrap_err();
    assert_eq!(err.to_string(), "no outbounds to balance over");
}

#[tokio::test]
async fn boxes_into_a_pipeline_connector() {
    let (balance, _a, _b) = two();
    let connector = BoxConnector::new(balance.map_response(BoxIo::new));
    connector.oneshot(target()).await.unwrap();
}
