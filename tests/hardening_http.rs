//! HARDENING.md's HTTP proxy rows through the real binary: slow headers, huge headers, a
//! pipelined flood and bad Basic credentials, each beside a healthy tunnel that keeps working;
//! memory stays bounded and descriptors return to their baseline.

mod common;

use common::{
    Proxy, TempDir,
    raw::{self, Healthy},
    targets,
    web::WebServer,
};
use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use xypro_stack::http::proto::basic_value;

/// The head deadline of the proxy below.
const DEADLINE: Duration = Duration::from_secs(1);

fn config() -> String {
    "inbounds:\n  http:\n    listen: 127.0.0.1:0\n    pipeline:\n\
     \x20     - http: { users: [{ user: alice, pass: s3cret }], handshake_timeout: 1s }\n\
     \x20   outbound: free\noutbounds:\n  free:\n    - direct: { connect_timeout: 2s }\n"
        .to_owned()
}

fn credentials() -> String {
    format!(
        "Proxy-Authorization: {}\r\n",
        basic_value("alice", "s3cret")
    )
}

/// A tunnel through the proxy to the echo server, checked once.
async fn healthy(proxy: SocketAddr, echo: SocketAddr) -> Healthy {
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    let connect = format!(
        "CONNECT {echo} HTTP/1.1\r\nHost: {echo}\r\n{}\r\n",
        credentials()
    );
    stream.write_all(connect.as_bytes()).await.unwrap();
    let mut answer = [0u8; 39];
    stream.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200 Connection established\r\n\r\n");
    Healthy::from_stream(stream).await
}

