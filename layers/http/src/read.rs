//! The read loops that drive the codecs: a whole message head, or a body from one stream to
//! another, each under its deadline.

use crate::{
    HttpError,
    proto::{BodyProgress, ProtoError},
};
use bytes::{Buf, BytesMut};
use std::{io, time::Duration};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    time::{Instant, timeout, timeout_at},
};

/// Bytes asked for per read.
const READ_CHUNK: usize = 16 * 1024;

/// How long a message head may take: to its first byte, then from there to its end.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Patience {
    /// The wait for the first byte (a kept-alive connection's idle time).
    pub(crate) first_byte: Duration,
    /// The deadline for the whole head once it started (against slow-header clients).
    pub(crate) whole: Duration,
}

/// An incremental parser: a message and the bytes it used, `None` for "need more bytes".
pub(crate) type Parse<T> = fn(&[u8]) -> Result<Option<(T, usize)>, ProtoError>;

/// Reads more bytes into `buf`; `Ok(0)` at the end of the stream.
pub(crate) async fn fill<R>(reader: &mut R, buf: &mut BytesMut) -> io::Result<usize>
where
    R: AsyncRead + Unpin + ?Sized,
{
    if buf.capacity() - buf.len() < READ_CHUNK / 4 {
        buf.reserve(READ_CHUNK);
    }
    reader.read_buf(buf).await
}

/// Reads from `reader` into `buf` until `parse` yields a message, which is removed from `buf`;
/// `Ok(None)` if the stream ends before a message starts.
pub(crate) async fn read_message<R, T>(
    reader: &mut R,
    buf: &mut BytesMut,
    parse: Parse<T>,
    patience: Patience,
) -> Result<Option<T>, HttpError>
where
    R: AsyncRead + Unpin + ?Sized,
{
    let waiting_since = Instant::now();
    let mut started = (!buf.is_empty()).then_some(waiting_since);
    loop {
        if let Some((message, used)) = parse(buf)? {
            buf.advance(used);
            return Ok(Some(message));
        }
        let deadline = match started {
            Some(at) => at + patience.whole,
            None => waiting_since + patience.first_byte,
        };
        let read = timeout_at(deadline, fill(reader, buf)).await;
        match read {
            Err(_) if started.is_some() => return Err(HttpError::HeadTimeout(patience.whole)),
            Err(_) => return Err(HttpError::Idle(patience.first_byte)),
            Ok(Ok(0)) if buf.is_empty() => return Ok(None),
            Ok(Ok(0)) => return Err(HttpError::Truncated),
            Ok(Ok(_)) => {
                started.get_or_insert_with(Instant::now);
            }
            Ok(Err(e)) => return Err(e.into()),
        }
    }
}

/// Which side of a body copy failed.
#[derive(Debug)]
pub(crate) enum CopyError {
    /// Reading the body failed, it was malformed, stalled or cut short.
    Source(HttpError),
    /// Writing it on failed.
    Sink(io::Error),
}

