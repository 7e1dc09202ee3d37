//! The limit layers through the real binary, measured: connection and byte rates, the idle
//! timeout, balancing past a dead server, the concurrency limit, and `check` on bad values.
//!
//! Timing bands are wide enough for a loaded two-core machine and narrow enough that a limit
//! that is off (or ten times too loose) fails.

mod common;

use common::{Proxy, TempDir, flows, run_cli, targets, tunnel};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A SOCKS5 inbound whose outbound `out` is `layers` (list items, four-space indented).
fn socks_with(layers: &str) -> String {
    format!(
        "inbounds:\n  socks:\n    listen: 127.0.0.1:0\n    pipeline:\n      - socks5\n    outbound: out\n\
         outbounds:\n  out:\n{layers}"
    )
}

/// One echo round trip through the proxy; panics if it does not come back in time.
async fn echo_once(socks: std::net::SocketAddr, echo: std::net::SocketAddr, message: &[u8]) {
    tokio::time::timeout(flows::PATIENCE, flows::echo(socks, echo, message))
        .await
        .expect("echo through the proxy in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_rate_admits_about_five_per_second_across_thirty_clients() {
    let proxy = Proxy::start(&socks_with(
        "    - rate_limit: { connections_per_second: 5 }\n    - direct\n",
    ));
    let socks = proxy.addr("socks");
    let echo = targets::echo_server().await;
    let started = Instant::now();
    let clients: Vec<_> = (0..30)
        .map(|i| {
            tokio::spawn(async move {
                let message = format!("client {i}");
                echo_once(socks, echo, message.as_bytes()).await;
                started.elapsed()
            })
        })
        .collect();
    let mut done = Vec::new();
    for client in clients {
        done.push(client.await.unwrap());
    }
    done.sort();
    let total = done[29].as_secs_f64();
    eprintln!("30 connections at 5/s: {total:.2}s");
    // Burst 1, then one every 200 ms: the 30th is admitted at 5.8 s.
    assert!(
        (4.5..7.0).contains(&total),
        "30 connections took {total:.2}s: {done:?}"
    );
    // No second admits more than about five: any six consecutive admissions span five
    // intervals (1 s nominal).
    for window in done.windows(6) {
        let span = (window[5] - window[0]).as_secs_f64();
        assert!(span > 0.6, "six connections within {span:.2}s: {done:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_rate_makes_an_eight_mib_download_take_about_eight_seconds() {
    let proxy = Proxy::start(&socks_with(
        "    - rate_limit: { bytes_per_second: 1MiB/s }\n    - direct\n",
    ));
    let bulk = targets::bulk_server().await;
    let size = 8usize << 20;
    let mut stream = flows::connect(proxy.addr("socks"), bulk).await;
    let started = Instant::now();
    stream.write_u64(size as u64).await.unwrap();
    let mut received = Vec::with_capacity(size);
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut received))
        .await
        .expect("download in time")
        .unwrap();
    let took = started.elapsed().as_secs_f64();
    eprintln!("8 MiB at 1 MiB/s: {took:.2}s");
    assert_eq!(received.len(), size);
    assert_eq!(
        targets::sha256_hex(&received),
        targets::sha256_hex(&targets::pattern(size as u64, size))
    );
    assert!(
        (6.5..11.0).contains(&took),
        "8 MiB at 1 MiB/s took {took:.2}s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_closes_a_silent_relay_after_about_two_seconds() {
    let proxy = Proxy::start(&socks_with("    - timeout: { idle: 2s }\n    - direct\n"));
    let echo = targets::echo_server().await;
    let mut stream = flows::connect(proxy.addr("socks"), echo).await;
    stream.write_all(b"one echo, then silence").await.unwrap();
    let mut back = [0u8; 22];
    stream.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"one echo, then silence");
    let silent_since = Instant::now();
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest))
        .await
        .expect("the proxy closes the silent connection");
    let took = silent_since.elapsed().as_secs_f64();
    eprintln!("closed after {took:.2}s of silence");
    assert!(
        ended.is_err() || rest.is_empty(),
        "nothing more arrives: {rest:?}"
    );
    assert!(
        (1.5..4.0).contains(&took),
        "closed after {took:.2}s of silence"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balance_keeps_new_connections_working_after_one_server_dies() {
    let server_a = Proxy::start(&tunnel::server_config(&tunnel::server_users()));
    let server_b = Proxy::start(&tunnel::server_config(&tunnel::server_users()));
    let client = Proxy::start(&format!(
        "inbounds:\n  socks:\n    listen: 127.0.0.1:0\n    pipeline:\n      - socks5\n    outbound: lb\n\
         outbounds:\n  lb:\n    - balance: {{ outbounds: [a, b] }}\n  a:\n{a}  b:\n{b}",
        a = tunnel::tunnel_outbound(server_a.addr("server")),
        b = tunnel::tunnel_outbound(server_b.addr("server")),
    ));
    let socks = client.addr("socks");
    let echo = targets::echo_server().await;
    // Hold several connections open at once so both tunnels carry some.
    let mut open = Vec::new();
    for i in 0..6 {
        let mut stream = flows::connect(socks, echo).await;
        let message = format!("before {i}");
        stream.write_all(message.as_bytes()).await.unwrap();
        let mut back = vec![0u8; message.len()];
        tokio::time::timeout(flows::PATIENCE, stream.read_exact(&mut back))
            .await
            .expect("echo in time")
            .unwrap();
        assert_eq!(back, message.as_bytes());
        open.push(stream);
    }
    drop(open);

    drop(server_a);
    for i in 0..10 {
        echo_once(socks, echo, format!("after {i}").as_bytes()).await;
    }
    // The survivor still serves after the dead one's back-off has had time to expire.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for i in 0..4 {
        echo_once(socks, echo, format!("later {i}").as_bytes()).await;
    }
    drop(server_b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_limit_makes_the_third_connection_wait_for_a_free_slot() {
    let proxy = Proxy::start(&socks_with(
        "    - concurrency_limit: { max: 2 }\n    - direct\n",
    ));
    let socks = proxy.addr("socks");
    let echo = targets::echo_server().await;
    let mut first = flows::connect(socks, echo).await;
    let second = flows::connect(socks, echo).await;
    first.write_all(b"1").await.unwrap();
    assert_eq!(first.read_u8().await.unwrap(), b'1');

    let mut third = tokio::spawn(flows::connect(socks, echo));
    let waited = tokio::time::timeout(Duration::from_millis(1500), &mut third).await;
    assert!(waited.is_err(), "a third connection got through with max 2");

    let released = Instant::now();
    drop(first);
    let mut third = tokio::time::timeout(Duration::from_secs(10), third)
        .await
        .expect("the third connects once a slot is free")
        .unwrap();
    assert!(released.elapsed() < Duration::from_secs(5));
    third.write_all(b"3").await.unwrap();
    assert_eq!(third.read_u8().await.unwrap(), b'3');
    drop(second);
}

#[test]
fn check_reports_bad_limit_values_with_key_and_line() {
    let cases = [
        (
            "    - rate_limit: { connections_per_second: 0 }\n    - direct\n",
            ":9: outbounds.out[0].rate_limit.connections_per_second:",
            "must be at least 1",
        ),
        ("    - direct\n", "", ""),
        (
            "    - timeout: { idle: soon }\n    - direct\n",
            ":9: outbounds.out[0].timeout.idle",
            "soon",
        ),
        (
            "    - balance: { outbounds: [nope] }\n",
            ":9: outbounds.out[0].balance.outbounds[0]:",
            "no outbound named `nope`",
        ),
        (
            "    - concurrency_limit: { max: 0 }\n    - direct\n",
            ":9: outbounds.out[0].concurrency_limit.max:",
            "must be at least 1",
        ),
        (
            "    - rate_limit: { bytes_per_second: fast }\n    - direct\n",
            ":9: outbounds.out[0].rate_limit.bytes_per_second",
            "invalid byte rate `fast`",
        ),
    ];
    for (layers, place, what) in cases {
        let dir = TempDir::new();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, socks_with(layers)).unwrap();
        let (code, _, err) = run_cli(&["check", "-c", path.to_str().unwrap()]);
        if place.is_empty() {
            assert_eq!(code, 0, "the same file with good values checks: {err}");
            continue;
        }
        assert_ne!(code, 0, "{layers}");
        assert!(
            err.contains(place) && err.contains(what),
            "expected {place} and {what} in: {err}"
        );
        assert_eq!(err.lines().count(), 1, "one message: {err}");
    }
}
