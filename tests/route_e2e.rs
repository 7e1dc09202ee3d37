//! Routing through the real binary: every rule field and every Clash rule type decides a real
//! connection. The `hit` and `miss` outbounds dial two servers that greet with their names, so
//! the greeting says which outbound a connection took; a test DNS server counts look-ups.

mod common;

use common::{Proxy, TempDir, dns, run_cli, targets};
use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpSocket, TcpStream},
};
use xypro_stack::{core::Address, socks5::Socks5Client};

/// How long a step may take.
const PATIENCE: Duration = Duration::from_secs(20);

/// One connection through the proxy: who makes it and where it asks to go.
#[derive(Clone)]
struct Conn {
    destination: &'static str,
    inbound: &'static str,
    user: &'static str,
    source: IpAddr,
    source_port: u16,
    first_bytes: Option<Vec<u8>>,
}

fn to(destination: &'static str) -> Conn {
    Conn {
        destination,
        inbound: "main",
        user: "bob",
        source: [127, 0, 0, 1].into(),
        source_port: 0,
        first_bytes: None,
    }
}

impl Conn {
    fn from(mut self, source: &str) -> Self {
        self.source = source.parse().unwrap();
        self
    }
    fn from_port(mut self, port: u16) -> Self {
        self.source_port = port;
        self
    }
    fn as_user(mut self, user: &'static str) -> Self {
        self.user = user;
        self
    }
    fn on(mut self, inbound: &'static str) -> Self {
        self.inbound = inbound;
        self
    }
    fn sending(mut self, bytes: Vec<u8>) -> Self {
        self.first_bytes = Some(bytes);
        self
    }
}

/// The greeting servers and the files every case shares.
struct World {
    hit: SocketAddr,
    miss: SocketAddr,
    dns: dns::DnsServer,
    dir: TempDir,
}

impl World {
    async fn new() -> World {
        let dir = TempDir::new();
        std::fs::write(
            dir.path().join("ads.json"),
            r#"{"version": 2, "rules": [{"domain_suffix": ["ads.test"]}]}"#,
        )
        .unwrap();
        std::fs::write(dir.path().join("nets.txt"), "# lan\n203.0.113.0/24\n").unwrap();
        std::fs::write(dir.path().join("Country.mmdb"), geoip()).unwrap();
        World {
            hit: targets::banner_server(b"HIT").await,
            miss: targets::banner_server(b"MISS").await,
            dns: dns::dns_server(&[
                ("lazy.test", "192.0.2.55".parse().unwrap()),
                ("abroad.test", "198.51.100.7".parse().unwrap()),
            ])
            .await,
            dir,
        }
    }

    /// A config whose `auto` outbound routes with `rule` (to `hit`), else to `miss`.
    fn config(&self, rule: &str, sniff: bool) -> String {
        let dir = self.dir.path().display();
        format!(
            "inbounds:\n\
             \x20 main:\n    listen: 127.0.0.1:0\n    pipeline:\n\
             \x20     - socks5: {{ users: [{{ user: alice, pass: pw }}, {{ user: bob, pass: pw }}], sniff: {sniff} }}\n\
             \x20   outbound: auto\n\
             \x20 other:\n    listen: 127.0.0.1:0\n    pipeline:\n\
             \x20     - socks5: {{ users: [{{ user: bob, pass: pw }}] }}\n\
             \x20   outbound: auto\n\
             outbounds:\n\
             \x20 auto:\n    - route: {{ rules: [{rule}], final: miss }}\n\
             \x20 hit: [{{ tcp: {{ address: {hit} }} }}]\n\
             \x20 miss: [{{ tcp: {{ address: {miss} }} }}]\n\
             dns: {{ servers: ['udp://{dns}'] }}\n\
             rule_sets:\n\
             \x20 ads: {{ path: {dir}/ads.json }}\n\
             \x20 nets: {{ path: {dir}/nets.txt, format: text, behavior: ipcidr }}\n\
             geoip: {{ path: {dir}/Country.mmdb }}\n",
            hit = self.hit,
            miss = self.miss,
            dns = self.dns.addr,
        )
    }
}

