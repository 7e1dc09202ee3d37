//! An inbound's `fallback:` through the real binary: a browser (curl, headless Chromium) gets
//! the real website through the proxy's TLS port, with or without a wrong path; a probe with a
//! wrong VLESS id gets the website's answer and nothing else is dialled; the website sees the
//! client's address in the PROXY header; valid clients still tunnel.

mod common;

use common::{Proxy, cert, curl, flows, peers, raw, targets, tunnel};
use std::net::SocketAddr;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    sync::mpsc,
};

/// A TLS/`transport`/VLESS server whose refusals go to `web` (with `fallback` as the key's
/// value) and whose tunnels go direct.
fn server(pipeline: &str, fallback: &str, web: SocketAddr) -> String {
    format!(
        "inbounds:\n  server:\n    listen: 127.0.0.1:0\n    pipeline:\n\
         \x20     - tls: {{ cert: {cert}, key: {key} }}\n\
         {pipeline}\
         \x20     - vless: {users}\n\
         \x20   outbound: free\n    fallback: {fallback}\n\
         outbounds:\n  free:\n    - direct\n  web:\n    - tcp: {{ address: {web} }}\n",
        cert = cert("server.pem"),
        key = cert("server.key"),
        users = tunnel::server_users(),
    )
}

/// curl's body for `path` on the proxy's TLS port, as `example.test`, over HTTP/1.1.
fn fetch(proxy: SocketAddr, path: &str) -> String {
    let url = format!("https://example.test:{}{path}", proxy.port());
    let resolve = format!("example.test:{}:127.0.0.1", proxy.port());
    let ca = cert("ca.pem");
    let (code, body) = curl(&["--http1.1", "--cacert", &ca, "--resolve", &resolve, &url]);
    assert_eq!(code, 0, "curl {url}");
    String::from_utf8(body).unwrap()
}

