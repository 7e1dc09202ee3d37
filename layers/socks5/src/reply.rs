//! The CONNECT replies (SOCKS5 and SOCKS4), sent once the outbound result is known.

use crate::proto::{Reply as ReplyMessage, ReplyCode, socks4_reply};
use std::io;
use tokio::io::AsyncWriteExt;
use xypro_core::{BoxFuture, BoxIo, Failure, Reply};

/// Holds the client until the relay knows whether the destination connected.
#[derive(Debug)]
pub(crate) struct ConnectReply {
    io: BoxIo,
}

impl ConnectReply {
    pub(crate) fn new(io: BoxIo) -> Self {
        ConnectReply { io }
    }

    async fn send(io: &mut BoxIo, code: ReplyCode) -> io::Result<()> {
        let mut wire = Vec::with_capacity(10);
        ReplyMessage::with_code(code).write_to_buf(&mut wire);
        io.write_all(&wire).await?;
        io.flush().await
    }
}

impl Reply for ConnectReply {
    fn succeed(self: Box<Self>) -> BoxFuture<io::Result<BoxIo>> {
        let mut io = self.io;
        Box::pin(async move {
            Self::send(&mut io, ReplyCode::Succeeded).await?;
            Ok(io)
        })
    }

    fn fail(self: Box<Self>, failure: Failure) -> BoxFuture<io::Result<()>> {
        let mut io = self.io;
        Box::pin(async move {
            Self::send(&mut io, failure.into()).await?;
            io.shutdown().await
        })
    }
}

/// Holds a SOCKS4 client until the relay knows whether the destination connected.
#[derive(Debug)]
pub(crate) struct Socks4ConnectReply {
    io: BoxIo,
}

impl Socks4ConnectReply {
    pub(crate) fn new(io: BoxIo) -> Self {
        Socks4ConnectReply { io }
    }
}

impl Reply for Socks4ConnectReply {
    fn succeed(self: Box<Self>) -> BoxFuture<io::Result<BoxIo>> {
        let mut io = self.io;
        Box::pin(async move {
            io.write_all(&socks4_reply(true)).await?;
            io.flush().await?;
            Ok(io)
        })
    }

    /// SOCKS4 has one failure code: `5B`, whatever the failure.
    fn fail(self: Box<Self>, _: Failure) -> BoxFuture<io::Result<()>> {
        let mut io = self.io;
        Box::pin(async move {
            io.write_all(&socks4_reply(false)).await?;
            io.flush().await?;
            io.shutdown().await
        })
    }
}