/// A GeoIP database: 198.51.100.0/24 in ZZ.
fn geoip() -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Country {
        iso_code: &'static str,
    }
    #[derive(serde::Serialize)]
    struct Record {
        country: Country,
    }
    let mut writer = mmdb_writer::Writer::new("GeoLite2-Country");
    let record = Record {
        country: Country { iso_code: "ZZ" },
    };
    writer
        .insert(
            "198.51.100.0/24"
                .parse::<mmdb_writer::ipnet::IpNet>()
                .unwrap(),
            &record,
        )
        .unwrap();
    writer.to_bytes().unwrap()
}

/// Makes `conn` through the proxy and returns the greeting of the outbound it reached.
async fn greeting(proxy: &Proxy, conn: &Conn) -> String {
    let socks = proxy.addr(conn.inbound);
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket
        .bind(SocketAddr::new(conn.source, conn.source_port))
        .unwrap();
    let mut stream = socket.connect(socks).await.unwrap();
    let destination: Address = conn.destination.parse().unwrap();
    Socks5Client::with_credentials(conn.user, "pw")
        .connect(&mut stream, &destination)
        .await
        .unwrap_or_else(|e| panic!("{}: {e}", conn.destination));
    if let Some(bytes) = &conn.first_bytes {
        stream.write_all(bytes).await.unwrap();
    }
    let mut name = [0u8; 3];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut name))
        .await
        .unwrap_or_else(|_| panic!("no greeting in time for {}", conn.destination))
        .unwrap();
    match &name {
        b"HIT" => "hit".into(),
        b"MIS" => "miss".into(),
        other => panic!("greeting {other:?}"),
    }
}

/// Runs `rule` and checks that `hits` reach `hit` and `misses` reach `miss`.
async fn case(world: &World, rule: &str, hits: &[Conn], misses: &[Conn]) {
    let sniff = hits.iter().chain(misses).any(|c| c.first_bytes.is_some());
    let proxy = Proxy::start(&world.config(rule, sniff));
    for conn in hits {
        assert_eq!(
            greeting(&proxy, conn).await,
            "hit",
            "{rule} for {}",
            conn.destination
        );
    }
    for conn in misses {
        assert_eq!(
            greeting(&proxy, conn).await,
            "miss",
            "{rule} for {}",
            conn.destination
        );
    }
}

