//! `/metrics` of a running VLESS/WS/TLS server, parsed by a Prometheus text parser: its
//! counters match the bytes the test moved, per inbound, outbound and VLESS user; handshake
//! failures, TLS resumptions and dial times are counted; connection items name their user.

mod common;

use common::{
    Proxy,
    admin::{api, sample, scrape},
    cert, flows, targets,
    tunnel::server_config,
};
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "metrics";
const ALICE: &str = "6b7a1f1e-29a3-4b8c-9a8e-0c1c7a2f3b11";
const BOB: &str = "7c8b2e2f-3ab4-4c9d-8b9f-1d2d8b3a4c22";

/// A client with one SOCKS5 inbound per user, each tunnelling to `server` as that user.
fn client_config(server: SocketAddr) -> String {
    let tunnel = |id: &str| {
        format!(
            "\x20   - vless: {{ id: {id} }}\n\
             \x20   - websocket: {{ path: /xy, host: example.test, early_data: 2048 }}\n\
             \x20   - tls: {{ server_name: example.test, ca: {ca} }}\n\
             \x20   - tcp: {{ address: {server} }}\n",
            ca = cert("ca.pem")
        )
    };
    format!(
        "inbounds:\n  alice:\n    listen: 127.0.0.1:0\n    pipeline: [socks5]\n    outbound: as_alice\n\
         \x20 bob:\n    listen: 127.0.0.2:0\n    pipeline: [socks5]\n    outbound: as_bob\n\
         outbounds:\n  as_alice:\n{}  as_bob:\n{}",
        tunnel(ALICE),
        tunnel(BOB)
    )
}

fn server() -> Proxy {
    let users = format!(
        "{{ users: [{{ name: alice, id: {ALICE} }}, {{ name: bob, id: {BOB} }}], allow_private: true }}"
    );
    let config = format!(
        "{}admin:\n  listen: 127.0.0.1:0\n  secret: {SECRET}\n",
        server_config(&users)
    );
    Proxy::start(&config)
}

