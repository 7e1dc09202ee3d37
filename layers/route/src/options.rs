//! YAML options of the `route` layer: `{ rules: [...], final: NAME }`.

use crate::{ConfigError, rule::Rule};
use serde::Deserialize;

/// Options of the `route` layer: rules tried in order, then the `final` outbound.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteOptions {
    /// The rules, sing-box maps or Clash strings; the first that matches wins.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// The outbound for connections no rule matches.
    #[serde(rename = "final")]
    pub final_outbound: String,
}

impl RouteOptions {
    /// Checks the options and returns every outbound they name (`final` last), each once, so
    /// the builder can check that they exist.
    pub fn validate(&self) -> Result<Vec<String>, ConfigError> {
        if self.final_outbound.trim().is_empty() {
            return Err(ConfigError::Final("the final outbound is empty".into()));
        }
        let mut names: Vec<String> = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            if rule.outbound.trim().is_empty() {
                return Err(ConfigError::Rule {
                    index,
                    message: "the outbound is empty".into(),
                });
            }
            if !names.contains(&rule.outbound) {
                names.push(rule.outbound.clone());
            }
        }
        names.retain(|name| *name != self.final_outbound);
        names.push(self.final_outbound.clone());
        Ok(names)
    }
}
