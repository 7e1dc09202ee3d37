//! Matching structures: domain sets, IP range sets and port range sets.

pub(crate) mod domain;
pub(crate) mod ip;
pub(crate) mod port;
