//! README's "Use it as your daily client" config, run as printed (only its addresses point at
//! local stand-ins): Chromium loads an HTTPS page through the tunnel and an HTTP page a rule
//! sends direct, curl speaks HTTP, SOCKS5 and SOCKS4a to the same port, and the rule set
//! refuses ads. Which outbound took each is read from the admin server and the tunnel's log.

mod common;

use common::{
    Proxy, TempDir, admin, browser, cert, curl, dns::dns_server, readme_block, readme_files,
    web::WebServer,
};
use std::net::{IpAddr, Ipv4Addr};

const ID: &str = "2ad043a0-b930-46f8-bd55-1fcefc93339a";

/// The config's stand-ins: what README says, and what the test puts there.
fn localise(readme: &str, swaps: &[(&str, String)]) -> String {
    let mut yaml = readme.to_owned();
    for (from, to) in swaps {
        assert!(
            yaml.contains(from),
            "README's daily config no longer has {from:?}"
        );
        yaml = yaml.replace(from, to);
    }
    yaml
}

/// The far end: TLS, WebSocket and VLESS as README's server, resolving through `dns`.
fn tunnel_server(dns: &str) -> Proxy {
    let yaml = format!(
        "dns: {{ servers: [\"udp://{dns}\"] }}\n\
         inbounds:\n  vless:\n    listen: 127.0.0.1:0\n    pipeline:\n\
         \x20     - tls: {{ cert: {}, key: {} }}\n\
         \x20     - websocket: {{ path: /a-long-unguessable-path }}\n\
         \x20     - vless: {{ users: [{{ name: alice, id: {ID} }}], allow_private: true }}\n\
         \x20   outbound: free\n\
         outbounds:\n  free: [direct]\n",
        cert("server.pem"),
        cert("server.key"),
    );
    Proxy::start_with_log(&yaml, "info,xypro_core::dispatch=debug")
}

/// Connections the client's admin server counts for `outbound`.
fn carried_by(client: &Proxy, outbound: &str) -> f64 {
    let scrape = admin::scrape(client.admin_addr(), "change-me");
    admin::sample(
        &scrape,
        "xypro_outbound_connections_total",
        &[("outbound", outbound)],
    )
    .unwrap_or(0.0)
}

#[test]
fn the_readme_daily_client_routes_a_browser_and_curl() {
    let Some(chromium) = browser::chromium() else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let names = [
        ("example.test", loopback),
        ("plain.lan", loopback),
        ("tracker.ads.example", loopback),
    ];
    let dns = runtime.block_on(dns_server(&names));
    let (secure_site, plain_site) = (TempDir::new(), TempDir::new());
    std::fs::write(
        secure_site.path().join("index.html"),
        "<title>secure</title><p id=where>over the tunnel</p>\
         <script>document.getElementById('where').textContent += ' (rendered)'</script>",
    )
    .unwrap();
    std::fs::write(
        plain_site.path().join("index.html"),
        "<p>straight from the lan</p>",
    )
    .unwrap();
    let (secure, plain) = (
        WebServer::https(secure_site.path()),
        WebServer::http(plain_site.path()),
    );
    let server = tunnel_server(&dns.addr.to_string());
    let ca = cert("ca.pem");
    let yaml = localise(
        &readme_block("yaml", "listen: 127.0.0.1:7890"),
        &[
            ("127.0.0.1:7890", "127.0.0.1:0".into()),
            ("127.0.0.1:9090", "127.0.0.1:0".into()),
            ("https://1.1.1.1/dns-query", format!("udp://{}", dns.addr)),
            (
                "server_name: proxy.example.com",
                format!("server_name: example.test, ca: {ca}"),
            ),
            ("proxy.example.com:443", server.addr("vless").to_string()),
        ],
    );
    let files = readme_files();
    assert!(files.iter().any(|(name, _)| name == "ads.txt"), "{files:?}");
    let client = Proxy::start_with_files(&yaml, &files, "info");
    let mixed = client.addr("mixed");

    let browser = browser::Browser::new(chromium, &format!("http://{mixed}"));
    let page = browser.render(
        &format!("https://example.test:{}/", secure.port),
        "daily-client-tunnel",
    );
    assert!(page.contains("over the tunnel (rendered)"), "{page}");
    let page = browser.render(
        &format!("http://plain.lan:{}/", plain.port),
        "daily-client-direct",
    );
    assert!(page.contains("straight from the lan"), "{page}");
    let via_tunnel = carried_by(&client, "proxy");
    let direct = carried_by(&client, "direct");
    assert!(via_tunnel >= 1.0, "the HTTPS page went through the tunnel");
    assert!(direct >= 1.0, "the lan page went direct");
    let far_end = server.log_text();
    assert!(far_end.contains("example.test"), "{far_end}");
    assert!(
        !far_end.contains("plain.lan"),
        "a direct page reached the tunnel:\n{far_end}"
    );

    let secure_url = format!("https://example.test:{}/", secure.port);
    for proxy in [
        format!("http://{mixed}"),
        format!("socks5h://{mixed}"),
        format!("socks4a://{mixed}"),
    ] {
        let (code, body) = curl(&["-x", &proxy, "--cacert", &ca, &secure_url]);
        assert_eq!(code, 0, "curl through {proxy}");
        assert!(String::from_utf8_lossy(&body).contains("over the tunnel"));
    }
    assert!(carried_by(&client, "proxy") >= via_tunnel + 3.0);

    let ad = format!("http://tracker.ads.example:{}/", plain.port);
    let (code, status) = curl(&[
        "-x",
        &format!("http://{mixed}"),
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &ad,
    ]);
    assert_eq!(
        (code, &status[..]),
        (0, &b"403"[..]),
        "the ads rule set refuses it"
    );
    assert!(carried_by(&client, "block") >= 1.0);
    assert_eq!(
        carried_by(&client, "direct"),
        direct,
        "an ad never went out"
    );
}
