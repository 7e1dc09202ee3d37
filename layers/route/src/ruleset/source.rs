//! sing-box source rule sets: `{"version": 1..3, "rules": [headless rules]}`.

use crate::{
    rule::Condition,
    syntax::map::{ConditionSeed, Place},
};
use serde::{Deserialize, Deserializer, de::DeserializeSeed};

/// The versions read: 1 (1.8), 2 (1.10) and 3 (1.11) share the source format.
const VERSIONS: std::ops::RangeInclusive<u64> = 1..=3;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceFile {
    version: u64,
    #[serde(default)]
    rules: Vec<Headless>,
}

/// A rule-set rule: a map rule without `outbound` or `rule_set`.
struct Headless(Condition);

impl<'de> Deserialize<'de> for Headless {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        ConditionSeed(Place::RuleSet)
            .deserialize(deserializer)
            .map(Headless)
    }
}

/// Parses the file's rules, or gives the line (when known) and what is wrong.
pub(super) fn parse(text: &str) -> Result<Vec<Condition>, (Option<usize>, String)> {
    let file: SourceFile = serde_json::from_str(text).map_err(|e| {
        let full = e.to_string();
        let position = format!(" at line {} column {}", e.line(), e.column());
        let message = full.strip_suffix(&position).unwrap_or(&full).to_owned();
        (Some(e.line()).filter(|line| *line > 0), message)
    })?;
    if !VERSIONS.contains(&file.version) {
        let line = text
            .lines()
            .position(|l| l.contains("\"version\""))
            .map(|i| i + 1);
        return Err((
            line,
            format!("unsupported version {} (expected 1 to 3)", file.version),
        ));
    }
    Ok(file.rules.into_iter().map(|rule| rule.0).collect())
}
