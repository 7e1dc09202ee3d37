//! Criterion benchmark of routing decisions against 100,000 domain suffixes and 100,000 CIDRs
//! in rule sets: `cargo bench -p xypro-route`. Prints the sets' estimated heap bytes first.

#![allow(missing_docs)] // criterion_group! generates an undocumented public function.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::{
    collections::HashMap,
    hint::black_box,
    net::{IpAddr, Ipv4Addr},
    path::Path,
    pin::pin,
    sync::Arc,
    task::{Context, Poll, Waker},
    time::Instant,
};
use xypro_core::{Address, Network, ResolveError};
use xypro_route::{
    Behavior, Facts, Resolve, Resources, RouteOptions, Router, RuleSet, RuleSetFormat,
};

const ENTRIES: u32 = 100_000;

/// A deterministic spread of numbers (a multiplicative hash).
fn spread(i: u32) -> u32 {
    i.wrapping_mul(2_654_435_761)
}

fn suffix(i: u32) -> String {
    format!("s{:x}.cdn{}.net", spread(i), i % 97)
}

fn network(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(spread(i) & 0xffff_ff00)
}

fn rule_sets() -> Resources {
    let started = Instant::now();
    let domains: String = (0..ENTRIES).map(|i| format!("+.{}\n", suffix(i))).collect();
    let domains = RuleSet::parse(
        &domains,
        RuleSetFormat::Text,
        Some(Behavior::Domain),
        Path::new("domains"),
    )
    .unwrap();
    let cidrs: String = (0..ENTRIES)
        .map(|i| format!("{}/24\n", network(i)))
        .collect();
    let cidrs = RuleSet::parse(
        &cidrs,
        RuleSetFormat::Text,
        Some(Behavior::Ipcidr),
        Path::new("cidrs"),
    )
    .unwrap();
    println!(
        "parsed and compiled {ENTRIES} suffixes and {ENTRIES} CIDRs in {:?}; heap: suffix set {} KiB, CIDR set {} KiB",
        started.elapsed(),
        domains.heap_bytes() / 1024,
        cidrs.heap_bytes() / 1024,
    );
    Resources {
        rule_sets: HashMap::from([
            ("domains".to_owned(), Arc::new(domains)),
            ("cidrs".to_owned(), Arc::new(cidrs)),
        ]),
        geoip: None,
    }
}

fn router(resources: &Resources, no_resolve: &str) -> Router {
    let yaml = format!(
        "rules:\n  - DOMAIN-KEYWORD,tracker,block\n  - RULE-SET,domains,proxy\n  - RULE-SET,cidrs,direct{no_resolve}\nfinal: default"
    );
    let options: RouteOptions = serde_yaml::from_str(&yaml).unwrap();
    Router::new(&options, resources).unwrap()
}

/// Answers at once with an address inside the CIDR set.
struct Ready;

impl Resolve for Ready {
    fn resolve(&self, _: &str) -> impl Future<Output = Result<Vec<IpAddr>, ResolveError>> + Send {
        std::future::ready(Ok(vec![IpAddr::V4(Ipv4Addr::from(
            u32::from(network(7)) | 9,
        ))]))
    }
}

/// Runs a decision whose resolver is ready at once, so one poll completes it.
fn decide<'a>(router: &'a Router, facts: &Facts<'_>) -> &'a str {
    let mut future = pin!(router.decide(facts, &Ready));
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(decision) => decision.outbound,
        Poll::Pending => unreachable!("the resolver is always ready"),
    }
}

fn decisions(c: &mut Criterion) {
    let resources = rule_sets();
    let lazy = router(&resources, "");
    let no_resolve = router(&resources, ",no-resolve");
    println!(
        "heap: router rules {} B (rule sets shared)",
        lazy.heap_bytes()
    );
    let ip =
        |i: u32| Address::Ip((IpAddr::V4(Ipv4Addr::from(u32::from(network(i)) | 77)), 443).into());
    let cases = [
        (
            "domain suffix hit",
            &lazy,
            format!("a.b.{}:443", suffix(4242)).parse().unwrap(),
            "proxy",
        ),
        ("ip cidr hit", &lazy, ip(31337), "direct"),
        (
            "ip miss",
            &lazy,
            "203.0.113.1:443".parse().unwrap(),
            "default",
        ),
        (
            "domain miss, resolved, cidr hit",
            &lazy,
            "www.unlisted.org:443".parse().unwrap(),
            "direct",
        ),
        (
            "domain miss, no-resolve",
            &no_resolve,
            "www.unlisted.org:443".parse().unwrap(),
            "default",
        ),
    ];
    let mut group = c.benchmark_group("route decision (100k suffixes + 100k cidrs)");
    for (name, router, destination, expected) in &cases {
        let facts = Facts::new(destination, Network::Tcp);
        assert_eq!(decide(router, &facts), *expected, "{name}");
        group.bench_with_input(BenchmarkId::from_parameter(name), &facts, |b, facts| {
            b.iter(|| decide(router, black_box(facts)))
        });
    }
    group.finish();
}

criterion_group!(benches, decisions);
criterion_main!(benches);
