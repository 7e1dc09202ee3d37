//! Errors of validating the `fallback` options.

/// A `fallback` option that cannot be turned into a working choice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An entry names no outbound.
    #[error("outbound must not be empty")]
    EmptyOutbound {
        /// The entry's position in the list.
        index: usize,
    },
    /// `proxy_protocol` is neither 1 nor 2.
    #[error("proxy_protocol must be 1 or 2, not {value}")]
    ProxyVersion {
        /// The entry's position in the list.
        index: usize,
        /// The configured value.
        value: u8,
    },
    /// `path` does not start with `/` or holds characters a request line cannot carry.
    #[error("path `{path}` must start with `/` and be visible ASCII without `?`")]
    Path {
        /// The entry's position in the list.
        index: usize,
        /// The configured path.
        path: String,
    },
    /// Two entries have the same `sni`, `alpn` and `path`.
    #[error("has the same sni, alpn and path as entry {first}")]
    Duplicate {
        /// The later entry.
        index: usize,
        /// The earlier entry it repeats.
        first: usize,
    },
    /// The list is empty.
    #[error("fallback list must not be empty")]
    Empty,
}

impl ConfigError {
    /// The position of the entry the error is about, in a list of entries.
    pub fn index(&self) -> Option<usize> {
        match self {
            ConfigError::EmptyOutbound { index }
            | ConfigError::ProxyVersion { index, .. }
            | ConfigError::Path { index, .. }
            | ConfigError::Duplicate { index, .. } => Some(*index),
            ConfigError::Empty => None,
        }
    }

    /// The option of the entry the error is about, if it is about one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            ConfigError::EmptyOutbound { .. } => Some("outbound"),
            ConfigError::ProxyVersion { .. } => Some("proxy_protocol"),
            ConfigError::Path { .. } => Some("path"),
            ConfigError::Duplicate { .. } | ConfigError::Empty => None,
        }
    }
}
