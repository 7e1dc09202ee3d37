//! HARDENING.md's TLS, HTTP, WebSocket and VLESS rows against the server pipeline
//! tls -> websocket -> vless (the real binary), with raw TCP, rustls and hand-built WebSocket
//! frames; a healthy tunnel through our own client runs beside every bad connection.

mod common;

use common::{
    Proxy, cert, flows,
    raw::{self, Healthy},
    targets, tunnel,
};
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, AsyncWriteExt},
    net::TcpStream,
};

/// Every handshake deadline of the server below.
const DEADLINE: Duration = Duration::from_secs(1);

/// The server pipeline with 1 s handshake deadlines everywhere.
fn server_config() -> String {
    format!(
        "inbounds:\n  server:\n    listen: 127.0.0.1:0\n    pipeline:\n\
         \x20     - tls: {{ cert: {cert}, key: {key}, handshake_timeout: 1s }}\n\
         \x20     - websocket: {{ path: /xy, handshake_timeout: 1s }}\n\
         \x20     - vless: {{ users: [{{ name: demo, id: {id} }}], allow_private: true, handshake_timeout: 1s }}\n\
         \x20   outbound: free\noutbounds:\n  free:\n    - direct: {{ connect_timeout: 2s }}\n",
        cert = cert("server.pem"),
        key = cert("server.key"),
        id = tunnel::ID,
    )
}

/// A server, a client tunnelling to it, and a healthy connection through both to an echo.
struct Setup {
    server: Proxy,
    _client: Proxy,
    healthy: Healthy,
}

