//! The SOCKS5 inbound: a `Service<Incoming>` that runs the handshake and yields what to dial.

use crate::{
    Socks5Error, Socks5Settings,
    proto::{
        AuthStatus, Command, Credentials, Greeting, Method, ProtoError, Reply, ReplyCode, Request,
    },
    read::read_message,
    reply::ConnectReply,
    udp::UdpAssociation,
};
use bytes::BytesMut;
use std::{net::SocketAddr, sync::Arc};
use subtle::ConstantTimeEq;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use xypro_core::{
    Accepted, BoxError, BoxIo, Handover, Handshake, Incoming, Meta, Network, Prefixed,
    ProtocolAcceptor, Reply as _, Target, sniff_client,
};

/// Accepts SOCKS5 clients: CONNECT becomes [`Accepted::Connect`], UDP ASSOCIATE a session.
pub type Socks5Acceptor = ProtocolAcceptor<Socks5Settings>;

impl Handshake for Socks5Settings {
    async fn handshake(self: Arc<Self>, incoming: Incoming) -> Result<Accepted, BoxError> {
        let deadline = self.handshake_timeout;
        match tokio::time::timeout(deadline, handshake(self, incoming)).await {
            Ok(result) => result.map_err(Into::into),
            Err(_) => Err(Socks5Error::HandshakeTimeout.into()),
        }
    }
}

/// A client connection that has not yet chosen a method.
struct Fresh {
    io: BoxIo,
    buf: BytesMut,
}

/// A client connection that passed method selection (and authentication, if any).
struct Authenticated {
    io: BoxIo,
    buf: BytesMut,
    user: Option<Arc<str>>,
}

async fn handshake(
    settings: Arc<Socks5Settings>,
    incoming: Incoming,
) -> Result<Accepted, Socks5Error> {
    let meta = incoming.meta();
    let fresh = Fresh {
        io: incoming.io,
        buf: BytesMut::new(),
    };
    let authed = fresh.negotiate(&settings).await?;
    let meta = meta.with_user(authed.user.clone());
    authed
        .request(settings, meta, incoming.local, incoming.peer)
        .await
}

impl Fresh {
    /// Reads the greeting, picks a method and, for username/password, checks the credentials.
    async fn negotiate(mut self, settings: &Socks5Settings) -> Result<Authenticated, Socks5Error> {
        let greeting = match read_message(&mut self.io, &mut self.buf, Greeting::parse).await {
            Err(Socks5Error::Proto(ProtoError::NoMethods)) => {
                return refuse_methods(&mut self.io, Socks5Error::Proto(ProtoError::NoMethods))
                    .await;
            }
            other => other?,
        };
        let method = match settings.users.is_empty() {
            true if greeting.offers(Method::NoAuth) => Method::NoAuth,
            false if greeting.offers(Method::UserPass) => Method::UserPass,
            _ => return refuse_methods(&mut self.io, Socks5Error::NoAcceptableMethod).await,
        };
        self.io.write_all(&[5, method.byte()]).await?;
        let user = match method {
            Method::NoAuth => None,
            Method::UserPass => Some(self.authenticate(settings).await?),
        };
        Ok(Authenticated {
            io: self.io,
            buf: self.buf,
            user,
        })
    }

    async fn authenticate(&mut self, settings: &Socks5Settings) -> Result<Arc<str>, Socks5Error> {
        let creds = match read_message(&mut self.io, &mut self.buf, Credentials::parse).await {
            Err(Socks5Error::Proto(e)) => {
                self.io.write_all(&AuthStatus::Failure.to_bytes()).await?;
                return Err(e.into());
            }
            other => other?,
        };
        let mut matched = None;
        for (user, pass) in &settings.users {
            let ok = user.as_bytes().ct_eq(&creds.user) & pass.as_bytes().ct_eq(&creds.pass);
            if bool::from(ok) {
                matched = Some(user.as_str());
            }
        }
        let status = if matched.is_some() {
            AuthStatus::Success
        } else {
            AuthStatus::Failure
        };
        self.io.write_all(&status.to_bytes()).await?;
        match matched {
            Some(user) => Ok(Arc::from(user)),
            None => Err(Socks5Error::auth_failed(&creds.user)),
        }
    }
}

