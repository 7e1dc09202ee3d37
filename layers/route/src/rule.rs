//! Rules as written: the conditions of sing-box map rules and Clash one-line rules, before
//! they are compiled into matching structures.

use std::net::IpAddr;
use xypro_core::Network;

/// One routing rule: a condition and the outbound it sends matching connections to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// When the rule matches.
    pub condition: Condition,
    /// The outbound a matching connection goes to.
    pub outbound: String,
    /// How the rule is shown in the connection list, Clash style.
    pub label: Label,
}

/// How a rule is shown in the connection list: its Clash rule type and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// The Clash rule type, such as `DomainSuffix`, `IPCIDR`, `AND` or `Match`.
    pub kind: &'static str,
    /// The payload, such as `example.com`; empty for `Match` and `final`.
    pub payload: String,
}

impl Label {
    /// A label of a kind with a payload.
    pub(crate) fn new(kind: &'static str, payload: impl Into<String>) -> Self {
        Label {
            kind,
            payload: payload.into(),
        }
    }
}

/// A rule's condition: a set of fields, or a logical combination of conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// A sing-box default rule (and every Clash rule but AND, OR and NOT).
    Fields(Box<Fields>),
    /// A logical rule: all (`and`) or any (`or`) of the inner conditions.
    Logical(Logical),
}

impl Condition {
    /// Whether the condition, or one inside it, names a rule set.
    pub(crate) fn uses_rule_set(&self) -> bool {
        match self {
            Condition::Fields(fields) => !fields.rule_set.is_empty(),
            Condition::Logical(logical) => logical.rules.iter().any(Condition::uses_rule_set),
        }
    }
}

/// How a logical rule combines its inner conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every inner condition must match.
    And,
    /// At least one inner condition must match.
    Or,
}

/// A logical rule: inner conditions combined by `mode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logical {
    /// How the inner conditions combine.
    pub mode: Mode,
    /// The inner conditions, at least one.
    pub rules: Vec<Condition>,
    /// Negates the result (Clash `NOT` is an inverted `and` of one condition).
    pub invert: bool,
    /// IP items inside never trigger a DNS lookup of a domain destination.
    pub no_resolve: bool,
}

/// The fields of a sing-box default rule; an empty list places no constraint.
///
/// A rule matches when (domain ∥ domain_suffix ∥ domain_keyword ∥ domain_regex ∥ ip_cidr ∥
/// ip_is_private ∥ geoip ∥ rule_set) ∧ (port ∥ port_range) ∧ (source_ip_cidr) ∧
/// (source_port ∥ source_port_range) ∧ inbound ∧ network ∧ user ∧ protocol, each group
/// counting only when it has an item; `invert` negates the whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    /// Names of the inbounds the connection may come from.
    pub inbound: Vec<String>,
    /// The networks (TCP, UDP) the connection may use.
    pub network: Vec<Network>,
    /// Authenticated user names.
    pub user: Vec<String>,
    /// Sniffed protocols.
    pub protocol: Vec<Protocol>,
    /// Exact domain names.
    pub domain: Vec<String>,
    /// Domain suffixes on label boundaries; a leading dot excludes the name itself.
    pub domain_suffix: Vec<String>,
    /// Substrings of the domain name.
    pub domain_keyword: Vec<String>,
    /// Regular expressions searched in the domain name.
    pub domain_regex: Vec<String>,
    /// Names whose direct subdomains match (Clash rule-set `*.a.com` is `a.com` here); no
    /// map-rule key sets it.
    pub domain_wildcard: Vec<String>,
    /// Destination IP networks.
    pub ip_cidr: Vec<Cidr>,
    /// Whether the destination IP must be private (loopback, RFC 1918, link-local, CGNAT, ...).
    pub ip_is_private: bool,
    /// Destination countries by ISO code, lower case, from the GeoIP database.
    pub geoip: Vec<String>,
    /// Names of rule sets, any of which may match the destination.
    pub rule_set: Vec<String>,
    /// Source IP networks.
    pub source_ip_cidr: Vec<Cidr>,
    /// Destination ports and port ranges.
    pub port: Vec<PortRange>,
    /// Source ports and port ranges.
    pub source_port: Vec<PortRange>,
    /// Negates the whole rule.
    pub invert: bool,
    /// IP items never trigger a DNS lookup of a domain destination.
    pub no_resolve: bool,
}

impl Fields {
    /// Whether the rule has items of the destination-address group only, with no flags, so
    /// that rule-set entries can be merged into one set.
    pub(crate) fn is_destination_only(&self) -> bool {
        let Fields {
            inbound,
            network,
            user,
            protocol,
            domain: _,
            domain_suffix: _,
            domain_keyword: _,
            domain_regex: _,
            domain_wildcard: _,
            ip_cidr: _,
            ip_is_private,
            geoip,
            rule_set,
            source_ip_cidr,
            port,
            source_port,
            invert,
            no_resolve,
        } = self;
        inbound.is_empty()
            && network.is_empty()
            && user.is_empty()
            && protocol.is_empty()
            && !ip_is_private
            && geoip.is_empty()
            && rule_set.is_empty()
            && source_ip_cidr.is_empty()
            && port.is_empty()
            && source_port.is_empty()
            && !invert
            && !no_resolve
    }

    /// Moves the destination domain and IP items of `other` into `self`.
    pub(crate) fn absorb(&mut self, other: Fields) {
        self.domain.extend(other.domain);
        self.domain_suffix.extend(other.domain_suffix);
        self.domain_keyword.extend(other.domain_keyword);
        self.domain_regex.extend(other.domain_regex);
        self.domain_wildcard.extend(other.domain_wildcard);
        self.ip_cidr.extend(other.ip_cidr);
    }
}

/// A protocol the sniffer recognised from the first bytes of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// TLS (the SNI gives the host).
    Tls,
    /// Plain HTTP/1 (the Host header gives the host).
    Http,
    /// QUIC (the Initial packet's SNI gives the host).
    Quic,
}

impl Protocol {
    /// The protocol's name in rules: `tls`, `http` or `quic`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tls => "tls",
            Protocol::Http => "http",
            Protocol::Quic => "quic",
        }
    }

    /// Parses a protocol name, ignoring case.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        [Protocol::Tls, Protocol::Http, Protocol::Quic]
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| format!("unknown protocol `{text}` (expected tls, http or quic)"))
    }
}

/// An IP network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The network's address.
    pub addr: IpAddr,
    /// The prefix length: at most 32 for IPv4, 128 for IPv6.
    pub prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`, `x::y/n`, or a bare address (a single-address network).
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{text}` is not an IP address or CIDR"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{text}` has a prefix length over {max}"))?,
        };
        Ok(Cidr { addr, prefix })
    }
}

/// A range of ports, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    /// The first port.
    pub start: u16,
    /// The last port.
    pub end: u16,
}

impl PortRange {
    /// A range holding one port.
    pub(crate) fn single(port: u16) -> Self {
        PortRange {
            start: port,
            end: port,
        }
    }

    /// Parses `start<sep>end` where either end may be left out (`:3000`, `4000:`).
    pub(crate) fn parse(text: &str, separator: char) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a port range like 1000{separator}2000");
        let (start, end) = text.split_once(separator).ok_or_else(bad)?;
        let port = |s: &str, default: u16| match s.trim() {
            "" => Ok(default),
            s => s.parse::<u16>().map_err(|_| bad()),
        };
        let range = PortRange {
            start: port(start, 0)?,
            end: port(end, u16::MAX)?,
        };
        if range.start > range.end {
            return Err(format!("`{text}` starts after it ends"));
        }
        Ok(range)
    }
}
