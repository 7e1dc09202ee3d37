//! Absolute-URI forwarding through the acceptor and the real dispatch, to real origins:
//! keep-alive, pipelining across hosts, bodies, errors, close-delimited and stale origins,
//! upgrades.

mod common;

use common::{Response, closes, get, origin, proxy, read_response, send, serve, table_drains};
use std::net::SocketAddr;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use xypro_http::HttpSettings;

/// Reads one response on `stream` and checks its status.
async fn expect(stream: &mut TcpStream, buf: &mut Vec<u8>, code: u16) -> Response {
    let response = read_response(stream, buf).await;
    assert_eq!(response.code, code, "{response:?}");
    response
}

#[tokio::test]
async fn keep_alive_reuses_the_origin_connection_and_strips_hop_by_hop_fields() {
    let proxy = proxy(HttpSettings::default()).await;
    let a = origin("A").await;
    let hop =
        "Proxy-Authorization: Basic YTpi\r\nTE: trailers\r\nConnection: X-Hop\r\nX-Hop: 1\r\n";
    let mut client = send(proxy.addr, &get(a, "/one?x=1", hop)).await;
    let mut buf = Vec::new();
    let first = expect(&mut client, &mut buf, 200).await;
    assert_eq!(
        first.body,
        format!("A GET /one?x=1 host={a} conn=1 body= hop=")
    );
    assert_eq!(
        first.header("connection"),
        None,
        "HTTP/1.1 stays open by default"
    );

    client
        .write_all(get(a, "/two", "").as_bytes())
        .await
        .unwrap();
    let second = expect(&mut client, &mut buf, 200).await;
    assert_eq!(
        second.body,
        format!("A GET /two host={a} conn=1 body= hop=")
    );
    assert_eq!(
        proxy.dispatch.table().len(),
        2,
        "the session and the one origin connection it keeps"
    );
    drop(client);
    table_drains(&proxy.dispatch).await;
}

#[tokio::test]
async fn pipelined_requests_to_two_hosts_are_answered_in_order() {
    let proxy = proxy(HttpSettings::default()).await;
    let (a, b) = (origin("A").await, origin("B").await);
    let pipelined = [get(a, "/1", ""), get(b, "/2", ""), get(a, "/3", "")].concat();
    let mut client = send(proxy.addr, &pipelined).await;
    let mut buf = Vec::new();
    let mut bodies = Vec::new();
    for _ in 0..3 {
        bodies.push(expect(&mut client, &mut buf, 200).await.body);
    }
    assert_eq!(
        bodies,
        [
            format!("A GET /1 host={a} conn=1 body= hop="),
            format!("B GET /2 host={b} conn=1 body= hop="),
            format!("A GET /3 host={a} conn=2 body= hop="),
        ],
        "in order, each routed to its own host"
    );
    drop(client);
    table_drains(&proxy.dispatch).await;
    assert_eq!(
        proxy.dispatch.table().totals().all.closed,
        4,
        "one session and three origin connections"
    );
}

#[tokio::test]
async fn request_bodies_keep_their_framing() {
    let proxy = proxy(HttpSettings::default()).await;
    let a = origin("A").await;
    let sized =
        format!("POST http://{a}/sized HTTP/1.1\r\nHost: {a}\r\nContent-Length: 5\r\n\r\nhello");
    let chunked = format!(
        "POST http://{a}/chunked HTTP/1.1\r\nHost: {a}\r\nTransfer-Encoding: chunked\r\n\r\n\
         5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    );
    let mut client = send(proxy.addr, &sized).await;
    let mut buf = Vec::new();
    let first = expect(&mut client, &mut buf, 200).await;
    assert!(first.body.ends_with("body=hello hop="), "{}", first.body);
    client.write_all(chunked.as_bytes()).await.unwrap();
    let second = expect(&mut client, &mut buf, 200).await;
    assert!(
        second.body.ends_with("body=hello world hop="),
        "{}",
        second.body
    );

    let expect_continue = format!(
        "PUT http://{a}/continue HTTP/1.1\r\nHost: {a}\r\nExpect: 100-continue\r\n\
         Content-Length: 4\r\n\r\n"
    );
    client.write_all(expect_continue.as_bytes()).await.unwrap();
    expect(&mut client, &mut buf, 100).await;
    client.write_all(b"data").await.unwrap();
    let third = expect(&mut client, &mut buf, 200).await;
    assert!(third.body.ends_with("body=data hop="), "{}", third.body);
}

#[tokio::test]
async fn connection_close_and_http_1_0_are_honoured() {
    let proxy = proxy(HttpSettings::default()).await;
    let a = origin("A").await;
    let mut client = send(proxy.addr, &get(a, "/", "Connection: close\r\n")).await;
    let mut buf = Vec::new();
    let response = expect(&mut client, &mut buf, 200).await;
    assert_eq!(response.header("connection"), Some("close"));
    assert!(closes(&mut client).await);

    let old = format!("GET http://{a}/old HTTP/1.0\r\n\r\n");
    let mut client = send(proxy.addr, &old).await;
    let response = expect(&mut client, &mut buf, 200).await;
    assert!(
        response.body.starts_with("A GET /old "),
        "{}",
        response.body
    );
    assert!(closes(&mut client).await, "HTTP/1.0 closes by default");

    let kept = format!("GET http://{a}/kept HTTP/1.0\r\nProxy-Connection: keep-alive\r\n\r\n");
    let mut client = send(proxy.addr, &kept).await;
    let response = expect(&mut client, &mut buf, 200).await;
    assert_eq!(response.header("connection"), Some("keep-alive"));
    client.write_all(kept.as_bytes()).await.unwrap();
    expect(&mut client, &mut buf, 200).await;
}

#[tokio::test]
async fn unreachable_refused_and_unforwardable_requests() {
    let proxy = proxy(HttpSettings::default()).await;
    let a = origin("A").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut client = send(proxy.addr, &get(closed, "/", "")).await;
    let mut buf = Vec::new();
    let refused = expect(&mut client, &mut buf, 502).await;
    assert_eq!(refused.body, "connection refused\n");
    client
        .write_all(get(a, "/after", "").as_bytes())
        .await
        .unwrap();
    let after = expect(&mut client, &mut buf, 200).await;
    assert!(
        after.body.starts_with("A GET /after"),
        "the connection stays usable"
    );

    let forbidden = "GET http://forbidden.test/ HTTP/1.1\r\nHost: forbidden.test\r\n\r\n";
    client.write_all(forbidden.as_bytes()).await.unwrap();
    expect(&mut client, &mut buf, 403).await;

    for bad in [
        "GET /relative HTTP/1.1\r\nHost: example.com\r\n\r\n",
        "GET https://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
        "POST http://example.com/ HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    ] {
        let mut client = send(proxy.addr, bad).await;
        let response = expect(&mut client, &mut buf, 400).await;
        assert_eq!(response.header("connection"), Some("close"), "{bad}");
        assert!(closes(&mut client).await, "{bad}");
    }
}

/// An origin that reads one request head, answers with `response`, then closes.
async fn one_shot(response: &'static str) -> SocketAddr {
    serve(move |mut stream, _| async move {
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                return;
            }
            head.push(byte[0]);
        }
        let _ = stream.write_all(response.as_bytes()).await;
    })
    .await
}

