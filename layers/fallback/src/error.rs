//! Errors of validating the `fallback` options.

/// A `fallback` option that cannot be turned into a working choice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An entry names no outbound.
    #[error("fallback[{index}]: outbound must not be empty")]
    EmptyOutbound {
        /// The entry's position in the list.
        index: usize,
    },
    /// `proxy_protocol` is neither 1 nor 2.
    #[error("fallback[{index}]: proxy_protocol must be 1 or 2, not {value}")]
    ProxyVersion {
        /// The entry's position in the list.
        index: usize,
        /// The configured value.
        value: u8,
    },
    /// `path` does not start with `/` or holds characters a request line cannot carry.
    #[error(
        "fallback[{index}]: path `{path}` must start with `/` and be visible ASCII without `?`"
    )]
    Path {
        /// The entry's position in the list.
        index: usize,
        /// The configured path.
        path: String,
    },
    /// Two entries have the same `sni`, `alpn` and `path`.
    #[error("fallback[{index}] has the same sni, alpn and path as fallback[{first}]")]
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