/// Asserts `value` lies in `low..=low + slack`.
fn near(name: &str, value: Option<f64>, low: u64, slack: u64) {
    let value = value.unwrap_or_else(|| panic!("{name} is missing")) as u64;
    assert!(
        (low..=low + slack).contains(&value),
        "{name} = {value}, expected {low}..={}",
        low + slack
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_the_bytes_moved_per_inbound_outbound_and_user() {
    let bulk = targets::bulk_server().await;
    let echo = targets::echo_server().await;
    let server = server();
    let client = Proxy::start(&client_config(server.addr("server")));
    let admin = server.admin_addr();

    // alice downloads 1 MB; bob uploads 300 kB (and gets a 64-byte digest back).
    let (down, up) = (1_000_000usize, 300_000usize);
    let mut download = flows::connect(client.addr("alice"), bulk).await;
    download.write_u64(down as u64).await.unwrap();
    let mut got = Vec::new();
    download.read_to_end(&mut got).await.unwrap();
    assert_eq!(got.len(), down);
    let mut upload = flows::connect(client.addr("bob"), bulk).await;
    upload.write_u64(targets::UPLOAD | up as u64).await.unwrap();
    upload.write_all(&targets::pattern(1, up)).await.unwrap();
    let mut digest = String::new();
    upload.read_to_string(&mut digest).await.unwrap();
    assert_eq!(digest.len(), 64);

    // An open connection of alice's, listed with its user while it lasts.
    let mut open = flows::connect(client.addr("alice"), echo).await;
    open.write_all(b"ping").await.unwrap();
    open.read_exact(&mut [0; 4]).await.unwrap();
    let items = api(admin, SECRET, "GET", "/connections", None).json();
    let items = items["connections"].as_array().unwrap();
    let item = items
        .iter()
        .find(|i| common::admin::port_is(i, echo.port()))
        .expect("the open connection is listed");
    assert_eq!(item["metadata"]["inboundUser"], "alice");
    assert_eq!(item["metadata"]["inboundName"], "server");
    assert_eq!(item["metadata"]["type"], "Vless");
    assert_eq!(item["chains"], serde_json::json!(["free"]));
    assert_eq!(
        (item["upload"].as_u64(), item["download"].as_u64()),
        (Some(4), Some(4))
    );

    // Not TLS at all: a handshake failure at the TLS stage.
    let mut garbage = tokio::net::TcpStream::connect(server.addr("server"))
        .await
        .unwrap();
    garbage
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let _ = garbage.read_to_end(&mut rest).await;
    server.wait_for_log("handshake failed");

    let metrics = tokio::task::spawn_blocking(move || scrape(admin, SECRET))
        .await
        .unwrap();
    let value = |name: &str, labels: &[(&str, &str)]| sample(&metrics, name, labels);
    // Counted by the relay after each handshake: exact but for the bulk header (8 bytes up).
    let (down, up, slack) = (down as u64, up as u64, 8 + 64 + 4);
    near(
        "alice down",
        value(
            "xypro_user_traffic_bytes_total",
            &[("user", "alice"), ("direction", "down")],
        ),
        down + 4,
        0,
    );
    near(
        "alice up",
        value(
            "xypro_user_traffic_bytes_total",
            &[("user", "alice"), ("direction", "up")],
        ),
        8 + 4,
        0,
    );
    near(
        "bob up",
        value(
            "xypro_user_traffic_bytes_total",
            &[("user", "bob"), ("direction", "up")],
        ),
        up + 8,
        0,
    );
    near(
        "bob down",
        value(
            "xypro_user_traffic_bytes_total",
            &[("user", "bob"), ("direction", "down")],
        ),
        64,
        0,
    );
    near(
        "all down",
        value("xypro_traffic_bytes_total", &[("direction", "down")]),
        down + 64,
        slack,
    );
    near(
        "all up",
        value("xypro_traffic_bytes_total", &[("direction", "up")]),
        up + 8,
        slack,
    );
    near(
        "server down",
        value(
            "xypro_inbound_traffic_bytes_total",
            &[("inbound", "server"), ("direction", "down")],
        ),
        down + 64,
        slack,
    );
    near(
        "free down",
        value(
            "xypro_outbound_traffic_bytes_total",
            &[("outbound", "free"), ("direction", "down")],
        ),
        down + 64,
        slack,
    );
    near(
        "alice connections",
        value("xypro_user_connections_total", &[("user", "alice")]),
        2,
        0,
    );
    near(
        "alice open",
        value("xypro_user_connections_open", &[("user", "alice")]),
        1,
        0,
    );
    near(
        "bob connections",
        value("xypro_user_connections_total", &[("user", "bob")]),
        1,
        0,
    );
    near("open", value("xypro_connections_open", &[]), 1, 0);
    near(
        "tls failures",
        value(
            "xypro_handshake_failures_total",
            &[("inbound", "server"), ("stage", "tls")],
        ),
        1,
        0,
    );
    // The client resumes TLS sessions after the first: both kinds show on the server side.
    near(
        "full",
        value(
            "xypro_tls_handshakes_total",
            &[("side", "server"), ("kind", "full")],
        ),
        1,
        2,
    );
    near(
        "resumed",
        value(
            "xypro_tls_handshakes_total",
            &[("side", "server"), ("kind", "resumed")],
        ),
        1,
        2,
    );
    near(
        "dials",
        value("xypro_dial_duration_seconds_count", &[("outbound", "free")]),
        3,
        0,
    );
    near("fds", value("process_open_fds", &[]), 5, 10_000);
    near(
        "rss",
        value("process_resident_memory_bytes", &[]),
        1 << 20,
        1 << 30,
    );
    near(
        "build",
        value(
            "xypro_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))],
        ),
        1,
        0,
    );
    drop(open);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_sessions_and_their_destinations_are_gauged() {
    use xypro_stack::{
        core::Address,
        socks5::{Socks5Client, decode_udp, encode_udp},
    };
    let echo = targets::udp_echo_server().await;
    let config = format!(
        "inbounds:\n  socks:\n    listen: 127.0.0.1:0\n    pipeline: [socks5]\n    outbound: free\n\
         admin:\n  listen: 127.0.0.1:0\n  secret: {SECRET}\noutbounds:\n  free: [direct]\n"
    );
    let proxy = Proxy::start(&config);
    let (socks, admin) = (proxy.addr("socks"), proxy.admin_addr());
    let mut control = tokio::net::TcpStream::connect(socks).await.unwrap();
    let relay = match Socks5Client::new()
        .udp_associate(&mut control, &"0.0.0.0:0".parse().unwrap())
        .await
        .unwrap()
    {
        Address::Ip(addr) => SocketAddr::new(socks.ip(), addr.port()),
        other => panic!("relay address {other}"),
    };
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let datagram = encode_udp(&Address::Ip(echo), b"counted");
    let mut buf = vec![0; 2048];
    let reply = loop {
        socket.send_to(&datagram, relay).await.unwrap();
        let wait = tokio::time::timeout(std::time::Duration::from_secs(2), socket.recv(&mut buf));
        if let Ok(Ok(n)) = wait.await {
            break buf[..n].to_vec();
        }
    };
    assert_eq!(decode_udp(&reply).unwrap().1, b"counted");
    let gauges = move || {
        let metrics = scrape(admin, SECRET);
        let open = |name: &str| sample(&metrics, name, &[]).unwrap() as u64;
        (
            open("xypro_udp_sessions_open"),
            open("xypro_udp_destinations_open"),
        )
    };
    let open = tokio::task::spawn_blocking(gauges).await.unwrap();
    assert_eq!(open, (1, 1));
    drop(control);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if tokio::task::spawn_blocking(gauges).await.unwrap() == (0, 0) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the session ends with its control"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
