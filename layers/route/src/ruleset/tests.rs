//! Rule-set files: every format and behaviour, errors with file and line, and use in rules.

use super::*;
use crate::{Facts, Resources, RouteOptions, Router};
use std::{collections::HashMap, net::IpAddr};
use xypro_core::{Address, Network, ResolveError};

fn parse(text: &str, format: RuleSetFormat, behavior: Option<Behavior>) -> Result<RuleSet, String> {
    RuleSet::parse(text, format, behavior, Path::new("rules/set")).map_err(|e| e.to_string())
}

/// Routes `destination` through one `RULE-SET,set,hit[,no-resolve]` rule; the resolver
/// answers 10.1.1.1 for every name and counts its calls.
async fn hits(set: RuleSet, rule: &str, destination: &str) -> (bool, usize) {
    let resources = Resources {
        rule_sets: HashMap::from([("set".to_owned(), Arc::new(set))]),
        geoip: None,
    };
    let options: RouteOptions =
        serde_yaml::from_str(&format!("rules: ['{rule}']\nfinal: miss")).unwrap();
    let router = Router::new(&options, &resources).unwrap();
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let resolve = |_: &str| {
        calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        async { Ok::<_, ResolveError>(vec!["10.1.1.1".parse::<IpAddr>().unwrap()]) }
    };
    let destination: Address = destination.parse().unwrap();
    let mut facts = Facts::new(&destination, Network::Tcp);
    facts.source = Some("192.168.7.7:4000".parse().unwrap());
    let decision = router.decide(&facts, &resolve).await;
    (decision.outbound == "hit", calls.into_inner())
}

const SOURCE: &str = r#"{
  "version": 2,
  "rules": [
    { "domain_suffix": ["example.com", ".example.org"], "domain": "exact.net" },
    { "ip_cidr": ["10.0.0.0/8"] },
    { "domain_keyword": "tracker", "port": 443 },
    { "type": "logical", "mode": "and", "rules": [{ "network": "udp" }, { "port": 53 }] }
  ]
}"#;

#[tokio::test]
async fn sing_box_source_sets_match_any_rule() {
    let set = || parse(SOURCE, RuleSetFormat::Source, None).unwrap();
    assert_eq!(
        hits(set(), "RULE-SET,set,hit", "a.example.com:80").await,
        (true, 0)
    );
    assert_eq!(
        hits(set(), "RULE-SET,set,hit", "exact.net:80").await,
        (true, 0)
    );
    assert_eq!(
        hits(set(), "RULE-SET,set,hit", "tracker.io:443").await,
        (true, 0)
    );
    assert_eq!(
        hits(set(), "RULE-SET,set,hit", "10.2.3.4:80").await,
        (true, 0)
    );
    assert_eq!(
        hits(set(), "RULE-SET,set,hit", "example.org:80").await,
        (true, 1),
        "resolves to 10.1.1.1"
    );
    assert_eq!(
        hits(set(), "RULE-SET,set,hit,no-resolve", "example.org:80").await,
        (false, 0)
    );
    assert_eq!(
        hits(set(), "RULE-SET,set,hit,no-resolve", "tracker.io:80").await,
        (false, 0)
    );
    assert!(set().heap_bytes() > 0);
}

#[test]
fn source_errors_name_the_line() {
    let cases = [
        (
            "{\"version\": 1,\n \"rules\": [\n {\"ip_cidr\": [\"10.0.0.0/40\"]}]}",
            "rules/set:3: `10.0.0.0/40` has a prefix length over 32",
        ),
        (
            "{\n\"version\": 4, \"rules\": []}",
            "rules/set:2: unsupported version 4 (expected 1 to 3)",
        ),
        (
            "{\"version\": 1, \"rules\": [\n{\"outbound\": \"x\", \"port\": 1}]}",
            "rules/set:2: unknown field `outbound`",
        ),
        (
            "{\"version\": 1, \"rules\": [\n{\"rule_set\": \"x\"}]}",
            "rules/set:2: unknown field `rule_set`",
        ),
        (
            "{\"version\": 1, \"rules\": [{\"domain\": 1}\n,]}",
            "rules/set:2: ",
        ),
        (
            "{\"version\": 1, \"rulez\": []}",
            "rules/set:1: unknown field `rulez`",
        ),
    ];
    for (text, expected) in cases {
        let err = parse(text, RuleSetFormat::Source, None).unwrap_err();
        assert!(err.starts_with(expected), "{text}: {err}");
    }
    let err = parse(SOURCE, RuleSetFormat::Source, Some(Behavior::Domain)).unwrap_err();
    assert_eq!(
        err,
        "rules/set: `behavior` is for Clash text and yaml files"
    );
}

const DOMAINS: &str = "# ads\n+.ads.example\n.sub.example\n*.one.example\nplain.example\n\n";

#[tokio::test]
async fn clash_domain_sets_read_every_pattern() {
    for (text, format) in [
        (DOMAINS.to_owned(), RuleSetFormat::Text),
        (
            "payload:\n  - '+.ads.example'\n  - .sub.example\n  - \"*.one.example\"\n  - plain.example\n".to_owned(),
            RuleSetFormat::Yaml,
        ),
    ] {
        let set = || parse(&text, format, Some(Behavior::Domain)).unwrap();
        for (host, expected) in [
            ("ads.example", true),
            ("x.y.ads.example", true),
            ("sub.example", false),
            ("a.sub.example", true),
            ("one.example", false),
            ("a.one.example", true),
            ("a.b.one.example", false),
            ("plain.example", true),
            ("www.plain.example", false),
        ] {
            let found = hits(set(), "RULE-SET,set,hit", &format!("{host}:443")).await;
            assert_eq!(found, (expected, 0), "{format:?} {host}");
        }
    }
}

