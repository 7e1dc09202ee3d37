//! Steering a running binary through the admin API: closing a live download by id, and a
//! `select` group whose switch moves the next connection (not the open ones) and survives
//! reloads while its member exists.

mod common;

use common::{
    Proxy,
    admin::{api, next_text, websocket},
    flows, targets,
};
use serde_json::Value;
use std::{net::SocketAddr, time::Duration};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    time::Instant,
};
use xypro_stack::core::Address;

const SECRET: &str = "steer";

/// The open connections whose destination port is `port`, as the API lists them.
fn items_to(admin: SocketAddr, port: u16) -> Vec<Value> {
    let snapshot = api(admin, SECRET, "GET", "/connections", None).json();
    snapshot["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| common::admin::port_is(i, port))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_a_connection_by_id_ends_a_real_download() {
    // 20 MB at 64 kB per 50 ms: about 16 s unless something ends it.
    let total = 20_000_000;
    let (web, mut finished) =
        targets::slow_http_server(total, 64 * 1024, Duration::from_millis(50)).await;
    let config = format!(
        "inbounds:\n  socks:\n    listen: 127.0.0.1:0\n    pipeline: [socks5]\n    outbound: free\n\
         admin:\n  listen: 127.0.0.1:0\n  secret: {SECRET}\noutbounds:\n  free: [direct]\n"
    );
    let proxy = Proxy::start(&config);
    let admin = proxy.admin_addr();
    let mut download = flows::connect(proxy.addr("socks"), web).await;
    download
        .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let reader = tokio::spawn(async move {
        let mut buf = vec![0; 64 * 1024];
        let mut got = 0;
        loop {
            match download.read(&mut buf).await {
                Ok(0) | Err(_) => return got,
                Ok(n) => got += n,
            }
        }
    });

    // The dashboard's view: the download is listed, its byte count growing.
    let mut socket = websocket(admin, "/connections?token=steer&interval=300")
        .await
        .unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let snapshot: Value =
            serde_json::from_str(&next_text(&mut socket, Duration::from_secs(3)).await).unwrap();
        let item = snapshot["connections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| common::admin::port_is(i, web.port()))
            .cloned();
        if let Some(item) = item {
            seen.push((
                item["id"].as_str().unwrap().to_owned(),
                item["download"].as_u64().unwrap(),
            ));
        }
    }
    assert!(
        seen[0].1 < seen[1].1 && seen[1].1 < seen[2].1,
        "growing: {seen:?}"
    );

    let closed_at = Instant::now();
    let id = seen[0].0.clone();
    let reply = tokio::task::spawn_blocking(move || {
        api(admin, SECRET, "DELETE", &format!("/connections/{id}"), None)
    })
    .await
    .unwrap();
    assert_eq!(reply.status, 204);
    let got = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("the download ends once closed")
        .unwrap();
    assert!(
        closed_at.elapsed() < Duration::from_secs(3),
        "{:?}",
        closed_at.elapsed()
    );
    assert!(got < total / 2, "cut short: {got} of {total} bytes");
    let sent = tokio::time::timeout(Duration::from_secs(5), finished.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(sent < total, "the server saw the end too: {sent}");
    let left = tokio::task::spawn_blocking(move || items_to(admin, web.port()))
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
    proxy.wait_for_log("closed by request");
}

fn select_config(a: SocketAddr, b: SocketAddr, members: &str) -> String {
    format!(
        "inbounds:\n  socks:\n    listen: 127.0.0.1:0\n    pipeline: [socks5]\n    outbound: group\n\
         admin:\n  listen: 127.0.0.1:0\n  secret: {SECRET}\n\
         outbounds:\n  group:\n    - select: {{ outbounds: [{members}], default: site_a }}\n\
         \x20 site_a: [{{ tcp: {{ address: {a} }} }}]\n  site_b: [{{ tcp: {{ address: {b} }} }}]\n"
    )
}

/// A server that answers each read with its `name`, a colon and what it read.
async fn named_echo(name: &'static str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0; 256];
                while let Ok(n @ 1..) = stream.read(&mut buf).await {
                    let reply = [name.as_bytes(), b":", &buf[..n]].concat();
                    if stream.write_all(&reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// Says `word` over `stream` and returns the name of the site that answered.
async fn ask(stream: &mut tokio::net::TcpStream, word: &str) -> String {
    stream.write_all(word.as_bytes()).await.unwrap();
    let mut answer = vec![0; "site-x:".len() + word.len()];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut answer))
        .await
        .expect("an answer in time")
        .unwrap();
    let answer = String::from_utf8(answer).unwrap();
    assert!(answer.ends_with(&format!(":{word}")), "{answer}");
    answer[..6].to_owned()
}

/// Connects through the proxy and returns the stream with the name of the site it reached.
async fn reach(socks: SocketAddr) -> (tokio::net::TcpStream, String) {
    // The `tcp` outbounds dial their own address whatever the destination asked.
    let mut stream = flows::connect(socks, Address::Domain("site.test".into(), 80)).await;
    let site = ask(&mut stream, "hello").await;
    (stream, site)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_select_switch_moves_the_next_connection_and_survives_reloads() {
    let a = named_echo("site-a").await;
    let b = named_echo("site-b").await;
    let proxy = Proxy::start(&select_config(a, b, "site_a, site_b"));
    let (admin, socks) = (proxy.admin_addr(), proxy.addr("socks"));
    let choose = move |name: &str| {
        let body = format!(r#"{{"name":"{name}"}}"#);
        api(admin, SECRET, "PUT", "/proxies/group", Some(&body)).status
    };

    let (mut first, banner) = reach(socks).await;
    assert_eq!(banner, "site-a");
    assert_eq!(
        tokio::task::spawn_blocking(move || choose("site_b"))
            .await
            .unwrap(),
        204
    );
    let (_second, banner) = reach(socks).await;
    assert_eq!(banner, "site-b");
    // The connection opened before the switch stays where it was.
    assert_eq!(ask(&mut first, "still").await, "site-a");
    let chains: Vec<Value> = tokio::task::spawn_blocking(move || {
        let snapshot = api(admin, SECRET, "GET", "/connections", None).json();
        snapshot["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["chains"].clone())
            .collect()
    })
    .await
    .unwrap();
    assert!(
        chains.contains(&serde_json::json!(["site_a", "group"])),
        "{chains:?}"
    );
    assert!(
        chains.contains(&serde_json::json!(["site_b", "group"])),
        "{chains:?}"
    );

    // A reload keeps the choice while site_b is a member...
    proxy.signal("HUP");
    proxy.wait_for_log("configuration reloaded");
    assert_eq!(reach(socks).await.1, "site-b");
    // ...and falls back to the default once it is not.
    std::fs::write(
        proxy.dir().join("config.yaml"),
        select_config(a, b, "site_a"),
    )
    .unwrap();
    let reload = tokio::task::spawn_blocking(move || api(admin, SECRET, "PUT", "/configs", None))
        .await
        .unwrap();
    assert_eq!(reload.status, 204, "{}", reload.body);
    assert_eq!(reach(socks).await.1, "site-a");
    let group = api(admin, SECRET, "GET", "/proxies/group", None).json();
    assert_eq!(
        (group["now"].as_str(), group["all"].clone()),
        (Some("site_a"), serde_json::json!(["site_a"]))
    );
}
