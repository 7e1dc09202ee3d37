//! Clash rule-provider files: `text` (one entry a line) and `yaml` (`payload:` list), with
//! `domain`, `ipcidr` or `classical` entries.

use super::Behavior;
use crate::{
    rule::{Cidr, Condition, Fields},
    syntax::clash::parse_condition,
};
use serde::Deserialize;

/// Parses a text file, or gives the 1-based line and what is wrong.
pub(super) fn parse_text(
    text: &str,
    behavior: Behavior,
) -> Result<Vec<Condition>, (usize, String)> {
    let mut entries = Entries::default();
    for (index, line) in text.lines().enumerate() {
        let entry = line.trim();
        if entry.is_empty() || entry.starts_with('#') {
            continue;
        }
        entries.add(entry, behavior).map_err(|m| (index + 1, m))?;
    }
    Ok(entries.finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    payload: Vec<String>,
}

/// Parses a YAML file, or gives the line (when known) and what is wrong.
pub(super) fn parse_yaml(
    text: &str,
    behavior: Behavior,
) -> Result<Vec<Condition>, (Option<usize>, String)> {
    let doc: Payload = serde_yaml::from_str(text).map_err(|e| {
        let full = e.to_string();
        let line = e.location().map(|l| l.line());
        let message = match e.location() {
            Some(at) => {
                let position = format!(" at line {} column {}", at.line(), at.column());
                full.strip_suffix(&position).unwrap_or(&full).to_owned()
            }
            None => full,
        };
        (line, message)
    })?;
    let mut entries = Entries::default();
    for (index, entry) in doc.payload.iter().enumerate() {
        entries
            .add(entry.trim(), behavior)
            .map_err(|m| (item_line(text, index), m))?;
    }
    Ok(entries.finish())
}

/// The 1-based line of the `index`-th `- ` item after `payload:`, for block lists.
fn item_line(text: &str, index: usize) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.starts_with("payload:"))?;
    lines
        .iter()
        .enumerate()
        .skip(start + 1)
        .filter(|(_, l)| l.trim_start().starts_with('-'))
        .nth(index)
        .map(|(i, _)| i + 1)
}

/// Entries read so far: domains and networks gathered in one rule, classical rules apart.
#[derive(Default)]
struct Entries {
    merged: Fields,
    rules: Vec<Condition>,
}

impl Entries {
    fn add(&mut self, entry: &str, behavior: Behavior) -> Result<(), String> {
        match behavior {
            Behavior::Domain => add_domain(&mut self.merged, entry),
            Behavior::Ipcidr => {
                self.merged.ip_cidr.push(Cidr::parse(entry)?);
                Ok(())
            }
            Behavior::Classical => {
                let (condition, _) = parse_condition(entry).map_err(|e| e.0)?;
                if condition.uses_rule_set() {
                    return Err("a rule set cannot refer to another rule set".into());
                }
                self.rules.push(condition);
                Ok(())
            }
        }
    }

    fn finish(mut self) -> Vec<Condition> {
        if self.merged != Fields::default() {
            self.rules.push(Condition::Fields(Box::new(self.merged)));
        }
        self.rules
    }
}

/// Adds `+.a.com`, `.a.com`, `*.a.com` or `a.com`.
fn add_domain(fields: &mut Fields, entry: &str) -> Result<(), String> {
    let (list, name, kept) = if let Some(name) = entry.strip_prefix("+.") {
        (&mut fields.domain_suffix, name, name)
    } else if let Some(name) = entry.strip_prefix("*.") {
        (&mut fields.domain_wildcard, name, name)
    } else if let Some(name) = entry.strip_prefix('.') {
        (&mut fields.domain_suffix, name, entry)
    } else {
        (&mut fields.domain, entry, entry)
    };
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !valid {
        return Err(format!(
            "`{entry}` is not a domain (expected +.a.com, .a.com, *.a.com or a.com)"
        ));
    }
    list.push(kept.to_owned());
    Ok(())
}
