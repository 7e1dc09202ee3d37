//! The HTTP/1.1 heads of the upgrade, written to and parsed from byte slices with no I/O.

pub mod request;
pub mod response;

use crate::HttpUpgradeError;

/// Largest request or response head (request line or status line and headers) either side reads.
pub const MAX_HEAD: usize = 16 * 1024;

/// Most header lines a head may have.
const MAX_HEADERS: usize = 64;

/// The length of a parsed head, `None` while it is incomplete; a head that does not end within
/// [`MAX_HEAD`] bytes is an error.
fn head_len(
    parsed: httparse::Status<usize>,
    buffered: usize,
) -> Result<Option<usize>, HttpUpgradeError> {
    match parsed {
        httparse::Status::Complete(len) if len <= MAX_HEAD => Ok(Some(len)),
        httparse::Status::Partial if buffered < MAX_HEAD => Ok(None),
        _ => Err(HttpUpgradeError::HeadTooLarge { limit: MAX_HEAD }),
    }
}
