//! Clash one-line rules: `TYPE,payload,outbound[,no-resolve]`, `AND,((A),(B)),outbound`,
//! `NOT,((A)),outbound` and `MATCH,outbound`.

use super::value::{check_domain, check_regex, parse_country, parse_network};
use crate::{
    ClashError,
    rule::{Cidr, Condition, Fields, Label, Logical, Mode, PortRange, Rule},
};

/// How deep AND, OR and NOT may nest.
const MAX_DEPTH: usize = 32;

/// Parses a Clash rule line with its outbound, such as `DOMAIN-SUFFIX,example.com,proxy`.
///
/// ```
/// let rule = xypro_route::parse_clash_rule("AND,((NETWORK,udp),(DST-PORT,443)),block").unwrap();
/// assert_eq!((rule.outbound.as_str(), rule.label.kind), ("block", "AND"));
/// assert!(xypro_route::parse_clash_rule("DOMAIN-SUFFIX,example.com").is_err());
/// ```
pub fn parse_clash_rule(line: &str) -> Result<Rule, ClashError> {
    let (kind, rest) = split_kind(line.trim())?;
    match kind.as_str() {
        "MATCH" => Ok(Rule {
            condition: Condition::Fields(Box::default()),
            outbound: outbound(rest)?,
            label: Label::new("Match", ""),
        }),
        "AND" | "OR" | "NOT" => {
            let (group, after) = take_group(&kind, rest)?;
            let after = after.trim_start();
            let target = after
                .strip_prefix(',')
                .ok_or_else(|| ClashError(format!("{kind} needs an outbound after its rules")))?;
            let (condition, label) = logical(&kind, group, 0)?;
            Ok(Rule {
                condition,
                outbound: outbound(target)?,
                label,
            })
        }
        _ => {
            let (condition, label, target) = leaf(&kind, rest, true)?;
            Ok(Rule {
                condition,
                outbound: target.unwrap_or_default(),
                label,
            })
        }
    }
}

/// Parses a Clash rule without an outbound, as inside AND/OR/NOT or in a classical rule set.
pub(crate) fn parse_condition(text: &str) -> Result<(Condition, Label), ClashError> {
    parse_inner(text.trim(), 0)
}

fn parse_inner(text: &str, depth: usize) -> Result<(Condition, Label), ClashError> {
    if depth > MAX_DEPTH {
        return Err(ClashError(format!(
            "rules nest deeper than {MAX_DEPTH} levels"
        )));
    }
    let first = text.split(',').next().unwrap_or_default();
    if first.trim().eq_ignore_ascii_case("MATCH") {
        return Err(ClashError(
            "MATCH stands only at the top of a rule list".into(),
        ));
    }
    let (kind, rest) = split_kind(text)?;
    match kind.as_str() {
        "AND" | "OR" | "NOT" => {
            let (group, after) = take_group(&kind, rest)?;
            if !after.trim().is_empty() {
                return Err(ClashError(format!(
                    "unexpected `{}` after the rules of {kind}",
                    after.trim()
                )));
            }
            logical(&kind, group, depth)
        }
        _ => leaf(&kind, rest, false).map(|(condition, label, _)| (condition, label)),
    }
}

/// Splits `TYPE,rest` and upper-cases the type.
fn split_kind(text: &str) -> Result<(String, &str), ClashError> {
    match text.split_once(',') {
        Some((kind, rest)) => Ok((kind.trim().to_ascii_uppercase(), rest)),
        None if text.eq_ignore_ascii_case("MATCH") => {
            Err(ClashError("MATCH needs an outbound: MATCH,outbound".into()))
        }
        None if text.is_empty() => Err(ClashError("empty rule".into())),
        None => Err(ClashError(format!(
            "`{text}` is not a rule (expected TYPE,payload,outbound)"
        ))),
    }
}

/// Checks an outbound name: non-empty, no further fields.
fn outbound(text: &str) -> Result<String, ClashError> {
    let name = text.trim();
    if name.is_empty() {
        return Err(ClashError("the outbound is empty".into()));
    }
    if name.contains(',') {
        return Err(ClashError(format!("unexpected fields after `{name}`")));
    }
    Ok(name.to_owned())
}

/// Splits the parenthesised group at the start of `rest` from what follows it.
fn take_group<'a>(kind: &str, rest: &'a str) -> Result<(&'a str, &'a str), ClashError> {
    let rest = rest.trim_start();
    if !rest.starts_with('(') {
        return Err(ClashError(format!(
            "{kind} needs its rules in parentheses, like {kind},((DOMAIN,a.com),(NETWORK,udp))"
        )));
    }
    let end = closing(rest).ok_or_else(|| ClashError("unbalanced parentheses".into()))?;
    Ok((&rest[..=end], &rest[end + 1..]))
}