/// Copies a body from `reader` (starting with what `buf` already holds) to `writer` until
/// `progress` says it ended; bytes after it stay in `buf`. Each read and write may stall for
/// at most `idle`.
pub(crate) async fn copy_body<R, W>(
    reader: &mut R,
    buf: &mut BytesMut,
    writer: &mut W,
    progress: &mut BodyProgress,
    idle: Duration,
) -> Result<(), CopyError>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    let stalled = || io::Error::new(io::ErrorKind::TimedOut, "body stalled");
    loop {
        if !buf.is_empty() && !progress.is_done() {
            let n = progress
                .advance(buf)
                .map_err(|e| CopyError::Source(e.into()))?;
            let write = async {
                writer.write_all(&buf[..n]).await?;
                writer.flush().await
            };
            match timeout(idle, write).await {
                Ok(written) => written.map_err(CopyError::Sink)?,
                Err(_) => return Err(CopyError::Sink(stalled())),
            }
            buf.advance(n);
        }
        if progress.is_done() {
            return Ok(());
        }
        match timeout(idle, fill(reader, buf)).await {
            Err(_) => return Err(CopyError::Source(HttpError::Io(stalled()))),
            Ok(Err(e)) => return Err(CopyError::Source(e.into())),
            Ok(Ok(0)) if progress.ends_at_close() => return Ok(()),
            Ok(Ok(0)) => return Err(CopyError::Source(HttpError::Truncated)),
            Ok(Ok(_)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Framing, RequestHead};

    const PATIENT: Patience = Patience {
        first_byte: Duration::from_secs(5),
        whole: Duration::from_secs(1),
    };

    #[tokio::test]
    async fn reads_heads_split_anywhere_and_keeps_what_follows() {
        let wire = b"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\nGET http://b/ HTTP/1.1\r\n\r\n";
        let mut reader = tokio_test_reader(wire, 3);
        let mut buf = BytesMut::new();
        let first = read_message(&mut reader, &mut buf, RequestHead::parse, PATIENT).await;
        assert_eq!(first.unwrap().unwrap().target, "http://a/");
        let second = read_message(&mut reader, &mut buf, RequestHead::parse, PATIENT).await;
        assert_eq!(second.unwrap().unwrap().target, "http://b/");
        let end = read_message(&mut reader, &mut buf, RequestHead::parse, PATIENT).await;
        assert!(matches!(end, Ok(None)), "a clean end between messages");
    }

    #[tokio::test(start_paused = true)]
    async fn a_started_head_has_its_own_deadline() {
        let (mut client, mut server) = tokio::io::duplex(64);
        client
            .write_all(b"GET http://a/ HTTP/1.1\r\n")
            .await
            .unwrap();
        let started = Instant::now();
        let mut buf = BytesMut::new();
        let slow = read_message(&mut server, &mut buf, RequestHead::parse, PATIENT).await;
        assert!(matches!(slow, Err(HttpError::HeadTimeout(_))), "{slow:?}");
        assert_eq!(started.elapsed(), PATIENT.whole);

        let mut silent = BytesMut::new();
        let idle = read_message(&mut server, &mut silent, RequestHead::parse, PATIENT).await;
        assert!(matches!(idle, Err(HttpError::Idle(_))), "{idle:?}");
        drop(client);
    }

    #[tokio::test]
    async fn copies_a_chunked_body_and_leaves_the_next_request() {
        let wire = b"3\r\nabc\r\n0\r\n\r\nGET http://next/ HTTP/1.1\r\n\r\n";
        let mut reader = tokio_test_reader(wire, 4);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut progress = BodyProgress::new(Framing::Chunked);
        copy_body(
            &mut reader,
            &mut buf,
            &mut out,
            &mut progress,
            PATIENT.whole,
        )
        .await
        .unwrap();
        assert_eq!(out, b"3\r\nabc\r\n0\r\n\r\n");
        let next = read_message(&mut reader, &mut buf, RequestHead::parse, PATIENT).await;
        assert_eq!(next.unwrap().unwrap().target, "http://next/");

        let mut cut = tokio_test_reader(b"5\r\nab", 2);
        let mut progress = BodyProgress::new(Framing::Chunked);
        let err = copy_body(
            &mut cut,
            &mut BytesMut::new(),
            &mut Vec::new(),
            &mut progress,
            PATIENT.whole,
        )
        .await;
        assert!(
            matches!(err, Err(CopyError::Source(HttpError::Truncated))),
            "{err:?}"
        );
    }

    /// A reader handing out `data` `step` bytes at a time, then the end of the stream.
    fn tokio_test_reader(data: &[u8], step: usize) -> impl AsyncRead + Unpin {
        let (mut tx, rx) = tokio::io::duplex(data.len() + 1);
        let data = data.to_vec();
        tokio::spawn(async move {
            for piece in data.chunks(step) {
                tx.write_all(piece).await.unwrap();
                tokio::task::yield_now().await;
            }
        });
        rx
    }
}
