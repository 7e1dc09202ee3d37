//! Parsing: map rules, Clash strings, their errors and labels.

use crate::{
    Cidr, Condition, ConfigError, Fields, Logical, Mode, PortRange, Protocol, RouteOptions, Rule,
    parse_clash_rule,
};
use proptest::prelude::*;
use xypro_core::Network;

fn fields(rule: &Rule) -> &Fields {
    match &rule.condition {
        Condition::Fields(fields) => fields,
        other => panic!("not a fields rule: {other:?}"),
    }
}

fn cidr(text: &str) -> Cidr {
    Cidr::parse(text).unwrap()
}

fn options(yaml: &str) -> Result<RouteOptions, String> {
    serde_yaml::from_str(yaml).map_err(|e| e.to_string())
}

fn rule(yaml: &str) -> Rule {
    let options = options(&format!("rules: [{yaml}]\nfinal: f")).unwrap();
    options.rules.into_iter().next().unwrap()
}

fn rule_error(yaml: &str) -> String {
    options(&format!(
        "rules:\n  - {{ domain: a.com, outbound: x }}\n  - {yaml}\nfinal: f"
    ))
    .unwrap_err()
}

#[test]
fn map_rules_read_every_field_as_one_value_or_a_list() {
    let rule = rule(
        "{ inbound: socks, network: [tcp, UDP], user: alice, auth_user: [bob], protocol: TLS,
           domain: a.com, domain_suffix: [.b.com, c.com], domain_keyword: goo,
           domain_regex: '^x', ip_cidr: [10.0.0.0/8, '::1'], ip_is_private: true,
           geoip: [CN, us], rule_set: ads, source_ip_cidr: 192.168.0.0/16, port: [80, '443'],
           port_range: ['1000:2000', ':10'], source_port: 5, source_port_range: '6000:',
           invert: true, no_resolve: true, outbound: proxy }",
    );
    let expected = Fields {
        inbound: vec!["socks".into()],
        network: vec![Network::Tcp, Network::Udp],
        user: vec!["alice".into(), "bob".into()],
        protocol: vec![Protocol::Tls],
        domain: vec!["a.com".into()],
        domain_suffix: vec![".b.com".into(), "c.com".into()],
        domain_keyword: vec!["goo".into()],
        domain_regex: vec!["^x".into()],
        domain_wildcard: vec![],
        ip_cidr: vec![cidr("10.0.0.0/8"), cidr("::1/128")],
        ip_is_private: true,
        geoip: vec!["cn".into(), "us".into()],
        rule_set: vec!["ads".into()],
        source_ip_cidr: vec![cidr("192.168.0.0/16")],
        port: vec![
            PortRange::single(80),
            PortRange::single(443),
            PortRange {
                start: 1000,
                end: 2000,
            },
            PortRange { start: 0, end: 10 },
        ],
        source_port: vec![
            PortRange::single(5),
            PortRange {
                start: 6000,
                end: 65535,
            },
        ],
        invert: true,
        no_resolve: true,
    };
    assert_eq!(fields(&rule), &expected);
    assert_eq!(rule.outbound, "proxy");
    assert_eq!(rule.label.kind, "Rule");
    assert!(
        rule.label
            .payload
            .starts_with("!InName=[socks] Network=[tcp udp]"),
        "{}",
        rule.label.payload
    );
}

#[test]
fn logical_map_rules_long_and_short() {
    let long =
        rule("{ type: logical, mode: or, rules: [{ network: udp }, { port: 53 }], outbound: x }");
    let short = rule("{ or: [{ network: udp }, { port: 53 }], outbound: x }");
    assert_eq!(long.condition, short.condition);
    assert_eq!(
        (long.label.kind, long.label.payload.as_str()),
        ("OR", "((Network,udp),(DstPort,53))")
    );
    let not = rule("{ and: [{ domain: a.com }], invert: true, no_resolve: true, outbound: x }");
    assert_eq!(
        not.condition,
        Condition::Logical(Logical {
            mode: Mode::And,
            rules: vec![Condition::Fields(Box::new(Fields {
                domain: vec!["a.com".into()],
                ..Fields::default()
            }))],
            invert: true,
            no_resolve: true,
        })
    );
    assert_eq!(not.label.kind, "NOT");
}