#[tokio::test]
async fn clash_ipcidr_and_classical_sets() {
    let ips = "payload:\n  - 10.0.0.0/8\n  - '2001:db8::/32'\n";
    let set = || parse(ips, RuleSetFormat::Yaml, Some(Behavior::Ipcidr)).unwrap();
    assert_eq!(
        hits(set(), "RULE-SET,set,hit", "[2001:db8::1]:1").await,
        (true, 0)
    );
    assert_eq!(
        hits(set(), "RULE-SET,set,hit", "11.0.0.1:1").await,
        (false, 0)
    );
    assert_eq!(
        hits(set(), "RULE-SET,set,hit", "name.example:1").await,
        (true, 1)
    );
    assert_eq!(
        hits(set(), "RULE-SET,set,hit,no-resolve", "name.example:1").await,
        (false, 0)
    );

    let classical =
        "DOMAIN-SUFFIX,a.example\nAND,((NETWORK,tcp),(DST-PORT,22))\nSRC-IP-CIDR,192.168.7.0/24\n";
    let set = || parse(classical, RuleSetFormat::Text, Some(Behavior::Classical)).unwrap();
    assert_eq!(
        hits(set(), "RULE-SET,set,hit", "www.a.example:1").await,
        (true, 0)
    );
    assert_eq!(
        hits(set(), "RULE-SET,set,hit", "b.example:22").await,
        (true, 0)
    );
    let other = "DOMAIN,a.example\n";
    let set = parse(other, RuleSetFormat::Text, Some(Behavior::Classical)).unwrap();
    assert_eq!(
        hits(set, "RULE-SET,set,hit", "b.example:22").await,
        (false, 0)
    );
}

#[test]
fn clash_errors_name_the_line() {
    let cases = [
        (
            "a.example\n\n# c\nbad domain\n",
            RuleSetFormat::Text,
            Behavior::Domain,
            "rules/set:4: `bad domain` is not a domain",
        ),
        (
            "a.example\nx.*.example\n",
            RuleSetFormat::Text,
            Behavior::Domain,
            "rules/set:2: `x.*.example` is not a domain",
        ),
        (
            "+.\n",
            RuleSetFormat::Text,
            Behavior::Domain,
            "rules/set:1: `+.` is not a domain",
        ),
        (
            "10.0.0.0/8\n10.0.0.0/99\n",
            RuleSetFormat::Text,
            Behavior::Ipcidr,
            "rules/set:2: `10.0.0.0/99` has a prefix",
        ),
        (
            "payload:\n  - 10.0.0.0/8\n  # no\n  - nope\n",
            RuleSetFormat::Yaml,
            Behavior::Ipcidr,
            "rules/set:4: `nope` is not an IP",
        ),
        (
            "payload:\n  - [1]\n",
            RuleSetFormat::Yaml,
            Behavior::Ipcidr,
            "rules/set:2: payload[0]: invalid type",
        ),
        (
            "payloads: []\n",
            RuleSetFormat::Yaml,
            Behavior::Ipcidr,
            "rules/set:1: unknown field `payloads`",
        ),
        (
            "DOMAIN,a.example\nGEOSITE,cn\n",
            RuleSetFormat::Text,
            Behavior::Classical,
            "rules/set:2: unsupported rule type `GEOSITE`",
        ),
        (
            "RULE-SET,other\n",
            RuleSetFormat::Text,
            Behavior::Classical,
            "rules/set:1: a rule set cannot refer to another rule set",
        ),
        (
            "DOMAIN,a.example,proxy\n",
            RuleSetFormat::Text,
            Behavior::Classical,
            "rules/set:1: too many fields after DOMAIN",
        ),
    ];
    for (text, format, behavior, expected) in cases {
        let err = parse(text, format, Some(behavior)).unwrap_err();
        assert!(err.starts_with(expected), "{text:?}: {err}");
    }
    let err = parse("a.example", RuleSetFormat::Text, None).unwrap_err();
    assert_eq!(
        err,
        "rules/set: a Clash rule set needs `behavior: domain`, `ipcidr` or `classical`"
    );
}

#[test]
fn options_load_files_by_extension_relative_to_a_folder() {
    let dir = std::env::temp_dir().join(format!("xypro-route-sets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("set.json"), SOURCE).unwrap();
    std::fs::write(dir.join("ads.yaml"), "payload: ['+.ads.example']\n").unwrap();
    std::fs::write(dir.join("ips.list"), "10.0.0.0/8\n").unwrap();
    let load = |yaml: &str| {
        serde_yaml::from_str::<RuleSetOptions>(yaml)
            .unwrap()
            .load(&dir)
            .map(drop)
            .map_err(|e| e.to_string())
    };
    assert_eq!(load("{ path: set.json }"), Ok(()));
    assert_eq!(load("{ path: ads.yaml, behavior: domain }"), Ok(()));
    assert_eq!(load("{ path: ips.list, behavior: ipcidr }"), Ok(()));
    assert_eq!(
        load("{ path: ips.list, format: text, behavior: ipcidr }"),
        Ok(())
    );
    let err = load("{ path: set.json, format: yaml, behavior: domain }").unwrap_err();
    assert!(err.contains("set.json:2: unknown field `version`"), "{err}");
    let err = load("{ path: gone.json }").unwrap_err();
    assert_eq!(
        err,
        format!("cannot read rule set {}", dir.join("gone.json").display())
    );
    let unknown = serde_yaml::from_str::<RuleSetOptions>("{ path: a, url: b }").unwrap_err();
    assert!(
        unknown.to_string().contains("unknown field `url`"),
        "{unknown}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