/// Reads until the proxy closes; returns the bytes and how long it took from `since`.
async fn until_close(stream: &mut TcpStream, since: Instant) -> (String, Duration) {
    let (answer, closed) = raw::read_until_close(stream, Duration::from_secs(10)).await;
    assert!(closed, "the proxy closes");
    (
        String::from_utf8_lossy(&answer).into_owned(),
        since.elapsed(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_huge_headers_meet_the_deadline_or_a_431() {
    let proxy = Proxy::start(&config());
    let addr = proxy.addr("http");
    let echo = targets::echo_server().await;
    let mut healthy = healthy(addr, echo).await;
    let pid = raw::pid_of(&proxy);
    let fds = raw::fd_count(pid);

    // Silent: closed at the deadline.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let (answer, took) = until_close(&mut silent, Instant::now()).await;
    assert!(
        answer.is_empty() && took >= DEADLINE - Duration::from_millis(100),
        "{took:?}"
    );
    healthy.check().await;

    // Dribbled one byte every 150 ms: the head's own deadline cuts it, not the byte pace.
    let dribbler = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = dribbler.into_split();
    let started = Instant::now();
    let closed_at = tokio::spawn(async move {
        let (answer, closed) = raw::read_until_close(&mut reader, Duration::from_secs(10)).await;
        assert!(closed, "the dribbler is closed");
        (answer, started.elapsed())
    });
    for byte in
        format!("GET http://{echo}/ HTTP/1.1\r\nHost: {echo}\r\nX-Slow: aaaaaaaaaaaaaaaa").bytes()
    {
        if writer.write_all(&[byte]).await.is_err() || closed_at.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let (answer, took) = closed_at.await.unwrap();
    assert!(answer.is_empty(), "{answer:?}");
    assert!(
        took >= DEADLINE - Duration::from_millis(100) && took < DEADLINE * 4,
        "{took:?}"
    );
    healthy.check().await;

    // Just over the 64 KiB limit: a 431, then the close.
    let over = format!(
        "GET http://{echo}/ HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(70_000)
    );
    let mut big = TcpStream::connect(addr).await.unwrap();
    big.write_all(over.as_bytes()).await.unwrap();
    let (answer, _) = until_close(&mut big, Instant::now()).await;
    assert!(
        answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{answer}"
    );
    healthy.check().await;

    // 1 MB: a 431 or a close (the proxy stops reading at 64 KiB), memory bounded.
    let rss = raw::rss_kib(pid);
    let mut huge = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = huge.split();
    let megabyte = format!(
        "GET http://{echo}/ HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let write = async {
        raw::write_lossy(&mut writer, megabyte.as_bytes()).await;
    };
    let (_, (answer, closed)) = tokio::join!(
        write,
        raw::read_until_close(&mut reader, Duration::from_secs(10))
    );
    assert!(closed, "the proxy closes");
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431 "),
        "{answer}"
    );
    assert!(raw::rss_kib(pid) < rss + 8 * 1024, "memory bounded");
    healthy.check().await;

    assert!(
        raw::eventually(Duration::from_secs(10), || raw::fd_count(pid) <= fds).await,
        "descriptors back to {fds}, now {}",
        raw::fd_count(pid)
    );
    proxy.wait_for_log("handshake failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_basic_credentials_get_a_407_and_keep_the_connection() {
    let proxy = Proxy::start(&config());
    let addr = proxy.addr("http");
    let echo = targets::echo_server().await;
    let mut healthy = healthy(addr, echo).await;
    let site = TempDir::new();
    std::fs::write(site.path().join("index.html"), "behind the proxy").unwrap();
    let web = WebServer::http(site.path());
    let url = format!("http://127.0.0.1:{}/index.html", web.port);
    let host = format!("Host: 127.0.0.1:{}\r\n", web.port);

    let mut client = TcpStream::connect(addr).await.unwrap();
    let mut answer = String::new();
    for wrong in [
        String::new(),
        format!("Proxy-Authorization: {}\r\n", basic_value("alice", "guess")),
        "Proxy-Authorization: Basic !!!\r\n".to_owned(),
        "Proxy-Authorization: Bearer abc\r\n".to_owned(),
    ] {
        let request = format!("GET {url} HTTP/1.1\r\n{host}{wrong}\r\n");
        client.write_all(request.as_bytes()).await.unwrap();
        answer = read_head(&mut client).await;
        assert!(answer.starts_with("HTTP/1.1 407 "), "{answer}");
        assert!(answer.contains("Proxy-Authenticate: Basic realm=\"xypro-stack\"\r\n"));
        assert!(
            !answer.contains("Connection: close"),
            "kept for the retry: {answer}"
        );
        healthy.check().await;
    }
    let request = format!("GET {url} HTTP/1.1\r\n{host}{}\r\n", credentials());
    client.write_all(request.as_bytes()).await.unwrap();
    let mut body = vec![0u8; "behind the proxy".len()];
    let head = read_head(&mut client).await;
    assert!(head.starts_with("HTTP/1.1 200 "), "after {answer}: {head}");
    client.read_exact(&mut body).await.unwrap();
    assert_eq!(body, b"behind the proxy");
    proxy.wait_for_log("authentication failed for user \"alice\"");
    healthy.check().await;
}

/// Reads a response head (through the empty line) byte by byte.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        tokio::time::timeout(Duration::from_secs(10), stream.read_exact(&mut byte))
            .await
            .expect("a response in time")
            .expect("the connection stays open");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipelined_flood_is_held_back_by_flow_control() {
    let proxy = Proxy::start(&config());
    let addr = proxy.addr("http");
    let echo = targets::echo_server().await;
    let mut healthy = healthy(addr, echo).await;
    let site = TempDir::new();
    std::fs::write(site.path().join("big.bin"), vec![b'x'; 64 * 1024]).unwrap();
    let web = WebServer::http(site.path());
    let pid = raw::pid_of(&proxy);
    let (fds, rss) = (raw::fd_count(pid), raw::rss_kib(pid));

    // 20 MB of pipelined requests for a 64 KiB file, and a client that never reads.
    let request = format!(
        "GET http://127.0.0.1:{0}/big.bin HTTP/1.1\r\nHost: 127.0.0.1:{0}\r\n{1}\r\n",
        web.port,
        credentials()
    );
    let total = 20 << 20;
    let flood = request.repeat(total / request.len());
    let client = TcpStream::connect(addr).await.unwrap();
    let (reader, mut writer) = client.into_split();
    let written = Arc::new(AtomicUsize::new(0));
    let progress = written.clone();
    let sender = tokio::spawn(async move {
        for piece in flood.as_bytes().chunks(64 * 1024) {
            if writer.write_all(piece).await.is_err() {
                return;
            }
            progress.fetch_add(piece.len(), Ordering::Relaxed);
        }
    });
    // Wait until the writer is stuck: nothing more accepted for a second.
    let mut last = usize::MAX;
    while written.load(Ordering::Relaxed) != last {
        last = written.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(
        last < total / 2,
        "flow control held the flood back after {last} bytes"
    );
    let grown = raw::rss_kib(pid).saturating_sub(rss);
    assert!(grown < 16 * 1024, "RSS grew {grown} KiB under the flood");
    healthy.check().await;

    sender.abort();
    drop(reader);
    assert!(
        raw::eventually(Duration::from_secs(10), || raw::fd_count(pid) <= fds).await,
        "descriptors back to {fds}, now {}",
        raw::fd_count(pid)
    );
    healthy.check().await;
}