/// The next visit the website reports.
async fn next_visit(visits: &mut mpsc::UnboundedReceiver<targets::Visit>) -> targets::Visit {
    tokio::time::timeout(flows::PATIENCE, visits.recv())
        .await
        .expect("the website saw the request")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_get_the_real_website_and_clients_still_tunnel() {
    let (web, mut visits) = targets::web_server().await;
    let proxy = Proxy::start(&server(
        "      - websocket: { path: /xy }\n",
        "{ outbound: web, proxy_protocol: 1 }",
        web,
    ));
    let addr = proxy.addr("server");
    for path in ["/", "/not/the/tunnel?x=1"] {
        assert_eq!(fetch(addr, path), targets::WEB_PAGE);
        let visit = next_visit(&mut visits).await;
        assert_eq!(visit.path.as_deref(), Some(path));
        let client = visit.proxied.expect("a PROXY v1 header came first");
        assert_eq!(client.ip(), addr.ip(), "the browser's address, not ours");
    }
    if let Some(chromium) = peers::require("chromium") {
        for path in ["/", "/wrong/path"] {
            let url = format!("https://example.test:{}{path}", addr.port());
            let chromium = chromium.clone();
            let dom =
                tokio::task::spawn_blocking(move || peers::chromium_dump_dom(&chromium, &url))
                    .await
                    .unwrap()
                    .expect("Chromium finishes");
            assert!(dom.contains("A real website"), "{dom}");
            // Chromium also asks for its icon, now or after the page.
            let mut visit = next_visit(&mut visits).await;
            while visit.path.as_deref() == Some("/favicon.ico") {
                visit = next_visit(&mut visits).await;
            }
            assert_eq!(visit.path.as_deref(), Some(path));
        }
    }
    let client = Proxy::start(&tunnel::client_config(addr, 2048));
    let echo = targets::echo_server().await;
    flows::echo(client.addr("socks"), echo, b"still a tunnel").await;
    // Browsers may still ask for their icon; nothing else reaches the website.
    while let Ok(visit) = visits.try_recv() {
        assert_eq!(
            visit.path.as_deref(),
            Some("/favicon.ico"),
            "the tunnel never reached the website"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_website_sees_the_client_address_of_the_proxy_header() {
    let (web, mut visits) = targets::web_server().await;
    for version in [1, 2] {
        let fallback = format!("{{ outbound: web, proxy_protocol: {version} }}");
        let proxy = Proxy::start(&server(
            "      - websocket: { path: /xy }\n",
            &fallback,
            web,
        ));
        let mut tls = raw::tls_connect(proxy.addr("server"), "example.test")
            .await
            .unwrap();
        let ours = tls.get_ref().0.get_ref().local_addr().unwrap();
        tls.write_all(b"GET /where HTTP/1.1\r\nHost: example.test\r\n\r\n")
            .await
            .unwrap();
        let (answer, _) = raw::read_until_close(&mut tls, flows::PATIENCE).await;
        assert!(answer.starts_with(b"HTTP/1.1 200 OK"), "v{version}");
        let visit = next_visit(&mut visits).await;
        assert_eq!(
            visit.proxied,
            Some(ours),
            "PROXY v{version} names our socket"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_vless_id_gets_the_website_and_dials_nothing_else() {
    let (web, mut visits) = targets::web_server().await;
    let proxy = Proxy::start(&server("", "web", web));
    let (target, mut dialled) = targets::counting_echo_server().await;
    let mut tls = raw::tls_connect(proxy.addr("server"), "example.test")
        .await
        .unwrap();
    let mut probe = raw::vless_header(1, target);
    probe[1] ^= 0xFF;
    probe.extend_from_slice(b"knock knock");
    tls.write_all(&probe).await.unwrap();
    let (answer, closed) = raw::read_until_close(&mut tls, flows::PATIENCE).await;
    assert!(closed);
    assert!(
        answer.starts_with(b"HTTP/1.1 400 Bad Request"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let visit = next_visit(&mut visits).await;
    assert_eq!(
        (visit.proxied, visit.path),
        (None, None),
        "the bytes replayed as sent"
    );
    assert!(
        dialled.try_recv().is_err(),
        "the VLESS destination was not dialled"
    );
    // A browser on the same port gets the page, and a client with the right id tunnels.
    assert_eq!(fetch(proxy.addr("server"), "/"), targets::WEB_PAGE);
    let client = Proxy::start(&format!(
        "inbounds:\n  socks:\n    listen: 127.0.0.1:0\n    pipeline: [socks5]\n    outbound: tunnel\n\
         outbounds:\n  tunnel:\n    - vless: {{ id: {id} }}\n\
         \x20   - tls: {{ server_name: example.test, ca: {ca} }}\n\
         \x20   - tcp: {{ address: {server} }}\n",
        id = tunnel::ID,
        ca = cert("ca.pem"),
        server = proxy.addr("server"),
    ));
    let mut stream = flows::connect(client.addr("socks"), target).await;
    stream.write_all(b"hello").await.unwrap();
    let mut back = [0; 5];
    stream.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_are_chosen_by_path_and_every_transport_falls_back() {
    let (site, mut site_visits) = targets::web_server().await;
    let (blog, mut blog_visits) = targets::web_server().await;
    for layer in [
        "      - httpupgrade: { path: /hu }\n",
        "      - websocket: { path: /xy }\n",
        "      - h2: { path: /h2 }\n",
        "      - grpc: { service_name: gun }\n",
    ] {
        // HTTP/1.1 clients of the HTTP/2 transports are the fallback's: with a fallback, TLS
        // offers http/1.1 beside h2 by itself; the upgrades offer h2 for the browsers.
        let mut yaml = server(
            layer,
            "[{ outbound: web }, { path: /blog, outbound: blog }]",
            site,
        );
        if layer.contains("upgrade") || layer.contains("websocket") {
            yaml = yaml.replace(".key }", ".key, alpn: [h2, http/1.1] }");
        }
        let yaml = yaml.replace(
            "  web:\n",
            &format!("  blog:\n    - tcp: {{ address: {blog} }}\n  web:\n"),
        );
        let proxy = Proxy::start(&yaml);
        assert_eq!(fetch(proxy.addr("server"), "/blog"), targets::WEB_PAGE);
        assert_eq!(
            next_visit(&mut blog_visits).await.path.as_deref(),
            Some("/blog")
        );
        assert_eq!(fetch(proxy.addr("server"), "/"), targets::WEB_PAGE);
        assert_eq!(
            next_visit(&mut site_visits).await.path.as_deref(),
            Some("/")
        );
    }
}

/// README's fallback server, made runnable here: loopback, the test certificate, and the
/// website's two addresses.
fn readme_fallback_server(website: [SocketAddr; 2]) -> String {
    common::readme_block("yaml", "outbound: website-h2")
        .replace("0.0.0.0:443", "127.0.0.1:0")
        .replace(
            "/etc/letsencrypt/live/proxy.example.com/fullchain.pem",
            &cert("server.pem"),
        )
        .replace(
            "/etc/letsencrypt/live/proxy.example.com/privkey.pem",
            &cert("server.key"),
        )
        .replace("127.0.0.1:8080", &website[0].to_string())
        .replace("127.0.0.1:8081", &website[1].to_string())
}

/// The lines of nginx's access log.
fn visitors(log: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_website_behind_nginx_logs_each_visitor_over_http1_and_h2() {
    let Some(nginx) = peers::require("nginx") else {
        return;
    };
    let docroot = common::TempDir::new();
    std::fs::write(docroot.path().join("index.html"), targets::WEB_PAGE).unwrap();
    let (_website, addrs, log) = peers::nginx_website(&nginx, docroot.path());
    let proxy = Proxy::start(&readme_fallback_server(addrs));
    let server = proxy.addr("vless");

    // HTTP/1.1: the fallback entry without a key.
    let mut tls = raw::tls_connect(server, "example.test").await.unwrap();
    let ours = tls.get_ref().0.get_ref().local_addr().unwrap();
    tls.write_all(b"GET / HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (answer, _) = raw::read_until_close(&mut tls, flows::PATIENCE).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with(targets::WEB_PAGE), "{answer}");
    assert!(
        raw::eventually(flows::PATIENCE, || visitors(&log)
            .contains(&format!("{ours} HTTP/1.1")))
        .await,
        "nginx logged our own address: {:?}",
        visitors(&log)
    );

    // HTTP/2 (ALPN h2, which the websocket inbound offers because it has a fallback): the
    // `alpn: h2` entry, to nginx's h2c port.
    let tls = raw::tls_connect_alpn(server, "example.test", "h2")
        .await
        .unwrap();
    let ours = tls.get_ref().0.get_ref().local_addr().unwrap();
    let (send, connection) = h2::client::handshake(tls).await.unwrap();
    tokio::spawn(connection);
    let mut send = send.ready().await.unwrap();
    let request = http::Request::get("https://example.test/")
        .body(())
        .unwrap();
    let (response, _) = send.send_request(request, true).unwrap();
    let response = tokio::time::timeout(flows::PATIENCE, response)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut page = Vec::new();
    while let Some(data) = body.data().await {
        let data = data.unwrap();
        let _ = body.flow_control().release_capacity(data.len());
        page.extend_from_slice(&data);
    }
    assert_eq!(page, targets::WEB_PAGE.as_bytes());
    assert!(
        raw::eventually(flows::PATIENCE, || visitors(&log)
            .contains(&format!("{ours} HTTP/2.0")))
        .await,
        "nginx logged our own address over h2c: {:?}",
        visitors(&log)
    );
}
