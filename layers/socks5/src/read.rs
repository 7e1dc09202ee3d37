//! The one read loop that drives every codec: read until a parser has a whole message.

use crate::{Socks5Error, proto::ProtoError};
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// No SOCKS5 handshake message is longer than this.
const MAX_MESSAGE: usize = 600;

/// Reads from `io` into `buf` until `parse` yields a message, which is removed from `buf`.
pub(crate) async fn read_message<T, R>(
    io: &mut R,
    buf: &mut BytesMut,
    parse: impl Fn(&[u8]) -> Result<Option<(T, usize)>, ProtoError>,
) -> Result<T, Socks5Error>
where
    R: AsyncRead + Unpin + ?Sized,
{
    loop {
        if let Some((message, used)) = parse(buf)? {
            buf.advance(used);
            return Ok(message);
        }
        if buf.len() >= MAX_MESSAGE {
            return Err(Socks5Error::TooLong);
        }
        buf.reserve(MAX_MESSAGE);
        if io.read_buf(buf).await? == 0 {
            return Err(Socks5Error::Truncated);
        }
    }
}
