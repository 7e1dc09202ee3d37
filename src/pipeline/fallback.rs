//! An inbound's `fallback:`: the validated choice and the outbound connector of each entry.

use super::Builder;
use crate::config::{ConfigError, Step};
use std::collections::HashMap;
use xypro_core::BoxConnector;
use xypro_fallback::{FallbackOptions, Fallbacks, ProxyVersion, Request};

/// Where an inbound sends the connections its pipeline refuses.
#[derive(Debug, Clone)]
pub struct InboundFallback {
    choices: Fallbacks,
    outbounds: HashMap<String, BoxConnector>,
}

impl InboundFallback {
    /// The outbound for `request` and the PROXY header to send it first, or `None` when no
    /// entry covers it.
    pub fn choose(&self, request: &Request<'_>) -> Option<(BoxConnector, Option<ProxyVersion>)> {
        let chosen = self.choices.choose(request)?;
        let connector = self.outbounds.get(&chosen.outbound)?.clone();
        Some((connector, chosen.proxy_protocol))
    }
}

impl Builder<'_> {
    /// Validates the `fallback:` of inbound `name` and builds the outbounds it names; errors
    /// point at the entry and option at fault.
    pub(super) fn fallback(
        &self,
        name: &str,
        options: &FallbackOptions,
    ) -> Result<InboundFallback, ConfigError> {
        let base = [
            Step::Key("inbounds"),
            Step::Key(name),
            Step::Key("fallback"),
        ];
        let at = |index: Option<usize>, field: Option<&'static str>| {
            let mut path = base.to_vec();
            if let (FallbackOptions::List(_), Some(index)) = (options, index) {
                path.push(Step::Index(index));
            }
            if let (false, Some(field)) = (matches!(options, FallbackOptions::Outbound(_)), field) {
                path.push(Step::Key(field));
            }
            path
        };
        let choices = options
            .validate()
            .map_err(|e| self.config.error(&at(e.index(), e.field()), e.to_string()))?;
        let mut outbounds = HashMap::new();
        for (index, outbound) in options.outbounds().into_iter().enumerate() {
            if !self.config.raw.outbounds.contains_key(outbound) {
                let known: Vec<&str> = self
                    .config
                    .raw
                    .outbounds
                    .keys()
                    .map(String::as_str)
                    .collect();
                let message = format!(
                    "no outbound named `{outbound}` (defined: {})",
                    known.join(", ")
                );
                return Err(self
                    .config
                    .error(&at(Some(index), Some("outbound")), message));
            }
            outbounds.insert(outbound.to_owned(), self.outbound(outbound)?);
        }
        Ok(InboundFallback { choices, outbounds })
    }
}
