//! What probes and odd peers see: identical 404s, the header deadline, a server without echo,
//! and misses handed back unanswered when there is a fallback.

mod common;

use common::{connect, serve, server_settings};
use futures_util::StreamExt;
use std::time::{Duration, Instant};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{Message, handshake::derive_accept_key, protocol::Role},
};
use xypro_core::{HandBack, Incoming, Refused, Upgrade};
use xypro_websocket::{ClientOptions, WsUpgrade};

const NOT_FOUND: &[u8] =
    b"HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";

/// Sends `request` raw and returns everything the server wrote before closing.
async fn raw(addr: std::net::SocketAddr, request: &str) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer))
        .await
        .expect("the server closes after answering")
        .unwrap();
    answer
}

#[tokio::test]
async fn every_miss_gets_the_same_bytes() {
    let mut server = serve(server_settings("/xy")).await;
    let upgrade = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let probes = [
        format!("GET /other HTTP/1.1\r\nHost: a\r\n{upgrade}\r\n"),
        format!("GET /XY HTTP/1.1\r\nHost: a\r\n{upgrade}\r\n"),
        "GET /xy HTTP/1.1\r\nHost: a\r\n\r\n".to_owned(),
        "GET /xy HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\nUpgrade: websocket\r\n\r\n"
            .to_owned(),
        format!("POST /xy HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n{upgrade}\r\n"),
        format!(
            "GET /xy HTTP/1.1\r\nHost: a\r\n{}\r\n",
            upgrade.replace("Version: 13", "Version: 8")
        ),
        "GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /xy HTTP/1.1\r\nHost: a\r\n\r\n".to_owned(),
        // A well-formed HTTP/1.0 miss: hyper would answer `HTTP/1.0 404`, a fingerprint.
        "GET /other HTTP/1.0\r\n\r\n".to_owned(),
        format!("GET /xy HTTP/1.0\r\nHost: a\r\n{upgrade}\r\n"),
    ];
    for probe in &probes {
        let answer = raw(server.addr, probe).await;
        assert_eq!(
            String::from_utf8_lossy(&answer),
            String::from_utf8_lossy(NOT_FOUND),
            "probe {probe:?}"
        );
        let result = server.results.recv().await.unwrap().unwrap_err();
        assert!(result.contains("404"), "{result}");
    }
    assert!(
        server.streams.try_recv().is_err(),
        "no miss reaches the inner service"
    );
}

#[tokio::test]
async fn slow_headers_are_cut_at_the_deadline() {
    let mut options = xypro_websocket::ServerOptions::new("/xy");
    options.handshake_timeout = Some(Duration::from_millis(300));
    let mut server = serve(options.settings().unwrap()).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    tcp.write_all(b"GET /xy HTTP/1.1\r\nHost: a\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer))
        .await
        .expect("closed by the server")
        .ok();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(250),
        "cut too early: {elapsed:?}"
    );
    assert!(
        answer.is_empty(),
        "no answer to an unfinished request: {answer:?}"
    );
    assert!(server.results.recv().await.unwrap().is_err());
}

/// Answers one upgrade with a 101 that does not echo `Sec-WebSocket-Protocol` (like v2ray 4.34,
/// which ignores early data, and sing-box, which reads it), then returns the offered header and
/// the first message received.
async fn upgrade_without_echo(listener: TcpListener) -> (Vec<u8>, Message) {
    let (mut tcp, _) = listener.accept().await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0];
        tcp.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    request.parse(&head).unwrap();
    let find = |name: &str| {
        request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.to_vec())
    };
    let key = find("sec-websocket-key").unwrap();
    let protocol = find("sec-websocket-protocol").expect("early data offered");
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        derive_accept_key(&key)
    );
    tcp.write_all(response.as_bytes()).await.unwrap();
    let mut ws = WebSocketStream::from_raw_socket(tcp, Role::Server, None).await;
    (protocol, ws.next().await.unwrap().unwrap())
}

