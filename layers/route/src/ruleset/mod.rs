//! Rule sets loaded from local files: sing-box source JSON, and Clash `text` or `yaml`
//! payload lists of domains, IP networks or classical rules.

mod clash;
mod source;

use crate::{
    RuleSetError,
    compile::{Leaf, Node},
    eval::{Input, Verdict},
    rule::{Condition, Fields},
};
use serde::Deserialize;
use std::{
    mem::size_of,
    path::{Path, PathBuf},
    sync::Arc,
};

/// How a rule-set file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleSetFormat {
    /// sing-box source JSON: `{"version": 1..3, "rules": [headless rules]}`.
    Source,
    /// Clash text: one entry a line, `#` comments.
    Text,
    /// Clash YAML: `payload: [entries]`.
    Yaml,
}

/// What the entries of a Clash rule-set file are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Behavior {
    /// Domains: `+.a.com` (it and subdomains), `.a.com` (subdomains), `*.a.com` (one label
    /// below), or a plain name.
    Domain,
    /// IP networks such as `10.0.0.0/8`.
    Ipcidr,
    /// Clash rules without an outbound, such as `DOMAIN-SUFFIX,a.com`.
    Classical,
}

/// A `rule_sets` entry of the config: where the file is and how it is written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSetOptions {
    /// The file, relative to the config's folder unless absolute.
    pub path: PathBuf,
    /// How it is written; by default from the extension: `.json` source, `.yaml`/`.yml` yaml,
    /// anything else text.
    #[serde(default)]
    pub format: Option<RuleSetFormat>,
    /// What a Clash file's entries are; required for `text` and `yaml`.
    #[serde(default)]
    pub behavior: Option<Behavior>,
}

impl RuleSetOptions {
    /// Reads and compiles the file, resolving a relative path against `base_dir`.
    pub fn load(&self, base_dir: &Path) -> Result<RuleSet, RuleSetError> {
        let file = base_dir.join(&self.path);
        let format =
            self.format
                .unwrap_or_else(|| match file.extension().and_then(|e| e.to_str()) {
                    Some("json") => RuleSetFormat::Source,
                    Some("yaml" | "yml") => RuleSetFormat::Yaml,
                    _ => RuleSetFormat::Text,
                });
        let text = std::fs::read_to_string(&file).map_err(|source| RuleSetError::Read {
            file: file.clone(),
            source,
        })?;
        RuleSet::parse(&text, format, self.behavior, &file)
    }
}

/// A compiled rule set: it matches when any of its rules does.
#[derive(Debug)]
pub struct RuleSet {
    /// Every rule with only domain and IP-network items, merged into one.
    merged: Option<Leaf>,
    /// The other rules.
    rules: Vec<Node>,
}

impl RuleSet {
    /// Parses and compiles a rule set's text; `file` names it in errors.
    pub fn parse(
        text: &str,
        format: RuleSetFormat,
        behavior: Option<Behavior>,
        file: &Path,
    ) -> Result<RuleSet, RuleSetError> {
        let invalid = |line, message| RuleSetError::Invalid {
            file: file.to_owned(),
            line,
            message,
        };
        let conditions = match (format, behavior) {
            (RuleSetFormat::Source, None) => source::parse(text).map_err(|(l, m)| invalid(l, m))?,
            (RuleSetFormat::Source, Some(_)) => {
                return Err(invalid(
                    None,
                    "`behavior` is for Clash text and yaml files".into(),
                ));
            }
            (RuleSetFormat::Text | RuleSetFormat::Yaml, None) => {
                return Err(invalid(
                    None,
                    "a Clash rule set needs `behavior: domain`, `ipcidr` or `classical`".into(),
                ));
            }
            (RuleSetFormat::Text, Some(behavior)) => {
                clash::parse_text(text, behavior).map_err(|(l, m)| invalid(Some(l), m))?
            }
            (RuleSetFormat::Yaml, Some(behavior)) => {
                clash::parse_yaml(text, behavior).map_err(|(l, m)| invalid(l, m))?
            }
        };
        RuleSet::compile(conditions).map_err(|message| invalid(None, message))
    }

    /// Compiles rules, merging those with only domain and IP-network items.
    fn compile(conditions: Vec<Condition>) -> Result<RuleSet, String> {
        let no_rule_sets = &|_: &str| -> Result<Arc<RuleSet>, String> {
            Err("a rule set cannot refer to another rule set".into())
        };
        let mut merged = Fields::default();
        let mut rules = Vec::new();
        for condition in conditions {
            match condition {
                Condition::Fields(fields) if fields.is_destination_only() => merged.absorb(*fields),
                other => rules.push(Node::compile(&other, no_rule_sets)?),
            }
        }
        let merged = match merged == Fields::default() {
            true => None,
            false => Some(Leaf::compile(&merged, no_rule_sets)?),
        };
        rules.shrink_to_fit();
        Ok(RuleSet { merged, rules })
    }

    /// Whether any rule matches.
    pub(crate) fn eval(&self, input: &Input<'_>, no_resolve: bool) -> Verdict {
        let mut result = Verdict::No;
        let merged = self
            .merged
            .as_ref()
            .map(|leaf| leaf.eval(input, no_resolve));
        let rules = self.rules.iter().map(|node| node.eval(input, no_resolve));
        for verdict in merged.into_iter().chain(rules) {
            match verdict {
                Verdict::Yes => return Verdict::Yes,
                Verdict::Unknown => result = Verdict::Unknown,
                Verdict::No => {}
            }
        }
        result
    }

    /// Whether a rule matches GeoIP countries, so a database must be loaded.
    pub(crate) fn uses_geoip(&self) -> bool {
        self.rules.iter().any(Node::uses_geoip)
    }

    /// Estimated heap bytes of the compiled rules.
    pub fn heap_bytes(&self) -> usize {
        self.merged.as_ref().map_or(0, Leaf::heap_bytes)
            + self.rules.capacity() * size_of::<Node>()
            + self.rules.iter().map(Node::heap_bytes).sum::<usize>()
    }
}

#[cfg(test)]
mod tests;
