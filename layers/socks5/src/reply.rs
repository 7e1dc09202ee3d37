//! The CONNECT reply, sent once the outbound result is known.

use crate::proto::{Reply as ReplyMessage, ReplyCode};
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
