use super::*;
use crate::ConnectionRate;
use std::num::NonZeroU32;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    time::Instant,
};
use tower::{ServiceExt, service_fn};
use xypro_core::{Address, Meta, Network};

/// An endless in-memory peer: reads yield `remaining` zero bytes, writes are swallowed.
#[derive(Debug)]
struct Source {
    remaining: usize,
}

impl AsyncRead for Source {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = buf.remaining().min(self.remaining);
        buf.put_slice(&vec![0; n]);
        self.remaining -= n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Source {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

const MIB: usize = 1 << 20;

/// A connector whose every stream has `bytes` to download.
fn source(
    bytes: usize,
) -> impl Service<Target, Response = Source, Error = BoxError, Future: Send> + Clone + Send + 'static
{
    service_fn(move |_: Target| async move { Ok::<_, BoxError>(Source { remaining: bytes }) })
}

fn target(user: Option<&str>) -> Target {
    let meta = Meta::new("test").with_user(user.map(Arc::from));
    Target::new(
        "example.com:443".parse::<Address>().unwrap(),
        Network::Tcp,
        meta,
    )
}

fn connections(per_second: u32, burst: u32, per_user: bool) -> RateLimitSettings {
    RateLimitSettings {
        connections: Some(ConnectionRate {
            per_second: NonZeroU32::new(per_second).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
        }),
        bytes_per_second: None,
        per_user,
    }
}

fn bytes(per_second: usize, per_user: bool) -> RateLimitSettings {
    RateLimitSettings {
        connections: None,
        bytes_per_second: NonZeroU64::new(per_second as u64),
        per_user,
    }
}

/// Milliseconds after `start` at which each of `calls` was admitted, sorted.
async fn admission_times<C>(services: Vec<C>, calls: Vec<Target>) -> Vec<u128>
where
    C: Service<Target, Error = BoxError> + Clone + Send + 'static,
    C::Future: Send,
    C::Response: Send,
{
    let start = Instant::now();
    let tasks: Vec<_> = calls
        .into_iter()
        .enumerate()
        .map(|(i, target)| {
            let service = services[i % services.len()].clone();
            tokio::spawn(async move {
                service
                    .oneshot(target)
                    .await
                    .map(|_| start.elapsed().as_millis())
            })
        })
        .collect();
    let mut times = Vec::new();
    for task in tasks {
        times.push(
            task.await
                .unwrap()
                .expect("excess connections wait, never fail"),
        );
    }
    times.sort_unstable();
    times
}

fn assert_close(times: &[u128], expected: &[u128]) {
    assert_eq!(times.len(), expected.len(), "{times:?}");
    for (got, want) in times.iter().zip(expected) {
        assert!(
            *got >= *want && *got <= want + 5,
            "admitted at {times:?}, expected {expected:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn connections_pass_in_a_burst_then_at_the_rate_across_clones() {
    let layer = RateLimitLayer::new(connections(4, 3, false));
    // Two services from the same layer, each cloned per call: one shared budget.
    let services = vec![layer.layer(source(0)), layer.layer(source(0))];
    let waits = xypro_core::events::RATE_LIMIT_CONNECTION_WAITS.get();
    let times = admission_times(services, (0..9).map(|_| target(None)).collect()).await;
    assert_close(&times, &[0, 0, 0, 250, 500, 750, 1000, 1250, 1500]);
    // Six connections waited (other tests may count too, never fewer).
    assert!(xypro_core::events::RATE_LIMIT_CONNECTION_WAITS.get() >= waits + 6);
}

#[tokio::test(start_paused = true)]
async fn per_user_connection_budgets_are_separate() {
    let layer = RateLimitLayer::new(connections(1, 1, true));
    let calls = vec![
        target(Some("a")),
        target(Some("b")),
        target(Some("a")),
        target(None),
    ];
    let times = admission_times(vec![layer.layer(source(0))], calls).await;
    assert_close(&times, &[0, 0, 0, 1000]);
}

/// Downloads everything from `stream` with 64 KiB reads, returning the byte count.
async fn drain(mut stream: impl AsyncRead + Unpin) -> usize {
    let mut buf = vec![0; 64 * 1024];
    let mut total = 0;
    loop {
        match stream.read(&mut buf).await.unwrap() {
            0 => return total,
            n => total += n,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn eight_mib_at_one_mib_per_second_takes_eight_seconds() {
    let service = RateLimitLayer::new(bytes(MIB, false)).layer(source(8 * MIB));
    let stream = service.oneshot(target(None)).await.unwrap();
    let start = Instant::now();
    let waits = xypro_core::events::RATE_LIMIT_BYTE_WAITS.get();
    assert_eq!(drain(stream).await, 8 * MIB);
    assert!(xypro_core::events::RATE_LIMIT_BYTE_WAITS.get() >= waits + 70);
    let took = start.elapsed();
    // 8 MiB less the 0.1 s burst and the last read's debt: about 7.84 s.
    assert!(
        took >= Duration::from_millis(7700) && took <= Duration::from_millis(8100),
        "took {took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn streams_share_the_download_budget_but_not_the_upload_one() {
    let layer = RateLimitLayer::new(bytes(MIB, false));
    let start = Instant::now();
    let downloads: Vec<_> = (0..2)
        .map(|_| {
            let service = layer.layer(source(2 * MIB));
            tokio::spawn(async move { drain(service.oneshot(target(None)).await.unwrap()).await })
        })
        .collect();
    let service = layer.layer(source(0));
    let upload = tokio::spawn(async move {
        let mut stream = service.oneshot(target(None)).await.unwrap();
        stream.write_all(&vec![1; 4 * MIB]).await.unwrap();
        start.elapsed()
    });
    for download in downloads {
        assert_eq!(download.await.unwrap(), 2 * MIB);
    }
    let downloads_took = start.elapsed();
    let upload_took = upload.await.unwrap();
    // Two 2 MiB downloads share 1 MiB/s: about 4 s together, not 2.
    assert!(
        downloads_took >= Duration::from_millis(3700)
            && downloads_took <= Duration::from_millis(4200),
        "downloads took {downloads_took:?}"
    );
    // The 4 MiB upload ran alongside on its own 1 MiB/s budget: also about 4 s, not 8.
    assert!(
        upload_took >= Duration::from_millis(3700) && upload_took <= Duration::from_millis(4200),
        "upload took {upload_took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn per_user_byte_budgets_are_separate() {
    let layer = RateLimitLayer::new(bytes(MIB, true));
    let start = Instant::now();
    let tasks: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|user| {
            let service = layer.layer(source(2 * MIB));
            tokio::spawn(
                async move { drain(service.oneshot(target(Some(user))).await.unwrap()).await },
            )
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 2 * MIB);
    }
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1700) && took <= Duration::from_millis(2200),
        "took {took:?}"
    );
}
