//! YAML options of the `balance` layer.

use crate::ConfigError;
use serde::Deserialize;

/// Options of the `balance` layer: `{ outbounds: [name, ...] }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalanceOptions {
    /// Names of the outbound pipelines to spread connections over.
    pub outbounds: Vec<String>,
}

impl BalanceOptions {
    /// Checks that the list is non-empty and names each outbound once; returns the names.
    pub fn validate(&self) -> Result<Vec<String>, ConfigError> {
        if self.outbounds.is_empty() {
            return Err(ConfigError(
                "outbounds must list at least one outbound".into(),
            ));
        }
        for (i, name) in self.outbounds.iter().enumerate() {
            if name.is_empty() {
                return Err(ConfigError(format!("outbounds[{i}] is an empty name")));
            }
            if self.outbounds[..i].contains(name) {
                return Err(ConfigError(format!("outbounds lists `{name}` twice")));
            }
        }
        Ok(self.outbounds.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_validate() {
        let options: BalanceOptions = serde_yaml::from_str("{ outbounds: [a, b] }").unwrap();
        assert_eq!(options.validate().unwrap(), ["a", "b"]);
        let err = |yaml: &str| {
            serde_yaml::from_str::<BalanceOptions>(yaml)
                .unwrap()
                .validate()
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("{ outbounds: [] }"),
            "outbounds must list at least one outbound"
        );
        assert_eq!(err("{ outbounds: [a, b, a] }"), "outbounds lists `a` twice");
        assert_eq!(
            err("{ outbounds: [a, ''] }"),
            "outbounds[1] is an empty name"
        );
        let unknown = serde_yaml::from_str::<BalanceOptions>("{ outbounds: [a], strategy: rr }")
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("unknown field"), "{unknown}");
    }
}
