//! HTTP/1.x proxy codecs: request and response heads, request targets, hop-by-hop headers,
//! body framing, Basic credentials and the proxy's own status responses. No I/O.
//!
//! Every parser returns `Ok(None)` when the input is a valid prefix that needs more bytes, and
//! `Ok(Some((message, consumed)))` once a whole message is there.

mod auth;
mod body;
mod headers;
mod request;
mod response;
mod status;
mod target;

pub use auth::{basic_credentials, basic_value};
pub use body::{BodyProgress, Framing};
pub use headers::{ConnectionOptions, content_length, is_chunked};
pub use request::RequestHead;
pub use response::ResponseHead;
pub use status::{Status, write_status};
pub use target::{ForwardTarget, connect_destination, forward_target};

/// The longest request or response head accepted, request line and headers together.
pub const MAX_HEAD: usize = 64 * 1024;

/// The most header fields one head may have.
pub const MAX_HEADERS: usize = 128;

/// The HTTP version of a message: only HTTP/1.0 and HTTP/1.1 are spoken here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// `HTTP/1.0`: connections close after each message unless both sides ask otherwise.
    Http10,
    /// `HTTP/1.1`: persistent connections by default.
    Http11,
}

impl Version {
    /// The version as written on a request or status line.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }

    fn from_minor(minor: u8) -> Self {
        match minor {
            0 => Version::Http10,
            _ => Version::Http11,
        }
    }
}

/// One header field: the name as the peer spelled it and the raw value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The field name (case preserved; compare with `eq_ignore_ascii_case`).
    pub name: String,
    /// The field value, without surrounding whitespace; may hold non-UTF-8 bytes.
    pub value: Vec<u8>,
}

impl Header {
    /// A header field from its parts.
    pub fn new(name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Header {
            name: name.into(),
            value: value.into(),
        }
    }

    /// Whether the field is called `name` (ASCII case-insensitive).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    fn from_parsed(header: &httparse::Header<'_>) -> Self {
        Header::new(header.name, header.value)
    }

    /// Appends `name: value\r\n`.
    pub fn write_to_buf(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(self.name.as_bytes());
        buf.extend_from_slice(b": ");
        buf.extend_from_slice(&self.value);
        buf.extend_from_slice(b"\r\n");
    }
}

/// A message that can never become valid, whatever bytes follow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtoError {
    /// The head is longer than [`MAX_HEAD`].
    #[error("message head longer than {MAX_HEAD} bytes")]
    HeadTooLarge,
    /// The head has more than [`MAX_HEADERS`] fields.
    #[error("more than {MAX_HEADERS} header fields")]
    TooManyHeaders,
    /// The head is not HTTP/1.x syntax.
    #[error("malformed message head")]
    Malformed(#[source] httparse::Error),
    /// The request target cannot be proxied.
    #[error("bad request target: {0}")]
    Target(&'static str),
    /// The body's length cannot be determined safely.
    #[error("bad message framing: {0}")]
    Framing(&'static str),
    /// A chunked body is malformed.
    #[error("bad chunked body: {0}")]
    Chunk(&'static str),
}

impl ProtoError {
    /// The status a proxy answers a client's request that fails this way with.
    pub fn status(&self) -> Status {
        match self {
            ProtoError::HeadTooLarge | ProtoError::TooManyHeaders => Status::HEADERS_TOO_LARGE,
            ProtoError::Malformed(httparse::Error::Version) => Status::VERSION_NOT_SUPPORTED,
            _ => Status::BAD_REQUEST,
        }
    }

    fn from_httparse(error: httparse::Error) -> Self {
        match error {
            httparse::Error::TooManyHeaders => ProtoError::TooManyHeaders,
            other => ProtoError::Malformed(other),
        }
    }
}

/// Maps an httparse result to the incremental-parser convention, enforcing [`MAX_HEAD`].
fn head_length(
    src: &[u8],
    status: Result<httparse::Status<usize>, httparse::Error>,
) -> Result<Option<usize>, ProtoError> {
    match status.map_err(ProtoError::from_httparse)? {
        httparse::Status::Complete(len) if len > MAX_HEAD => Err(ProtoError::HeadTooLarge),
        httparse::Status::Complete(len) => Ok(Some(len)),
        httparse::Status::Partial if src.len() >= MAX_HEAD => Err(ProtoError::HeadTooLarge),
        httparse::Status::Partial => Ok(None),
    }
}
