//! The binary as a SOCKS5 proxy with the `direct` outbound, driven by curl and raw sockets.

mod common;

use common::{Proxy, curl, targets};
use std::{net::SocketAddr, time::Duration};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpStream, UdpSocket},
};
use xypro_stack::{
    core::Address,
    socks5::{Socks5Client, Socks5Error, decode_udp, encode_udp, proto::ReplyCode},
};

fn socks_config(socks5_options: &str, direct_options: &str) -> String {
    format!(
        "inbounds:\n  socks:\n    listen: 127.0.0.1:0\n    pipeline:\n      - socks5: {socks5_options}\n    outbound: free\n\
         outbounds:\n  free:\n    - direct: {direct_options}\n"
    )
}

async fn connect(
    proxy: SocketAddr,
    client: &Socks5Client,
    destination: &str,
) -> Result<TcpStream, Socks5Error> {
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    client
        .connect(&mut stream, &destination.parse().unwrap())
        .await?;
    Ok(stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_fetches_through_the_proxy_with_and_without_auth() {
    let (web, _hits) = targets::http_server("hello through socks").await;
    let open = Proxy::start(&socks_config("{}", "{}"));
    let proxy = format!("socks5h://{}", open.addr("socks"));
    let url = format!("http://localhost:{}/", web.port());
    let (code, body) = tokio::task::spawn_blocking({
        let (proxy, url) = (proxy.clone(), url.clone());
        move || curl(&["--proxy", &proxy, &url])
    })
    .await
    .unwrap();
    assert_eq!((code, body.as_slice()), (0, &b"hello through socks"[..]));

    let authed = Proxy::start(&socks_config(
        "{ users: [{ user: alice, pass: s3cret }] }",
        "{}",
    ));
    let good = format!("socks5h://alice:s3cret@{}", authed.addr("socks"));
    let bad = format!("socks5h://alice:wrong@{}", authed.addr("socks"));
    let none = format!("socks5h://{}", authed.addr("socks"));
    let (ok, wrong, missing) = tokio::task::spawn_blocking(move || {
        (
            curl(&["--proxy", &good, &url]),
            curl(&["--proxy", &bad, &url]),
            curl(&["--proxy", &none, &url]),
        )
    })
    .await
    .unwrap();
    assert_eq!((ok.0, ok.1.as_slice()), (0, &b"hello through socks"[..]));
    assert_eq!(
        wrong.0, 97,
        "curl reports a SOCKS failure for a wrong password"
    );
    assert_eq!(missing.0, 97, "a client without credentials is refused");
    authed.wait_for_log("authentication failed for user `alice`");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_codes_follow_the_outbound_result() {
    let proxy = Proxy::start(&socks_config("{}", "{ connect_timeout: 1s }"));
    let addr = proxy.addr("socks");
    let client = Socks5Client::new();

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let refused = connect(addr, &client, &closed.to_string())
        .await
        .unwrap_err();
    assert!(
        matches!(refused, Socks5Error::Rejected(ReplyCode::ConnectionRefused)),
        "{refused}"
    );

    let unresolvable = connect(addr, &client, "no-such-host.invalid:80")
        .await
        .unwrap_err();
    assert!(
        matches!(
            unresolvable,
            Socks5Error::Rejected(ReplyCode::HostUnreachable)
        ),
        "{unresolvable}"
    );

    let (hole, _fillers, _socket) = targets::blackhole();
    let started = std::time::Instant::now();
    let timed_out = connect(addr, &client, &hole.to_string()).await.unwrap_err();
    assert!(
        matches!(timed_out, Socks5Error::Rejected(ReplyCode::TtlExpired)),
        "{timed_out}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the 1s connect timeout applies"
    );

    for (request, code) in [
        (&[5u8, 2, 0, 1, 127, 0, 0, 1, 0, 80][..], 7u8), // BIND
        (&[5, 9, 0, 1, 127, 0, 0, 1, 0, 80], 7),         // unknown command
        (&[5, 1, 0, 6, 127, 0, 0, 1, 0, 80], 8),         // unknown address type
    ] {
        let mut raw = TcpStream::connect(addr).await.unwrap();
        raw.write_all(&[5, 1, 0]).await.unwrap();
        raw.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        raw.read_to_end(&mut answer).await.unwrap();
        assert_eq!(&answer[..4], &[5, 0, 5, code], "request {request:?}");
    }

    let echo = targets::echo_server().await;
    let mut healthy = connect(addr, &client, &echo.to_string()).await.unwrap();
    healthy.write_all(b"still fine").await.unwrap();
    let mut back = [0u8; 10];
    healthy.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"still fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_associate_round_trip() {
    let proxy = Proxy::start(&socks_config("{ udp: true }", "{}"));
    let echo = targets::udp_echo_server().await;
    let mut control = TcpStream::connect(proxy.addr("socks")).await.unwrap();
    let relay = Socks5Client::new()
        .udp_associate(&mut control, &"0.0.0.0:0".parse().unwrap())
        .await
        .unwrap();
    let Address::Ip(relay) = relay else {
        panic!("relay address must be an IP, got {relay}")
    };
    assert!(
        relay.ip().is_loopback() && relay.port() != 0,
        "reachable BND.ADDR, got {relay}"
    );
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let destination = Address::Ip(echo);
    for payload in [&b"first datagram"[..], b"second", &[0xAB; 1400]] {
        socket
            .send_to(&encode_udp(&destination, payload), relay)
            .await
            .unwrap();
        let mut buf = vec![0u8; 2048];
        let (n, _) = tokio::time::timeout(Duration::from_secs(10), socket.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let (from, data) = decode_udp(&buf[..n]).unwrap();
        assert_eq!((from, data), (destination.clone(), payload));
    }
    // A datagram from another port of the same host is dropped once the association is locked.
    let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    stranger
        .send_to(&encode_udp(&destination, b"intruder"), relay)
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(
        tokio::time::timeout(Duration::from_millis(300), stranger.recv_from(&mut buf))
            .await
            .is_err()
    );
    // Closing the control connection ends the association.
    drop(control);
    socket
        .send_to(&encode_udp(&destination, b"after close"), relay)
        .await
        .unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(500), socket.recv_from(&mut buf))
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_mib_both_ways_with_matching_hashes() {
    const SIZE: usize = 64 << 20;
    let proxy = Proxy::start(&socks_config("{}", "{}"));
    let bulk = targets::bulk_server().await;
    let client = Socks5Client::new();

    let mut down = connect(proxy.addr("socks"), &client, &bulk.to_string())
        .await
        .unwrap();
    down.write_u64(SIZE as u64).await.unwrap();
    let mut received = Vec::with_capacity(SIZE);
    down.read_to_end(&mut received).await.unwrap();
    assert_eq!(received.len(), SIZE);
    assert_eq!(
        targets::sha256_hex(&received),
        targets::sha256_hex(&targets::pattern(SIZE as u64, SIZE))
    );

    let mut up = connect(proxy.addr("socks"), &client, &bulk.to_string())
        .await
        .unwrap();
    let data = targets::pattern(7, SIZE);
    up.write_u64(targets::UPLOAD | SIZE as u64).await.unwrap();
    up.write_all(&data).await.unwrap();
    let mut digest = String::new();
    up.read_to_string(&mut digest).await.unwrap();
    assert_eq!(digest, targets::sha256_hex(&data));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_connections() {
    let proxy = Proxy::start(&socks_config("{}", "{}"));
    let echo = targets::echo_server().await;
    let addr = proxy.addr("socks");
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            tokio::spawn(async move {
                let mut stream = connect(addr, &Socks5Client::new(), &echo.to_string())
                    .await
                    .unwrap();
                let message = format!("connection {i} says hello");
                stream.write_all(message.as_bytes()).await.unwrap();
                stream.shutdown().await.unwrap();
                let mut back = String::new();
                stream.read_to_string(&mut back).await.unwrap();
                assert_eq!(back, message);
            })
        })
        .collect();
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .unwrap()
            .unwrap();
    }
}
