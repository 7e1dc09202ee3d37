//! Rules compiled into matching structures: a tree of leaves (one per map or Clash rule) and
//! logical nodes.

use crate::{
    RuleSet,
    matcher::{
        domain::{DomainSet, DomainSetBuilder},
        ip::IpSet,
        port::PortSet,
    },
    rule::{Condition, Fields, Mode, Protocol},
};
use std::{
    mem::{size_of, size_of_val},
    sync::Arc,
};
use xypro_core::Network;

/// Finds a rule set by name, or says why it cannot be used.
pub(crate) type RuleSetLookup<'a> = &'a dyn Fn(&str) -> Result<Arc<RuleSet>, String>;

/// A compiled condition.
#[derive(Debug)]
pub(crate) enum Node {
    /// A map rule or a single-field Clash rule.
    Leaf(Box<Leaf>),
    /// All or any of the children, maybe inverted.
    Logical {
        /// How the children combine.
        mode: Mode,
        /// The inner conditions.
        children: Vec<Node>,
        /// Negates the result.
        invert: bool,
        /// IP items inside never trigger a lookup.
        no_resolve: bool,
    },
}

/// A compiled map rule; empty lists and `None` place no constraint.
#[derive(Debug, Default)]
pub(crate) struct Leaf {
    pub(crate) inbound: Vec<Box<str>>,
    pub(crate) networks: Vec<Network>,
    pub(crate) users: Vec<Box<str>>,
    pub(crate) protocols: Vec<Protocol>,
    pub(crate) domains: Option<DomainSet>,
    pub(crate) ips: Option<IpSet>,
    pub(crate) private: bool,
    pub(crate) countries: Vec<String>,
    pub(crate) rule_sets: Vec<Arc<RuleSet>>,
    pub(crate) ports: Option<PortSet>,
    pub(crate) source_ips: Option<IpSet>,
    pub(crate) source_ports: Option<PortSet>,
    pub(crate) invert: bool,
    pub(crate) no_resolve: bool,
}

impl Node {
    /// Compiles a condition, finding the rule sets it names with `lookup`.
    pub(crate) fn compile(
        condition: &Condition,
        lookup: RuleSetLookup<'_>,
    ) -> Result<Self, String> {
        match condition {
            Condition::Fields(fields) => {
                Leaf::compile(fields, lookup).map(|l| Node::Leaf(Box::new(l)))
            }
            Condition::Logical(logical) => Ok(Node::Logical {
                mode: logical.mode,
                children: logical
                    .rules
                    .iter()
                    .map(|rule| Node::compile(rule, lookup))
                    .collect::<Result<_, _>>()?,
                invert: logical.invert,
                no_resolve: logical.no_resolve,
            }),
        }
    }

    /// Whether a GeoIP country is matched here or in a rule set named here.
    pub(crate) fn uses_geoip(&self) -> bool {
        match self {
            Node::Leaf(leaf) => {
                !leaf.countries.is_empty() || leaf.rule_sets.iter().any(|set| set.uses_geoip())
            }
            Node::Logical { children, .. } => children.iter().any(Node::uses_geoip),
        }
    }

    /// Estimated heap bytes, not counting the rule sets named here (they are shared).
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Node::Leaf(leaf) => size_of::<Leaf>() + leaf.heap_bytes(),
            Node::Logical { children, .. } => {
                children.capacity() * size_of::<Node>()
                    + children.iter().map(Node::heap_bytes).sum::<usize>()
            }
        }
    }
}

impl Leaf {
    /// Compiles the fields of one rule.
    pub(crate) fn compile(fields: &Fields, lookup: RuleSetLookup<'_>) -> Result<Self, String> {
        let names = |list: &[String]| list.iter().map(|s| s.as_str().into()).collect();
        let mut domains = DomainSetBuilder::default();
        for (list, add) in [
            (
                &fields.domain,
                DomainSetBuilder::exact as fn(&mut DomainSetBuilder, &str),
            ),
            (&fields.domain_suffix, DomainSetBuilder::suffix),
            (&fields.domain_keyword, DomainSetBuilder::keyword),
            (&fields.domain_regex, DomainSetBuilder::regex),
            (&fields.domain_wildcard, DomainSetBuilder::one_label),
        ] {
            for name in list {
                add(&mut domains, name);
            }
        }
        let domains = match domains.is_empty() {
            true => None,
            false => Some(domains.build()?),
        };
        let ips = (!fields.ip_cidr.is_empty()).then(|| IpSet::new(&fields.ip_cidr));
        let source_ips =
            (!fields.source_ip_cidr.is_empty()).then(|| IpSet::new(&fields.source_ip_cidr));
        let ports = (!fields.port.is_empty()).then(|| PortSet::new(&fields.port));
        let source_ports =
            (!fields.source_port.is_empty()).then(|| PortSet::new(&fields.source_port));
        let rule_sets = fields
            .rule_set
            .iter()
            .map(|name| lookup(name))
            .collect::<Result<_, _>>()?;
        Ok(Leaf {
            inbound: names(&fields.inbound),
            networks: fields.network.clone(),
            users: names(&fields.user),
            protocols: fields.protocol.clone(),
            domains,
            ips,
            private: fields.ip_is_private,
            countries: fields.geoip.clone(),
            rule_sets,
            ports,
            source_ips,
            source_ports,
            invert: fields.invert,
            no_resolve: fields.no_resolve,
        })
    }

    /// Whether the leaf has an item that matches the destination IP.
    pub(crate) fn has_ip_items(&self) -> bool {
        self.ips.is_some() || self.private || !self.countries.is_empty()
    }

    /// Estimated heap bytes of the leaf's own structures.
    pub(crate) fn heap_bytes(&self) -> usize {
        let strings =
            |list: &[Box<str>]| size_of_val(list) + list.iter().map(|s| s.len()).sum::<usize>();
        strings(&self.inbound)
            + strings(&self.users)
            + self.domains.as_ref().map_or(0, DomainSet::heap_bytes)
            + self.ips.as_ref().map_or(0, IpSet::heap_bytes)
            + self.source_ips.as_ref().map_or(0, IpSet::heap_bytes)
            + self.ports.as_ref().map_or(0, PortSet::heap_bytes)
            + self.source_ports.as_ref().map_or(0, PortSet::heap_bytes)
            + self
                .countries
                .iter()
                .map(|c| size_of::<String>() + c.len())
                .sum::<usize>()
            + self.rule_sets.len() * size_of::<Arc<RuleSet>>()
    }
}
