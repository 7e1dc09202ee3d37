//! WebSocket handshake codecs: no I/O, only bytes and header checks.

pub(crate) mod accept;
pub mod early_data;
pub(crate) mod request;
pub(crate) mod response;
