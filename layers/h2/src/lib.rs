//! HTTP/2 transports for xypro-stack.

pub mod proto;
