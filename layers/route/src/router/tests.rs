//! Matching: every field and Clash type, logical rules, invert and lazy resolution.

use super::*;
use crate::Protocol;
use std::sync::Mutex;
use xypro_core::Network;

/// A resolver with fixed answers that records every name it is asked.
#[derive(Default)]
struct Dns {
    asked: Mutex<Vec<String>>,
}

impl Dns {
    fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

impl Resolve for Dns {
    fn resolve(
        &self,
        host: &str,
    ) -> impl Future<Output = Result<Vec<IpAddr>, ResolveError>> + Send {
        self.asked.lock().unwrap().push(host.to_owned());
        let answer = match host {
            "example.com" | "www.example.com" => Ok(vec!["93.184.216.34".parse().unwrap()]),
            "nas.home.arpa" => Ok(vec!["192.168.1.2".parse().unwrap()]),
            "v6.example.net" => Ok(vec![
                "2001:db8::1".parse().unwrap(),
                "198.51.100.7".parse().unwrap(),
            ]),
            _ => Err(ResolveError {
                host: host.to_owned(),
                source: None,
            }),
        };
        async move { answer }
    }
}

/// A connection to route, with every fact settable.
#[derive(Clone)]
struct Conn {
    destination: Address,
    network: Network,
    inbound: &'static str,
    user: Option<&'static str>,
    protocol: Option<Protocol>,
    sniffed_host: Option<&'static str>,
    source: Option<std::net::SocketAddr>,
}

fn to(destination: &str) -> Conn {
    Conn {
        destination: destination.parse().unwrap(),
        network: Network::Tcp,
        inbound: "socks",
        user: None,
        protocol: None,
        sniffed_host: None,
        source: Some("192.168.1.10:50000".parse().unwrap()),
    }
}

impl Conn {
    fn facts(&self) -> Facts<'_> {
        Facts {
            inbound: self.inbound,
            network: self.network,
            user: self.user,
            protocol: self.protocol,
            sniffed_host: self.sniffed_host,
            destination: &self.destination,
            source: self.source,
        }
    }
}

