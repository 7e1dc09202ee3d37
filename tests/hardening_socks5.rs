//! HARDENING.md's SOCKS5 rows through the real binary and real sockets: every bad client gets
//! the documented reply (or none) and is closed, while a healthy connection beside it goes on.

mod common;

use common::{
    Proxy, flows,
    raw::{self, Healthy},
    targets,
};
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};
use tokio::{
    io::AsyncWriteExt,
    net::{TcpStream, UdpSocket},
};
use xypro_stack::{
    core::Address,
    socks5::{Socks5Client, decode_udp, encode_udp},
};

/// The handshake deadline of the proxies below.
const DEADLINE: Duration = Duration::from_secs(1);

fn config(socks5_options: &str) -> String {
    format!(
        "inbounds:\n  socks:\n    listen: 127.0.0.1:0\n    pipeline:\n\
         \x20     - socks5: {socks5_options}\n    outbound: free\n\
         outbounds:\n  free:\n    - direct: {{ connect_timeout: 2s }}\n"
    )
}

/// Sends `bytes`, then returns what the proxy answered, how long until it closed, and whether
/// it closed within a generous limit.
async fn probe(addr: SocketAddr, bytes: &[u8]) -> (Vec<u8>, Duration) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    raw::write_lossy(&mut stream, bytes).await;
    let (answer, closed) = raw::read_until_close(&mut stream, Duration::from_secs(10)).await;
    assert!(closed, "the proxy closes after {bytes:?}");
    (answer, started.elapsed())
}

/// Asserts the answer is `expected` and the close came promptly, before the deadline.
fn prompt(answer: (Vec<u8>, Duration), expected: &[u8], what: &str) {
    assert_eq!(answer.0, expected, "{what}");
    assert!(
        answer.1 < DEADLINE,
        "{what}: closed at once, not at the deadline ({:?})",
        answer.1
    );
}

