//! CONNECT tunnels, Basic authentication with the 407 retry on the same connection, and the
//! answers to bad clients (huge heads, slow heads, garbage), through the real dispatch.

mod common;

use common::{closes, echo, get, origin, proxy, read_response, send};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use xypro_http::{HttpSettings, proto::basic_value};

fn with_alice() -> HttpSettings {
    HttpSettings {
        users: vec![("alice".into(), "s3cret".into())],
        ..HttpSettings::default()
    }
}

#[tokio::test]
async fn connect_answers_in_the_client_version_and_keeps_early_bytes() {
    let proxy = proxy(HttpSettings::default()).await;
    let echo = echo().await;
    let curl = format!(
        "CONNECT {echo} HTTP/1.1\r\nHost: {echo}\r\nProxy-Connection: Keep-Alive\r\n\r\nearly"
    );
    let mut client = send(proxy.addr, &curl).await;
    let mut answer = vec![0u8; 39 + 5];
    client.read_exact(&mut answer).await.unwrap();
    assert_eq!(answer, b"HTTP/1.1 200 Connection established\r\n\r\nearly");

    // pip: HTTP/1.0, no Host.
    let pip = format!("CONNECT localhost:{} HTTP/1.0\r\n\r\n", echo.port());
    let mut client = send(proxy.addr, &pip).await;
    let mut answer = vec![0u8; 39];
    client.read_exact(&mut answer).await.unwrap();
    assert_eq!(answer, b"HTTP/1.0 200 Connection established\r\n\r\n");
    client.write_all(b"ping").await.unwrap();
    let mut back = [0u8; 4];
    client.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"ping");
    let listed = proxy.dispatch.table().list();
    assert!(
        listed
            .iter()
            .any(|c| c.destination().to_string() == format!("localhost:{}", echo.port())),
        "the tunnel is a connection to the named destination: {listed:?}"
    );
}

#[tokio::test]
async fn connect_failures_get_a_status_and_a_close() {
    let proxy = proxy(HttpSettings::default()).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut buf = Vec::new();
    for (target, code) in [
        (closed.to_string(), 502),
        ("forbidden.test:443".into(), 403),
    ] {
        let mut client = send(proxy.addr, &format!("CONNECT {target} HTTP/1.1\r\n\r\n")).await;
        let response = read_response(&mut client, &mut buf).await;
        assert_eq!(response.code, code, "{target}");
        assert_eq!(response.header("connection"), Some("close"));
        assert!(closes(&mut client).await);
    }
    let mut client = send(proxy.addr, "CONNECT example.com HTTP/1.1\r\n\r\n").await;
    assert_eq!(
        read_response(&mut client, &mut buf).await.code,
        400,
        "no port"
    );
}