#[test]
fn map_rule_errors_name_the_index_and_the_problem() {
    let cases = [
        (
            "{ domian: a.com, outbound: x }",
            "rules[1]: unknown field `domian`",
        ),
        ("{ domain: a.com }", "rules[1]: missing field `outbound`"),
        (
            "{ domain: a.com, outbound: '' }",
            "rules[1]: `outbound` is empty",
        ),
        ("{ outbound: x }", "rules[1]: the rule has no condition"),
        (
            "{ ip_cidr: 10.0.0.0/33, outbound: x }",
            "prefix length over 32",
        ),
        (
            "{ ip_cidr: [nope], outbound: x }",
            "`nope` is not an IP address or CIDR",
        ),
        (
            "{ port: 70000, outbound: x }",
            "`70000` is not a port number",
        ),
        (
            "{ port_range: '2000:1000', outbound: x }",
            "`2000:1000` starts after it ends",
        ),
        (
            "{ port_range: '1000', outbound: x }",
            "not a port range like 1000:2000",
        ),
        ("{ network: icmp, outbound: x }", "unknown network `icmp`"),
        ("{ protocol: ssh, outbound: x }", "unknown protocol `ssh`"),
        ("{ domain_regex: '(', outbound: x }", "bad regex `(`"),
        (
            "{ geoip: 'c n', outbound: x }",
            "`c n` is not a country code",
        ),
        ("{ domain: '', outbound: x }", "`` is not a domain name"),
        (
            "{ domain_suffix: [a.com, 'b .com'], outbound: x }",
            "`b .com` is not a domain name",
        ),
        (
            "{ domain_suffix: '..a.com', outbound: x }",
            "`..a.com` is not a domain name",
        ),
        ("{ inbound: '', outbound: x }", "empty value"),
        (
            "{ domain: a.com, domain: b.com, outbound: x }",
            "duplicate field `domain`",
        ),
        (
            "{ type: logical, rules: [{ port: 1 }], outbound: x }",
            "needs `mode: and` or `mode: or`",
        ),
        (
            "{ type: logical, mode: and, outbound: x }",
            "a logical rule needs `rules`",
        ),
        (
            "{ mode: and, rules: [{ port: 1 }], outbound: x }",
            "need `type: logical`",
        ),
        (
            "{ type: logical, mode: xor, rules: [], outbound: x }",
            "unknown mode `xor`",
        ),
        (
            "{ type: logical, mode: and, rules: [], outbound: x }",
            "at least one rule",
        ),
        (
            "{ and: [{ port: 1 }], or: [{ port: 2 }], outbound: x }",
            "not both",
        ),
        (
            "{ and: [{ port: 1 }], port: 2, outbound: x }",
            "takes no match fields",
        ),
        (
            "{ type: fancy, port: 2, outbound: x }",
            "unknown rule type `fancy`",
        ),
        (
            "{ and: [{ port: 1, outbound: y }], outbound: x }",
            "rules[1].and[0]: unknown field `outbound`",
        ),
        (
            "'DOMAIN-SUFFIX,a.com'",
            "rules[1]: DOMAIN-SUFFIX,a.com has no outbound",
        ),
        ("7", "rules[1]: invalid type: integer `7`, expected a rule"),
    ];
    for (yaml, expected) in cases {
        let err = rule_error(yaml);
        assert!(err.contains(expected), "{yaml}: {err}");
        assert!(err.contains("rules[1]"), "{yaml}: {err}");
    }
    assert!(
        options("rules: []\nfinal: f\nextra: 1")
            .unwrap_err()
            .contains("unknown field `extra`")
    );
    assert!(
        options("rules: []")
            .unwrap_err()
            .contains("missing field `final`")
    );
}

