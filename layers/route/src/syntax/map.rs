//! sing-box map rules, read by one visitor for route rules, nested logical rules and
//! rule-set (headless) rules.

use super::{
    clash,
    label::label_of,
    value::{ColonRange, Country, Domain, DomainRegex, OneOrMany, Port},
};
use crate::rule::{Condition, Fields, Logical, Mode, PortRange, Rule};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Where a rule is written, which decides the keys it may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// A `route` layer's rule: needs `outbound`.
    Route,
    /// A rule inside a logical rule.
    Nested,
    /// A rule in a rule-set file: no `outbound`, no `rule_set`.
    RuleSet,
}

/// Every key of a route rule; nested rules drop the last (`outbound`), rule-set rules the last
/// two.
const KEYS: &[&str] = &[
    "type",
    "mode",
    "rules",
    "and",
    "or",
    "inbound",
    "network",
    "user",
    "auth_user",
    "protocol",
    "domain",
    "domain_suffix",
    "domain_keyword",
    "domain_regex",
    "ip_cidr",
    "ip_is_private",
    "geoip",
    "source_ip_cidr",
    "port",
    "port_range",
    "source_port",
    "source_port_range",
    "invert",
    "no_resolve",
    "rule_set",
    "outbound",
];

impl Place {
    /// The keys a map rule may have here.
    fn keys(self) -> &'static [&'static str] {
        match self {
            Place::Route => KEYS,
            Place::Nested => &KEYS[..KEYS.len() - 1],
            Place::RuleSet => &KEYS[..KEYS.len() - 2],
        }
    }

    /// Where the rules inside a logical rule written here are.
    fn inner(self) -> Place {
        match self {
            Place::RuleSet => Place::RuleSet,
            Place::Route | Place::Nested => Place::Nested,
        }
    }
}

impl<'de> de::Deserialize<'de> for Rule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EntryVisitor(Place::Route))
    }
}

/// Reads one condition (a map, or a Clash rule string without a target) written at a place.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConditionSeed(pub(crate) Place);

impl<'de> DeserializeSeed<'de> for ConditionSeed {
    type Value = Condition;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Condition, D::Error> {
        deserializer
            .deserialize_any(EntryVisitor(self.0))
            .map(|rule| rule.condition)
    }
}

/// Reads a list of conditions written at a place.
struct ConditionListSeed(Place);

impl<'de> DeserializeSeed<'de> for ConditionListSeed {
    type Value = Vec<Condition>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ConditionListSeed {
    type Value = Vec<Condition>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of rules")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut rules = Vec::new();
        while let Some(rule) = seq.next_element_seed(ConditionSeed(self.0))? {
            rules.push(rule);
        }
        Ok(rules)
    }
}

/// Visits a rule entry: a Clash string or a map. Outside [`Place::Route`] the outbound is
/// left empty.
struct EntryVisitor(Place);

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = Rule;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a rule: a map of fields, or a Clash rule string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Rule, E> {
        if self.0 == Place::Route {
            return clash::parse_clash_rule(v).map_err(E::custom);
        }
        let (condition, label) = clash::parse_condition(v).map_err(E::custom)?;
        if self.0 == Place::RuleSet && condition.uses_rule_set() {
            return Err(E::custom("a rule set cannot refer to another rule set"));
        }
        Ok(Rule {
            condition,
            outbound: String::new(),
            label,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Rule, A::Error> {
        let mut entry = MapEntry::default();
        let mut seen: Vec<&'static str> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let Some(&name) = self.0.keys().iter().find(|k| **k == key) else {
                return Err(de::Error::unknown_field(&key, self.0.keys()));
            };
            if seen.contains(&name) {
                return Err(de::Error::duplicate_field(name));
            }
            seen.push(name);
            entry.read(name, &mut map, self.0)?;
        }
        let condition = entry.condition().map_err(de::Error::custom)?;
        let outbound = match (self.0, entry.outbound) {
            (Place::Route, None) => return Err(de::Error::missing_field("outbound")),
            (_, outbound) => outbound.unwrap_or_default(),
        };
        if self.0 == Place::Route && outbound.trim().is_empty() {
            return Err(de::Error::custom("`outbound` is empty"));
        }
        Ok(Rule {
            label: label_of(&condition),
            condition,
            outbound,
        })
    }
}

/// The keys of one map rule as they are read.
#[derive(Default)]
struct MapEntry {
    fields: Fields,
    has_fields: bool,
    kind: Option<String>,
    mode: Option<Mode>,
    rules: Option<Vec<Condition>>,
    and: Option<Vec<Condition>>,
    or: Option<Vec<Condition>>,
    outbound: Option<String>,
}

