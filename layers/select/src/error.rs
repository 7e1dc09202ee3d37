//! Errors of building a `select` group.

/// A `select` group that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectError {
    /// The group has no members.
    #[error("a select group needs at least one outbound")]
    Empty,
    /// The default is not one of the members.
    #[error("`{0}` is not one of the group's outbounds")]
    UnknownDefault(String),
}