/// The index of the parenthesis closing the one at the start of `text`.
fn closing(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Parses `((A),(B),...)` into a logical condition of `kind` (AND, OR or NOT).
fn logical(kind: &str, group: &str, depth: usize) -> Result<(Condition, Label), ClashError> {
    let mut rest = group[1..group.len() - 1].trim();
    let mut rules = Vec::new();
    loop {
        if !rest.starts_with('(') {
            return Err(ClashError(format!(
                "{kind} expects each rule in parentheses, found `{rest}`"
            )));
        }
        let end = closing(rest).ok_or_else(|| ClashError("unbalanced parentheses".into()))?;
        rules.push(parse_inner(rest[1..end].trim(), depth + 1)?.0);
        rest = rest[end + 1..].trim_start();
        if rest.is_empty() {
            break;
        }
        rest = rest
            .strip_prefix(',')
            .ok_or_else(|| ClashError(format!("expected `,` between the rules of {kind}")))?
            .trim_start();
    }
    let (kind, mode, invert) = match kind {
        "AND" => ("AND", Mode::And, false),
        "OR" => ("OR", Mode::Or, false),
        _ if rules.len() == 1 => ("NOT", Mode::And, true),
        _ => return Err(ClashError("NOT takes exactly one rule".into())),
    };
    let condition = Condition::Logical(Logical {
        mode,
        rules,
        invert,
        no_resolve: false,
    });
    Ok((condition, Label::new(kind, group)))
}

/// Parses `payload[,outbound][,no-resolve|src]` of a single-field rule type.
fn leaf(
    kind: &str,
    rest: &str,
    with_outbound: bool,
) -> Result<(Condition, Label, Option<String>), ClashError> {
    let mut parts: Vec<&str> = rest.split(',').map(str::trim).collect();
    let (mut no_resolve, mut src) = (false, false);
    while parts.len() > 1 {
        match parts[parts.len() - 1].to_ascii_lowercase().as_str() {
            "no-resolve" => no_resolve = true,
            "src" => src = true,
            _ => break,
        }
        parts.pop();
    }
    let target = match with_outbound {
        true if parts.len() < 2 => {
            return Err(ClashError(format!("{kind},{} has no outbound", parts[0])));
        }
        true => Some(outbound(parts.pop().unwrap_or_default())?),
        false => None,
    };
    let payload = parts.join(",");
    if parts.len() > 1 && kind != "DOMAIN-REGEX" {
        return Err(ClashError(format!(
            "too many fields after {kind}: `{payload}`"
        )));
    }
    if payload.is_empty() {
        return Err(ClashError(format!("{kind} needs a payload")));
    }
    let resolves = matches!(kind, "IP-CIDR" | "IP-CIDR6" | "GEOIP" | "RULE-SET");
    if no_resolve && !resolves {
        return Err(ClashError(format!("`no-resolve` does not apply to {kind}")));
    }
    if src && !matches!(kind, "IP-CIDR" | "IP-CIDR6") {
        return Err(ClashError(format!("`src` does not apply to {kind}")));
    }
    let mut fields = Fields {
        no_resolve,
        ..Fields::default()
    };
    let label = match kind {
        "DOMAIN" => {
            check_domain(&payload).map_err(ClashError)?;
            push(&mut fields.domain, &payload, "Domain")
        }
        "DOMAIN-SUFFIX" => {
            check_domain(&payload).map_err(ClashError)?;
            push(&mut fields.domain_suffix, &payload, "DomainSuffix")
        }
        "DOMAIN-KEYWORD" => push(&mut fields.domain_keyword, &payload, "DomainKeyword"),
        "DOMAIN-REGEX" => {
            check_regex(&payload).map_err(ClashError)?;
            push(&mut fields.domain_regex, &payload, "DomainRegex")
        }
        "IP-CIDR" | "IP-CIDR6" | "SRC-IP-CIDR" => {
            let cidr = Cidr::parse(&payload).map_err(ClashError)?;
            if src || kind == "SRC-IP-CIDR" {
                fields.source_ip_cidr.push(cidr);
                "SrcIPCIDR"
            } else {
                fields.ip_cidr.push(cidr);
                "IPCIDR"
            }
        }
        "GEOIP" if payload.eq_ignore_ascii_case("lan") => {
            fields.ip_is_private = true;
            "GeoIP"
        }
        "GEOIP" => {
            fields
                .geoip
                .push(parse_country(&payload).map_err(ClashError)?);
            "GeoIP"
        }
        "DST-PORT" => {
            fields.port = port_list(&payload)?;
            "DstPort"
        }
        "SRC-PORT" => {
            fields.source_port = port_list(&payload)?;
            "SrcPort"
        }
        "NETWORK" => {
            fields
                .network
                .push(parse_network(&payload).map_err(ClashError)?);
            "Network"
        }
        "IN-NAME" => {
            fields.inbound = names(&payload)?;
            "InName"
        }
        "IN-USER" => {
            fields.user = names(&payload)?;
            "InUser"
        }
        "RULE-SET" => push(&mut fields.rule_set, &payload, "RuleSet"),
        _ => return Err(ClashError(format!("unsupported rule type `{kind}`"))),
    };
    let condition = Condition::Fields(Box::new(fields));
    Ok((condition, Label::new(label, payload), target))
}

/// Adds the payload to a list and returns the label kind.
fn push(list: &mut Vec<String>, payload: &str, kind: &'static str) -> &'static str {
    list.push(payload.to_owned());
    kind
}

/// Parses `80/443/8000-9000`.
fn port_list(payload: &str) -> Result<Vec<PortRange>, ClashError> {
    payload
        .split('/')
        .map(|part| {
            let part = part.trim();
            if part.contains('-') {
                PortRange::parse(part, '-').map_err(ClashError)
            } else {
                part.parse()
                    .map(PortRange::single)
                    .map_err(|_| ClashError(format!("`{part}` is not a port")))
            }
        })
        .collect()
}

/// Parses `a/b/c` into non-empty names.
fn names(payload: &str) -> Result<Vec<String>, ClashError> {
    payload
        .split('/')
        .map(|name| match name.trim() {
            "" => Err(ClashError(format!("empty name in `{payload}`"))),
            name => Ok(name.to_owned()),
        })
        .collect()
}
