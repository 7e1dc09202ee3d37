//! VLESS wire codecs: parse from byte slices, write into buffers, no I/O.
//!
//! Every parser returns `Ok(None)` when the input is a valid prefix that needs more bytes, and
//! `Ok(Some((message, consumed)))` once a whole message is there; bytes after `consumed` belong
//! to the payload.

mod address;
mod request;
mod response;
mod user;
pub mod xudp;

pub use address::{address_len, parse_address, write_address};
pub use request::{Command, Request};
pub use response::{RESPONSE_OK, Response};
pub use user::{MAX_NAME_ID, UserIdError, parse_user_id};

/// The only VLESS version there is.
pub const VERSION: u8 = 0;

/// A message that can never become valid, whatever bytes follow, or one that cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// The version byte is not 0.
    #[error("unsupported version {0}")]
    Version(u8),
    /// A command other than TCP (1), UDP (2) or mux (3).
    #[error("unknown command {0}")]
    Command(u8),
    /// An address type other than IPv4 (1), domain (2) or IPv6 (3).
    #[error("unknown address type {0}")]
    AddressType(u8),
    /// A domain that is empty, longer than 255 bytes, or not a host name.
    #[error("invalid domain name")]
    Domain,
    /// Addons longer than the 255 bytes their length byte can describe.
    #[error("addons longer than 255 bytes")]
    AddonsTooLong,
    /// Mux frame metadata shorter than 4 bytes, longer than 512, or cut inside an address.
    #[error("invalid mux frame metadata")]
    FrameMeta,
    /// A mux frame status other than new (1), keep (2), end (3) or keepalive (4).
    #[error("unknown mux frame status {0}")]
    FrameStatus(u8),
    /// A mux frame network other than TCP (1) or UDP (2).
    #[error("unknown mux frame network {0}")]
    FrameNetwork(u8),
    /// A mux frame payload longer than 65535 bytes.
    #[error("mux frame payload longer than 65535 bytes")]
    FrameTooLong,
    /// A network other than TCP or UDP, which VLESS cannot carry.
    #[error("VLESS carries only TCP and UDP")]
    Network,
}
