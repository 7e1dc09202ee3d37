//! YAML options of the `balance` layer.

use crate::Balance;
use serde::Deserialize;
use xypro_core::{BuildContext, InvalidOptions, LayerOptions};

/// Options of the `balance` layer: `{ outbounds: [name, ...] }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalanceOptions {
    /// Names of the outbound pipelines to spread connections over.
    pub outbounds: Vec<String>,
}

impl LayerOptions for BalanceOptions {
    type Output = Balance;

    /// Finds each named outbound among the config's others.
    fn validate(self, ctx: &BuildContext<'_>) -> Result<Balance, InvalidOptions> {
        let outbounds = self
            .names()?
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let connector = ctx
                    .outbound(&name)
                    .map_err(|e| InvalidOptions::at(format!("outbounds[{i}]"), e.message()))?;
                Ok((name, connector))
            })
            .collect::<Result<Vec<_>, InvalidOptions>>()?;
        Ok(Balance::new(outbounds))
    }
}

impl BalanceOptions {
    /// Checks that the list is non-empty and names each outbound once; returns the names.
    pub fn names(&self) -> Result<Vec<String>, InvalidOptions> {
        if self.outbounds.is_empty() {
            return Err(InvalidOptions::at(
                "outbounds",
                "must list at least one outbound",
            ));
        }
        for (i, name) in self.outbounds.iter().enumerate() {
            let key = format!("outbounds[{i}]");
            if name.is_empty() {
                return Err(InvalidOptions::at(key, "is an empty name"));
            }
            if self.outbounds[..i].contains(name) {
                return Err(InvalidOptions::at(key, format!("lists `{name}` twice")));
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
        assert_eq!(options.names().unwrap(), ["a", "b"]);
        let err = |yaml: &str| {
            serde_yaml::from_str::<BalanceOptions>(yaml)
                .unwrap()
                .names()
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("{ outbounds: [] }"),
            "outbounds: must list at least one outbound"
        );
        assert_eq!(
            err("{ outbounds: [a, b, a] }"),
            "outbounds[2]: lists `a` twice"
        );
        assert_eq!(
            err("{ outbounds: [a, ''] }"),
            "outbounds[1]: is an empty name"
        );
        let unknown = serde_yaml::from_str::<BalanceOptions>("{ outbounds: [a], strategy: rr }")
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("unknown field"), "{unknown}");
    }
}
