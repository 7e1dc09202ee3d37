//! Reading rules as written: sing-box map rules and Clash one-line rules, with their values
//! checked where they are written so that errors point at the line.

pub(crate) mod clash;
pub(crate) mod label;
pub(crate) mod map;
pub(crate) mod value;

#[cfg(test)]
mod tests;
