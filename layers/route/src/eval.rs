//! Evaluating compiled rules against a connection's facts, in three-valued logic: a rule
//! whose outcome depends on the IP of a domain not yet looked up says `Unknown`.

use crate::{
    Facts, GeoIp,
    compile::{Leaf, Node},
    rule::Mode,
};
use std::net::IpAddr;

/// The outcome of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// It does not match.
    No,
    /// It matches.
    Yes,
    /// It depends on the destination's IPs, which are not known yet.
    Unknown,
}

impl Verdict {
    fn invert_if(self, invert: bool) -> Self {
        match (self, invert) {
            (Verdict::Yes, true) => Verdict::No,
            (Verdict::No, true) => Verdict::Yes,
            (verdict, _) => verdict,
        }
    }
}

/// What conditions are evaluated against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Input<'a> {
    /// The connection's facts.
    pub(crate) facts: &'a Facts<'a>,
    /// The host domain rules match: sniffed, else the destination domain; normalised.
    pub(crate) host: Option<&'a str>,
    /// The destination's IPs; `None` while a domain destination is not looked up yet.
    pub(crate) ips: Option<&'a [IpAddr]>,
    /// The GeoIP database, if one is loaded.
    pub(crate) geoip: Option<&'a GeoIp>,
}

impl Node {
    /// Evaluates the condition; `no_resolve` is inherited from an enclosing rule.
    pub(crate) fn eval(&self, input: &Input<'_>, no_resolve: bool) -> Verdict {
        match self {
            Node::Leaf(leaf) => leaf.eval(input, no_resolve),
            Node::Logical {
                mode,
                children,
                invert,
                no_resolve: own,
            } => {
                let no_resolve = no_resolve || *own;
                let (decisive, other) = match mode {
                    Mode::And => (Verdict::No, Verdict::Yes),
                    Mode::Or => (Verdict::Yes, Verdict::No),
                };
                let mut result = other;
                for child in children {
                    match child.eval(input, no_resolve) {
                        verdict if verdict == decisive => return decisive.invert_if(*invert),
                        Verdict::Unknown => result = Verdict::Unknown,
                        _ => {}
                    }
                }
                result.invert_if(*invert)
            }
        }
    }
}

impl Leaf {
    /// Evaluates the rule, then applies `invert`.
    pub(crate) fn eval(&self, input: &Input<'_>, no_resolve: bool) -> Verdict {
        let verdict = match self.constraints_hold(input) {
            true => self.destination(input, no_resolve || self.no_resolve),
            false => Verdict::No,
        };
        verdict.invert_if(self.invert)
    }

    /// Whether every group but the destination one holds.
    fn constraints_hold(&self, input: &Input<'_>) -> bool {
        let facts = input.facts;
        let listed = |list: &[Box<str>], value: Option<&str>| {
            list.is_empty() || value.is_some_and(|v| list.iter().any(|item| **item == *v))
        };
        let source = facts.source;
        listed(&self.inbound, Some(facts.inbound))
            && (self.networks.is_empty() || self.networks.contains(&facts.network))
            && listed(&self.users, facts.user)
            && (self.protocols.is_empty()
                || facts.protocol.is_some_and(|p| self.protocols.contains(&p)))
            && self
                .ports
                .as_ref()
                .is_none_or(|ports| ports.contains(facts.destination.port()))
            && self
                .source_ips
                .as_ref()
                .is_none_or(|ips| source.is_some_and(|s| ips.contains(s.ip())))
            && self
                .source_ports
                .as_ref()
                .is_none_or(|ports| source.is_some_and(|s| ports.contains(s.port())))
    }

    /// The destination group: any domain, IP, GeoIP or rule-set item matches.
    fn destination(&self, input: &Input<'_>, no_resolve: bool) -> Verdict {
        let has_items = self.domains.is_some() || self.has_ip_items() || !self.rule_sets.is_empty();
        if !has_items {
            return Verdict::Yes;
        }
        if let (Some(domains), Some(host)) = (&self.domains, input.host)
            && domains.matches(host)
        {
            return Verdict::Yes;
        }
        let mut result = Verdict::No;
        if self.has_ip_items() {
            match input.ips {
                Some(ips) if ips.iter().any(|ip| self.ip_matches(*ip, input)) => {
                    return Verdict::Yes;
                }
                None if !no_resolve => result = Verdict::Unknown,
                _ => {}
            }
        }
        for set in &self.rule_sets {
            match set.eval(input, no_resolve) {
                Verdict::Yes => return Verdict::Yes,
                Verdict::Unknown => result = Verdict::Unknown,
                Verdict::No => {}
            }
        }
        result
    }

    /// Whether one destination IP matches the IP items.
    fn ip_matches(&self, ip: IpAddr, input: &Input<'_>) -> bool {
        self.ips.as_ref().is_some_and(|set| set.contains(ip))
            || (self.private && !xypro_core::is_public_ip(ip.to_canonical()))
            || (!self.countries.is_empty()
                && input.geoip.is_some_and(|db| db.is_in(ip, &self.countries)))
    }
}