/// A TLS ClientHello for `server_name`, as rustls would send it.
fn client_hello(server_name: &str) -> Vec<u8> {
    use xypro_stack::tls::rustls;
    let config = rustls::ClientConfig::builder_with_provider(xypro_stack::tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(server_name.to_owned()).unwrap();
    let mut conn = rustls::ClientConnection::new(std::sync::Arc::new(config), name).unwrap();
    let mut hello = Vec::new();
    conn.write_tls(&mut hello).unwrap();
    hello
}

/// A port free for binding as a source port.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_map_rule_field_decides_a_real_connection() {
    let world = World::new().await;
    let port = free_port();
    let cases: Vec<(&str, Vec<Conn>, Vec<Conn>)> = vec![
        (
            "{ inbound: other, outbound: hit }",
            vec![to("1.1.1.1:80").on("other")],
            vec![to("1.1.1.1:80")],
        ),
        (
            "{ user: alice, outbound: hit }",
            vec![to("1.1.1.1:80").as_user("alice")],
            vec![to("1.1.1.1:80")],
        ),
        (
            "{ domain: exact.test, outbound: hit }",
            vec![to("exact.test:80")],
            vec![to("www.exact.test:80")],
        ),
        (
            "{ domain_suffix: [shop.test], outbound: hit }",
            vec![to("shop.test:80"), to("a.b.shop.test:443")],
            vec![to("myshop.test:80")],
        ),
        (
            "{ domain_keyword: [tube], outbound: hit }",
            vec![to("www.youtube.test:80")],
            vec![to("www.example.test:80")],
        ),
        (
            "{ domain_regex: ['^api[0-9]+\\.test$'], outbound: hit }",
            vec![to("api7.test:80")],
            vec![to("api.test:80")],
        ),
        (
            "{ ip_cidr: [203.0.113.0/24], outbound: hit }",
            vec![to("203.0.113.9:80")],
            vec![to("203.0.114.9:80")],
        ),
        (
            "{ ip_is_private: true, outbound: hit }",
            vec![to("10.1.2.3:80"), to("[fd00::1]:80")],
            vec![to("1.1.1.1:80")],
        ),
        (
            "{ source_ip_cidr: [127.0.0.2/32], outbound: hit }",
            vec![to("1.1.1.1:80").from("127.0.0.2")],
            vec![to("1.1.1.1:80")],
        ),
        (
            "{ port: [8443], outbound: hit }",
            vec![to("1.1.1.1:8443")],
            vec![to("1.1.1.1:443")],
        ),
        (
            "{ port_range: ['1000:2000'], outbound: hit }",
            vec![to("1.1.1.1:1500")],
            vec![to("1.1.1.1:2001")],
        ),
        (
            Box::leak(format!("{{ source_port: [{port}], outbound: hit }}").into_boxed_str()),
            vec![to("1.1.1.1:80").from_port(port)],
            vec![to("1.1.1.1:80")],
        ),
        (
            "{ rule_set: [ads], outbound: hit }",
            vec![to("x.ads.test:80")],
            vec![to("ads.test.example:80")],
        ),
        (
            "{ rule_set: [nets], outbound: hit }",
            vec![to("203.0.113.1:80")],
            vec![to("192.0.2.1:80")],
        ),
        (
            "{ geoip: [zz], outbound: hit }",
            vec![to("198.51.100.1:80")],
            vec![to("192.0.2.1:80")],
        ),
        (
            "{ domain_suffix: [shop.test], invert: true, outbound: hit }",
            vec![to("other.test:80")],
            vec![to("shop.test:80")],
        ),
        (
            "{ type: logical, mode: and, rules: [{ domain_suffix: [shop.test] }, { port: [443] }], outbound: hit }",
            vec![to("shop.test:443")],
            vec![to("shop.test:80"), to("other.test:443")],
        ),
        (
            "{ type: logical, mode: or, rules: [{ domain: [a.test] }, { port: [9] }], outbound: hit }",
            vec![to("a.test:80"), to("b.test:9")],
            vec![to("b.test:80")],
        ),
        (
            "{ protocol: [tls], domain_suffix: [sni.test], outbound: hit }",
            vec![to("203.0.113.5:443").sending(client_hello("www.sni.test"))],
            vec![to("203.0.113.5:443").sending(client_hello("www.other.test"))],
        ),
    ];
    for (rule, hits, misses) in &cases {
        case(&world, rule, hits, misses).await;
    }
    // Network: UDP through the same route (a UDP association sends it to `miss` here, which
    // cannot carry UDP, so the rule is proven on TCP: a `network: udp` rule leaves TCP alone).
    case(
        &world,
        "{ network: udp, outbound: hit }",
        &[],
        &[to("1.1.1.1:80")],
    )
    .await;
    case(
        &world,
        "{ network: tcp, outbound: hit }",
        &[to("1.1.1.1:80")],
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_clash_rule_type_decides_a_real_connection() {
    let world = World::new().await;
    let cases: Vec<(&str, Vec<Conn>, Vec<Conn>)> = vec![
        (
            "'DOMAIN,exact.test,hit'",
            vec![to("exact.test:80")],
            vec![to("a.exact.test:80")],
        ),
        (
            "'DOMAIN-SUFFIX,shop.test,hit'",
            vec![to("a.shop.test:80")],
            vec![to("shop.test.io:80")],
        ),
        (
            "'DOMAIN-KEYWORD,tube,hit'",
            vec![to("youtube.test:80")],
            vec![to("example.test:80")],
        ),
        (
            "'DOMAIN-REGEX,^api[0-9]+,hit'",
            vec![to("api1.test:80")],
            vec![to("x.api1.test:80")],
        ),
        (
            "'IP-CIDR,203.0.113.0/24,hit,no-resolve'",
            vec![to("203.0.113.7:80")],
            vec![to("lazy.test:80")],
        ),
        (
            "'IP-CIDR6,2001:db8::/32,hit'",
            vec![to("[2001:db8::5]:80")],
            vec![to("[2001:db9::5]:80")],
        ),
        (
            "'SRC-IP-CIDR,127.0.0.2/32,hit'",
            vec![to("1.1.1.1:80").from("127.0.0.2")],
            vec![to("1.1.1.1:80")],
        ),
        (
            "'GEOIP,ZZ,hit'",
            vec![to("198.51.100.9:80"), to("abroad.test:80")],
            vec![to("192.0.2.9:80")],
        ),
        (
            "'GEOIP,LAN,hit'",
            vec![to("192.168.1.1:80")],
            vec![to("1.1.1.1:80")],
        ),
        (
            "'DST-PORT,80/443/8000-9000,hit'",
            vec![to("1.1.1.1:8500"), to("1.1.1.1:443")],
            vec![to("1.1.1.1:9001")],
        ),
        ("'NETWORK,tcp,hit'", vec![to("1.1.1.1:80")], vec![]),
        (
            "'IN-NAME,other,hit'",
            vec![to("1.1.1.1:80").on("other")],
            vec![to("1.1.1.1:80")],
        ),
        (
            "'IN-USER,alice,hit'",
            vec![to("1.1.1.1:80").as_user("alice")],
            vec![to("1.1.1.1:80")],
        ),
        (
            "'RULE-SET,ads,hit'",
            vec![to("cdn.ads.test:80")],
            vec![to("cdn.test:80")],
        ),
        (
            "'AND,((DOMAIN-SUFFIX,shop.test),(DST-PORT,443)),hit'",
            vec![to("shop.test:443")],
            vec![to("shop.test:80")],
        ),
        (
            "'OR,((DOMAIN,a.test),(DST-PORT,9)),hit'",
            vec![to("a.test:80"), to("b.test:9")],
            vec![to("b.test:80")],
        ),
        (
            "'NOT,((DOMAIN-SUFFIX,shop.test)),hit'",
            vec![to("other.test:80")],
            vec![to("shop.test:80")],
        ),
        (
            "'MATCH,hit'",
            vec![to("anything.test:80"), to("1.1.1.1:1")],
            vec![],
        ),
    ];
    for (rule, hits, misses) in &cases {
        case(&world, rule, hits, misses).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_is_resolved_once_for_ip_rules_and_never_with_no_resolve() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config(
        "'IP-CIDR,10.0.0.0/8,miss,no-resolve', { ip_cidr: [192.0.2.0/24], outbound: hit }, 'GEOIP,ZZ,hit'",
        false,
    ));
    let before = world.dns.queries();
    // lazy.test is 192.0.2.55: the no-resolve rule does not look it up, the next one does,
    // and the connection still goes to the outbound by name (`hit` dials its own server).
    assert_eq!(greeting(&proxy, &to("lazy.test:80")).await, "hit");
    let asked = world.dns.queries() - before;
    assert!(
        (1..=2).contains(&asked),
        "one look-up (A, and AAAA for both families): {asked}"
    );
    // An IP destination needs no look-up at all.
    let before = world.dns.queries();
    assert_eq!(greeting(&proxy, &to("203.0.113.1:80")).await, "miss");
    assert_eq!(world.dns.queries(), before);

    let proxy = Proxy::start(&world.config("'IP-CIDR,192.0.2.0/24,hit,no-resolve'", false));
    let before = world.dns.queries();
    assert_eq!(greeting(&proxy, &to("lazy.test:80")).await, "miss");
    assert_eq!(world.dns.queries(), before, "no-resolve looks nothing up");
}

#[test]
fn check_names_the_file_and_line_of_a_bad_rule() {
    let dir = TempDir::new();
    let path = dir.path().join("config.yaml");
    std::fs::write(
        &path,
        "inbounds:\n  s:\n    listen: 127.0.0.1:0\n    pipeline: [socks5]\n    outbound: auto\n\
         outbounds:\n  auto:\n    - route:\n        rules:\n          - 'DOMAIN-SUFFIX,a.test,free'\n\
         \x20         - 'IP-CIDR,300.1.2.3/8,free'\n        final: free\n  free: [direct]\n",
    )
    .unwrap();
    let (code, _, err) = run_cli(&["check", "-c", path.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(err.contains("config.yaml:11:"), "{err}");
    assert!(err.contains("rules[1]"), "{err}");
    let ruleset = dir.path().join("bad.json");
    std::fs::write(
        &ruleset,
        "{\"version\": 2,\n \"rules\": [{\"domain_sufix\": [\"x\"]}]}",
    )
    .unwrap();
    std::fs::write(
        &path,
        format!(
            "inbounds:\n  s:\n    listen: 127.0.0.1:0\n    pipeline: [socks5]\n    outbound: free\n\
             outbounds:\n  free: [direct]\nrule_sets:\n  bad: {{ path: {} }}\n",
            ruleset.display()
        ),
    )
    .unwrap();
    let (code, _, err) = run_cli(&["check", "-c", path.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(
        err.contains("bad.json:2"),
        "the rule set's own file and line: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_refuses_with_socks5_02() {
    let world = World::new().await;
    let config = world
        .config("{ domain_suffix: [ads.test], outbound: block }", false)
        .replace("  hit: [", "  block: [reject]\n  hit: [");
    let proxy = Proxy::start(&config);
    let mut stream = TcpStream::connect(proxy.addr("main")).await.unwrap();
    let refused = Socks5Client::with_credentials("bob", "pw")
        .connect(&mut stream, &"x.ads.test:80".parse().unwrap())
        .await;
    assert!(
        matches!(refused, Err(xypro_stack::socks5::Socks5Error::Rejected(code)) if code.byte() == 2),
        "{refused:?}"
    );
    assert_eq!(greeting(&proxy, &to("ok.test:80")).await, "miss");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_is_routed_per_destination_by_network() {
    let world = World::new().await;
    let config = world
        .config("{ network: udp, outbound: free }", false)
        .replace("  hit: [", "  free: [direct]\n  hit: [");
    let proxy = Proxy::start(&config);
    // A UDP association's datagrams reach a UDP echo only if the route sends them `direct`
    // (`miss` dials a TCP greeting server); TCP from the same client still goes to `miss`.
    let echo = targets::udp_echo_server().await;
    let mut control = TcpStream::connect(proxy.addr("main")).await.unwrap();
    let relay = Socks5Client::with_credentials("bob", "pw")
        .udp_associate(&mut control, &"0.0.0.0:0".parse().unwrap())
        .await
        .unwrap();
    let Address::Ip(relay) = relay else {
        panic!("{relay}")
    };
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let packet = xypro_stack::socks5::encode_udp(&Address::Ip(echo), b"routed");
    socket.send_to(&packet, relay).await.unwrap();
    let mut buf = [0u8; 256];
    let (n, _) = tokio::time::timeout(PATIENCE, socket.recv_from(&mut buf))
        .await
        .expect("the echo, through direct")
        .unwrap();
    let (_, data) = xypro_stack::socks5::decode_udp(&buf[..n]).unwrap();
    assert_eq!(data, b"routed");
    assert_eq!(greeting(&proxy, &to("1.1.1.1:80")).await, "miss");
}
