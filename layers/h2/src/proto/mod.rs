//! Codecs with no I/O: the gRPC "gun" message framing, and the HTTP/1.1 form of the `h2`
//! transport (request heads, chunked bodies).

pub mod gun;
pub mod http1;
