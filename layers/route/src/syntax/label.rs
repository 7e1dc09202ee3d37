//! Clash-style labels of map rules, for the connection list.

use crate::rule::{Condition, Fields, Label, Mode};
use std::fmt::Write;

/// The most a label's payload holds; longer payloads end in `…`.
const MAX_PAYLOAD: usize = 256;

/// The label of a condition: the Clash type and values of a one-field rule, else a summary.
pub(crate) fn label_of(condition: &Condition) -> Label {
    match condition {
        Condition::Fields(fields) => {
            let items = items(fields);
            match items.as_slice() {
                [(kind, values)] if !fields.invert => Label::new(kind, truncate(values.join(","))),
                _ => Label::new("Rule", truncate(summary(fields.invert, &items))),
            }
        }
        Condition::Logical(logical) => {
            let kind = match (logical.mode, logical.invert) {
                (Mode::And, true) if logical.rules.len() == 1 => "NOT",
                (Mode::And, _) => "AND",
                (Mode::Or, _) => "OR",
            };
            let mut payload = String::from("(");
            for (i, rule) in logical.rules.iter().enumerate() {
                let inner = label_of(rule);
                let comma = if i == 0 { "" } else { "," };
                let _ = write!(payload, "{comma}({},{})", inner.kind, inner.payload);
                if payload.len() > MAX_PAYLOAD {
                    break;
                }
            }
            payload.push(')');
            Label::new(kind, truncate(payload))
        }
    }
}

/// Each non-empty field as its Clash type and values.
fn items(fields: &Fields) -> Vec<(&'static str, Vec<String>)> {
    fn text<T: ToString>(values: &[T]) -> Vec<String> {
        values.iter().map(T::to_string).collect()
    }
    let ranges = |ranges: &[crate::rule::PortRange]| {
        ranges
            .iter()
            .map(|r| match r.start == r.end {
                true => r.start.to_string(),
                false => format!("{}-{}", r.start, r.end),
            })
            .collect::<Vec<_>>()
    };
    let cidrs = |cidrs: &[crate::rule::Cidr]| {
        cidrs
            .iter()
            .map(|c| format!("{}/{}", c.addr, c.prefix))
            .collect::<Vec<_>>()
    };
    let mut items = vec![
        ("InName", text(&fields.inbound)),
        (
            "Network",
            fields
                .network
                .iter()
                .map(|n| n.as_str().to_owned())
                .collect(),
        ),
        ("InUser", text(&fields.user)),
        (
            "Protocol",
            fields.protocol.iter().map(|p| p.as_str().into()).collect(),
        ),
        ("Domain", text(&fields.domain)),
        ("DomainSuffix", text(&fields.domain_suffix)),
        ("DomainKeyword", text(&fields.domain_keyword)),
        ("DomainRegex", text(&fields.domain_regex)),
        ("DomainWildcard", text(&fields.domain_wildcard)),
        ("IPCIDR", cidrs(&fields.ip_cidr)),
        ("GeoIP", text(&fields.geoip)),
        ("RuleSet", text(&fields.rule_set)),
        ("SrcIPCIDR", cidrs(&fields.source_ip_cidr)),
        ("DstPort", ranges(&fields.port)),
        ("SrcPort", ranges(&fields.source_port)),
    ];
    if fields.ip_is_private {
        items.push(("GeoIP", vec!["lan".into()]));
    }
    items.retain(|(_, values)| !values.is_empty());
    items
}

/// `!` for an inverted rule, then `Kind=[a b]` for each field.
fn summary(invert: bool, items: &[(&'static str, Vec<String>)]) -> String {
    let mut out = String::from(if invert { "!" } else { "" });
    for (i, (kind, values)) in items.iter().enumerate() {
        let space = if i == 0 { "" } else { " " };
        let _ = write!(out, "{space}{kind}=[{}]", values.join(" "));
        if out.len() > MAX_PAYLOAD {
            break;
        }
    }
    out
}

/// Cuts a payload to [`MAX_PAYLOAD`] bytes on a character boundary.
fn truncate(mut payload: String) -> String {
    if payload.len() > MAX_PAYLOAD {
        let mut end = MAX_PAYLOAD;
        while !payload.is_char_boundary(end) {
            end -= 1;
        }
        payload.truncate(end);
        payload.push('…');
    }
    payload
}
