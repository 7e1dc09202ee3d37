//! The HTTP/1.1 heads of the upgrade, written to and parsed from byte slices with no I/O.

pub mod request;
pub mod response;

/// Largest request or response head (request line or status line and headers) either side reads.
pub const MAX_HEAD: usize = 16 * 1024;

/// Most header lines a head may have.
const MAX_HEADERS: usize = 64;

/// Whether a comma-separated header value holds `token` (ASCII case-insensitive).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|item| item.trim_ascii().eq_ignore_ascii_case(token))
}
