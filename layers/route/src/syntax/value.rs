//! Field values of map rules: one value or a list, each parsed and checked as it is read.

use crate::rule::{Cidr, PortRange, Protocol};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use std::{fmt, marker::PhantomData};
use xypro_core::Network;

/// A value of a rule field, parsed from its text (numbers are read as their decimal text).
pub(crate) trait FieldValue: Sized {
    /// What the field holds, for "expected ..." messages.
    const EXPECTING: &'static str;

    /// Parses one value, saying what is wrong otherwise.
    fn parse(text: &str) -> Result<Self, String>;
}

impl FieldValue for String {
    const EXPECTING: &'static str = "a non-empty string";

    fn parse(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Err("empty value".into());
        }
        Ok(text.to_owned())
    }
}

impl FieldValue for Cidr {
    const EXPECTING: &'static str = "an IP network like 10.0.0.0/8";

    fn parse(text: &str) -> Result<Self, String> {
        Cidr::parse(text)
    }
}

impl FieldValue for Network {
    const EXPECTING: &'static str = "tcp or udp";

    fn parse(text: &str) -> Result<Self, String> {
        parse_network(text)
    }
}

impl FieldValue for Protocol {
    const EXPECTING: &'static str = "tls, http or quic";

    fn parse(text: &str) -> Result<Self, String> {
        Protocol::parse(text)
    }
}

/// A single port, as written in `port` and `source_port`.
pub(crate) struct Port(pub(crate) u16);

impl FieldValue for Port {
    const EXPECTING: &'static str = "a port number";

    fn parse(text: &str) -> Result<Self, String> {
        text.trim()
            .parse()
            .map(Port)
            .map_err(|_| format!("`{text}` is not a port number"))
    }
}

/// A sing-box port range, `1000:2000`, `:3000` or `4000:`.
pub(crate) struct ColonRange(pub(crate) PortRange);

impl FieldValue for ColonRange {
    const EXPECTING: &'static str = "a port range like 1000:2000";

    fn parse(text: &str) -> Result<Self, String> {
        PortRange::parse(text, ':').map(ColonRange)
    }
}

/// A domain name or suffix (a leading dot allowed), checked for stray characters.
pub(crate) struct Domain(pub(crate) String);

impl FieldValue for Domain {
    const EXPECTING: &'static str = "a domain name";

    fn parse(text: &str) -> Result<Self, String> {
        check_domain(text).map(|()| Domain(text.to_owned()))
    }
}

/// Checks that a domain (or a `.suffix`) has a name and no spaces, commas or slashes.
pub(crate) fn check_domain(text: &str) -> Result<(), String> {
    let name = text.strip_prefix('.').unwrap_or(text).trim_end_matches('.');
    let stray = |c: char| c.is_whitespace() || matches!(c, ',' | '/' | '(' | ')');
    if name.is_empty() || name.starts_with('.') || name.contains(stray) {
        return Err(format!("`{text}` is not a domain name"));
    }
    Ok(())
}

/// A domain regex, compiled once here to reject bad syntax where it is written.
pub(crate) struct DomainRegex(pub(crate) String);

impl FieldValue for DomainRegex {
    const EXPECTING: &'static str = "a regular expression";

    fn parse(text: &str) -> Result<Self, String> {
        check_regex(text).map(|()| DomainRegex(text.to_owned()))
    }
}

/// A country code for `geoip`, stored in lower case.
pub(crate) struct Country(pub(crate) String);

impl FieldValue for Country {
    const EXPECTING: &'static str = "a country code like cn";

    fn parse(text: &str) -> Result<Self, String> {
        parse_country(text).map(Country)
    }
}

/// Parses `tcp` or `udp`, ignoring case.
pub(crate) fn parse_network(text: &str) -> Result<Network, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "tcp" => Ok(Network::Tcp),
        "udp" => Ok(Network::Udp),
        _ => Err(format!("unknown network `{text}` (expected tcp or udp)")),
    }
}

/// Checks that a regular expression compiles.
pub(crate) fn check_regex(text: &str) -> Result<(), String> {
    regex::Regex::new(text)
        .map(drop)
        .map_err(|e| format!("bad regex `{text}`: {e}"))
}

/// Checks a country code (letters and digits) and lowers its case.
pub(crate) fn parse_country(text: &str) -> Result<String, String> {
    let code = text.trim();
    if code.is_empty() || code.len() > 16 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!("`{text}` is not a country code"));
    }
    Ok(code.to_ascii_lowercase())
}

/// A field written as one value or a list of values.
pub(crate) struct OneOrMany<T>(pub(crate) Vec<T>);

impl<'de, T: FieldValue> de::Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ListVisitor(PhantomData))
    }
}

struct ListVisitor<T>(PhantomData<T>);

impl<'de, T: FieldValue> Visitor<'de> for ListVisitor<T> {
    type Value = OneOrMany<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} or a list of them", T::EXPECTING)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        T::parse(v).map(|x| OneOrMany(vec![x])).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(Scalar(value)) = seq.next_element::<Scalar<T>>()? {
            values.push(value);
        }
        Ok(OneOrMany(values))
    }
}

/// One value of a list.
struct Scalar<T>(T);

impl<'de, T: FieldValue> de::Deserialize<'de> for Scalar<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor(PhantomData))
    }
}

struct ScalarVisitor<T>(PhantomData<T>);

impl<T: FieldValue> Visitor<'_> for ScalarVisitor<T> {
    type Value = Scalar<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        T::parse(v).map(Scalar).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.visit_str(&v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.visit_str(&v.to_string())
    }
}
