//! UDP over a byte stream: every datagram is framed as `len(2, big-endian) | data`.

use bytes::{Buf, Bytes, BytesMut};
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest datagram payload a frame can carry.
pub const MAX_DATAGRAM: usize = u16::MAX as usize;

/// Appends one framed datagram to `buf`; fails if `data` is longer than [`MAX_DATAGRAM`].
pub fn encode_datagram(buf: &mut Vec<u8>, data: &[u8]) -> io::Result<()> {
    let len = u16::try_from(data.len()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "datagram longer than 65535 bytes",
        )
    })?;
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(data);
    Ok(())
}

/// Writes one framed datagram in a single write call and flushes it.
pub async fn write_datagram<W: AsyncWrite + Unpin>(io: &mut W, data: &[u8]) -> io::Result<()> {
    let mut frame = Vec::with_capacity(data.len() + 2);
    encode_datagram(&mut frame, data)?;
    io.write_all(&frame).await?;
    io.flush().await
}

/// Reads framed datagrams from a stream, whatever the read boundaries.
#[derive(Debug, Default)]
pub struct DatagramReader {
    buf: BytesMut,
}

impl DatagramReader {
    /// A reader with an empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Returns the next datagram, `None` at a clean end of stream, or an error on a truncated frame.
    pub async fn next<R: AsyncRead + Unpin>(&mut self, io: &mut R) -> io::Result<Option<Bytes>> {
        loop {
            if let Some(datagram) = self.try_next() {
                return Ok(Some(datagram));
            }
            self.buf.reserve(4096);
            if io.read_buf(&mut self.buf).await? == 0 {
                return match self.buf.is_empty() {
                    true => Ok(None),
                    false => Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "stream ended inside a datagram frame",
                    )),
                };
            }
        }
    }

    /// Takes one complete datagram from what was already read, if there is one.
    pub fn try_next(&mut self) -> Option<Bytes> {
        let len = u16::from_be_bytes(self.buf.get(..2)?.try_into().ok()?) as usize;
        if self.buf.len() < 2 + len {
            return None;
        }
        self.buf.advance(2);
        Some(self.buf.split_to(len).freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_frames_split_across_reads() {
        let mut wire = Vec::new();
        encode_datagram(&mut wire, b"hello").unwrap();
        encode_datagram(&mut wire, b"").unwrap();
        encode_datagram(&mut wire, b"world").unwrap();
        let mut builder = tokio_test::io::Builder::new();
        for byte in &wire {
            builder.read(std::slice::from_ref(byte));
        }
        let mut io = builder.build();
        let mut reader = DatagramReader::new();
        assert_eq!(&reader.next(&mut io).await.unwrap().unwrap()[..], b"hello");
        assert_eq!(&reader.next(&mut io).await.unwrap().unwrap()[..], b"");
        assert_eq!(&reader.next(&mut io).await.unwrap().unwrap()[..], b"world");
        assert!(reader.next(&mut io).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn truncated_frame_is_an_error() {
        let mut io = tokio_test::io::Builder::new().read(&[0, 9, 1, 2]).build();
        let err = DatagramReader::new().next(&mut io).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn oversize_datagram_is_refused() {
        let mut buf = Vec::new();
        assert!(encode_datagram(&mut buf, &vec![0; MAX_DATAGRAM + 1]).is_err());
        assert!(buf.is_empty());
    }
}
