//! YAML options of an inbound's `fallback:` key and the entries they validate into.

use crate::{ConfigError, Fallbacks};
use serde::{
    Deserialize, Deserializer,
    de::{self, MapAccess, SeqAccess, Visitor, value::MapAccessDeserializer},
};
use std::fmt;

pub use crate::proto::proxy_protocol::ProxyVersion;

/// An inbound's `fallback:`: an outbound name, one entry, or a list of entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FallbackOptions {
    /// `fallback: web`: everything refused goes to `web`, with no PROXY header.
    Outbound(String),
    /// `fallback: { outbound: web, proxy_protocol: 2 }`.
    One(EntryOptions),
    /// `fallback: [{ sni, alpn, path, outbound, proxy_protocol }, ...]`.
    List(Vec<EntryOptions>),
}

/// One fallback entry; the empty or missing `sni`, `alpn` and `path` match what no other does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryOptions {
    /// The TLS server name this entry is for (case-insensitive; also matches names containing it).
    #[serde(default)]
    pub sni: Option<String>,
    /// The negotiated ALPN protocol this entry is for.
    #[serde(default)]
    pub alpn: Option<String>,
    /// The HTTP/1 request path this entry is for (exact, from `/` up to `?` or a space).
    #[serde(default)]
    pub path: Option<String>,
    /// The outbound that receives the connection.
    pub outbound: String,
    /// Send a PROXY protocol header of this version (1 or 2) first.
    #[serde(default)]
    pub proxy_protocol: Option<u8>,
}

/// A validated fallback: where to send the connection and which PROXY header to put first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    /// The outbound's name.
    pub outbound: String,
    /// The PROXY protocol header to send before the replayed bytes, if any.
    pub proxy_protocol: Option<ProxyVersion>,
}

impl FallbackOptions {
    /// The outbound each entry names, in the order written.
    pub fn outbounds(&self) -> Vec<&str> {
        match self {
            FallbackOptions::Outbound(outbound) => vec![outbound],
            FallbackOptions::One(entry) => vec![&entry.outbound],
            FallbackOptions::List(entries) => entries.iter().map(|e| &*e.outbound).collect(),
        }
    }

    /// Checks every entry and builds the choice.
    pub fn validate(&self) -> Result<Fallbacks, ConfigError> {
        let entries = match self {
            FallbackOptions::Outbound(outbound) => vec![EntryOptions {
                outbound: outbound.clone(),
                ..EntryOptions::default()
            }],
            FallbackOptions::One(entry) => vec![entry.clone()],
            FallbackOptions::List(entries) if entries.is_empty() => {
                return Err(ConfigError::Empty);
            }
            FallbackOptions::List(entries) => entries.clone(),
        };
        let mut keyed = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let (key, fallback) = (entry.key(index)?, entry.fallback(index)?);
            if let Some(first) = keyed.iter().position(|(k, _)| *k == key) {
                return Err(ConfigError::Duplicate { index, first });
            }
            keyed.push((key, fallback));
        }
        Ok(Fallbacks::new(keyed))
    }
}

/// The `(sni, alpn, path)` an entry is chosen by, with missing keys as `""`.
pub(crate) type Key = (String, String, String);

impl EntryOptions {
    fn key(&self, index: usize) -> Result<Key, ConfigError> {
        let path = self.path.clone().unwrap_or_default();
        let path_ok = path.is_empty()
            || (path.starts_with('/')
                && !path.contains('?')
                && path.bytes().all(|b| b.is_ascii_graphic()));
        if !path_ok {
            return Err(ConfigError::Path { index, path });
        }
        let sni = self.sni.as_deref().unwrap_or_default().to_ascii_lowercase();
        Ok((sni, self.alpn.clone().unwrap_or_default(), path))
    }

    fn fallback(&self, index: usize) -> Result<Fallback, ConfigError> {
        if self.outbound.is_empty() {
            return Err(ConfigError::EmptyOutbound { index });
        }
        let proxy_protocol = match self.proxy_protocol {
            None => None,
            Some(1) => Some(ProxyVersion::V1),
            Some(2) => Some(ProxyVersion::V2),
            Some(value) => return Err(ConfigError::ProxyVersion { index, value }),
        };
        Ok(Fallback {
            outbound: self.outbound.clone(),
            proxy_protocol,
        })
    }
}

impl<'de> Deserialize<'de> for FallbackOptions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OptionsVisitor)
    }
}

/// Tells the three shapes apart by the YAML node, so errors point into the one written.
struct OptionsVisitor;

impl<'de> Visitor<'de> for OptionsVisitor {
    type Value = FallbackOptions;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an outbound name, a map `{ outbound, proxy_protocol, .. }` or a list of them")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<FallbackOptions, E> {
        Ok(FallbackOptions::Outbound(name.to_owned()))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FallbackOptions, A::Error> {
        EntryOptions::deserialize(MapAccessDeserializer::new(map)).map(FallbackOptions::One)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FallbackOptions, A::Error> {
        let mut entries = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(entry) = seq.next_element()? {
            entries.push(entry);
        }
        Ok(FallbackOptions::List(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<FallbackOptions, serde_yaml::Error> {
        serde_yaml::from_str(yaml)
    }

    #[test]
    fn three_shapes() {
        assert_eq!(
            parse("web").unwrap(),
            FallbackOptions::Outbound("web".into())
        );
        let one = parse("{ outbound: web, proxy_protocol: 2 }").unwrap();
        assert_eq!(
            one,
            FallbackOptions::One(EntryOptions {
                outbound: "web".into(),
                proxy_protocol: Some(2),
                ..EntryOptions::default()
            })
        );
        let list =
            parse("[{ outbound: a }, { sni: B.test, alpn: h2, path: /x, outbound: b }]").unwrap();
        assert_eq!(list.outbounds(), ["a", "b"]);
        assert_eq!(one.outbounds(), ["web"]);
        let FallbackOptions::List(entries) = list else {
            panic!("a list")
        };
        assert_eq!(entries[1].sni.as_deref(), Some("B.test"));
    }

    #[test]
    fn unknown_keys_and_wrong_shapes_are_errors() {
        let err = parse("{ outbound: web, xver: 1 }").unwrap_err().to_string();
        assert!(err.contains("unknown field `xver`"), "{err}");
        let err = parse("[{ dest: 80 }]").unwrap_err().to_string();
        assert!(err.contains("unknown field `dest`"), "{err}");
        assert!(parse("12").is_err());
    }

    #[test]
    fn validation_names_the_entry() {
        let bad = |yaml: &str| parse(yaml).unwrap().validate().unwrap_err();
        assert_eq!(
            bad("{ outbound: web, proxy_protocol: 3 }"),
            ConfigError::ProxyVersion { index: 0, value: 3 }
        );
        assert_eq!(
            bad("[{ outbound: a }, { outbound: '' }]"),
            ConfigError::EmptyOutbound { index: 1 }
        );
        assert!(matches!(
            bad("[{ path: x, outbound: a }]"),
            ConfigError::Path { index: 0, .. }
        ));
        assert!(matches!(
            bad("[{ path: '/x?y', outbound: a }]"),
            ConfigError::Path { .. }
        ));
        assert_eq!(
            bad("[{ sni: A.test, outbound: a }, { sni: a.test, outbound: b }]"),
            ConfigError::Duplicate { index: 1, first: 0 }
        );
        assert_eq!(bad("[]"), ConfigError::Empty);
    }
}
