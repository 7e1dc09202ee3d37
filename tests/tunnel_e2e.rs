//! Our VLESS/WebSocket/TLS client against our own server, both as the real binary.

mod common;

use common::{Proxy, curl, flows, repo_root, targets, tunnel};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn example_config_runs_as_is_and_curl_fetches_through_it() {
    let example = std::fs::read_to_string(repo_root().join("config.yaml.example")).unwrap();
    let server_port = common::peers::free_port();
    let certs = repo_root().join("examples/certs/");
    let config = example
        .replace("127.0.0.1:1080", "127.0.0.1:0")
        .replace("127.0.0.1:8443", &format!("127.0.0.1:{server_port}"))
        .replace("examples/certs/", &certs.display().to_string());
    assert_ne!(config, example, "the example uses the documented ports");
    let proxy = Proxy::start(&config);
    let (web, _) = targets::http_server("served through the tunnel").await;
    let socks = format!("socks5h://{}", proxy.addr("socks"));
    let url = format!("http://localhost:{}/", web.port());
    let (code, body) = tokio::task::spawn_blocking(move || curl(&["--proxy", &socks, &url]))
        .await
        .unwrap();
    assert_eq!(
        (code, String::from_utf8_lossy(&body).as_ref()),
        (0, "served through the tunnel")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tunnel_carries_tcp_udp_bulk_and_server_first_protocols() {
    let server = Proxy::start(&tunnel::server_config(&tunnel::server_users()));
    let echo = targets::echo_server().await;
    let bulk = targets::bulk_server().await;
    let udp = targets::udp_echo_server().await;
    let banner = targets::banner_server(b"SSH-2.0-OpenSSH_9.6\r\n").await;
    for early_data in [0, 2048] {
        let client = Proxy::start(&tunnel::client_config(server.addr("server"), early_data));
        let socks = client.addr("socks");
        flows::echo(socks, echo, b"hello over vless").await;
        flows::bulk_both_ways(socks, bulk, 16 << 20).await;
        flows::banner_first(socks, banner, b"SSH-2.0-OpenSSH_9.6\r\n").await;
        flows::udp_echo(socks, udp).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preconnected_sessions_carry_tunnels_and_unused_ones_are_replaced() {
    let server = Proxy::start(&tunnel::server_config(&tunnel::server_users()));
    let echo = targets::echo_server().await;
    let config =
        tunnel::client_config_tls(server.addr("server"), "early_data: 2048", "preconnect: 2, ");
    let client = Proxy::start_with_log(&config, "info,xypro_tls=debug");
    let socks = client.addr("socks");
    flows::echo(socks, echo, b"the first tunnel dials").await;
    // The tunnel's own handshake, then the two ready sessions'.
    for _ in 0..3 {
        client.wait_for_log("tls: connected");
    }
    for _ in 0..2 {
        flows::echo(socks, echo, b"a ready session carries it").await;
        client.wait_for_log("tls: preconnected session taken");
    }
    // Sessions left unused end before the server's deadline: the server sees TLS connections
    // closed without a request, and the client dials new ones.
    server.wait_for_log("closed the connection without an upgrade request");
    client.wait_for_log("tls: connected");
    flows::echo(socks, echo, b"still tunnelling").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_path_plain_get_and_non_upgrade_get_identical_404s() {
    let server = Proxy::start(&tunnel::server_config(&tunnel::server_users()));
    let port = server.addr("server").port();
    let ca = repo_root().join("examples/certs/ca.pem");
    let resolve = format!("example.test:{port}:127.0.0.1");
    let base = format!("https://example.test:{port}");
    let requests: Vec<Vec<String>> = vec![
        vec![format!("{base}/wrong")],
        vec![format!("{base}/xy")],
        vec![
            format!("{base}/xy"),
            "-H".into(),
            "Connection: Upgrade".into(),
        ],
        vec![
            format!("{base}/xy"),
            "-X".into(),
            "POST".into(),
            "-H".into(),
            "Upgrade: websocket".into(),
        ],
        vec![
            format!("{base}/XY"),
            "-H".into(),
            "Upgrade: websocket".into(),
            "-H".into(),
            "Connection: Upgrade".into(),
        ],
    ];
    let answers = tokio::task::spawn_blocking(move || {
        requests
            .iter()
            .map(|extra| {
                let mut args = vec![
                    "--http1.1",
                    "-i",
                    "--cacert",
                    ca.to_str().unwrap(),
                    "--resolve",
                    &resolve,
                ];
                args.extend(extra.iter().map(String::as_str));
                let (code, out) = curl(&args);
                assert_eq!(code, 0, "curl {extra:?}");
                String::from_utf8(out).unwrap()
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    assert!(answers[0].starts_with("HTTP/1.1 404"), "{}", answers[0]);
    assert!(
        answers[0]
            .to_ascii_lowercase()
            .contains("content-length: 0"),
        "{}",
        answers[0]
    );
    for answer in &answers[1..] {
        assert_eq!(answer, &answers[0], "every miss answers alike");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_uuid_closes_and_dials_nothing() {
    let server = Proxy::start(&tunnel::server_config(&tunnel::server_users()));
    let wrong = tunnel::client_config(server.addr("server"), 0)
        .replace(tunnel::ID, "11111111-2222-3333-4444-555555555555");
    let client = Proxy::start(&wrong);
    let (target, mut accepted) = targets::counting_echo_server().await;
    let mut stream = flows::connect(client.addr("socks"), target).await;
    stream.write_all(b"let me in").await.unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(flows::PATIENCE, stream.read_to_end(&mut rest))
        .await
        .expect("closed in time");
    assert!(
        read.is_err() || rest.is_empty(),
        "no bytes come back: {rest:?}"
    );
    server.wait_for_log("handshake failed");
    assert!(accepted.try_recv().is_err(), "the target saw no connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_destinations_are_refused_without_allow_private() {
    let users = format!("{{ users: [{{ name: demo, id: {} }}] }}", tunnel::ID);
    let server = Proxy::start(&tunnel::server_config(&users));
    let client = Proxy::start(&tunnel::client_config(server.addr("server"), 2048));
    let (target, mut accepted) = targets::counting_echo_server().await;
    let mut stream = flows::connect(client.addr("socks"), target).await;
    stream
        .write_all(b"reach the metadata service")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(flows::PATIENCE, stream.read_to_end(&mut rest))
        .await
        .expect("closed in time");
    assert!(rest.is_empty(), "the tunnel closes without data");
    server.wait_for_log("not allowed");
    assert!(accepted.try_recv().is_err(), "nothing was dialled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_in_front_terminates_tls_and_proxies_the_websocket_path() {
    let Some(nginx) = common::peers::require("nginx") else {
        return;
    };
    let users = tunnel::server_users();
    let backend = Proxy::start(&format!(
        "inbounds:\n  backend:\n    listen: 127.0.0.1:0\n    pipeline:\n      - websocket: {{ path: /xy }}\n      - vless: {users}\n    outbound: free\noutbounds:\n  free:\n    - direct\n"
    ));
    let front = common::peers::nginx_front(&nginx, backend.addr("backend"));
    let echo = targets::echo_server().await;
    let bulk = targets::bulk_server().await;
    for early_data in [0, 2048] {
        let client = Proxy::start(&tunnel::client_config(front.addr, early_data));
        let socks = client.addr("socks");
        flows::echo(socks, echo, b"through nginx").await;
        flows::bulk_both_ways(socks, bulk, 4 << 20).await;
    }
}
