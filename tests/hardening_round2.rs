//! HARDENING.md's second-round rows, each against the real binary beside a healthy tunnel that
//! keeps moving data (echo round trips and SHA-256-checked bulk transfers): bounded UDP queues,
//! no pre-auth lockout, no dialling itself, no private-range bypass, no secrets in logs, no
//! config that panics at run time, identical misses, visible warnings, no UDP port hijack.

mod common;

use common::{
    Proxy, TempDir, cert, flows,
    raw::{self, Healthy},
    run_cli, targets, tunnel,
};
use std::{
    net::{IpAddr, SocketAddr},
    time::{Duration, Instant},
};
use tokio::{
    io::AsyncWriteExt,
    net::{TcpSocket, TcpStream},
};
use tower::ServiceExt;
use xypro_stack::{
    core::{Address, BuildContext, LayerOptions, Network, Target},
    socks5::{Socks5Client, Socks5Error},
    vless::proto::{
        Command, Request,
        xudp::{Frame, Status},
    },
    websocket::ClientOptions,
};

/// A VLESS/WS/TLS server, our client tunnelling to it, and a healthy connection through both.
struct Tunnel {
    server: Proxy,
    client: Proxy,
    healthy: Healthy,
    bulk: SocketAddr,
}

impl Tunnel {
    /// A tunnel whose server config has `extra` appended (more inbounds go under `inbounds:`
    /// through `extra_inbounds`).
    async fn start(extra_inbounds: &str, extra: &str) -> Tunnel {
        let config = tunnel::server_config(&tunnel::server_users())
            .replace("outbounds:", &format!("{extra_inbounds}outbounds:"))
            + extra;
        let server = Proxy::start(&config);
        let client = Proxy::start(&tunnel::client_config(server.addr("server"), 2048));
        let echo = targets::echo_server().await;
        let healthy = Healthy::open(client.addr("socks"), echo).await;
        Tunnel {
            server,
            client,
            healthy,
            bulk: targets::bulk_server().await,
        }
    }

    /// The healthy neighbour still echoes and a fresh tunnel moves 1 MiB each way intact.
    async fn still_healthy(&mut self) {
        self.healthy.check().await;
        flows::bulk_both_ways(self.client.addr("socks"), self.bulk, 1 << 20).await;
    }
}

/// A SOCKS5 CONNECT as `user` (password `pass`); the reply code on refusal, 0 on success.
async fn socks_code(socks: SocketAddr, login: Option<(&str, &str)>, to: Address) -> u8 {
    let mut stream = TcpStream::connect(socks).await.unwrap();
    let client = match login {
        Some((user, pass)) => Socks5Client::with_credentials(user, pass),
        None => Socks5Client::new(),
    };
    let answer = tokio::time::timeout(flows::PATIENCE, client.connect(&mut stream, &to)).await;
    match answer.expect("a SOCKS5 answer in time") {
        Ok(_) => 0,
        Err(Socks5Error::Rejected(code)) => code.byte(),
        Err(e) => panic!("SOCKS5 to {to}: {e}"),
    }
}

