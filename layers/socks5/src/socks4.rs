//! The SOCKS4 and SOCKS4a inbound: CONNECT only, as Chrome, curl and old tools speak it.

use crate::{
    Socks5Error, Socks5Settings,
    proto::{Socks4Command, Socks4Request, socks4_reply},
    read::read_message,
    reply::Socks4ConnectReply,
};
use bytes::BytesMut;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use xypro_core::{
    Accepted, BoxError, BoxIo, Handshake, Incoming, Network, Prefixed, ProtocolAcceptor, Target,
};

/// Accepts SOCKS4 and SOCKS4a clients: CONNECT becomes [`Accepted::Connect`], answered `5A`
/// once the outbound connects and `5B` when it cannot; BIND is refused with `5B`.
///
/// SOCKS4 carries a user id but no password, so an inbound with `users` refuses every SOCKS4
/// request; the user id is not taken as a user.
pub type Socks4Acceptor = ProtocolAcceptor<Socks4Settings>;

/// The settings of the SOCKS inbound a SOCKS4 client reaches (its `users` and deadline).
#[derive(Debug, Clone)]
pub struct Socks4Settings(pub Socks5Settings);

impl From<Socks5Settings> for Socks4Settings {
    fn from(settings: Socks5Settings) -> Self {
        Socks4Settings(settings)
    }
}

impl Handshake for Socks4Settings {
    async fn handshake(self: Arc<Self>, incoming: Incoming) -> Result<Accepted, BoxError> {
        let deadline = self.0.handshake_timeout;
        match tokio::time::timeout(deadline, handshake(&self.0, incoming)).await {
            Ok(result) => result.map_err(Into::into),
            Err(_) => Err(Socks5Error::HandshakeTimeout.into()),
        }
    }
}

async fn handshake(settings: &Socks5Settings, incoming: Incoming) -> Result<Accepted, Socks5Error> {
    let meta = incoming.meta();
    let mut io = incoming.io;
    let mut buf = BytesMut::new();
    let request = match read_message(&mut io, &mut buf, Socks4Request::parse).await {
        Err(Socks5Error::Proto(e)) => return reject(&mut io, e.into()).await,
        other => other?,
    };
    if !settings.users.is_empty() {
        let err = Socks5Error::Refused("SOCKS4 has no passwords and this inbound has users");
        return reject(&mut io, err).await;
    }
    if request.command == Socks4Command::Bind {
        return reject(&mut io, Socks5Error::Refused("BIND is not supported")).await;
    }
    if request.address.port() == 0 {
        return reject(&mut io, Socks5Error::Refused("destination port 0")).await;
    }
    let target =
        Target::new(request.address, Network::Tcp, meta).with_policy(settings.policy.clone());
    let io = BoxIo::new(Prefixed::new(buf.freeze(), io));
    Ok(Accepted::Connect {
        target,
        reply: Box::new(Socks4ConnectReply::new(io)),
    })
}

/// Answers `5B`, closes and fails with `err`.
async fn reject<T>(io: &mut BoxIo, err: Socks5Error) -> Result<T, Socks5Error> {
    io.write_all(&socks4_reply(false)).await?;
    io.shutdown().await.ok();
    Err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, DuplexStream, duplex};
    use tower::ServiceExt;

    /// Runs the acceptor on `request`; returns its result and the client's end.
    async fn accept(
        settings: Socks5Settings,
        request: &[u8],
    ) -> (Result<Accepted, BoxError>, DuplexStream) {
        let (mut client, server) = duplex(1024);
        let incoming = Incoming::new(
            server,
            "127.0.0.1:40000".parse().unwrap(),
            "127.0.0.1:1080".parse().unwrap(),
            "mixed".into(),
        );
        client.write_all(request).await.unwrap();
        (
            Socks4Acceptor::new(settings).oneshot(incoming).await,
            client,
        )
    }

    #[tokio::test]
    async fn connect_is_granted_once_the_outbound_connects() {
        let mut socks4a = vec![4, 1, 0, 80, 0, 0, 0, 1, b'u', 0];
        socks4a.extend_from_slice(b"example.com\0early");
        let (accepted, mut client) = accept(Socks5Settings::default(), &socks4a).await;
        let Ok(Accepted::Connect { target, reply }) = accepted else {
            panic!("a CONNECT")
        };
        assert_eq!(target.destination.to_string(), "example.com:80");
        assert_eq!(target.meta().user, None, "the user id is not a user");
        assert!(
            target.policy.refuse_own_ports,
            "the proxy never dials itself"
        );
        let mut io = reply.succeed().await.unwrap();
        let mut early = [0u8; 5];
        io.read_exact(&mut early).await.unwrap();
        assert_eq!(&early, b"early", "bytes after the request are kept");
        let mut granted = [0u8; 8];
        client.read_exact(&mut granted).await.unwrap();
        assert_eq!(granted, [0, 0x5a, 0, 0, 0, 0, 0, 0]);
    }

    #[tokio::test]
    async fn bind_users_and_garbage_are_rejected_with_5b() {
        let rejected = [0, 0x5b, 0, 0, 0, 0, 0, 0];
        let connect = [4, 1, 0, 80, 1, 2, 3, 4, 0];
        let with_users = Socks5Settings {
            users: vec![("alice".into(), "s3cret".into())],
            ..Socks5Settings::default()
        };
        for (settings, request) in [
            (Socks5Settings::default(), &[4, 2, 0, 80, 1, 2, 3, 4, 0][..]),
            (with_users, &connect[..]),
            (Socks5Settings::default(), &[4, 1, 0, 0, 1, 2, 3, 4, 0]),
            (Socks5Settings::default(), &[4, 9, 0, 80]),
        ] {
            let (accepted, mut client) = accept(settings, request).await;
            assert!(accepted.is_err(), "{request:?}");
            let mut answer = Vec::new();
            client.read_to_end(&mut answer).await.unwrap();
            assert_eq!(answer, rejected, "{request:?}");
        }
    }
}
