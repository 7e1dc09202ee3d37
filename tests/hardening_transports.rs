//! HARDENING.md's HTTP/2, gRPC and fallback rows against the real binary: rapid reset, HEADERS
//! floods, huge HEADERS, SETTINGS floods, window stalls, gRPC messages over the size cap, a
//! fallback slowloris and a fallback server that is down. Each bad connection ends cleanly
//! while a healthy tunnel beside it works, and the server's descriptors come back.

mod common;

use bytes::{BufMut, Bytes, BytesMut};
use common::{
    Proxy, cert, flows,
    raw::{self, Healthy},
    targets,
    tunnel::{self, Transport},
};
use h2::client::SendRequest;
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};
use tokio::{io::AsyncWriteExt, task::JoinHandle};

/// The server: TLS, then `transport`, then VLESS, with 1 s handshake deadlines; with `web`,
/// refused connections fall back to it.
fn server_config(transport: Transport, web: Option<SocketAddr>) -> String {
    let layer = transport
        .server_layer()
        .replace(" }", ", handshake_timeout: 1s }");
    let (fallback, outbound) = match web {
        Some(web) => (
            "    fallback: web\n".to_owned(),
            format!("  web:\n    - tcp: {{ address: {web}, connect_timeout: 2s }}\n"),
        ),
        None => (String::new(), String::new()),
    };
    format!(
        "inbounds:\n  server:\n    listen: 127.0.0.1:0\n    pipeline:\n\
         \x20     - tls: {{ cert: {cert}, key: {key}, handshake_timeout: 1s }}\n\
         \x20     - {layer}\n\
         \x20     - vless: {{ users: [{{ name: demo, id: {id} }}], allow_private: true, handshake_timeout: 1s }}\n\
         \x20   outbound: free\n{fallback}\
         outbounds:\n  free:\n    - direct: {{ connect_timeout: 2s }}\n{outbound}",
        cert = cert("server.pem"),
        key = cert("server.key"),
        id = tunnel::ID,
    )
}

/// A server, our client tunnelling to it over the same transport, and a healthy tunnel.
struct Setup {
    server: Proxy,
    client: Proxy,
    healthy: Healthy,
    echo: SocketAddr,
}

impl Setup {
    async fn new(transport: Transport, web: Option<SocketAddr>) -> Setup {
        Setup::with_config(transport, &server_config(transport, web)).await
    }

