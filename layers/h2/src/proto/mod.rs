//! Codecs with no I/O: the gRPC "gun" message framing.

pub mod gun;
