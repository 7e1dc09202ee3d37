//! A set of domain rules (exact names, suffixes, keywords, regexes) matched in a few hash
//! lookups: one per label of the host, walking right to left.
//!
//! The table hashes with foldhash (seeded per process): several times faster than SipHash on
//! short names, and its keys come from the config, never from clients.

use aho_corasick::AhoCorasick;
use foldhash::fast::RandomState;
use regex::RegexSet;
use std::{collections::HashMap, mem::size_of};

/// Domain names and what matches at each.
type Names = HashMap<Box<str>, u8, RandomState>;

/// The name itself matches.
const EXACT: u8 = 1;
/// The name and every subdomain match.
const SUFFIX: u8 = 2;
/// Every subdomain matches, the name itself does not.
const SUBDOMAINS: u8 = 4;
/// Direct subdomains (one more label) match.
const ONE_LABEL: u8 = 8;

/// Collects domain rules before they are compiled.
#[derive(Debug, Default)]
pub(crate) struct DomainSetBuilder {
    names: Names,
    keywords: Vec<String>,
    regexes: Vec<String>,
}

impl DomainSetBuilder {
    /// Adds an exact name.
    pub(crate) fn exact(&mut self, name: &str) {
        self.flag(name, EXACT);
    }

    /// Adds a suffix: `a.com` matches it and its subdomains, `.a.com` its subdomains only.
    pub(crate) fn suffix(&mut self, suffix: &str) {
        match suffix.strip_prefix('.') {
            Some(parent) => self.flag(parent, SUBDOMAINS),
            None => self.flag(suffix, SUFFIX),
        }
    }

    /// Adds a name whose direct subdomains match (Clash `*.a.com`).
    pub(crate) fn one_label(&mut self, parent: &str) {
        self.flag(parent, ONE_LABEL);
    }

    /// Adds a substring of the name.
    pub(crate) fn keyword(&mut self, keyword: &str) {
        self.keywords.push(keyword.to_ascii_lowercase());
    }

    /// Adds a regular expression searched in the name.
    pub(crate) fn regex(&mut self, regex: &str) {
        self.regexes.push(regex.to_owned());
    }

    fn flag(&mut self, name: &str, flag: u8) {
        let name = normalize(name);
        *self.names.entry(name.into()).or_default() |= flag;
    }

    /// Whether nothing was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.names.is_empty() && self.keywords.is_empty() && self.regexes.is_empty()
    }

    /// Compiles the rules, or says which regexes are too large together.
    pub(crate) fn build(mut self) -> Result<DomainSet, String> {
        self.names.shrink_to_fit();
        let keywords = match self.keywords.is_empty() {
            true => None,
            false => Some(
                AhoCorasick::new(&self.keywords).map_err(|e| format!("domain keywords: {e}"))?,
            ),
        };
        let regex_bytes = self.regexes.iter().map(String::len).sum();
        let regexes = match self.regexes.is_empty() {
            true => None,
            false => {
                Some(RegexSet::new(&self.regexes).map_err(|e| format!("domain regexes: {e}"))?)
            }
        };
        Ok(DomainSet {
            names: self.names,
            keywords,
            regexes,
            regex_bytes,
        })
    }
}

/// Lower case, without the trailing dot of a fully qualified name.
pub(crate) fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Compiled domain rules.
#[derive(Debug)]
pub(crate) struct DomainSet {
    names: Names,
    keywords: Option<AhoCorasick>,
    regexes: Option<RegexSet>,
    regex_bytes: usize,
}

impl DomainSet {
    /// Whether `host` (lower case, no trailing dot) matches any rule.
    pub(crate) fn matches(&self, host: &str) -> bool {
        if self
            .names
            .get(host)
            .is_some_and(|flags| flags & (EXACT | SUFFIX) != 0)
        {
            return true;
        }
        let mut rest = host;
        let mut depth = 0;
        while let Some(dot) = rest.find('.') {
            rest = &rest[dot + 1..];
            depth += 1;
            if let Some(flags) = self.names.get(rest) {
                let wanted = if depth == 1 {
                    SUFFIX | SUBDOMAINS | ONE_LABEL
                } else {
                    SUFFIX | SUBDOMAINS
                };
                if flags & wanted != 0 {
                    return true;
                }
            }
        }
        self.keywords.as_ref().is_some_and(|k| k.is_match(host))
            || self.regexes.as_ref().is_some_and(|r| r.is_match(host))
    }

    /// Estimated heap bytes: the hash table, the names, the keyword automaton, the patterns.
    pub(crate) fn heap_bytes(&self) -> usize {
        let table = self.names.capacity() * (size_of::<(Box<str>, u8)>() + 1);
        let names: usize = self.names.keys().map(|k| k.len()).sum();
        let keywords = self.keywords.as_ref().map_or(0, AhoCorasick::memory_usage);
        table + names + keywords + self.regex_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(build: impl FnOnce(&mut DomainSetBuilder)) -> DomainSet {
        let mut builder = DomainSetBuilder::default();
        build(&mut builder);
        builder.build().unwrap()
    }

    #[test]
    fn exact_names_match_only_themselves() {
        let set = set(|b| b.exact("Example.COM."));
        assert!(set.matches("example.com"));
        assert!(!set.matches("www.example.com"));
        assert!(!set.matches("xexample.com"));
    }

    #[test]
    fn suffixes_match_on_label_boundaries() {
        let set = set(|b| b.suffix("example.com"));
        assert!(set.matches("example.com"));
        assert!(set.matches("a.b.example.com"));
        assert!(!set.matches("badexample.com"));
        assert!(!set.matches("example.com.evil"));
        let subdomains = self::set(|b| b.suffix(".example.com"));
        assert!(!subdomains.matches("example.com"));
        assert!(subdomains.matches("www.example.com"));
        assert!(subdomains.matches("a.www.example.com"));
    }

    #[test]
    fn one_label_wildcards_match_direct_subdomains() {
        let set = set(|b| b.one_label("example.com"));
        assert!(set.matches("www.example.com"));
        assert!(!set.matches("example.com"));
        assert!(!set.matches("a.www.example.com"));
    }

    #[test]
    fn keywords_and_regexes_search_the_name() {
        let set = set(|b| {
            b.keyword("GooG");
            b.regex(r"^ads?\d+\.");
        });
        assert!(set.matches("www.google.com"));
        assert!(set.matches("ad12.example.net"));
        assert!(!set.matches("example.net"));
        assert!(set.heap_bytes() > 0);
    }

    #[test]
    fn flags_of_one_name_combine() {
        let set = set(|b| {
            b.exact("example.com");
            b.suffix(".example.com");
        });
        assert!(set.matches("example.com"));
        assert!(set.matches("a.example.com"));
    }
}
