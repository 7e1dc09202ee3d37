//! A TCP relay that holds every chunk for a fixed one-way delay, in both directions, to stand in
//! for a link with a round-trip time of twice that delay.
//!
//! Each chunk is due at its arrival plus the delay; reading goes on while earlier chunks wait,
//! so chunks are not serialised, and they leave in order. The TCP handshakes (to the relay and
//! from it) are not delayed: on a real link every new connection costs one round trip more.

use std::{io, net::SocketAddr, time::Duration};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{
        TcpListener, TcpStream,
        tcp::{OwnedReadHalf, OwnedWriteHalf},
    },
    sync::mpsc,
    task::JoinHandle,
    time::Instant,
};

/// Chunks waiting in one direction before the relay stops reading (bounds its memory).
const CHUNKS_IN_FLIGHT: usize = 256;
/// The largest chunk read at once.
const CHUNK: usize = 64 * 1024;

/// A running relay; it stops accepting when dropped.
#[derive(Debug)]
pub(crate) struct Relay {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    accept: JoinHandle<()>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Starts a relay on 127.0.0.1:0 to `upstream` that delays each direction by `delay`.
pub(crate) async fn start(upstream: SocketAddr, delay: Duration) -> io::Result<Relay> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let accept = tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            tokio::spawn(relay(inbound, upstream, delay));
        }
    });
    Ok(Relay { addr, accept })
}

async fn relay(inbound: TcpStream, upstream: SocketAddr, delay: Duration) -> io::Result<()> {
    let outbound = TcpStream::connect(upstream).await?;
    inbound.set_nodelay(true)?;
    outbound.set_nodelay(true)?;
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    tokio::try_join!(
        delayed(in_read, out_write, delay),
        delayed(out_read, in_write, delay)
    )
    .map(drop)
}

/// Copies `from` to `to`, each chunk (and the end of the stream) `delay` after it was read.
async fn delayed(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    delay: Duration,
) -> io::Result<()> {
    // An empty chunk marks the end of the stream.
    let (chunks, mut due) = mpsc::channel::<(Instant, Vec<u8>)>(CHUNKS_IN_FLIGHT);
    let read = async move {
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = from.read(&mut buf).await?;
            let chunk = (Instant::now() + delay, buf[..n].to_vec());
            if chunks.send(chunk).await.is_err() || n == 0 {
                return Ok::<_, io::Error>(());
            }
        }
    };
    let write = async move {
        while let Some((at, chunk)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            if chunk.is_empty() {
                return to.shutdown().await;
            }
            to.write_all(&chunk).await?;
        }
        Ok(())
    };
    tokio::try_join!(read, write).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on 127.0.0.1:0.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = stream.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn one_chunk_takes_a_round_trip() {
        let delay = Duration::from_millis(30);
        let relay = start(echo().await, delay).await.unwrap();
        let mut stream = TcpStream::connect(relay.addr).await.unwrap();
        let started = Instant::now();
        stream.write_all(b"x").await.unwrap();
        assert_eq!(stream.read_u8().await.unwrap(), b'x');
        let took = started.elapsed();
        assert!(took >= 2 * delay, "{took:?}");
        assert!(took < 2 * delay + Duration::from_millis(40), "{took:?}");
    }

    #[tokio::test]
    async fn chunks_overlap_and_keep_their_order() {
        let delay = Duration::from_millis(50);
        let relay = start(echo().await, delay).await.unwrap();
        let stream = TcpStream::connect(relay.addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (mut r, mut w) = stream.into_split();
        let started = Instant::now();
        let writer = tokio::spawn(async move {
            for i in 0..10u8 {
                w.write_all(&[i]).await.unwrap();
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            w.shutdown().await.unwrap();
        });
        let mut echoed = Vec::new();
        r.read_to_end(&mut echoed).await.unwrap();
        writer.await.unwrap();
        assert_eq!(echoed, (0..10).collect::<Vec<u8>>());
        // Serialised chunks would take ten round trips (1 s); overlapping ones take the 90 ms of
        // writing plus one round trip for the data and one for the close.
        let took = started.elapsed();
        assert!(took >= 2 * delay, "{took:?}");
        assert!(took < Duration::from_millis(600), "{took:?}");
    }
}
