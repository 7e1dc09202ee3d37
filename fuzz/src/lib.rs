//! Property checks shared by the fuzz targets.
//!
//! Every streaming parser in the project returns `Ok(None)` for "need more bytes",
//! `Ok(Some((message, consumed)))` for a whole message and `Err` for input that can never become
//! valid. [`check_incremental`] checks those promises on any input: the result never depends on
//! bytes after `consumed`, every proper prefix of a message is `Ok(None)`, an error stays an error
//! whatever follows, and `Ok(None)` only happens below the longest possible message.

use std::{
    fmt::Debug,
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll, Waker},
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Prefixes are checked one by one up to this length, then only around the message end.
const PREFIX_CHECK_LIMIT: usize = 600;

/// Parses `data` and checks the incremental-parser contract; returns the parsed message.
///
/// `max_message` is the longest a message can be: `Ok(None)` on an input at least that long
/// means the parser waits for bytes that can never complete anything.
pub fn check_incremental<'a, T, E>(
    data: &'a [u8],
    max_message: usize,
    parse: impl Fn(&'a [u8]) -> Result<Option<(T, usize)>, E>,
) -> Option<(T, usize)>
where
    T: PartialEq + Debug,
    E: Debug,
{
    let full = parse(data);
    let cuts = prefix_cuts(data.len());
    match &full {
        Ok(Some((message, used))) => {
            let used = *used;
            assert!(
                used > 0 && used <= data.len(),
                "consumed {used} of {}",
                data.len()
            );
            assert!(used <= max_message, "consumed {used} > max {max_message}");
            // The message must not depend on what follows it.
            match parse(&data[..used]) {
                Ok(Some((alone, alone_used))) => {
                    assert_eq!(
                        (&alone, alone_used),
                        (message, used),
                        "differs without the rest"
                    )
                }
                _ => panic!("the {used}-byte message alone does not parse"),
            }
            for cut in cuts.filter(|&cut| cut < used) {
                assert!(
                    matches!(parse(&data[..cut]), Ok(None)),
                    "prefix of {cut} bytes of a {used}-byte message is not `Ok(None)`"
                );
            }
        }
        Ok(None) => {
            assert!(
                data.len() < max_message,
                "`Ok(None)` on {} bytes, max message is {max_message}",
                data.len()
            );
            for cut in cuts {
                assert!(
                    matches!(parse(&data[..cut]), Ok(None)),
                    "prefix of {cut} bytes is not `Ok(None)` though the whole input is"
                );
            }
        }
        Err(_) => {
            let mut failed = false;
            for cut in cuts {
                match parse(&data[..cut]) {
                    Ok(None) => assert!(!failed, "an error at a shorter prefix became `Ok(None)`"),
                    Ok(Some(_)) => panic!("prefix of {cut} bytes parses but the whole input fails"),
                    Err(_) => failed = true,
                }
            }
        }
    }
    full.ok().flatten()
}

/// The prefix lengths worth checking for an input of `len` bytes.
fn prefix_cuts(len: usize) -> impl Iterator<Item = usize> + Clone {
    let head = 0..len.min(PREFIX_CHECK_LIMIT);
    let tail = len.saturating_sub(8).max(PREFIX_CHECK_LIMIT)..len;
    head.chain(tail)
}

/// An in-memory reader that hands out `data` in chunks of the given sizes (cycled).
#[derive(Debug)]
pub struct ChunkedReader<'a> {
    data: &'a [u8],
    chunks: Vec<usize>,
    next_chunk: usize,
}

impl<'a> ChunkedReader<'a> {
    /// A reader over `data`; a chunk size of 0 counts as 1, an empty list as one read for all.
    pub fn new(data: &'a [u8], chunks: Vec<usize>) -> Self {
        ChunkedReader {
            data,
            chunks,
            next_chunk: 0,
        }
    }
}

impl AsyncRead for ChunkedReader<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let chunk = match self.chunks.get(self.next_chunk % self.chunks.len().max(1)) {
            Some(&size) => size.max(1),
            None => usize::MAX,
        };
        self.next_chunk += 1;
        let n = chunk.min(buf.remaining()).min(self.data.len());
        let (now, later) = self.data.split_at(n);
        buf.put_slice(now);
        self.data = later;
        Poll::Ready(Ok(()))
    }
}

/// Writes are accepted and dropped, so a reader can stand in for a whole connection.
impl AsyncWrite for ChunkedReader<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Runs a future that never waits (it only touches in-memory readers) to completion.
pub fn run_ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("an in-memory future returned Pending"),
    }
}