#[tokio::test]
async fn close_delimited_and_silently_closing_origins() {
    let proxy = proxy(HttpSettings::default()).await;
    let old = one_shot("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close").await;
    let mut client = send(proxy.addr, &get(old, "/", "")).await;
    let mut buf = Vec::new();
    let response = expect(&mut client, &mut buf, 200).await;
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(response.body, "until the close");

    // Says nothing about closing, then closes: the next request is sent again on a new one.
    let flaky = one_shot("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
    let mut client = send(proxy.addr, &get(flaky, "/1", "")).await;
    assert_eq!(expect(&mut client, &mut buf, 200).await.body, "ok");
    client
        .write_all(get(flaky, "/2", "").as_bytes())
        .await
        .unwrap();
    assert_eq!(expect(&mut client, &mut buf, 200).await.body, "ok");
}

#[tokio::test]
async fn an_early_answer_ends_the_upload_and_the_connection() {
    let proxy = proxy(HttpSettings::default()).await;
    let strict = one_shot(
        "HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big\n",
    )
    .await;
    let head = format!(
        "POST http://{strict}/upload HTTP/1.1\r\nHost: {strict}\r\nContent-Length: 100000000\r\n\r\n"
    );
    let mut client = send(proxy.addr, &head).await;
    client.write_all(&[b'x'; 1000]).await.unwrap();
    let mut buf = Vec::new();
    let response = expect(&mut client, &mut buf, 413).await;
    assert_eq!(response.body, "too big\n");
    assert!(
        closes(&mut client).await,
        "the rest of the body is in the way: close"
    );
    table_drains(&proxy.dispatch).await;
}

/// An origin that accepts a WebSocket-style upgrade on any path, then echoes.
async fn upgrading_origin() -> SocketAddr {
    serve(|mut stream, _| async move {
        let mut head = Vec::new();
        let mut byte = [0u8];
        while !head.ends_with(b"\r\n\r\n") {
            if stream.read(&mut byte).await.unwrap_or(0) == 0 {
                return;
            }
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("GET /ws HTTP/1.1\r\n"), "{head}");
        assert!(
            head.contains("Connection: Upgrade\r\nUpgrade: websocket\r\n"),
            "{head}"
        );
        let switching = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                         Connection: Upgrade\r\n\r\n";
        stream.write_all(switching.as_bytes()).await.unwrap();
        let (mut r, mut w) = stream.into_split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
    })
    .await
}

#[tokio::test]
async fn upgrades_become_raw_tunnels_first_or_later() {
    let proxy = proxy(HttpSettings::default()).await;
    let ws = upgrading_origin().await;
    let a = origin("A").await;
    let upgrade = get(ws, "/ws", "Connection: Upgrade\r\nUpgrade: websocket\r\n");
    let mut buf = Vec::new();
    for before in [None, Some(get(a, "/", ""))] {
        let mut client = TcpStream::connect(proxy.addr).await.unwrap();
        if let Some(request) = &before {
            client.write_all(request.as_bytes()).await.unwrap();
            expect(&mut client, &mut buf, 200).await;
        }
        client.write_all(upgrade.as_bytes()).await.unwrap();
        expect(&mut client, &mut buf, 101).await;
        client.write_all(b"raw bytes").await.unwrap();
        let mut back = [0u8; 9];
        client.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"raw bytes");
    }
}