impl Setup {
    async fn new() -> Setup {
        let server = Proxy::start(&server_config());
        let client = Proxy::start(&tunnel::client_config(server.addr("server"), 0));
        let echo = targets::echo_server().await;
        let healthy = Healthy::open(client.addr("socks"), echo).await;
        Setup {
            server,
            _client: client,
            healthy,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr("server")
    }
}

/// Asserts that `io` is closed (with or without a close frame) between `at_least` and `at_most`
/// after `started`, and that no data came back.
async fn closed_between<S: AsyncRead + Unpin>(
    io: &mut S,
    started: Instant,
    at_least: Duration,
    at_most: Duration,
    what: &str,
) {
    let (answer, closed) = raw::read_until_close(io, at_most + Duration::from_secs(2)).await;
    let elapsed = started.elapsed();
    assert!(closed, "{what}: closed");
    assert!(
        elapsed >= at_least && elapsed <= at_most,
        "{what}: closed after {elapsed:?}, expected {at_least:?}..{at_most:?}"
    );
    // Anything that came back may only be WebSocket close frames, never data.
    let mut rest = &answer[..];
    while !rest.is_empty() {
        assert_eq!(
            rest[0] & 0x0f,
            8,
            "{what}: only a close frame, got {answer:?}"
        );
        let len = usize::from(rest[1] & 0x7f);
        rest = rest.get(2 + len..).unwrap_or_default();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_garbage_stalls_and_wrong_names_are_closed_or_refused() {
    let mut setup = Setup::new().await;
    let addr = setup.addr();

    // Garbage instead of a ClientHello: an alert at most, then the close, at once.
    let mut garbage = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    raw::write_lossy(
        &mut garbage,
        b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n",
    )
    .await;
    let (answer, closed) = raw::read_until_close(&mut garbage, Duration::from_secs(5)).await;
    assert!(
        closed && started.elapsed() < DEADLINE,
        "garbage closed at once"
    );
    assert!(
        answer.is_empty() || answer[0] == 0x15,
        "a TLS alert at most: {answer:?}"
    );
    setup.healthy.check().await;

    // A client that connects and says nothing, and one that stalls mid-ClientHello.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .unwrap();
    let window = (DEADLINE - Duration::from_millis(100), DEADLINE * 3);
    let (a, closed_a) = raw::read_until_close(&mut silent, window.1).await;
    let (b, closed_b) = raw::read_until_close(&mut half, window.1).await;
    assert!(closed_a && closed_b, "stalled handshakes are closed");
    assert!(started.elapsed() >= window.0, "not before the deadline");
    assert!(
        a.is_empty() && b.is_empty(),
        "nothing sent to stalled clients"
    );
    setup.healthy.check().await;

    // A name the certificate does not cover: the client sees a clear certificate error.
    let err = raw::tls_connect(addr, "wrong.example").await.unwrap_err();
    let text = xypro_stack::error_chain(&*err).to_ascii_lowercase();
    assert!(text.contains("certificate"), "{text}");
    setup.healthy.check().await;

    // Our client binary with the default (webpki) roots: a refused CONNECT and a log line
    // naming the certificate problem.
    let untrusted = Proxy::start(
        &tunnel::client_config(addr, 0).replace(&format!(", ca: {}", cert("ca.pem")), ""),
    );
    let mut stream = TcpStream::connect(untrusted.addr("socks")).await.unwrap();
    let result = xypro_stack::socks5::Socks5Client::new()
        .connect(&mut stream, &"127.0.0.1:9".parse().unwrap())
        .await;
    assert!(result.is_err(), "no tunnel without a trusted certificate");
    let line = untrusted.wait_for_log("connect failed");
    assert!(line.to_ascii_lowercase().contains("certificate"), "{line}");
    setup.healthy.check().await;
    setup.server.wait_for_log("handshake failed");
}

/// Sends `request` over TLS and returns the answer and how long until the server closed.
async fn http_probe(addr: SocketAddr, request: &[u8]) -> (Vec<u8>, Duration) {
    let mut tls = raw::tls_connect(addr, "example.test").await.unwrap();
    let started = Instant::now();
    raw::write_lossy(&mut tls, request).await;
    let (answer, closed) = raw::read_until_close(&mut tls, Duration::from_secs(10)).await;
    assert!(
        closed,
        "the server closes after {:?}",
        String::from_utf8_lossy(&request[..request.len().min(80)])
    );
    (answer, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_misses_get_the_identical_404_or_a_close_at_the_deadline() {
    let mut setup = Setup::new().await;
    let addr = setup.addr();
    let upgrade = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let huge = format!(
        "GET /xy HTTP/1.1\r\nHost: example.test\r\nX-Pad: {}\r\n{upgrade}\r\n",
        "a".repeat(1 << 20)
    );
    let probes: Vec<(&str, String)> = vec![
        (
            "wrong path",
            format!("GET /other HTTP/1.1\r\nHost: example.test\r\n{upgrade}\r\n"),
        ),
        (
            "wrong method",
            format!(
                "POST /xy HTTP/1.1\r\nHost: example.test\r\nContent-Length: 0\r\n{upgrade}\r\n"
            ),
        ),
        (
            "missing upgrade headers",
            "GET /xy HTTP/1.1\r\nHost: example.test\r\n\r\n".into(),
        ),
        (
            "bad Sec-WebSocket-Version",
            format!(
                "GET /xy HTTP/1.1\r\nHost: example.test\r\n{}\r\n",
                upgrade.replace("Version: 13", "Version: 8")
            ),
        ),
        (
            "malformed request line",
            "GET\x01/xy HTTP/1.1\r\nHost: example.test\r\n\r\n".into(),
        ),
        (
            "malformed header",
            "GET /xy HTTP/1.1\r\nHost example.test\r\n\r\n".into(),
        ),
        ("1 MB header", huge),
    ];
    for (what, request) in &probes {
        let (answer, elapsed) = http_probe(addr, request.as_bytes()).await;
        assert_eq!(
            String::from_utf8_lossy(&answer),
            String::from_utf8_lossy(raw::NOT_FOUND),
            "{what}: the identical 404"
        );
        assert!(
            elapsed < DEADLINE,
            "{what}: answered at once, took {elapsed:?}"
        );
        setup.healthy.check().await;
    }

    // Slow headers: no answer, closed at the deadline.
    let (answer, elapsed) = http_probe(addr, b"GET /xy HTTP/1.1\r\nHost: exa").await;
    assert!(
        answer.is_empty(),
        "nothing for an unfinished head: {answer:?}"
    );
    assert!(
        elapsed >= DEADLINE - Duration::from_millis(100) && elapsed < DEADLINE * 3,
        "closed at the deadline, took {elapsed:?}"
    );
    setup.healthy.check().await;
}

/// Opens TLS and the WebSocket upgrade, then sends `frames` and checks the connection is closed
/// promptly, with a close frame or without one.
async fn ws_probe(addr: SocketAddr, frames: &[Vec<u8>], what: &str) {
    let mut ws = raw::websocket(addr).await;
    let started = Instant::now();
    for frame in frames {
        raw::write_lossy(&mut ws, frame).await;
    }
    closed_between(&mut ws, started, Duration::ZERO, DEADLINE * 2, what).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_protocol_violations_close_and_memory_stays_bounded() {
    let mut setup = Setup::new().await;
    let addr = setup.addr();
    let pid = raw::pid_of(&setup.server);
    let baseline = raw::rss_kib(pid);

    let mut unmasked = raw::frame_head(true, 2, false, 5);
    unmasked.extend_from_slice(b"hello");
    ws_probe(addr, &[unmasked], "unmasked client frame").await;
    setup.healthy.check().await;

    let mut big = raw::frame_head(true, 2, true, 17 << 20);
    big.extend_from_slice(&[0x11; 4]);
    big.extend_from_slice(&vec![0u8; 256 * 1024]);
    ws_probe(addr, &[big], "17 MiB frame").await;
    setup.healthy.check().await;

    let mut endless = vec![raw::client_frame(false, 2, &[0u8; 64 * 1024])];
    endless.extend((0..64).map(|_| raw::client_frame(false, 0, &[0u8; 64 * 1024])));
    ws_probe(addr, &endless, "endless fragmented message").await;
    setup.healthy.check().await;

    ws_probe(
        addr,
        &[raw::client_frame(true, 3, b"x")],
        "reserved opcode 3",
    )
    .await;
    ws_probe(
        addr,
        &[raw::client_frame(true, 0xb, b"x")],
        "reserved control opcode 11",
    )
    .await;
    setup.healthy.check().await;

    // A ping flood on an open tunnel, never reading the pongs: memory stays bounded and the
    // tunnel still carries data afterwards.
    let echo = targets::echo_server().await;
    let mut ws = raw::websocket(addr).await;
    let mut first = raw::vless_header(1, echo);
    first.extend_from_slice(b"before the flood");
    ws.write_all(&raw::client_frame(true, 2, &first))
        .await
        .unwrap();
    let data = read_binary(&mut ws, 2 + 16).await;
    assert_eq!(&data[2..], b"before the flood");
    let ping = raw::client_frame(true, 9, &[0x55; 125]);
    let flood: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 2000)
        .collect();
    let flooder = tokio::time::timeout(Duration::from_secs(20), async {
        for _ in 0..20 {
            if ws.write_all(&flood).await.is_err() {
                break;
            }
        }
    });
    let _ = flooder.await;
    let flooded = raw::rss_kib(pid);
    assert!(
        flooded < baseline + 64 * 1024,
        "RSS after the flood {flooded} KiB vs baseline {baseline} KiB"
    );
    setup.healthy.check().await;
    let _ = ws
        .write_all(&raw::client_frame(true, 2, b"after the flood"))
        .await;
    let data = read_binary(&mut ws, 15).await;
    assert_eq!(data, b"after the flood", "the flooded tunnel still works");
    drop(ws);
    setup.healthy.check().await;
    setup.server.wait_for_log("handshake failed");
}

/// Reads server frames, skipping pongs, until `len` bytes of binary payload arrived.
async fn read_binary<S: AsyncRead + Unpin>(io: &mut S, len: usize) -> Vec<u8> {
    let mut data = Vec::new();
    while data.len() < len {
        let frame = tokio::time::timeout(flows::PATIENCE, raw::read_frame(io))
            .await
            .expect("data in time")
            .expect("the connection stays open");
        match frame {
            (2, payload) => data.extend_from_slice(&payload),
            (8, payload) => panic!("closed by the server: {payload:?}"),
            _ => {}
        }
    }
    data
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_vless_headers_close_after_a_delay_and_dial_nothing() {
    let mut setup = Setup::new().await;
    let addr = setup.addr();
    let (target, mut dialled) = targets::counting_echo_server().await;
    let good = raw::vless_header(1, target);
    let mut version = good.clone();
    version[0] = 1;
    let mut user = good.clone();
    user[5] ^= 0xff;
    let mut command = good.clone();
    command[18] = 9;
    let mut addons = good[..17].to_vec();
    addons.extend_from_slice(&[200, 1, 2, 3]);
    let truncated = good[..good.len() - 2].to_vec();

    for (what, header, window) in [
        (
            "version 1",
            version,
            (Duration::from_millis(90), DEADLINE * 2),
        ),
        (
            "unknown UUID",
            user,
            (Duration::from_millis(90), DEADLINE * 2),
        ),
        (
            "unknown command",
            command,
            (Duration::from_millis(90), DEADLINE * 2),
        ),
        (
            "addons length past the end",
            addons,
            (DEADLINE - Duration::from_millis(100), DEADLINE * 3),
        ),
        (
            "truncated header",
            truncated,
            (DEADLINE - Duration::from_millis(100), DEADLINE * 3),
        ),
    ] {
        let mut ws = raw::websocket(addr).await;
        let started = Instant::now();
        ws.write_all(&raw::client_frame(true, 2, &header))
            .await
            .unwrap();
        closed_between(&mut ws, started, window.0, window.1, what).await;
        setup.healthy.check().await;
    }
    assert!(
        dialled.try_recv().is_err(),
        "no bad header dialled the target"
    );
    setup.server.wait_for_log("handshake failed");
}

/// Opens a VLESS UDP stream to `echo`, checks one datagram comes back, and returns it.
async fn udp_stream(addr: SocketAddr, echo: SocketAddr) -> impl AsyncRead + AsyncWrite + Unpin {
    let mut ws = raw::websocket(addr).await;
    let mut first = raw::vless_header(2, echo);
    first.extend_from_slice(&[0, 5]);
    first.extend_from_slice(b"hello");
    ws.write_all(&raw::client_frame(true, 2, &first))
        .await
        .unwrap();
    let back = read_binary(&mut ws, 2 + 7).await;
    assert_eq!(
        back, b"\0\0\0\x05hello",
        "response header and the echoed datagram"
    );
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_vless_udp_frames_close_the_stream() {
    let mut setup = Setup::new().await;
    let addr = setup.addr();
    let echo = targets::udp_echo_server().await;

    let mut ws = udp_stream(addr, echo).await;
    let started = Instant::now();
    ws.write_all(&raw::client_frame(true, 2, &[0, 0]))
        .await
        .unwrap();
    closed_between(
        &mut ws,
        started,
        Duration::ZERO,
        DEADLINE,
        "zero-length frame",
    )
    .await;
    setup.healthy.check().await;

    // A length past the payload, then the end of the stream (a close frame): the server
    // closes at once instead of holding the UDP session until the idle timeout.
    let mut ws = udp_stream(addr, echo).await;
    let started = Instant::now();
    ws.write_all(&raw::client_frame(true, 2, &[0, 50, 1, 2, 3]))
        .await
        .unwrap();
    ws.write_all(&raw::client_frame(true, 8, &1000u16.to_be_bytes()))
        .await
        .unwrap();
    closed_between(
        &mut ws,
        started,
        Duration::ZERO,
        DEADLINE * 2,
        "length past the payload",
    )
    .await;
    setup.healthy.check().await;
}