    async fn with_config(transport: Transport, server_config: &str) -> Setup {
        let server = Proxy::start(server_config);
        let client_config = tunnel::transport_client_config(transport, server.addr("server"));
        let client = Proxy::start(&client_config);
        let echo = targets::echo_server().await;
        let healthy = Healthy::open(client.addr("socks"), echo).await;
        Setup {
            server,
            client,
            healthy,
            echo,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.server.addr("server")
    }

    /// A new healthy tunnel, for a test whose idle timeout would end an older one.
    async fn fresh_healthy(&self) -> Healthy {
        Healthy::open(self.client.addr("socks"), self.echo).await
    }

    /// The server's open descriptors.
    fn fds(&self) -> usize {
        raw::fd_count(raw::pid_of(&self.server))
    }

    /// Waits until the server's descriptors are back at `baseline` (or below).
    async fn fds_back_to(&self, baseline: usize, what: &str) {
        assert!(
            raw::eventually(flows::PATIENCE, || self.fds() <= baseline).await,
            "{what}: descriptors back to {baseline}, now {}",
            self.fds()
        );
    }
}

/// An HTTP/2 client connection over TLS (ALPN `h2`) to `addr`, its driver on a task; stream
/// windows of `stream_window`, a 16 MiB connection window.
async fn h2_client(
    addr: SocketAddr,
    stream_window: u32,
) -> (SendRequest<Bytes>, JoinHandle<Result<(), h2::Error>>) {
    let tls = raw::tls_connect_alpn(addr, "example.test", "h2")
        .await
        .unwrap();
    let (send, connection) = h2::client::Builder::new()
        .initial_window_size(stream_window)
        .initial_connection_window_size(16 << 20)
        .handshake(tls)
        .await
        .unwrap();
    (send, tokio::spawn(connection))
}

/// A tunnel request of `transport` (the h2 `PUT /h2`, or the gRPC call `/gun/Tun`).
fn tunnel_request(transport: Transport) -> http::Request<()> {
    let builder = match transport {
        Transport::Grpc => http::Request::post("https://example.test/gun/Tun")
            .header("content-type", "application/grpc")
            .header("te", "trailers"),
        _ => http::Request::put("https://www.example.com/h2"),
    };
    builder.body(()).unwrap()
}

/// `payload` as one gun message.
fn gun(payload: &[u8]) -> Bytes {
    let mut message = BytesMut::new();
    let mut varint = Vec::new();
    let mut n = payload.len();
    while n >= 0x80 {
        varint.push(n as u8 | 0x80);
        n >>= 7;
    }
    varint.push(n as u8);
    message.put_u8(0);
    message.put_u32((1 + varint.len() + payload.len()) as u32);
    message.put_u8(0x0A);
    message.extend_from_slice(&varint);
    message.extend_from_slice(payload);
    message.freeze()
}

/// Opens a tunnel stream on `send` to the echo at `echo`, checks one round trip on it and
/// returns its halves.
async fn echo_stream(
    send: &mut SendRequest<Bytes>,
    transport: Transport,
    echo: SocketAddr,
) -> (h2::SendStream<Bytes>, h2::RecvStream) {
    let mut ready = send.clone().ready().await.unwrap();
    let (response, mut body) = ready
        .send_request(tunnel_request(transport), false)
        .unwrap();
    let mut first = raw::vless_header(1, echo);
    first.extend_from_slice(b"ping");
    let first = match transport {
        Transport::Grpc => gun(&first),
        _ => Bytes::from(first),
    };
    body.send_data(first, false).unwrap();
    let response = tokio::time::timeout(flows::PATIENCE, response)
        .await
        .expect("a response in time")
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut recv = response.into_body();
    let mut got = Vec::new();
    // The VLESS response `00 00` and "ping", in one gun message or raw.
    let want = match transport {
        Transport::Grpc => 2 + 6,
        _ => 6,
    };
    while got.len() < want {
        let data = tokio::time::timeout(flows::PATIENCE, recv.data())
            .await
            .expect("the echo in time")
            .expect("the stream stays open")
            .unwrap();
        let _ = recv.flow_control().release_capacity(data.len());
        got.extend_from_slice(&data);
    }
    assert!(got.ends_with(b"\0\0ping"), "{got:?}");
    (body, recv)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rapid_reset_gets_a_goaway_and_other_tunnels_go_on() {
    let mut setup = Setup::new(Transport::H2, None).await;
    let baseline = setup.fds();
    let (send, connection) = h2_client(setup.addr(), 1 << 20).await;
    let mut sent = 0;
    for _ in 0..5000 {
        let Ok(mut ready) = send.clone().ready().await else {
            break;
        };
        match ready.send_request(tunnel_request(Transport::H2), false) {
            // Dropping both halves at once resets the stream (CANCEL).
            Ok(stream) => drop(stream),
            Err(_) => break,
        }
        sent += 1;
    }
    let ended = tokio::time::timeout(flows::PATIENCE, connection)
        .await
        .expect("the server ends the connection")
        .unwrap();
    let error = ended.expect_err("ended by the server");
    assert!(error.is_go_away(), "GOAWAY after {sent} resets: {error}");
    assert_eq!(
        error.reason(),
        Some(h2::Reason::ENHANCE_YOUR_CALM),
        "{error}"
    );
    setup.healthy.check().await;
    setup.fds_back_to(baseline, "rapid reset").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_silent_streams_is_reset_at_the_deadline_and_the_connection_serves_on() {
    let mut setup = Setup::new(Transport::H2, None).await;
    let baseline = setup.fds();
    let (mut send, connection) = h2_client(setup.addr(), 1 << 20).await;
    let mut silent = Vec::new();
    for _ in 0..240 {
        let mut ready = send.clone().ready().await.unwrap();
        silent.push(
            ready
                .send_request(tunnel_request(Transport::H2), false)
                .unwrap(),
        );
    }
    let started = Instant::now();
    for (response, _body) in silent {
        let mut recv = response.await.unwrap().into_body();
        let end = tokio::time::timeout(flows::PATIENCE, recv.data()).await;
        assert!(
            matches!(end.expect("each stream ends"), None | Some(Err(_))),
            "no data on a silent stream"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "at the 1 s VLESS deadline"
    );
    let stream = echo_stream(&mut send, Transport::H2, setup.echo).await;
    setup.healthy.check().await;
    drop((stream, send));
    connection.abort();
    setup.fds_back_to(baseline, "silent streams").await;
}

/// Sends a tunnel request with a `pad`-byte header on `send`; its response status, or the error.
async fn padded(send: &SendRequest<Bytes>, pad: usize) -> Result<http::StatusCode, h2::Error> {
    let mut request = tunnel_request(Transport::H2);
    request
        .headers_mut()
        .insert("x-pad", "a".repeat(pad).parse().unwrap());
    let mut ready = send.clone().ready().await?;
    let (response, _body) = ready.send_request(request, true)?;
    let response = tokio::time::timeout(flows::PATIENCE, response).await;
    Ok(response.expect("an answer in time")?.status())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_headers_get_431_or_a_goaway_and_other_tunnels_go_on() {
    let mut setup = Setup::new(Transport::H2, None).await;
    let (mut send, connection) = h2_client(setup.addr(), 1 << 20).await;
    // Past the 16 KiB header list limit: 431, and the connection serves on.
    assert_eq!(padded(&send, 24 << 10).await.unwrap(), 431);
    let _stream = echo_stream(&mut send, Transport::H2, setup.echo).await;
    // Far past it: the connection is closed with GOAWAY.
    let error = padded(&send, 1 << 20).await.unwrap_err();
    assert!(error.is_go_away(), "{error}");
    let ended = tokio::time::timeout(flows::PATIENCE, connection).await;
    assert!(ended.expect("the connection ends").unwrap().is_err());
    setup.healthy.check().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settings_flood_from_a_client_that_never_reads_stays_bounded() {
    let mut setup = Setup::new(Transport::H2, None).await;
    let baseline = setup.fds();
    let pid = raw::pid_of(&setup.server);
    let rss_before = raw::rss_kib(pid);
    let mut tls = raw::tls_connect_alpn(setup.addr(), "example.test", "h2")
        .await
        .unwrap();
    let mut flood = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    // An empty SETTINGS frame, 400,000 times (each wants an ACK the client never reads).
    for _ in 0..400_000 {
        flood.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    }
    let written = tokio::time::timeout(Duration::from_secs(5), tls.write_all(&flood)).await;
    // The server takes it all and stops reading when its ACKs back up, or closes the connection.
    let _ = written;
    setup.healthy.check().await;
    let grown = raw::rss_kib(pid).saturating_sub(rss_before);
    assert!(grown < 16 << 10, "RSS grew by {grown} KiB");
    drop(tls);
    setup.fds_back_to(baseline, "settings flood").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_window_holds_memory_and_ends_at_the_idle_timeout() {
    let config = server_config(Transport::H2, None)
        .replace("outbounds:", "limits: { idle_timeout: 2s }\noutbounds:");
    let setup = Setup::with_config(Transport::H2, &config).await;
    let pid = raw::pid_of(&setup.server);
    let rss_before = raw::rss_kib(pid);
    let bulk = targets::bulk_server().await;
    let (mut send, _connection) = h2_client(setup.addr(), 64 << 10).await;
    let mut ready = send.clone().ready().await.unwrap();
    let (response, mut body) = ready
        .send_request(tunnel_request(Transport::H2), false)
        .unwrap();
    let mut request = raw::vless_header(1, bulk);
    request.extend_from_slice(&(256u64 << 20).to_be_bytes());
    body.send_data(Bytes::from(request), false).unwrap();
    let mut stalled = response.await.unwrap().into_body();
    // Read nothing: the server may send one window's worth, then waits.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _stream = echo_stream(&mut send, Transport::H2, setup.echo).await;
    // A tunnel opened now, well within the 2 s idle timeout of this server.
    setup.fresh_healthy().await.check().await;
    let grown = raw::rss_kib(pid).saturating_sub(rss_before);
    assert!(grown < 32 << 10, "RSS grew by {grown} KiB while stalled");
    // Past the 2 s idle timeout the stream ends, after at most the window plus the header.
    let started = Instant::now();
    let mut received = 0;
    let ended = loop {
        match tokio::time::timeout(flows::PATIENCE, stalled.data()).await {
            Ok(Some(Ok(data))) => received += data.len(),
            Ok(other) => break other,
            Err(_) => panic!("the stalled stream never ended"),
        }
    };
    assert!(matches!(ended, None | Some(Err(_))));
    assert!(
        received <= (64 << 10) + 2,
        "received {received} bytes with a 64 KiB window"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_message_over_the_cap_resets_its_stream_only() {
    let mut setup = Setup::new(Transport::Grpc, None).await;
    let (mut send, _connection) = h2_client(setup.addr(), 1 << 20).await;
    let (mut neighbour, mut neighbour_recv) =
        echo_stream(&mut send, Transport::Grpc, setup.echo).await;
    let mut ready = send.clone().ready().await.unwrap();
    let (response, mut body) = ready
        .send_request(tunnel_request(Transport::Grpc), false)
        .unwrap();
    // A message announcing 8 MiB, over the 4 MiB cap.
    let mut oversize = BytesMut::new();
    oversize.put_u8(0);
    oversize.put_u32(8 << 20);
    oversize.extend_from_slice(&[0x0A, 0x80, 0x80, 0x80, 0x04]);
    oversize.extend_from_slice(&[0; 1024]);
    body.send_data(oversize.freeze(), false).unwrap();
    let mut recv = response.await.unwrap().into_body();
    let end = tokio::time::timeout(flows::PATIENCE, recv.data()).await;
    assert!(
        matches!(end.expect("the stream ends"), None | Some(Err(_))),
        "nothing comes back on the oversized call"
    );
    neighbour.send_data(gun(b"again"), false).unwrap();
    let data = tokio::time::timeout(flows::PATIENCE, neighbour_recv.data())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        &data[..],
        &gun(b"again")[..],
        "the other call on the connection goes on"
    );
    setup.healthy.check().await;
}

/// Reads what `io` sends until it closes; panics if that takes longer than `limit`.
async fn closed_within<S: tokio::io::AsyncRead + Unpin>(io: &mut S, limit: Duration) -> Vec<u8> {
    let (answer, closed) = raw::read_until_close(io, limit).await;
    assert!(closed, "closed within {limit:?}");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fallback_slowloris_meets_the_usual_deadlines() {
    let (web, _visits) = targets::web_server().await;
    let mut setup = Setup::new(Transport::WebSocket, Some(web)).await;
    let baseline = setup.fds();
    let mut tls = raw::tls_connect(setup.addr(), "example.test")
        .await
        .unwrap();
    let started = Instant::now();
    tls.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let dribble = async {
        for byte in b"X-Slow: a-very-long-header-value".iter().cycle() {
            if tls.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(15), dribble).await;
    let answer = closed_within(&mut tls, Duration::from_secs(2)).await;
    let elapsed = started.elapsed();
    assert!(answer.is_empty(), "no answer to an unfinished request");
    assert!(
        elapsed < Duration::from_secs(8),
        "the upgrade's 1 s and the website's own deadline, took {elapsed:?}"
    );
    setup.healthy.check().await;
    drop(tls);
    setup.fds_back_to(baseline, "slowloris").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fallback_server_that_is_down_closes_the_client() {
    let down = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mut setup = Setup::new(Transport::WebSocket, Some(down)).await;
    let baseline = setup.fds();
    let mut tls = raw::tls_connect(setup.addr(), "example.test")
        .await
        .unwrap();
    tls.write_all(b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n")
        .await
        .unwrap();
    let answer = closed_within(&mut tls, Duration::from_secs(5)).await;
    assert!(answer.is_empty(), "{answer:?}");
    setup.server.wait_for_log("connect failed");
    setup.healthy.check().await;
    drop(tls);
    setup.fds_back_to(baseline, "fallback down").await;
}
