//! The Clash API subset dashboards call (`../shared/ADMIN.md`): each endpoint's shape.

pub(crate) mod body;
pub(crate) mod configs;
pub(crate) mod connections;
pub(crate) mod delay;
pub(crate) mod proxies;
pub(crate) mod snapshot;
pub(crate) mod streams;
