//! Routing rules for xypro-stack: choose an outbound per connection from sing-box map rules
//! and Clash one-line rules, with rule sets, GeoIP and Clash-style lazy DNS.
//!
//! [`RouteOptions`] are the YAML options of a `route` outbound, which validate into a
//! [`RouteConnector`] sending each connection to the outbound its rules choose; `reject`
//! ([`RejectOptions`], [`Reject`]) refuses everything. [`Router`] compiles the options with
//! the [`Resources`] they name (rule sets from [`RuleSetOptions::load`], a [`GeoIp`]
//! database) and [`Router::decide`]s for each connection's [`Facts`]. The engine does no I/O
//! but reading those files; the resolver is the caller's.

mod compile;
mod connector;
mod error;
mod eval;
mod facts;
mod geoip;
mod matcher;
mod options;
mod router;
mod rule;
mod ruleset;
mod syntax;

pub use connector::{Reject, RouteConnector};
pub use error::{ClashError, ConfigError, GeoIpError, RuleSetError};
pub use facts::Facts;
pub use geoip::{GeoIp, GeoIpOptions};
pub use options::{RejectOptions, RouteOptions};
pub use router::{Decision, Resolve, Resources, Router};
pub use rule::{Cidr, Condition, Fields, Label, Logical, Mode, PortRange, Protocol, Rule};
pub use ruleset::{Behavior, RuleSet, RuleSetFormat, RuleSetOptions};
pub use syntax::clash::parse_clash_rule;