#[tokio::test]
async fn a_407_keeps_the_connection_for_the_retry() {
    let proxy = proxy(with_alice()).await;
    let echo = echo().await;
    let a = origin("A").await;
    let mut buf = Vec::new();

    // Chrome: CONNECT without credentials, then with them on the same connection.
    let mut client = send(
        proxy.addr,
        &format!("CONNECT {echo} HTTP/1.1\r\nHost: {echo}\r\n\r\n"),
    )
    .await;
    let challenge = read_response(&mut client, &mut buf).await;
    assert_eq!(challenge.code, 407);
    assert_eq!(
        challenge.header("proxy-authenticate"),
        Some("Basic realm=\"xypro-stack\"")
    );
    assert_eq!(
        challenge.header("connection"),
        None,
        "the connection stays open"
    );
    let wrong = basic_value("alice", "wrong");
    let retry = format!("CONNECT {echo} HTTP/1.1\r\nProxy-Authorization: {wrong}\r\n\r\n");
    client.write_all(retry.as_bytes()).await.unwrap();
    assert_eq!(read_response(&mut client, &mut buf).await.code, 407);
    let right = basic_value("alice", "s3cret");
    let retry = format!("CONNECT {echo} HTTP/1.1\r\nProxy-Authorization: {right}\r\n\r\n");
    client.write_all(retry.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 39];
    client.read_exact(&mut answer).await.unwrap();
    assert_eq!(answer, b"HTTP/1.1 200 Connection established\r\n\r\n");
    let users: Vec<_> = proxy
        .dispatch
        .table()
        .list()
        .iter()
        .map(|c| c.meta().user.clone())
        .collect();
    assert_eq!(
        users,
        [Some("alice".into())],
        "the user is in the connection's context"
    );

    // A plain request with a small body: the body is skipped, the connection kept.
    let post = format!("POST http://{a}/ HTTP/1.1\r\nHost: {a}\r\nContent-Length: 3\r\n\r\nabc");
    let mut client = send(proxy.addr, &post).await;
    assert_eq!(read_response(&mut client, &mut buf).await.code, 407);
    let authed = get(a, "/in", &format!("Proxy-Authorization: {right}\r\n"));
    client.write_all(authed.as_bytes()).await.unwrap();
    let response = read_response(&mut client, &mut buf).await;
    assert_eq!(response.code, 200);
    assert!(
        response.body.ends_with("hop="),
        "credentials are not forwarded: {}",
        response.body
    );
    client
        .write_all(get(a, "/no-creds", "").as_bytes())
        .await
        .unwrap();
    assert_eq!(
        read_response(&mut client, &mut buf).await.code,
        407,
        "every request needs them"
    );
}

#[tokio::test]
async fn authentication_gives_up_on_big_bodies_closing_clients_and_guessers() {
    let proxy = proxy(with_alice()).await;
    let a = origin("A").await;
    let mut buf = Vec::new();
    let big = format!("POST http://{a}/ HTTP/1.1\r\nHost: {a}\r\nContent-Length: 1000000\r\n\r\n");
    let old = format!("GET http://{a}/ HTTP/1.0\r\n\r\n");
    for request in [big, old] {
        let mut client = send(proxy.addr, &request).await;
        let challenge = read_response(&mut client, &mut buf).await;
        assert_eq!(challenge.code, 407);
        assert_eq!(challenge.header("connection"), Some("close"));
        assert!(closes(&mut client).await);
    }
    let guess = format!(
        "CONNECT {a} HTTP/1.1\r\nProxy-Authorization: {}\r\n\r\n",
        basic_value("alice", "guess")
    );
    let mut client = send(proxy.addr, &guess.repeat(8)).await;
    for attempt in 1..=8 {
        let response = read_response(&mut client, &mut buf).await;
        assert_eq!(response.code, 407, "attempt {attempt}");
        assert_eq!(
            response.header("connection").is_some(),
            attempt == 8,
            "attempt {attempt}"
        );
    }
    assert!(closes(&mut client).await, "closed after eight failures");
}

#[tokio::test]
async fn huge_slow_and_garbage_heads() {
    let settings = HttpSettings {
        handshake_timeout: Duration::from_millis(500),
        ..HttpSettings::default()
    };
    let proxy = proxy(settings).await;
    let mut buf = Vec::new();

    // Too many fields (a huge head is the binary's test: it lingers to let the 431 arrive).
    let fields: String = (0..200).map(|i| format!("X-{i}: v\r\n")).collect();
    let mut many = send(
        proxy.addr,
        &format!("GET http://a/ HTTP/1.1\r\n{fields}\r\n"),
    )
    .await;
    let response = read_response(&mut many, &mut buf).await;
    assert_eq!(response.code, 431);
    assert!(closes(&mut many).await);

    let started = Instant::now();
    let mut slow = send(proxy.addr, "GET http://a/ HTTP/1.1\r\nHost: a\r\n").await;
    assert!(closes(&mut slow).await);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(450) && elapsed < Duration::from_secs(3),
        "{elapsed:?}"
    );

    let mut garbage = send(proxy.addr, "\x16\x03\x01\x00\x05hello\r\n\r\n").await;
    assert_eq!(read_response(&mut garbage, &mut buf).await.code, 400);
}
