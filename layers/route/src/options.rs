//! YAML options of the `route` layer: `{ rules: [...], final: NAME }`.

use crate::{ConfigError, Reject, Resources, RouteConnector, Router, rule::Rule};
use serde::Deserialize;
use std::collections::HashMap;
use xypro_core::{BuildContext, InvalidOptions, LayerOptions, SharedResolver, SystemResolver};

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
    pub fn outbound_names(&self) -> Result<Vec<String>, ConfigError> {
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

impl LayerOptions for RouteOptions {
    type Output = RouteConnector;

    /// Compiles the rules with the rule sets and GeoIP database the builder loaded, and finds
    /// every outbound they name.
    fn validate(self, ctx: &BuildContext<'_>) -> Result<RouteConnector, InvalidOptions> {
        let resources = ctx.resource::<Resources>().cloned().unwrap_or_default();
        let router = Router::new(&self, &resources).map_err(located)?;
        let mut outbounds = HashMap::new();
        for name in self.outbound_names().map_err(located)? {
            let key = match self.rules.iter().position(|rule| rule.outbound == name) {
                Some(index) => format!("rules[{index}]"),
                None => "final".to_owned(),
            };
            let connector = ctx
                .outbound(&name)
                .map_err(|e| InvalidOptions::at(key, e.message()))?;
            outbounds.insert(name, connector);
        }
        let resolver = ctx
            .resource::<SharedResolver>()
            .cloned()
            .unwrap_or_else(SystemResolver::shared);
        Ok(RouteConnector::new(router, outbounds, resolver))
    }
}

/// A rule or `final` error, placed at its key.
fn located(error: ConfigError) -> InvalidOptions {
    match error {
        ConfigError::Rule { index, message } => {
            InvalidOptions::at(format!("rules[{index}]"), message)
        }
        ConfigError::Final(message) => InvalidOptions::at("final", message),
    }
}

/// Options of the `reject` outbound: none.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectOptions {}

impl LayerOptions for RejectOptions {
    type Output = Reject;

    fn validate(self, _: &BuildContext<'_>) -> Result<Reject, InvalidOptions> {
        Ok(Reject)
    }
}
