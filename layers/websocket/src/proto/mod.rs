//! WebSocket codecs: the handshake and the data-phase frames; no I/O, only bytes and checks.

pub(crate) mod accept;
pub mod early_data;
pub(crate) mod frame;
pub(crate) mod request;
pub(crate) mod response;