fn router_with(rules: &str, resources: &Resources) -> Router {
    let yaml = format!("rules:\n{rules}\nfinal: fallback\n");
    let options: RouteOptions =
        serde_yaml::from_str(&yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
    Router::new(&options, resources).unwrap()
}

fn router(rules: &str) -> Router {
    router_with(rules, &Resources::default())
}

/// Routes `conn` and returns the outbound and the label `Kind,payload`.
async fn route(router: &Router, conn: &Conn, dns: &Dns) -> (String, String) {
    let decision = router.decide(&conn.facts(), dns).await;
    let label = format!("{},{}", decision.label.kind, decision.label.payload);
    (decision.outbound.to_owned(), label)
}

/// Asserts which connections a one-rule router (`rule` to `hit`) sends to `hit`.
async fn check(rule: &str, hits: &[Conn], misses: &[Conn]) {
    let router = router(&format!("  - {rule}"));
    let dns = Dns::default();
    for conn in hits {
        let (outbound, _) = route(&router, conn, &dns).await;
        assert_eq!(outbound, "hit", "{rule} should match {}", conn.destination);
    }
    for conn in misses {
        let (outbound, _) = route(&router, conn, &dns).await;
        assert_eq!(
            outbound, "fallback",
            "{rule} should not match {}",
            conn.destination
        );
    }
}

#[tokio::test]
async fn domain_fields() {
    check(
        "{ domain: [Example.com], outbound: hit }",
        &[to("example.com:443"), to("EXAMPLE.com.:80")],
        &[to("www.example.com:443"), to("93.184.216.34:443")],
    )
    .await;
    check(
        "{ domain_suffix: example.com, outbound: hit }",
        &[to("example.com:443"), to("a.b.example.com:443")],
        &[to("badexample.com:443"), to("example.com.cn:443")],
    )
    .await;
    check(
        "{ domain_suffix: .example.com, outbound: hit }",
        &[to("www.example.com:443")],
        &[to("example.com:443")],
    )
    .await;
    check(
        "{ domain_keyword: [goog, tube], outbound: hit }",
        &[to("www.google.com:443"), to("youtube.com:443")],
        &[to("example.com:443")],
    )
    .await;
    check(
        r#"{ domain_regex: '^ad[0-9]+\.', outbound: hit }"#,
        &[to("ad42.example.com:443")],
        &[to("bad42.example.com:443"), to("ads.example.com:443")],
    )
    .await;
}

#[tokio::test]
async fn sniffed_host_is_matched_instead_of_the_ip() {
    let mut sniffed = to("93.184.216.34:443");
    sniffed.sniffed_host = Some("www.example.com");
    check(
        "{ domain_suffix: example.com, outbound: hit }",
        &[sniffed],
        &[to("93.184.216.34:443")],
    )
    .await;
}

#[tokio::test]
async fn ip_fields() {
    check(
        "{ ip_cidr: [10.0.0.0/8, '2001:db8::/32'], outbound: hit }",
        &[
            to("10.1.2.3:80"),
            to("[2001:db8::5]:80"),
            to("v6.example.net:80"),
        ],
        &[
            to("11.0.0.1:80"),
            to("example.com:80"),
            to("unknown.invalid:80"),
        ],
    )
    .await;
    check(
        "{ ip_is_private: true, outbound: hit }",
        &[
            to("127.0.0.1:80"),
            to("10.0.0.1:80"),
            to("172.16.0.1:80"),
            to("100.64.0.1:80"),
            to("169.254.1.1:80"),
            to("[::1]:80"),
            to("[fd00::1]:80"),
            to("[fe80::1]:80"),
            to("224.0.0.1:80"),
            to("0.0.0.0:80"),
            to("[::ffff:192.168.0.1]:80"),
            to("nas.home.arpa:80"),
        ],
        &[
            to("8.8.8.8:80"),
            to("[2606:4700::1111]:80"),
            to("example.com:80"),
        ],
    )
    .await;
    let mut outside = to("1.1.1.1:80");
    outside.source = Some("203.0.113.9:4000".parse().unwrap());
    let mut unknown = to("1.1.1.1:80");
    unknown.source = None;
    check(
        "{ source_ip_cidr: 192.168.0.0/16, outbound: hit }",
        &[to("1.1.1.1:80")],
        &[outside, unknown],
    )
    .await;
}

#[tokio::test]
async fn port_fields() {
    check(
        "{ port: [80, 443], outbound: hit }",
        &[to("example.com:80"), to("example.com:443")],
        &[to("example.com:8080")],
    )
    .await;
    check(
        "{ port_range: ['1000:2000', ':10', '60000:'], outbound: hit }",
        &[
            to("a.com:1000"),
            to("a.com:2000"),
            to("a.com:0"),
            to("a.com:10"),
            to("a.com:65535"),
        ],
        &[
            to("a.com:999"),
            to("a.com:2001"),
            to("a.com:11"),
            to("a.com:59999"),
        ],
    )
    .await;
    let mut high = to("a.com:1");
    high.source = Some("192.168.1.10:60001".parse().unwrap());
    check(
        "{ source_port: 50000, outbound: hit }",
        &[to("a.com:1")],
        &[high.clone()],
    )
    .await;
    check(
        "{ source_port_range: '60000:', outbound: hit }",
        &[high],
        &[to("a.com:1")],
    )
    .await;
}

#[tokio::test]
async fn connection_fields() {
    let mut udp = to("a.com:53");
    udp.network = Network::Udp;
    check(
        "{ network: udp, outbound: hit }",
        &[udp.clone()],
        &[to("a.com:53")],
    )
    .await;
    let mut http = to("a.com:80");
    http.inbound = "http-in";
    check(
        "{ inbound: [http-in], outbound: hit }",
        &[http],
        &[to("a.com:80")],
    )
    .await;
    let mut alice = to("a.com:80");
    alice.user = Some("alice");
    let mut bob = to("a.com:80");
    bob.user = Some("bob");
    check(
        "{ user: alice, outbound: hit }",
        &[alice.clone()],
        &[bob.clone(), to("a.com:80")],
    )
    .await;
    check("{ auth_user: [bob], outbound: hit }", &[bob], &[alice]).await;
    let mut tls = to("1.2.3.4:443");
    tls.protocol = Some(Protocol::Tls);
    let mut quic = udp;
    quic.protocol = Some(Protocol::Quic);
    check(
        "{ protocol: [tls], outbound: hit }",
        &[tls],
        &[quic, to("1.2.3.4:443")],
    )
    .await;
}

#[tokio::test]
async fn groups_are_or_within_and_and_between() {
    let rule = "{ domain_suffix: example.com, ip_cidr: 10.0.0.0/8, port: 443, network: tcp, outbound: hit }";
    let mut udp = to("www.example.com:443");
    udp.network = Network::Udp;
    check(
        rule,
        &[to("www.example.com:443"), to("10.0.0.1:443")],
        &[
            to("www.example.com:80"),
            to("10.0.0.1:80"),
            to("11.0.0.1:443"),
            udp,
        ],
    )
    .await;
}

#[tokio::test]
async fn invert_negates_a_rule() {
    check(
        "{ domain_suffix: example.com, invert: true, outbound: hit }",
        &[to("example.org:443"), to("1.2.3.4:443")],
        &[to("www.example.com:443")],
    )
    .await;
}

#[tokio::test]
async fn logical_rules() {
    let mut udp443 = to("a.com:443");
    udp443.network = Network::Udp;
    let mut udp53 = to("a.com:53");
    udp53.network = Network::Udp;
    check(
        "{ type: logical, mode: and, rules: [{ network: udp }, { port: 443 }], outbound: hit }",
        &[udp443.clone()],
        &[udp53.clone(), to("a.com:443")],
    )
    .await;
    check(
        "{ type: logical, mode: or, rules: [{ network: udp }, { port: 443 }], outbound: hit }",
        &[udp53.clone(), to("a.com:443")],
        &[to("a.com:80")],
    )
    .await;
    check(
        "{ and: [{ network: udp }, { port: 443 }], invert: true, outbound: hit }",
        &[udp53.clone(), to("a.com:443")],
        &[udp443.clone()],
    )
    .await;
    check(
        "{ or: [{ and: [{ network: udp }, { port: 53 }] }, { domain: b.com }], outbound: hit }",
        &[udp53, to("b.com:1")],
        &[udp443, to("a.com:53")],
    )
    .await;
}

#[tokio::test]
async fn clash_domain_and_ip_types() {
    check(
        "DOMAIN,example.com,hit",
        &[to("example.com:1")],
        &[to("a.example.com:1")],
    )
    .await;
    check(
        "DOMAIN-SUFFIX,example.com,hit",
        &[to("example.com:1"), to("a.example.com:1")],
        &[to("notexample.com:1")],
    )
    .await;
    check(
        "DOMAIN-KEYWORD,amp,hit",
        &[to("example.com:1")],
        &[to("a.org:1")],
    )
    .await;
    check(
        r"DOMAIN-REGEX,^a{1,3}\.com$,hit",
        &[to("aa.com:1")],
        &[to("aaaa.com:1")],
    )
    .await;
    check(
        "IP-CIDR,93.184.216.0/24,hit",
        &[to("93.184.216.34:1"), to("example.com:1")],
        &[to("93.184.217.1:1")],
    )
    .await;
    check(
        "IP-CIDR,93.184.216.0/24,hit,no-resolve",
        &[to("93.184.216.34:1")],
        &[to("example.com:1")],
    )
    .await;
    check(
        "IP-CIDR6,2001:db8::/32,hit",
        &[to("[2001:db8::9]:1")],
        &[to("[2001:db9::]:1")],
    )
    .await;
    let mut elsewhere = to("192.168.1.1:1");
    elsewhere.source = Some("8.8.4.4:5000".parse().unwrap());
    check(
        "IP-CIDR,192.168.1.0/24,hit,src",
        &[to("8.8.8.8:1")],
        &[elsewhere],
    )
    .await;
    check("SRC-IP-CIDR,192.168.1.10/32,hit", &[to("8.8.8.8:1")], &[]).await;
    check("SRC-IP-CIDR,10.0.0.0/8,hit", &[], &[to("8.8.8.8:1")]).await;
    check(
        "GEOIP,lan,hit",
        &[to("10.0.0.1:1"), to("nas.home.arpa:1")],
        &[to("8.8.8.8:1"), to("example.com:1")],
    )
    .await;
    check(
        "GEOIP,LAN,hit,no-resolve",
        &[to("10.0.0.1:1")],
        &[to("nas.home.arpa:1")],
    )
    .await;
}

#[tokio::test]
async fn clash_connection_types() {
    check(
        "DST-PORT,80/443/8000-9000,hit",
        &[to("a.com:80"), to("a.com:443"), to("a.com:8500")],
        &[to("a.com:81"), to("a.com:9001")],
    )
    .await;
    check("SRC-PORT,49000-51000,hit", &[to("a.com:1")], &[]).await;
    check("SRC-PORT,1-1024,hit", &[], &[to("a.com:1")]).await;
    let mut udp = to("a.com:53");
    udp.network = Network::Udp;
    check("NETWORK,UDP,hit", &[udp.clone()], &[to("a.com:53")]).await;
    check("NETWORK,tcp,hit", &[to("a.com:53")], &[udp]).await;
    let mut mixed = to("a.com:1");
    mixed.inbound = "mixed";
    check(
        "IN-NAME,socks/mixed,hit",
        &[to("a.com:1"), mixed.clone()],
        &[],
    )
    .await;
    check("IN-NAME,mixed,hit", &[mixed], &[to("a.com:1")]).await;
    let mut carol = to("a.com:1");
    carol.user = Some("carol");
    check("IN-USER,alice/carol,hit", &[carol], &[to("a.com:1")]).await;
    check("MATCH,hit", &[to("a.com:1"), to("1.1.1.1:1")], &[]).await;
}

#[tokio::test]
async fn clash_logical_types() {
    let mut udp = to("baidu.com:443");
    udp.network = Network::Udp;
    check(
        "AND,((DOMAIN,baidu.com),(NETWORK,UDP)),hit",
        &[udp.clone()],
        &[to("baidu.com:443")],
    )
    .await;
    check(
        "OR,((NETWORK,UDP),(DOMAIN,baidu.com)),hit",
        &[udp, to("baidu.com:443")],
        &[to("qq.com:443")],
    )
    .await;
    check(
        "NOT,((DOMAIN,baidu.com)),hit",
        &[to("qq.com:443")],
        &[to("baidu.com:443")],
    )
    .await;
    check(
        r"OR,((AND,((DST-PORT,443),(DOMAIN-REGEX,^(a|b)\.com$))),(NOT,((NETWORK,tcp)))),hit",
        &[to("a.com:443"), to("b.com:443")],
        &[to("c.com:443"), to("a.com:80")],
    )
    .await;
}

#[tokio::test]
async fn first_match_wins_then_final_with_labels() {
    let router = router(
        "  - DOMAIN-SUFFIX,example.com,first\n  - { domain: www.example.com, outbound: second }\n  - 'MATCH,third'",
    );
    let dns = Dns::default();
    assert_eq!(
        route(&router, &to("www.example.com:1"), &dns).await,
        ("first".into(), "DomainSuffix,example.com".into())
    );
    assert_eq!(
        route(&router, &to("a.org:1"), &dns).await,
        ("third".into(), "Match,".into())
    );
    let none = self::router("  - { domain: a.com, outbound: hit }");
    assert_eq!(
        route(&none, &to("b.com:1"), &dns).await,
        ("fallback".into(), "final,".into())
    );
    let map = self::router("  - { domain: [a.com, b.com], port: 1, outbound: hit }");
    assert_eq!(
        route(&map, &to("b.com:1"), &dns).await,
        ("hit".into(), "Rule,Domain=[a.com b.com] DstPort=[1]".into())
    );
}

#[tokio::test]
async fn a_domain_is_resolved_once_at_the_first_rule_that_needs_its_ip() {
    let router = router(
        "  - DOMAIN-SUFFIX,example.org,a\n  - IP-CIDR,10.0.0.0/8,b\n  - GEOIP,lan,c\n  - IP-CIDR,93.184.216.0/24,d",
    );
    let dns = Dns::default();
    let decision = router.decide(&to("example.com:443").facts(), &dns).await;
    assert_eq!(decision.outbound, "d");
    assert_eq!(
        decision.resolved,
        Some(vec!["93.184.216.34".parse().unwrap()])
    );
    assert_eq!(dns.asked(), ["example.com"]);

    // A failed lookup is not retried: later IP rules just do not match.
    let dns = Dns::default();
    let decision = router
        .decide(&to("nowhere.invalid:443").facts(), &dns)
        .await;
    assert_eq!(
        (decision.outbound, decision.resolved),
        ("fallback", Some(vec![]))
    );
    assert_eq!(dns.asked(), ["nowhere.invalid"]);
}

#[tokio::test]
async fn no_lookup_when_no_resolve_an_ip_destination_or_an_earlier_match() {
    let router = router(
        "  - IP-CIDR,93.184.216.0/24,a,no-resolve\n  - { ip_cidr: 10.0.0.0/8, no_resolve: true, outbound: b }\n  - DOMAIN,example.com,c\n  - IP-CIDR,0.0.0.0/0,d",
    );
    let dns = Dns::default();
    assert_eq!(
        router
            .decide(&to("example.com:1").facts(), &dns)
            .await
            .outbound,
        "c"
    );
    assert_eq!(
        router
            .decide(&to("93.184.216.34:1").facts(), &dns)
            .await
            .outbound,
        "a"
    );
    let decision = router.decide(&to("1.1.1.1:1").facts(), &dns).await;
    assert_eq!((decision.outbound, decision.resolved), ("d", None));
    assert!(dns.asked().is_empty(), "{:?}", dns.asked());
}

#[tokio::test]
async fn no_lookup_when_the_rest_of_the_rule_already_decides() {
    let router = self::router(
        "  - { network: udp, ip_cidr: 0.0.0.0/0, outbound: a }\n  - { domain_suffix: example.com, ip_cidr: 10.0.0.0/8, outbound: b }",
    );
    let dns = Dns::default();
    let decision = router.decide(&to("www.example.com:1").facts(), &dns).await;
    assert_eq!(decision.outbound, "b");
    let router = self::router("  - { or: [{ port: 443 }, { ip_cidr: 10.0.0.0/8 }], outbound: c }");
    assert_eq!(
        router.decide(&to("a.org:443").facts(), &dns).await.outbound,
        "c"
    );
    assert!(dns.asked().is_empty(), "{:?}", dns.asked());
    // Only now does an outcome depend on the IP.
    assert_eq!(
        router.decide(&to("a.org:80").facts(), &dns).await.outbound,
        "fallback"
    );
    assert_eq!(dns.asked(), ["a.org"]);
}

#[tokio::test]
async fn an_inverted_ip_rule_resolves_and_no_resolve_counts_as_no_match() {
    let router = router("  - NOT,((IP-CIDR,93.184.216.0/24)),outside\n  - MATCH,inside");
    let dns = Dns::default();
    assert_eq!(
        router
            .decide(&to("example.com:1").facts(), &dns)
            .await
            .outbound,
        "inside"
    );
    assert_eq!(
        router
            .decide(&to("a.invalid:1").facts(), &dns)
            .await
            .outbound,
        "outside"
    );
    assert_eq!(dns.asked(), ["example.com", "a.invalid"]);
    let router = self::router(
        "  - { and: [{ ip_cidr: 93.184.216.0/24 }], invert: true, no_resolve: true, outbound: outside }",
    );
    let dns = Dns::default();
    assert_eq!(
        router
            .decide(&to("example.com:1").facts(), &dns)
            .await
            .outbound,
        "outside"
    );
    assert!(dns.asked().is_empty());
}

#[tokio::test]
async fn closures_resolve_too() {
    let router = router("  - IP-CIDR,10.0.0.0/8,lan");
    let resolve = |_: &str| async { Ok::<_, ResolveError>(vec!["10.9.9.9".parse().unwrap()]) };
    let destination: Address = "printer.local:631".parse().unwrap();
    let decision = router
        .decide(&Facts::new(&destination, Network::Tcp), &resolve)
        .await;
    assert_eq!(decision.outbound, "lan");
}

#[test]
fn decisions_are_send_futures() {
    fn send<T: Send>(_: T) {}
    let router = router("  - IP-CIDR,10.0.0.0/8,lan");
    let conn = to("a.com:1");
    send(router.decide(&conn.facts(), &Dns::default()));
}

#[test]
fn build_errors_name_the_rule() {
    let options: RouteOptions =
        serde_yaml::from_str("rules:\n  - DOMAIN,a.com,x\n  - RULE-SET,ads,block\nfinal: y")
            .unwrap();
    let err = Router::new(&options, &Resources::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "rules[1]: no rule set named `ads` (defined: )"
    );
    let options: RouteOptions =
        serde_yaml::from_str("rules:\n  - { geoip: cn, outbound: x }\nfinal: y").unwrap();
    let err = Router::new(&options, &Resources::default()).unwrap_err();
    assert_eq!(
        err,
        ConfigError::Rule {
            index: 0,
            message: "a geoip rule needs a GeoIP database (`geoip: { path }`)".into()
        }
    );
    let options: RouteOptions = serde_yaml::from_str("rules: []\nfinal: ''").unwrap();
    assert_eq!(
        Router::new(&options, &Resources::default())
            .unwrap_err()
            .to_string(),
        "final: the final outbound is empty"
    );
}

#[test]
fn heap_bytes_grow_with_the_rules() {
    let small = router("  - DOMAIN,a.com,x");
    let large = router(&format!(
        "  - {{ domain_suffix: [{}], outbound: x }}",
        (0..1000)
            .map(|i| format!("d{i}.com"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    assert!(small.heap_bytes() > 0);
    assert!(large.heap_bytes() > small.heap_bytes() + 1000 * 5);
}