/// Asserts nothing came back and the close came at the handshake deadline.
fn at_deadline(answer: (Vec<u8>, Duration), prefix: &[u8], what: &str) {
    assert_eq!(answer.0, prefix, "{what}");
    assert!(
        answer.1 >= DEADLINE - Duration::from_millis(100) && answer.1 < DEADLINE * 4,
        "{what}: closed at the deadline, took {:?}",
        answer.1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_greetings_get_05_ff_or_a_close() {
    let proxy = Proxy::start(&config("{ handshake_timeout: 1s }"));
    let addr = proxy.addr("socks");
    let echo = targets::echo_server().await;
    let mut healthy = Healthy::open(addr, echo).await;

    // Wrong version: not SOCKS5 at all, so no SOCKS5 reply.
    prompt(probe(addr, &[4, 1, 0, 80]).await, b"", "wrong version");
    healthy.check().await;
    prompt(probe(addr, &[5, 0]).await, &[5, 0xff], "zero methods");
    healthy.check().await;
    prompt(
        probe(addr, &[5, 1, 2]).await,
        &[5, 0xff],
        "no acceptable method",
    );
    healthy.check().await;
    at_deadline(probe(addr, &[5, 3, 0]).await, b"", "truncated greeting");
    healthy.check().await;
    at_deadline(probe(addr, &[]).await, b"", "silent client");
    healthy.check().await;
    proxy.wait_for_log("handshake failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rfc1929_logins_fail_and_close() {
    let proxy = Proxy::start(&config(
        "{ users: [{ user: alice, pass: s3cret }], handshake_timeout: 1s }",
    ));
    let addr = proxy.addr("socks");
    let echo = targets::echo_server().await;
    let mut control = TcpStream::connect(addr).await.unwrap();
    Socks5Client::with_credentials("alice", "s3cret")
        .connect(&mut control, &Address::Ip(echo))
        .await
        .unwrap();
    let mut healthy = Healthy::from_stream(control).await;

    let login = |version: u8, user: &[u8], pass: &[u8]| {
        let mut bytes = vec![5, 1, 2, version, user.len() as u8];
        bytes.extend_from_slice(user);
        bytes.push(pass.len() as u8);
        bytes.extend_from_slice(pass);
        bytes
    };
    let failed = [5u8, 2, 1, 1];
    prompt(
        probe(addr, &[5, 1, 0]).await,
        &[5, 0xff],
        "no-auth offered to a server with users",
    );
    for (what, bytes) in [
        ("wrong version", login(5, b"alice", b"s3cret")),
        ("empty user", login(1, b"", b"s3cret")),
        ("empty password", login(1, b"alice", b"")),
        ("255-byte fields", login(1, &[b'a'; 255], &[b'p'; 255])),
        ("wrong password", login(1, b"alice", b"wrong")),
    ] {
        prompt(probe(addr, &bytes).await, &failed, what);
        healthy.check().await;
    }

    // Dribbled one byte at a time, slower than the deadline allows: cut at the deadline.
    let slow = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = slow.into_split();
    let started = Instant::now();
    let closed_at = tokio::spawn(async move {
        let (answer, closed) = raw::read_until_close(&mut reader, Duration::from_secs(10)).await;
        assert!(closed, "the dribbling client is closed");
        (answer, started.elapsed())
    });
    let bytes = login(1, b"alice", b"s3cret");
    for byte in &bytes {
        if writer.write_all(&[*byte]).await.is_err() || closed_at.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let (answer, elapsed) = closed_at.await.unwrap();
    assert!(
        answer.is_empty() || answer == [5, 2],
        "no status for an unfinished login: {answer:?}"
    );
    at_deadline((Vec::new(), elapsed), b"", "dribbled login");
    healthy.check().await;
    proxy.wait_for_log("authentication failed for user `alice`");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_07_08_01_02_and_close() {
    let proxy = Proxy::start(&config("{ handshake_timeout: 1s }"));
    let addr = proxy.addr("socks");
    let (echo, mut dialled) = targets::counting_echo_server().await;
    let mut healthy = Healthy::open(addr, echo).await;
    assert!(dialled.recv().await.is_some());

    let request = |cmd: u8, atyp: u8, address: &[u8], port: u16| {
        let mut bytes = vec![5, 1, 0, 5, cmd, 0, atyp];
        bytes.extend_from_slice(address);
        bytes.extend_from_slice(&port.to_be_bytes());
        bytes
    };
    let reply = |code: u8| vec![5, 0, 5, code, 0, 1, 0, 0, 0, 0, 0, 0];
    let loopback = [127, 0, 0, 1];
    let mut long = vec![253u8];
    long.extend(std::iter::repeat_n(b'a', 253));
    let mut too_long = vec![255u8];
    too_long.extend(std::iter::repeat_n(b'a', 255));
    let own = addr.port();
    for (what, bytes, code) in [
        ("BIND", request(2, 1, &loopback, echo.port()), 7),
        ("unknown command", request(9, 1, &loopback, echo.port()), 7),
        (
            "unknown address type",
            request(1, 7, &loopback, echo.port()),
            8,
        ),
        ("empty domain", request(1, 3, &[0], echo.port()), 1),
        ("255-byte domain", request(1, 3, &too_long, echo.port()), 1),
        ("port 0", request(1, 1, &loopback, 0), 1),
        ("the proxy's own listener", request(1, 1, &loopback, own), 2),
    ] {
        prompt(probe(addr, &bytes).await, &reply(code), what);
        healthy.check().await;
    }
    // A well-formed 253-byte name that does not resolve: host unreachable, not a parse error.
    let (answer, _) = probe(addr, &request(1, 3, &long, echo.port())).await;
    assert_eq!(answer.get(..4), Some(&[5u8, 0, 5, 4][..]), "{answer:?}");
    healthy.check().await;
    assert!(
        dialled.try_recv().is_err(),
        "no bad request reached the target"
    );
}

/// Sends `datagram` from `socket` to `relay` and returns the first answer within `wait`.
async fn exchange(
    socket: &UdpSocket,
    relay: SocketAddr,
    datagram: &[u8],
    wait: Duration,
) -> Option<Vec<u8>> {
    socket.send_to(datagram, relay).await.unwrap();
    let mut buf = vec![0u8; 70_000];
    match tokio::time::timeout(wait, socket.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_drops_strangers_fragments_bad_headers_and_caps_destinations() {
    const CAP: usize = 16;
    let scale = std::env::var("XYPRO_SOAK_SCALE").map_or(1, |s| s.parse().unwrap_or(1));
    let destinations = 2_000 * scale.min(5);
    let proxy = Proxy::start_with_log(
        &config(&format!("{{ udp: true, udp_max_destinations: {CAP} }}")),
        "info,xypro_socks5=debug",
    );
    let addr = proxy.addr("socks");
    let tcp_echo = targets::echo_server().await;
    let echo = targets::udp_echo_server().await;
    let mut healthy = Healthy::open(addr, tcp_echo).await;
    let (control, relay, socket) = flows::associate(addr).await;
    let to_echo = |payload: &[u8]| encode_udp(&Address::Ip(echo), payload);

    // The first datagram fixes the client port; retry while the route opens.
    let mut first = None;
    for _ in 0..5 {
        first = exchange(&socket, relay, &to_echo(b"first"), Duration::from_secs(2)).await;
        if first.is_some() {
            break;
        }
    }
    let first = first.expect("the echo answers through the association");
    assert_eq!(decode_udp(&first).unwrap().1, b"first");

    // Another host (127.0.0.2 is loopback too) and another port of ours: dropped.
    let stranger = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    let quiet = Duration::from_millis(300);
    assert_eq!(
        exchange(&stranger, relay, &to_echo(b"x"), quiet).await,
        None
    );
    let other_port = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    assert_eq!(
        exchange(&other_port, relay, &to_echo(b"x"), quiet).await,
        None
    );
    // FRAG != 0 and a bad address type: dropped.
    let mut fragment = to_echo(b"frag");
    fragment[2] = 1;
    assert_eq!(exchange(&socket, relay, &fragment, quiet).await, None);
    assert_eq!(
        exchange(&socket, relay, &[0, 0, 0, 9, 1, 2, 3], quiet).await,
        None
    );
    // Oversize: a 65 000-byte payload whose echo cannot fit in one UDP datagram with its
    // header comes back to nobody; the association goes on.
    let _ = exchange(&socket, relay, &to_echo(&[1u8; 65_000]), quiet).await;
    healthy.check().await;

    // Many destinations: only CAP routes open; the rest are dropped and counted.
    for port in 0..destinations {
        if port % 100 == 99 {
            // Pace the spray so the kernel's receive buffer drops none uncounted.
            let _ = exchange(&socket, relay, &to_echo(b"pace"), Duration::from_secs(2)).await;
        }
        let destination = Address::Ip(SocketAddr::from(([127, 0, 0, 1], 20_000 + port as u16)));
        socket
            .send_to(&encode_udp(&destination, b"spray"), relay)
            .await
            .unwrap();
    }
    let mut back = None;
    for _ in 0..5 {
        back = exchange(&socket, relay, &to_echo(b"after"), Duration::from_secs(2)).await;
        if back.is_some() {
            break;
        }
    }
    assert_eq!(
        decode_udp(&back.expect("the echo route survives"))
            .unwrap()
            .1,
        b"after"
    );
    healthy.check().await;

    // The association ends with its control connection, and logs what it dropped.
    drop(control);
    let line = proxy.wait_for_log("UDP association closed");
    for counter in ["foreign: 2", "malformed: 1", "fragmented: 1"] {
        assert!(line.contains(counter), "{counter} in {line}");
    }
    let over_cap: u64 = line
        .split("over_cap: ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("over_cap counted in {line}"));
    assert!(
        over_cap >= (destinations - CAP) as u64 * 9 / 10,
        "most of {destinations} destinations refused, got {over_cap}: {line}"
    );
    assert_eq!(
        exchange(&socket, relay, &to_echo(b"late"), quiet).await,
        None,
        "the association is gone"
    );
    healthy.check().await;
}
