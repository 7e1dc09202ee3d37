//! YAML options of the `select` layer.

use crate::{Select, Selection, Selections};
use serde::Deserialize;
use std::sync::Arc;
use xypro_core::{BuildContext, InvalidOptions, LayerOptions};

/// Options of the `select` layer: `{ outbounds: [name, ...], default: name }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectOptions {
    /// Names of the outbound pipelines to choose among.
    pub outbounds: Vec<String>,
    /// The member used until another is chosen (default: the first).
    #[serde(default)]
    pub default: Option<String>,
}

impl SelectOptions {
    /// Checks that the list is non-empty, names each outbound once and holds the default;
    /// returns the default member.
    pub fn default_member(&self) -> Result<&str, InvalidOptions> {
        let Some(first) = self.outbounds.first() else {
            return Err(InvalidOptions::at(
                "outbounds",
                "must list at least one outbound",
            ));
        };
        for (i, name) in self.outbounds.iter().enumerate() {
            let key = format!("outbounds[{i}]");
            if name.is_empty() {
                return Err(InvalidOptions::at(key, "is an empty name"));
            }
            if self.outbounds[..i].contains(name) {
                return Err(InvalidOptions::at(key, format!("lists `{name}` twice")));
            }
        }
        match &self.default {
            None => Ok(first),
            Some(default) if self.outbounds.contains(default) => Ok(default),
            Some(default) => Err(InvalidOptions::at(
                "default",
                format!("`{default}` is not one of `outbounds`"),
            )),
        }
    }
}

impl LayerOptions for SelectOptions {
    type Output = Select;

    /// Finds each named outbound among the config's others; the choice is kept in the
    /// builder's [`Selections`] under the pipeline's name, when there are both.
    fn validate(self, ctx: &BuildContext<'_>) -> Result<Select, InvalidOptions> {
        let default = self.default_member()?.to_owned();
        let members = self
            .outbounds
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let connector = ctx
                    .outbound(&name)
                    .map_err(|e| InvalidOptions::at(format!("outbounds[{i}]"), e.message()))?;
                Ok((name, connector))
            })
            .collect::<Result<Vec<_>, InvalidOptions>>()?;
        let selection = match (ctx.resource::<Selections>(), ctx.name()) {
            (Some(selections), Some(name)) => selections.group(name),
            _ => Arc::new(Selection::new()),
        };
        Select::new(members, &default, selection).map_err(|e| InvalidOptions::new(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(yaml: &str) -> String {
        let options: SelectOptions = serde_yaml::from_str(yaml).unwrap();
        options.default_member().unwrap_err().to_string()
    }

    #[test]
    fn options_validate() {
        let options: SelectOptions = serde_yaml::from_str("{ outbounds: [a, b] }").unwrap();
        assert_eq!(options.default_member().unwrap(), "a");
        let options: SelectOptions =
            serde_yaml::from_str("{ outbounds: [a, b], default: b }").unwrap();
        assert_eq!(options.default_member().unwrap(), "b");
        assert_eq!(
            err("{ outbounds: [] }"),
            "outbounds: must list at least one outbound"
        );
        assert_eq!(
            err("{ outbounds: [a, a] }"),
            "outbounds[1]: lists `a` twice"
        );
        assert_eq!(
            err("{ outbounds: [a], default: z }"),
            "default: `z` is not one of `outbounds`"
        );
        let unknown = serde_yaml::from_str::<SelectOptions>("{ outbounds: [a], mode: x }")
            .unwrap_err()
            .to_string();
        assert!(unknown.contains("unknown field"), "{unknown}");
    }

    #[test]
    fn without_outbounds_to_look_up_the_error_names_the_member() {
        let options: SelectOptions = serde_yaml::from_str("{ outbounds: [a] }").unwrap();
        let err = options.validate(&BuildContext::default()).unwrap_err();
        assert_eq!(err.key(), Some("outbounds[0]"));
    }
}
