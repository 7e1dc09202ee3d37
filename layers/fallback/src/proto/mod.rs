//! Codecs with no I/O: PROXY protocol headers and the HTTP/1 path sniffer.

pub mod proxy_protocol;
pub mod sniff;