impl MapEntry {
    /// Reads the value of key `name`.
    fn read<'de, A: MapAccess<'de>>(
        &mut self,
        name: &str,
        map: &mut A,
        place: Place,
    ) -> Result<(), A::Error> {
        fn list<'de, T: super::value::FieldValue, A: MapAccess<'de>>(
            map: &mut A,
        ) -> Result<Vec<T>, A::Error> {
            map.next_value::<OneOrMany<T>>().map(|many| many.0)
        }
        let fields = &mut self.fields;
        let is_field = !matches!(
            name,
            "type" | "mode" | "rules" | "and" | "or" | "outbound" | "invert" | "no_resolve"
        );
        self.has_fields |= is_field;
        match name {
            "type" => self.kind = Some(map.next_value()?),
            "mode" => {
                let mode: String = map.next_value()?;
                self.mode = Some(match mode.to_ascii_lowercase().as_str() {
                    "and" => Mode::And,
                    "or" => Mode::Or,
                    _ => {
                        return Err(de::Error::custom(format!(
                            "unknown mode `{mode}` (expected and or or)"
                        )));
                    }
                });
            }
            "rules" => self.rules = Some(map.next_value_seed(ConditionListSeed(place.inner()))?),
            "and" => self.and = Some(map.next_value_seed(ConditionListSeed(place.inner()))?),
            "or" => self.or = Some(map.next_value_seed(ConditionListSeed(place.inner()))?),
            "outbound" => self.outbound = Some(map.next_value()?),
            "invert" => fields.invert = map.next_value()?,
            "no_resolve" => fields.no_resolve = map.next_value()?,
            "inbound" => fields.inbound = list(map)?,
            "network" => fields.network = list(map)?,
            "user" | "auth_user" => fields.user.extend(list::<String, _>(map)?),
            "protocol" => fields.protocol = list(map)?,
            "domain" => fields.domain = list::<Domain, _>(map)?.into_iter().map(|d| d.0).collect(),
            "domain_suffix" => {
                let suffixes = list::<Domain, _>(map)?;
                fields.domain_suffix = suffixes.into_iter().map(|d| d.0).collect();
            }
            "domain_keyword" => fields.domain_keyword = list(map)?,
            "domain_regex" => {
                fields.domain_regex = list::<DomainRegex, _>(map)?
                    .into_iter()
                    .map(|r| r.0)
                    .collect();
            }
            "ip_cidr" => fields.ip_cidr = list(map)?,
            "ip_is_private" => fields.ip_is_private = map.next_value()?,
            "geoip" => fields.geoip = list::<Country, _>(map)?.into_iter().map(|c| c.0).collect(),
            "rule_set" => fields.rule_set = list(map)?,
            "source_ip_cidr" => fields.source_ip_cidr = list(map)?,
            "port" => ports(&mut fields.port, list::<Port, _>(map)?),
            "source_port" => ports(&mut fields.source_port, list::<Port, _>(map)?),
            "port_range" => fields
                .port
                .extend(list::<ColonRange, _>(map)?.into_iter().map(|r| r.0)),
            "source_port_range" => {
                let ranges = list::<ColonRange, _>(map)?;
                fields.source_port.extend(ranges.into_iter().map(|r| r.0));
            }
            other => return Err(de::Error::unknown_field(other, place.keys())),
        }
        Ok(())
    }

    /// The condition the keys describe, or what is wrong with their combination.
    fn condition(&mut self) -> Result<Condition, String> {
        let logical_keys = self.mode.is_some() || self.rules.is_some();
        let shorthand = self.and.is_some() || self.or.is_some();
        let invert = self.fields.invert;
        let no_resolve = self.fields.no_resolve;
        match self.kind.as_deref() {
            None | Some("default") if !logical_keys && !shorthand => {
                if !self.has_fields {
                    return Err("the rule has no condition".into());
                }
                return Ok(Condition::Fields(Box::new(std::mem::take(
                    &mut self.fields,
                ))));
            }
            None | Some("logical") => {}
            Some("default") => return Err("`mode` and `rules` need `type: logical`".into()),
            Some(other) => {
                return Err(format!(
                    "unknown rule type `{other}` (expected default or logical)"
                ));
            }
        }
        if self.has_fields {
            return Err("a logical rule takes no match fields besides its `rules`".into());
        }
        let (mode, rules) = match (
            self.kind.is_some(),
            self.mode,
            self.rules.take(),
            self.and.take(),
            self.or.take(),
        ) {
            (true, Some(mode), Some(rules), None, None) => (mode, rules),
            (false, None, None, Some(rules), None) => (Mode::And, rules),
            (false, None, None, None, Some(rules)) => (Mode::Or, rules),
            (_, _, _, Some(_), Some(_)) => return Err("write `and` or `or`, not both".into()),
            (_, _, _, Some(_), None) | (_, _, _, None, Some(_)) => {
                return Err(
                    "`and`/`or` stand alone: do not mix them with type, mode or rules".into(),
                );
            }
            (false, _, _, None, None) => {
                return Err("`mode` and `rules` need `type: logical`".into());
            }
            (true, None, _, None, None) => {
                return Err("a logical rule needs `mode: and` or `mode: or`".into());
            }
            (true, Some(_), None, None, None) => return Err("a logical rule needs `rules`".into()),
        };
        if rules.is_empty() {
            return Err("a logical rule needs at least one rule".into());
        }
        Ok(Condition::Logical(Logical {
            mode,
            rules,
            invert,
            no_resolve,
        }))
    }
}

/// Adds single ports as one-port ranges.
fn ports(ranges: &mut Vec<PortRange>, ports: Vec<Port>) {
    ranges.extend(ports.into_iter().map(|p| PortRange::single(p.0)));
}
