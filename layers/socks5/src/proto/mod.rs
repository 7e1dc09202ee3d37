//! SOCKS wire codecs (SOCKS5: RFC 1928, RFC 1929; SOCKS4 and 4a): parse from byte slices,
//! write into buffers, no I/O.
//!
//! Every parser returns `Ok(None)` when the input is a valid prefix that needs more bytes, and
//! `Ok(Some((message, consumed)))` once a whole message is there.

mod address;
mod auth;
mod greeting;
mod reply;
mod request;
mod socks4;
mod udp;

pub use address::{parse_address, write_address};
pub use auth::{AuthStatus, Credentials};
pub use greeting::{Greeting, Method, NO_ACCEPTABLE_METHOD};
pub use reply::{Reply, ReplyCode};
pub use request::{Command, Request};
pub use socks4::{
    MAX_SOCKS4_FIELD, SOCKS4_GRANTED, SOCKS4_REJECTED, Socks4Command, Socks4Request, socks4_reply,
};
pub use udp::UdpHeader;

/// A message that can never become valid, whatever bytes follow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// The version byte is not 5 (1 for the auth sub-negotiation, 4 for SOCKS4).
    #[error("unsupported version {0}")]
    Version(u8),
    /// The greeting lists no methods.
    #[error("greeting lists no authentication methods")]
    NoMethods,
    /// A username or password is empty.
    #[error("empty username or password")]
    EmptyCredential,
    /// A command other than CONNECT, BIND or UDP ASSOCIATE.
    #[error("unknown command {0}")]
    Command(u8),
    /// An address type other than IPv4, domain or IPv6.
    #[error("unknown address type {0}")]
    AddressType(u8),
    /// A domain that is empty, too long or not a host name.
    #[error("invalid domain name")]
    Domain,
    /// A reserved byte that must be zero is not.
    #[error("reserved byte is not zero")]
    Reserved,
    /// A SOCKS4 user id or domain has no terminating zero within 255 bytes.
    #[error("SOCKS4 field longer than 255 bytes")]
    Unterminated,
}

impl ProtoError {
    /// The reply code a server sends for a request that fails this way.
    pub fn as_reply(&self) -> ReplyCode {
        match self {
            ProtoError::Command(_) => ReplyCode::CommandNotSupported,
            ProtoError::AddressType(_) => ReplyCode::AddressTypeNotSupported,
            _ => ReplyCode::GeneralFailure,
        }
    }
}
