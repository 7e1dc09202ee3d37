//! The destination every benchmark connection reaches: download, upload and echo on one port.

use std::{io, net::SocketAddr};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// Command byte: the target sends the u64 that follows as that many bytes, then closes.
pub(crate) const DOWNLOAD: u8 = b'D';
/// Command byte: the target reads that many bytes, then answers one byte.
pub(crate) const UPLOAD: u8 = b'U';
/// Command byte: the target echoes everything.
pub(crate) const ECHO: u8 = b'E';

/// Starts the target on 127.0.0.1:0 and returns its address.
pub(crate) async fn start() -> io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(serve(stream));
        }
    });
    Ok(addr)
}

async fn serve(mut stream: TcpStream) -> io::Result<()> {
    let command = stream.read_u8().await?;
    let chunk: Vec<u8> = (0..256 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    match command {
        DOWNLOAD => {
            let mut left = stream.read_u64().await? as usize;
            while left > 0 {
                let n = left.min(chunk.len());
                stream.write_all(&chunk[..n]).await?;
                left -= n;
            }
            stream.shutdown().await
        }
        UPLOAD => {
            let mut left = stream.read_u64().await? as usize;
            let mut buf = chunk;
            while left > 0 {
                let n = stream.read(&mut buf).await?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                left = left.saturating_sub(n);
            }
            stream.write_all(b"K").await
        }
        ECHO => {
            let (mut r, mut w) = stream.split();
            tokio::io::copy(&mut r, &mut w).await.map(drop)
        }
        _ => Ok(()),
    }
}
