//! The reply of a tunnel (CONNECT, or a forwarded upgrade request): sent once the outbound
//! result is known.

use crate::{
    conn::ClientConn,
    proto::{Status, Version, write_status},
    request::{Kind, Request},
};
use std::io;
use tokio::io::AsyncWriteExt;
use xypro_core::{BoxFuture, BoxIo, Failure, Reply};

/// Holds the client until the dispatch knows whether the destination connected.
#[derive(Debug)]
pub(crate) struct TunnelReply {
    io: BoxIo,
    version: Version,
    established: bool,
}

impl TunnelReply {
    /// For CONNECT: success writes `HTTP/<version> 200 Connection established`.
    pub(crate) fn connect(io: BoxIo, version: Version) -> Box<Self> {
        Box::new(TunnelReply {
            io,
            version,
            established: true,
        })
    }

    /// For an upgrade request whose head `io` replays to the origin: success says nothing,
    /// since the origin answers (`101 Switching Protocols` or a refusal) through the tunnel.
    pub(crate) fn upgrade(io: BoxIo, version: Version) -> Box<Self> {
        Box::new(TunnelReply {
            io,
            version,
            established: false,
        })
    }
}

impl Reply for TunnelReply {
    fn succeed(self: Box<Self>) -> BoxFuture<io::Result<BoxIo>> {
        let TunnelReply {
            mut io,
            version,
            established,
        } = *self;
        Box::pin(async move {
            if established {
                let mut wire = Vec::new();
                write_status(&mut wire, version, Status::ESTABLISHED, &[], false, "");
                io.write_all(&wire).await?;
                io.flush().await?;
            }
            Ok(io)
        })
    }

    fn fail(self: Box<Self>, failure: Failure) -> BoxFuture<io::Result<()>> {
        let TunnelReply {
            mut io, version, ..
        } = *self;
        Box::pin(async move {
            let (status, text) = failure_status(failure);
            let mut wire = Vec::new();
            write_status(&mut wire, version, status, &[], true, text);
            io.write_all(&wire).await?;
            io.flush().await?;
            io.shutdown().await
        })
    }
}

/// The reply for a request that turns the connection into a tunnel: a CONNECT, or an
/// upgrade whose head the tunnel carries to the origin first.
pub(crate) fn tunnel_reply(client: ClientConn, request: &Request) -> Box<TunnelReply> {
    let version = request.version();
    match &request.kind {
        Kind::Connect(_) => TunnelReply::connect(client.into_io(Vec::new()), version),
        Kind::Forward { .. } => {
            let mut head = Vec::new();
            request.write_forward_head(&mut head, false);
            TunnelReply::upgrade(client.into_io(head), version)
        }
    }
}

/// The status and text that tell a client why its destination could not be reached: `403`
/// when a rule refused it (a `reject` outbound), `504` when it timed out, `502` otherwise.
pub(crate) fn failure_status(failure: Failure) -> (Status, &'static str) {
    match failure {
        Failure::NotAllowed => (Status::FORBIDDEN, "destination not allowed\n"),
        Failure::TimedOut => (Status::GATEWAY_TIMEOUT, "connecting timed out\n"),
        Failure::HostUnreachable => (Status::BAD_GATEWAY, "host unreachable or unknown\n"),
        Failure::NetworkUnreachable => (Status::BAD_GATEWAY, "network unreachable\n"),
        Failure::ConnectionRefused => (Status::BAD_GATEWAY, "connection refused\n"),
        _ => (Status::BAD_GATEWAY, "cannot reach the destination\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, duplex};

    #[tokio::test]
    async fn success_echoes_the_version_and_failure_explains_and_closes() {
        let (mut client, server) = duplex(1024);
        let io = TunnelReply::connect(BoxIo::new(server), Version::Http10)
            .succeed()
            .await
            .unwrap();
        let mut got = vec![0; 39];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(got, b"HTTP/1.0 200 Connection established\r\n\r\n");
        drop(io);

        let (mut client, server) = duplex(1024);
        TunnelReply::connect(BoxIo::new(server), Version::Http11)
            .fail(Failure::NotAllowed)
            .await
            .unwrap();
        let mut got = String::new();
        client.read_to_string(&mut got).await.unwrap();
        assert!(got.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{got}");
        assert!(got.contains("Connection: close\r\n"), "{got}");

        let (mut client, server) = duplex(1024);
        let io = TunnelReply::upgrade(BoxIo::new(server), Version::Http11)
            .succeed()
            .await
            .unwrap();
        drop(io);
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert!(got.is_empty(), "an upgrade's answer comes from the origin");
    }
}