/// Writes `vless header` (carried as early data) then `+payload` through a client with `options`
/// against a server that does not echo; returns the offered header and the first message.
async fn early_data_without_echo(options: ClientOptions) -> (Vec<u8>, Message) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(upgrade_without_echo(listener));
    let (mut client, _) = connect(addr, options).await.unwrap();
    assert_eq!(client.write(b"vless header").await.unwrap(), 12);
    client.write_all(b"+payload").await.unwrap();
    client.flush().await.unwrap();
    server.await.unwrap()
}

#[tokio::test]
async fn a_server_without_echo_gets_the_early_bytes_as_the_first_message() {
    let (protocol, first) = early_data_without_echo(ClientOptions::new("/xy?ed=64")).await;
    assert_eq!(
        protocol, b"dmxlc3MgaGVhZGVy",
        "base64url of the first write, no padding"
    );
    assert_eq!(first, Message::binary(&b"vless header"[..]));
}

#[tokio::test]
async fn early_data_is_not_resent_when_resending_is_off() {
    let mut options = ClientOptions::new("/xy?ed=64");
    options.early_data_resend = false;
    let (protocol, first) = early_data_without_echo(options).await;
    assert_eq!(protocol, b"dmxlc3MgaGVhZGVy");
    assert_eq!(
        first,
        Message::binary(&b"+payload"[..]),
        "sent once, in the header only"
    );
}

#[tokio::test]
async fn the_server_echoes_early_data_in_its_101() {
    let mut server = serve(server_settings("/xy")).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(
        b"GET /xy?ed=2048 HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Protocol: aGk+Pz8/\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = vec![0; 512];
    let n = tcp.read(&mut head).await.unwrap();
    let head = String::from_utf8_lossy(&head[..n]).to_ascii_lowercase();
    assert!(
        head.starts_with("http/1.1 101 switching protocols\r\n"),
        "{head}"
    );
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=\r\n"),
        "{head}"
    );
    assert!(
        head.contains("sec-websocket-protocol: agk+pz8/\r\n"),
        "{head}"
    );
    assert!(!head.contains("date:"), "{head}");
    let mut remote = server.streams.recv().await.unwrap();
    let mut early = [0; 6];
    remote.read_exact(&mut early).await.unwrap();
    assert_eq!(&early, b"hi>???", "standard-alphabet early data decoded");
}

/// Runs the upgrade on one end of a pipe whose other end has already sent `request`; the
/// incoming carries the fallback's [`HandBack`] mark.
async fn hand_back(
    request: &[u8],
) -> (
    Result<Incoming, xypro_core::BoxError>,
    tokio::io::DuplexStream,
) {
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    client.write_all(request).await.unwrap();
    let mut incoming = Incoming::new(
        server,
        "127.0.0.1:5000".parse().unwrap(),
        "127.0.0.1:443".parse().unwrap(),
        "web".into(),
    );
    incoming.extensions.insert(HandBack);
    let upgrade = WsUpgrade::new(server_settings("/xy"));
    (upgrade.upgrade(incoming).await, client)
}

#[tokio::test]
async fn with_a_fallback_a_miss_comes_back_unanswered_with_every_byte_read() {
    let requests: [&[u8]; 2] = [
        b"GET /blog HTTP/1.1\r\nHost: a\r\n\r\nand what came after",
        b"NOT HTTP AT ALL\r\n\r\n",
    ];
    for request in requests {
        let (result, mut client) = hand_back(request).await;
        let error = result.unwrap_err();
        let refused = Refused::find(&error).expect("handed back");
        assert_eq!(refused.read(), request);
        let mut incoming = refused.take_incoming().unwrap();
        let mut replayed = vec![0; request.len()];
        incoming.io.read_exact(&mut replayed).await.unwrap();
        assert_eq!(replayed, request, "the stream replays what was read");
        incoming.io.write_all(b"from the web server").await.unwrap();
        let mut first = [0; 19];
        client.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"from the web server", "no 404 went out before it");
    }
}

#[tokio::test]
async fn with_a_fallback_a_hit_upgrades_and_drops_the_mark() {
    let (result, _client) = hand_back(
        b"GET /xy HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
          Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    )
    .await;
    let incoming = result.unwrap();
    assert!(!incoming.hands_back(), "after the 101 nothing falls back");
}