impl Authenticated {
    /// Reads the request and turns it into what the relay should do.
    async fn request(
        mut self,
        settings: Arc<Socks5Settings>,
        meta: Meta,
        local: std::net::SocketAddr,
        peer: std::net::SocketAddr,
    ) -> Result<Accepted, Socks5Error> {
        let request = match read_message(&mut self.io, &mut self.buf, Request::parse).await {
            Err(Socks5Error::Proto(e)) => {
                return reject(&mut self.io, e.as_reply(), e.into()).await;
            }
            other => other?,
        };
        match request.command {
            Command::Bind => {
                let err = Socks5Error::Refused("BIND is not supported");
                reject(&mut self.io, ReplyCode::CommandNotSupported, err).await
            }
            Command::Connect if request.address.port() == 0 => {
                let err = Socks5Error::Refused("destination port 0");
                reject(&mut self.io, ReplyCode::GeneralFailure, err).await
            }
            Command::Connect => {
                let policy = settings.policy.clone();
                let mut target =
                    Target::new(request.address, Network::Tcp, meta).with_policy(policy);
                let io = BoxIo::new(Prefixed::new(self.buf.freeze(), self.io));
                let reply = ConnectReply::new(io);
                let Some(sniff) = settings.sniff else {
                    return Ok(Accepted::Connect {
                        target,
                        reply: Box::new(reply),
                    });
                };
                // The client sends nothing before the reply: to sniff, succeed first (a
                // destination that fails then shows as a closed connection, not a reply code).
                let mut io = Box::new(reply).succeed().await?;
                let first =
                    sniff_client(&mut io, sniff, &target.context, &mut target.destination).await?;
                Ok(Accepted::Connect {
                    target,
                    reply: Handover::new(Prefixed::new(first.freeze(), io)),
                })
            }
            Command::UdpAssociate if !settings.udp => {
                let err = Socks5Error::Refused("UDP ASSOCIATE is disabled");
                reject(&mut self.io, ReplyCode::CommandNotSupported, err).await
            }
            Command::UdpAssociate => {
                let socket = tokio::net::UdpSocket::bind((local.ip(), 0)).await?;
                let mut reply = Vec::new();
                Reply {
                    code: ReplyCode::Succeeded,
                    bound: socket.local_addr()?.into(),
                }
                .write_to_buf(&mut reply);
                self.io.write_all(&reply).await?;
                // RFC 1928: DST.PORT is the port the client will send from, when it knows it.
                let from = SocketAddr::new(peer.ip(), request.address.port());
                let target = Target::new(request.address, Network::Udp, meta)
                    .with_policy(settings.policy.clone());
                let association = UdpAssociation::new(self.io, socket, from, settings);
                Ok(Accepted::Session {
                    target,
                    session: Box::new(association),
                })
            }
        }
    }
}

/// Answers `05 FF` and fails with `err`.
async fn refuse_methods<T>(io: &mut BoxIo, err: Socks5Error) -> Result<T, Socks5Error> {
    io.write_all(&[5, crate::proto::NO_ACCEPTABLE_METHOD])
        .await?;
    io.shutdown().await.ok();
    Err(err)
}

/// Sends a failure reply and fails with `err`.
async fn reject<T, W>(io: &mut W, code: ReplyCode, err: Socks5Error) -> Result<T, Socks5Error>
where
    W: AsyncWrite + Unpin,
{
    let mut reply = Vec::new();
    Reply::with_code(code).write_to_buf(&mut reply);
    io.write_all(&reply).await?;
    io.shutdown().await.ok();
    Err(err)
}