/// This host's address on its default route, if it has one (never loopback).
fn host_address() -> Option<IpAddr> {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    probe.connect("192.0.2.1:9").ok()?;
    let ip = probe.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// A SOCKS5 inbound on every address, with a login, and `options` added to the layer.
fn public_socks(options: &str) -> String {
    format!(
        "inbounds:\n  socks:\n    listen: 0.0.0.0:0\n    pipeline:\n\
         \x20     - socks5: {{ users: [{{ user: u, pass: p }}]{options} }}\n\
         \x20   outbound: free\noutbounds:\n  free:\n    - direct: {{ connect_timeout: 2s }}\n"
    )
}

// ---- 1. UDP queues ---------------------------------------------------------------------

/// An XUDP connection to a plain WebSocket/VLESS inbound at `addr`, header already sent.
async fn xudp_connection(addr: SocketAddr) -> impl tokio::io::AsyncWrite + Unpin {
    let settings = ClientOptions::new("/x")
        .settings(Some("example.test"))
        .unwrap();
    let dial = tower::service_fn(move |_: Target| TcpStream::connect(addr));
    let connector = xypro_stack::websocket::WsConnectorLayer::new(settings);
    let mut stream = tower::Layer::layer(&connector, dial)
        .oneshot(Target::tcp(Address::Ip(addr)))
        .await
        .unwrap();
    let mut header = Vec::new();
    let id = uuid::Uuid::parse_str(tunnel::ID).unwrap();
    Request::new(id, Command::Mux)
        .write_to_buf(&mut header)
        .unwrap();
    stream.write_all(&header).await.unwrap();
    stream
}

fn frame(session: u16, status: Status, to: SocketAddr, data: Option<&[u8]>) -> Vec<u8> {
    let target = matches!(status, Status::New | Status::Keep).then(|| (Network::Udp, to.into()));
    let frame = Frame {
        session,
        status,
        target,
        global_id: None,
        error: false,
        data,
    };
    let mut wire = Vec::new();
    frame.write_to_buf(&mut wire).unwrap();
    wire
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xudp_floods_to_destinations_that_never_connect_stay_within_the_session_budget() {
    // The `xudp` inbound's outbound is a tunnel whose server never answers: every UDP
    // destination's dial hangs, as with names that never resolve.
    let (stuck, _fillers, _listener) = targets::blackhole();
    let inbound = format!(
        "  xudp:\n    listen: 127.0.0.1:0\n    pipeline:\n\
         \x20     - websocket: {{ path: /x }}\n\
         \x20     - vless: {}\n\
         \x20   outbound: stuck\n",
        tunnel::server_users()
    );
    let stuck_outbound = format!("  stuck:\n{}", tunnel::tunnel_outbound(stuck));
    let mut setup = Tunnel::start(&inbound, &stuck_outbound).await;
    let pid = raw::pid_of(&setup.server);
    let baseline = raw::rss_kib(pid);

    let mut xudp = xudp_connection(setup.server.addr("xudp")).await;
    let datagram = vec![0x5a; 65_535];
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(baseline));
    let sampler = tokio::spawn({
        let peak = peak.clone();
        async move {
            loop {
                peak.fetch_max(raw::rss_kib(pid), std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });
    for destination in 0..256u16 {
        let to = SocketAddr::from(([192, 0, 2, (destination % 250) as u8], 1000 + destination));
        let mut burst = frame(destination, Status::New, to, Some(&datagram));
        for _ in 1..64 {
            burst.extend(frame(destination, Status::Keep, to, Some(&datagram)));
        }
        xudp.write_all(&burst).await.unwrap();
    }
    // New, data, End in a loop: each opens a dial that the End must cancel.
    let looping = Instant::now();
    let mut session = 1000u16;
    while looping.elapsed() < Duration::from_secs(10) {
        let to = SocketAddr::from(([192, 0, 2, 7], session));
        let mut cycle = frame(session, Status::New, to, Some(&datagram[..1024]));
        cycle.extend(frame(session, Status::End, to, None));
        xudp.write_all(&cycle).await.unwrap();
        session = session.wrapping_add(1).max(1000);
    }
    xudp.flush().await.unwrap();
    setup.still_healthy().await;
    let grown = peak.load(std::sync::atomic::Ordering::Relaxed) - baseline;
    let allowed = 4 * 1024 + 20 * 1024;
    eprintln!("server RSS: baseline {baseline} KiB, grew by at most {grown} KiB");
    assert!(
        grown <= allowed,
        "server RSS grew by {grown} KiB; the session budget plus 20 MiB is {allowed} KiB"
    );

    drop(xudp);
    assert!(
        raw::eventually(Duration::from_secs(20), || raw::rss_kib(pid)
            <= baseline + allowed)
        .await,
        "RSS back near the baseline once the connection ended"
    );
    sampler.abort();
    setup.still_healthy().await;
}

// ---- 2. Pre-auth lockout ---------------------------------------------------------------

/// Opens `count` silent TCP connections to `to` from the source address `from`.
async fn silent_connections(from: IpAddr, to: SocketAddr, count: usize) -> Vec<TcpStream> {
    let mut held = Vec::with_capacity(count);
    for _ in 0..count {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::new(from, 0)).unwrap();
        held.push(socket.connect(to).await.unwrap());
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_silent_connections_from_one_address_lock_out_no_one() {
    let socks = "  socks:\n    listen: 127.0.0.1:0\n    pipeline: [socks5]\n    outbound: free\n";
    let mut setup = Tunnel::start(socks, "limits: { max_connections: 1000 }\n").await;
    let attacker: IpAddr = "127.0.0.2".parse().unwrap();
    let _silent = silent_connections(attacker, setup.server.addr("server"), 2000).await;
    let echo = targets::echo_server().await;

    // A new client of the flooded inbound (through a new tunnel) and of another inbound.
    let started = Instant::now();
    let through_tunnel = tokio::time::timeout(
        Duration::from_secs(1),
        flows::echo(
            setup.client.addr("socks"),
            echo,
            b"through the flooded inbound",
        ),
    );
    through_tunnel
        .await
        .expect("a new tunnel through the flooded inbound within a second");
    let other_inbound = tokio::time::timeout(
        Duration::from_secs(1),
        flows::echo(setup.server.addr("socks"), echo, b"another inbound"),
    );
    other_inbound
        .await
        .expect("another inbound of the same process within a second");
    eprintln!("both served {:?} after the flood", started.elapsed());
    setup.still_healthy().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_deadline_runs_from_accept_to_the_authenticated_request() {
    // Each stage alone would wait 10 s; the whole handshake may take 1 s.
    let mut setup = Tunnel::start("", "limits: { handshake_timeout: 1s }\n").await;
    let mut silent = TcpStream::connect(setup.server.addr("server"))
        .await
        .unwrap();
    let started = Instant::now();
    let (answer, closed) = raw::read_until_close(&mut silent, Duration::from_secs(5)).await;
    assert!(closed && answer.is_empty(), "closed without a byte");
    let waited = started.elapsed();
    assert!(
        (Duration::from_millis(900)..Duration::from_secs(3)).contains(&waited),
        "closed after {waited:?}"
    );
    setup.server.wait_for_log("not done within 1s");
    setup.still_healthy().await;
}

// ---- 3. The server dialling itself, 4. private ranges, 5. open SOCKS5 ------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dual_stack_server_refuses_its_own_port_at_every_local_address() {
    let config = tunnel::server_config(&tunnel::server_users()).replace("127.0.0.1:0", "'[::]:0'");
    let server = Proxy::start(&config);
    let port = server.addr("server").port();
    let server_addr = SocketAddr::from(([127, 0, 0, 1], port));
    let client = Proxy::start(&tunnel::client_config(server_addr, 0));
    let echo = targets::echo_server().await;
    let mut healthy = Healthy::open(client.addr("socks"), echo).await;
    let mut own: Vec<Address> = ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "127.0.0.2"]
        .iter()
        .map(|host| format!("{host}:{port}").parse().unwrap())
        .collect();
    if let Some(ip) = host_address() {
        own.push(Address::Ip(SocketAddr::new(ip, port)));
    }
    for destination in own {
        let mut stream = flows::connect(client.addr("socks"), destination.clone()).await;
        stream.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let (answer, closed) = raw::read_until_close(&mut stream, flows::PATIENCE).await;
        assert!(closed && answer.is_empty(), "{destination}: {answer:?}");
        let line = server.wait_for_log("connect failed");
        assert!(line.contains("NotAllowed"), "{destination}: {line}");
    }
    assert!(
        !server.log_text().contains("handshake failed"),
        "the server never reached its own listener"
    );
    healthy.check().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_socks5_listener_reaches_neither_the_inside_nor_itself() {
    let echo = targets::echo_server().await;
    let proxy = Proxy::start(&public_socks(""));
    let port = proxy.addr("socks").port();
    let socks = SocketAddr::from(([127, 0, 0, 1], port));
    let login = Some(("u", "p"));
    let mut internal: Vec<String> = vec![
        echo.to_string(),
        "[64:ff9b::7f00:1]:80".into(),
        "[2002:7f00:1::1]:80".into(),
        "[2001:0:a00:1::f5ff:fffe]:80".into(),
        "[fec0::1]:80".into(),
        "192.0.0.8:80".into(),
        "198.18.0.1:80".into(),
        "169.254.169.254:80".into(),
    ];
    if let Some(ip) = host_address() {
        internal.push(SocketAddr::new(ip, port).to_string());
    }
    for destination in &internal {
        let code = socks_code(socks, login, destination.parse().unwrap()).await;
        assert_eq!(code, 0x02, "{destination} refused as not allowed");
    }

    // `allow_private` opens the inside again, but never the proxy's own port.
    let allowed = Proxy::start(&public_socks(", allow_private: true"));
    let socks = SocketAddr::from(([127, 0, 0, 1], allowed.addr("socks").port()));
    let mut inside = TcpStream::connect(socks).await.unwrap();
    Socks5Client::with_credentials("u", "p")
        .connect(&mut inside, &echo.into())
        .await
        .expect("the inside, as allowed");
    inside.write_all(b"ping").await.unwrap();
    let mut back = [0; 4];
    tokio::io::AsyncReadExt::read_exact(&mut inside, &mut back)
        .await
        .unwrap();
    assert_eq!(&back, b"ping");
    let itself = format!("127.0.0.1:{}", socks.port()).parse().unwrap();
    assert_eq!(socks_code(socks, login, itself).await, 0x02);
}

// ---- 6. Secrets in logs ----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_ids_and_odd_user_names_are_logged_without_secrets() {
    let mut setup = Tunnel::start("", "").await;
    let wrong = "11111111-2222-3333-4444-555555555555";
    let probe = Proxy::start(
        &tunnel::client_config(setup.server.addr("server"), 0).replace(tunnel::ID, wrong),
    );
    let echo = targets::echo_server().await;
    let mut stream = flows::connect(probe.addr("socks"), echo).await;
    stream.write_all(b"knock").await.unwrap();
    let _ = raw::read_until_close(&mut stream, flows::PATIENCE).await;
    let line = setup.server.wait_for_log("unknown user id");
    assert!(line.contains("(hash "), "{line}");
    for part in ["11111111", "555555555555", "2222-3333"] {
        assert!(!line.contains(part), "the id leaks into {line}");
    }

    let socks = Proxy::start(
        "inbounds:\n  socks:\n    listen: 127.0.0.1:0\n    pipeline:\n\
         \x20     - socks5: { users: [{ user: alice, pass: s3cret }] }\n\
         \x20   outbound: free\noutbounds:\n  free: [direct]\n",
    );
    let forged = "x\nINFO forged admin login";
    let mut stream = TcpStream::connect(socks.addr("socks")).await.unwrap();
    let login = Socks5Client::with_credentials(forged, "whatever")
        .connect(&mut stream, &echo.into())
        .await;
    assert!(login.is_err());
    let line = socks.wait_for_log("authentication failed");
    assert!(line.contains(r"x\nINFO forged"), "escaped: {line}");
    assert!(
        !socks
            .log_text()
            .lines()
            .any(|l| l.starts_with("INFO forged")),
        "no forged log line"
    );
    setup.still_healthy().await;
}

// ---- 7, 8. Configs that would panic or blow up -----------------------------------------

fn check(yaml: &str) -> (i32, String, Duration) {
    let dir = TempDir::new();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, yaml).unwrap();
    let started = Instant::now();
    let (code, out, err) = run_cli(&["check", "-c", path.to_str().unwrap()]);
    (code, format!("{out}{err}"), started.elapsed())
}

const SOCKS: &str = "inbounds:\n  socks:\n    listen: 127.0.0.1:0\n    pipeline:\n      - socks5\n    outbound: free\noutbounds:\n  free:\n    - direct\n";

#[test]
fn check_refuses_durations_and_counts_that_would_overflow() {
    for (yaml, key) in [
        (
            SOCKS.replace(
                "- direct",
                "- direct: { connect_timeout: 18446744073709551615s }",
            ),
            "connect_timeout",
        ),
        (
            format!("{SOCKS}limits:\n  idle_timeout: 18446744073709551615s\n"),
            "idle_timeout",
        ),
        (
            format!("{SOCKS}limits:\n  max_connections: 18446744073709551615\n"),
            "limits.max_connections",
        ),
        (
            SOCKS.replace("- socks5", "- socks5: { udp_max_destinations: 4294967296 }"),
            "udp_max_destinations",
        ),
    ] {
        let (code, output, _) = check(&yaml);
        assert_ne!(code, 0, "{yaml}");
        assert!(
            output.contains(key) && !output.contains("panicked"),
            "{key}: {output}"
        );
    }
}

#[test]
fn an_alias_bomb_under_pipeline_is_refused_fast() {
    let items = vec!["x"; 10_000].join(", ");
    let aliases = vec!["*a"; 10_000].join(", ");
    let bomb = format!(
        "inbounds:\n  socks:\n    listen: 127.0.0.1:0\n    pipeline:\n\
         \x20     - socks5: {{ users: &a [{items}] }}\n\
         \x20     - socks5: {{ users: [{aliases}] }}\n\
         \x20   outbound: free\noutbounds:\n  free: [direct]\n"
    );
    assert!(bomb.len() < 100_000);
    let (code, output, took) = check(&bomb);
    assert_ne!(code, 0);
    assert!(
        output.contains("aliases are counted as expanded"),
        "{output}"
    );
    assert!(took < Duration::from_secs(10), "refused in {took:?}");
}

// ---- 9. Identical misses ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_10_miss_gets_the_same_bytes_as_every_other_miss() {
    let mut setup = Tunnel::start("", "").await;
    let mut answers = Vec::new();
    for request in [
        "GET /elsewhere HTTP/1.1\r\nHost: example.test\r\n\r\n",
        "GET /elsewhere HTTP/1.0\r\n\r\n",
        "GET /xy HTTP/1.0\r\nHost: example.test\r\n\r\n",
    ] {
        let mut tls = raw::tls_connect(setup.server.addr("server"), "example.test")
            .await
            .unwrap();
        tls.write_all(request.as_bytes()).await.unwrap();
        let (answer, _) = raw::read_until_close(&mut tls, flows::PATIENCE).await;
        answers.push(String::from_utf8_lossy(&answer).into_owned());
    }
    assert!(answers[0].starts_with("HTTP/1.1 404"), "{}", answers[0]);
    assert_eq!(answers[1], answers[0], "an HTTP/1.0 miss");
    assert_eq!(answers[2], answers[0], "an HTTP/1.0 request for the path");
    setup.still_healthy().await;
}

// ---- 10. Warnings nobody saw -----------------------------------------------------------

#[test]
fn check_and_link_show_the_warnings_run_would_log() {
    let insecure = format!(
        "{SOCKS}  tunnel:\n    - vless: {{ id: short }}\n    - websocket: {{ path: /xy }}\n\
         \x20   - tls: {{ server_name: example.test, insecure: true }}\n\
         \x20   - tcp: {{ address: 127.0.0.1:1 }}\n"
    );
    let (code, output, _) = check(&insecure);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("verification is OFF"), "{output}");
    assert!(output.contains("short string"), "{output}");

    let link = "vless://2ad043a0-b930-46f8-bd55-1fcefc93339a@example.com:443?type=ws&security=tls&sni=example.com&allowInsecure=1#x";
    let (code, _, err) = run_cli(&["link", link]);
    assert_eq!(code, 0);
    assert!(err.contains("allowInsecure=1"), "{err}");

    // A private key others can read.
    let dir = TempDir::new();
    let key = dir.path().join("server.key");
    std::fs::copy(cert("server.key"), &key).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let server = tunnel::server_config(&tunnel::server_users())
        .replace(&cert("server.key"), key.to_str().unwrap());
    let (code, output, _) = check(&server);
    assert_eq!(code, 0, "{output}");
    assert!(
        output.contains("readable by its group or others"),
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_unknown_sni_hides_the_certificate_from_address_scans() {
    let config = tunnel::server_config(&tunnel::server_users())
        .replace("key: ", "reject_unknown_sni: true, key: ");
    let server = Proxy::start(&config);
    let client = Proxy::start(&tunnel::client_config(server.addr("server"), 0));
    let echo = targets::echo_server().await;
    let mut healthy = Healthy::open(client.addr("socks"), echo).await;
    for name in ["other.test", "127.0.0.1"] {
        let mut options = xypro_stack::tls::ClientOptions::new(name);
        options.insecure = true;
        let layer = options.validate(&BuildContext::default()).unwrap();
        let addr = server.addr("server");
        let dial = tower::service_fn(move |_: Target| TcpStream::connect(addr));
        let scan = tower::Layer::layer(&layer, dial)
            .oneshot(Target::tcp(Address::Ip(addr)))
            .await;
        let err = scan
            .err()
            .unwrap_or_else(|| panic!("{name}: the handshake failed"));
        assert!(
            xypro_stack::error_chain(&*err).contains("alert"),
            "{name}: {}",
            xypro_stack::error_chain(&*err)
        );
    }
    healthy.check().await;
}

// ---- 11. SOCKS5 UDP port hijack --------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_association_takes_datagrams_only_from_the_port_the_client_named() {
    let proxy = Proxy::start(SOCKS);
    let socks = proxy.addr("socks");
    let echo = targets::udp_echo_server().await;
    let mut healthy = Healthy::open(socks, targets::echo_server().await).await;
    let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let hijacker = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut control = TcpStream::connect(socks).await.unwrap();
    let named = Address::Ip(client.local_addr().unwrap());
    let relay = Socks5Client::new()
        .udp_associate(&mut control, &named)
        .await
        .unwrap();
    let Address::Ip(relay) = relay else {
        panic!("{relay}")
    };
    let packet = xypro_stack::socks5::encode_udp(&Address::Ip(echo), b"mine now");
    // Another local process sends first: it must not take the association over.
    hijacker.send_to(&packet, relay).await.unwrap();
    let mut buf = [0u8; 512];
    let stolen =
        tokio::time::timeout(Duration::from_millis(500), hijacker.recv_from(&mut buf)).await;
    assert!(stolen.is_err(), "no reply to the hijacker");
    client.send_to(&packet, relay).await.unwrap();
    let (n, _) = tokio::time::timeout(flows::PATIENCE, client.recv_from(&mut buf))
        .await
        .expect("the named port is served")
        .unwrap();
    let (_, data) = xypro_stack::socks5::decode_udp(&buf[..n]).unwrap();
    assert_eq!(data, b"mine now");
    drop(control);
    healthy.check().await;
}