#[test]
fn validate_lists_the_outbounds_once_final_last() {
    let options = options(
        "rules: ['DOMAIN,a.com,x', 'MATCH,f', { port: 1, outbound: y }, 'NETWORK,udp,x']\nfinal: f",
    )
    .unwrap();
    assert_eq!(options.outbound_names().unwrap(), ["x", "y", "f"]);
    let empty = RouteOptions {
        rules: vec![Rule {
            outbound: " ".into(),
            ..parse_clash_rule("MATCH,x").unwrap()
        }],
        final_outbound: "f".into(),
    };
    assert_eq!(
        empty.outbound_names().unwrap_err(),
        ConfigError::Rule {
            index: 0,
            message: "the outbound is empty".into()
        }
    );
}

#[test]
fn clash_rules_parse_into_fields_and_labels() {
    let cases: [(&str, &str, &str, Fields); 8] = [
        (
            "DOMAIN,a.com,p",
            "Domain",
            "a.com",
            Fields {
                domain: vec!["a.com".into()],
                ..Fields::default()
            },
        ),
        (
            " domain-suffix , a.com , p ",
            "DomainSuffix",
            "a.com",
            Fields {
                domain_suffix: vec!["a.com".into()],
                ..Fields::default()
            },
        ),
        (
            r"DOMAIN-REGEX,^a{1,3}\.com$,p",
            "DomainRegex",
            r"^a{1,3}\.com$",
            Fields {
                domain_regex: vec![r"^a{1,3}\.com$".into()],
                ..Fields::default()
            },
        ),
        (
            "IP-CIDR6,2001:db8::/32,p,no-resolve",
            "IPCIDR",
            "2001:db8::/32",
            Fields {
                ip_cidr: vec![cidr("2001:db8::/32")],
                no_resolve: true,
                ..Fields::default()
            },
        ),
        (
            "GEOIP,CN,p",
            "GeoIP",
            "CN",
            Fields {
                geoip: vec!["cn".into()],
                ..Fields::default()
            },
        ),
        (
            "GEOIP,lan,p,no-resolve",
            "GeoIP",
            "lan",
            Fields {
                ip_is_private: true,
                no_resolve: true,
                ..Fields::default()
            },
        ),
        (
            "DST-PORT,80/8000-9000,p",
            "DstPort",
            "80/8000-9000",
            Fields {
                port: vec![
                    PortRange::single(80),
                    PortRange {
                        start: 8000,
                        end: 9000,
                    },
                ],
                ..Fields::default()
            },
        ),
        (
            "RULE-SET,ads,p,no-resolve",
            "RuleSet",
            "ads",
            Fields {
                rule_set: vec!["ads".into()],
                no_resolve: true,
                ..Fields::default()
            },
        ),
    ];
    for (line, kind, payload, expected) in cases {
        let rule = parse_clash_rule(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(fields(&rule), &expected, "{line}");
        assert_eq!(
            (
                rule.label.kind,
                rule.label.payload.as_str(),
                rule.outbound.as_str()
            ),
            (kind, payload, "p")
        );
    }
    let rule =
        parse_clash_rule("AND,((DOMAIN,a.com),(OR,((NETWORK,udp),(NOT,((DST-PORT,53)))))),p")
            .unwrap();
    assert_eq!(
        rule.label.payload,
        "((DOMAIN,a.com),(OR,((NETWORK,udp),(NOT,((DST-PORT,53))))))"
    );
    let Condition::Logical(and) = &rule.condition else {
        panic!("{rule:?}")
    };
    assert_eq!(
        (and.mode, and.rules.len(), and.invert),
        (Mode::And, 2, false)
    );
    let Condition::Logical(or) = &and.rules[1] else {
        panic!("{and:?}")
    };
    let Condition::Logical(not) = &or.rules[1] else {
        panic!("{or:?}")
    };
    assert_eq!(
        (not.mode, not.invert, not.rules.len()),
        (Mode::And, true, 1)
    );
}

#[test]
fn clash_errors_say_what_is_wrong() {
    let cases = [
        ("", "empty rule"),
        ("MATCH", "MATCH needs an outbound"),
        ("MATCH,", "the outbound is empty"),
        ("GEOSITE,cn,p", "unsupported rule type `GEOSITE`"),
        ("DOMAIN,a.com", "DOMAIN,a.com has no outbound"),
        ("DOMAIN,,p", "DOMAIN needs a payload"),
        ("DOMAIN-SUFFIX,a b.com,p", "`a b.com` is not a domain name"),
        ("DOMAIN,a.com,p,q", "too many fields after DOMAIN"),
        (
            "DOMAIN,a.com,p,no-resolve",
            "`no-resolve` does not apply to DOMAIN",
        ),
        ("GEOIP,cn,p,src", "`src` does not apply to GEOIP"),
        ("IP-CIDR,1.2.3.4/40,p", "prefix length over 32"),
        ("DST-PORT,80/x,p", "`x` is not a port"),
        ("NETWORK,sctp,p", "unknown network `sctp`"),
        ("IN-NAME,a//b,p", "empty name"),
        ("DOMAIN-REGEX,(,p", "bad regex"),
        (
            "AND,(DOMAIN,a.com),p",
            "AND expects each rule in parentheses",
        ),
        ("AND,DOMAIN,p", "AND needs its rules in parentheses"),
        ("AND,((DOMAIN,a.com),p", "unbalanced parentheses"),
        ("AND,((DOMAIN,a.com))", "AND needs an outbound"),
        (
            "OR,((DOMAIN,a.com) (DOMAIN,b.com)),p",
            "expected `,` between the rules of OR",
        ),
        (
            "NOT,((DOMAIN,a.com),(DOMAIN,b.com)),p",
            "NOT takes exactly one rule",
        ),
        ("AND,((MATCH)),p", "MATCH stands only at the top"),
        (
            "AND,((DOMAIN,a.com)x),p",
            "expected `,` between the rules of AND",
        ),
        ("AND,((DOMAIN,a.com)),p,q", "unexpected fields after `p,q`"),
        ("AND,((DOMAIN,a.com,p)),p", "too many fields after DOMAIN"),
        (
            "AND,((AND,((DOMAIN,a.com))x)),p",
            "unexpected `x` after the rules of AND",
        ),
        ("justtext", "is not a rule"),
    ];
    for (line, expected) in cases {
        let err = parse_clash_rule(line).unwrap_err().to_string();
        assert!(err.contains(expected), "{line}: {err}");
    }
    let nest = |levels: usize| {
        let rule = format!(
            "{}DOMAIN,a.com{},p",
            "AND,((".repeat(levels),
            "))".repeat(levels)
        );
        parse_clash_rule(&rule)
    };
    assert!(nest(32).is_ok());
    let deep = "x";
    let err = nest(40).unwrap_err().to_string();
    assert!(
        err.contains("nest deeper than 32") && !deep.is_empty(),
        "{err}"
    );
}

proptest! {
    #[test]
    fn any_text_parses_or_errs_without_panicking(line in "\\PC{0,80}") {
        let _ = parse_clash_rule(&line);
    }

    #[test]
    fn rule_like_text_parses_or_errs_without_panicking(
        line in "(AND|OR|NOT|DOMAIN|IP-CIDR|DST-PORT|MATCH)?[,()a-z0-9./:-]{0,40}"
    ) {
        let _ = parse_clash_rule(&line);
    }

    #[test]
    fn generated_nested_rules_parse(depth in 1usize..6, width in 1usize..4, port in 1u16..) {
        let mut rule = format!("DST-PORT,{port}");
        for level in 0..depth {
            let items = vec![format!("({rule})"); width].join(",");
            let kind = ["AND", "OR"][level % 2];
            rule = format!("{kind},({items})");
        }
        let parsed = parse_clash_rule(&format!("{rule},out")).unwrap();
        prop_assert_eq!(parsed.outbound, "out");
        prop_assert_eq!(parsed.label.kind, ["AND", "OR"][(depth - 1) % 2]);
    }
}
