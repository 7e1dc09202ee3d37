//! The admin server under hostile or heavy use: a public listener without a secret is refused,
//! silent and oversized clients are cut off without holding others up, and a thousand streaming
//! dashboards are served while the data path goes on.

mod common;

use common::{
    Proxy, TempDir,
    admin::{api, next_text, websocket},
    flows, raw, run_cli, targets,
};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "hostile";

fn config() -> String {
    format!(
        "inbounds:\n  socks:\n    listen: 127.0.0.1:0\n    pipeline: [socks5]\n    outbound: free\n\
         admin:\n  listen: 127.0.0.1:0\n  secret: {SECRET}\noutbounds:\n  free: [direct]\n"
    )
}

#[test]
fn a_public_admin_listener_without_a_secret_refuses_to_start() {
    let dir = TempDir::new();
    let path = dir.path().join("config.yaml");
    let public = config()
        .replace(
            "  listen: 127.0.0.1:0\n  secret",
            "  listen: 0.0.0.0:0\n  secret",
        )
        .replace(&format!("  secret: {SECRET}\n"), "");
    std::fs::write(&path, public).unwrap();
    let path = path.to_str().unwrap();
    for command in ["check", "run"] {
        let started = Instant::now();
        let (code, _, err) = run_cli(&[command, "-c", path]);
        assert_ne!(code, 0, "{command} must refuse");
        assert!(
            err.contains("admin.listen") && err.contains("set admin.secret"),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_and_oversized_clients_are_cut_off_without_holding_others() {
    let proxy = Proxy::start(&config());
    let admin = proxy.admin_addr();
    // Fifty clients that connect and say nothing, one that stops mid-header.
    let mut silent = Vec::new();
    for _ in 0..50 {
        silent.push(tokio::net::TcpStream::connect(admin).await.unwrap());
    }
    let mut halfway = tokio::net::TcpStream::connect(admin).await.unwrap();
    halfway
        .write_all(b"GET /version HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();

    // Others are served at once meanwhile.
    let started = Instant::now();
    let reply = tokio::task::spawn_blocking(move || api(admin, SECRET, "GET", "/version", None))
        .await
        .unwrap();
    assert_eq!(reply.status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // A head over 64 KiB is refused without waiting for the rest.
    let mut huge = tokio::net::TcpStream::connect(admin).await.unwrap();
    let head = format!(
        "GET /version HTTP/1.1\r\nX-Pad: {}\r\n",
        "a".repeat(100 * 1024)
    );
    raw::write_lossy(&mut huge, head.as_bytes()).await;
    let (answer, closed) = raw::read_until_close(&mut huge, Duration::from_secs(5)).await;
    assert!(closed, "an oversized head is not waited on");
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // The silent ones are closed once the header deadline (10 s) passes.
    let (answer, closed) = raw::read_until_close(&mut halfway, Duration::from_secs(15)).await;
    assert!(closed, "a client stuck mid-header is closed");
    assert!(
        started.elapsed() < Duration::from_secs(14),
        "{:?}",
        started.elapsed()
    );
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 408"),
        "{answer:?}"
    );
    for stream in &mut silent {
        let (answer, closed) = raw::read_until_close(stream, Duration::from_secs(5)).await;
        assert!(closed && (answer.is_empty() || answer.starts_with(b"HTTP/1.1 408")));
    }
}

/// How many streaming dashboards the load test opens.
const CLIENTS: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_streaming_dashboards_are_served_and_the_data_path_goes_on() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let echo = targets::echo_server().await;
    let proxy = Proxy::start(&config());
    let (admin, socks) = (proxy.admin_addr(), proxy.addr("socks"));
    let pid = raw::pid_of(&proxy);
    let (fds_before, rss_before) = (raw::fd_count(pid), raw::rss_kib(pid));

    // Half watch the connection list every 100 ms, half the traffic; each gets its first frame.
    let mut sockets = Vec::with_capacity(CLIENTS);
    for i in 0..CLIENTS {
        let path = match i % 2 {
            0 => "/connections?token=hostile&interval=100",
            _ => "/traffic?token=hostile",
        };
        sockets.push(
            websocket(admin, path)
                .await
                .expect("every dashboard is let in"),
        );
    }
    let mut healthy = raw::Healthy::open(socks, echo).await;
    for socket in &mut sockets {
        next_text(socket, Duration::from_secs(20)).await;
    }
    // A connection's round trips stay quick while a thousand streams are fed.
    let started = Instant::now();
    for _ in 0..20 {
        healthy.check().await;
    }
    let per_round_trip = started.elapsed() / 20;
    assert!(
        per_round_trip < Duration::from_millis(100),
        "{per_round_trip:?}"
    );
    flows::echo(socks, echo, b"still through").await;

    let rss_loaded = raw::rss_kib(pid);
    eprintln!(
        "{CLIENTS} dashboards: server RSS +{} KiB, echo round trip {per_round_trip:?}",
        rss_loaded.saturating_sub(rss_before)
    );
    assert!(
        rss_loaded < rss_before + 50 * 1024,
        "{CLIENTS} dashboards took {} KiB",
        rss_loaded - rss_before
    );
    drop(sockets);
    let back = raw::eventually(Duration::from_secs(10), || {
        raw::fd_count(pid) <= fds_before + 10
    })
    .await;
    assert!(
        back,
        "descriptors: {} before, {} after",
        fds_before,
        raw::fd_count(pid)
    );
    drop(healthy);
    // The proxy is alive and serves the API after the load.
    let reply =
        tokio::task::spawn_blocking(move || api(admin, SECRET, "GET", "/connections", None))
            .await
            .unwrap();
    assert_eq!(reply.status, 200);
    let mut one = flows::connect(socks, echo).await;
    one.write_all(b"x").await.unwrap();
    one.read_exact(&mut [0; 1]).await.unwrap();
}
