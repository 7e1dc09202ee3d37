//! The `mixed` inbound: SOCKS5, SOCKS4/4a and HTTP proxy clients on one port, told apart by
//! their first byte (`05`, `04`, anything else), as sing-box, mihomo and Xray do.

use serde::Deserialize;
use std::{io, net::SocketAddr, sync::Arc, time::Duration};
use tokio::io::AsyncReadExt;
use tower::ServiceExt;
use xypro_core::{
    Accepted, BoxError, BuildContext, Handshake, Incoming, InvalidOptions, LayerOptions, Prefixed,
    ProtocolAcceptor, UserOptions, refuse_open_proxy,
};
use xypro_http::{HttpAcceptor, HttpOptions};
use xypro_socks5::{Socks4Acceptor, Socks5Acceptor, Socks5Options};

/// Options of the `mixed` layer: those of `socks5` and `http` together.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixedOptions {
    /// Accepted users, for SOCKS5 (RFC 1929) and HTTP (Basic); empty means no authentication.
    /// SOCKS4 carries no password, so with users it is refused.
    #[serde(default)]
    pub users: Vec<UserOptions>,
    /// Whether SOCKS5 UDP ASSOCIATE is served (default true).
    #[serde(default = "yes")]
    pub udp: bool,
    /// Allow a non-loopback listener without users (default false).
    #[serde(default)]
    pub allow_open: bool,
    /// On a non-loopback listener, let clients reach internal addresses (default false).
    #[serde(default)]
    pub allow_private: bool,
    /// Deadline for the SOCKS handshake, for each HTTP request head and for the first byte
    /// (default 10s).
    #[serde(default, with = "xypro_core::duration::option")]
    pub handshake_timeout: Option<Duration>,
    /// How long a kept-alive HTTP connection waits for its next request (default 60s).
    #[serde(default, with = "xypro_core::duration::option")]
    pub keepalive_timeout: Option<Duration>,
    /// A UDP association with no datagrams either way for this long ends (default 5m).
    #[serde(default, with = "xypro_core::duration::option")]
    pub udp_idle_timeout: Option<Duration>,
    /// Most destinations one UDP association may reach (default 256).
    #[serde(default)]
    pub udp_max_destinations: Option<usize>,
    /// Read the host name from the first bytes of SOCKS and HTTP CONNECT tunnels for routing.
    #[serde(default, deserialize_with = "xypro_core::deserialize_sniff")]
    pub sniff: Option<xypro_core::SniffSettings>,
}

fn yes() -> bool {
    true
}

impl MixedOptions {
    /// Checks the options against the listening address and builds the acceptor.
    pub fn acceptor(&self, listen: SocketAddr) -> Result<MixedAcceptor, InvalidOptions> {
        refuse_open_proxy("mixed", &self.users, listen, self.allow_open)?;
        let socks = Socks5Options {
            users: self.users.clone(),
            udp: self.udp,
            allow_open: self.allow_open,
            allow_private: self.allow_private,
            handshake_timeout: self.handshake_timeout,
            udp_idle_timeout: self.udp_idle_timeout,
            udp_max_destinations: self.udp_max_destinations,
            sniff: self.sniff,
        }
        .settings(listen)?;
        let http = HttpOptions {
            users: self.users.clone(),
            allow_open: self.allow_open,
            allow_private: self.allow_private,
            handshake_timeout: self.handshake_timeout,
            keepalive_timeout: self.keepalive_timeout,
            sniff: self.sniff,
        }
        .settings(listen)?;
        Ok(MixedAcceptor::new(MixedHandshake {
            first_byte: socks.handshake_timeout,
            socks4: Socks4Acceptor::new(socks.clone()),
            socks5: Socks5Acceptor::new(socks),
            http: HttpAcceptor::new(http),
        }))
    }
}

impl LayerOptions for MixedOptions {
    type Output = MixedAcceptor;

    fn validate(self, ctx: &BuildContext<'_>) -> Result<MixedAcceptor, InvalidOptions> {
        self.acceptor(ctx.listen()?)
    }
}

/// Why a mixed-port client was not handed to a protocol.
#[derive(Debug, thiserror::Error)]
pub enum MixedError {
    /// Nothing arrived within the handshake deadline.
    #[error("no first byte within {0:?}")]
    Timeout(Duration),
    /// The client closed before sending anything.
    #[error("client closed without a request")]
    Closed,
    /// Reading the first byte failed.
    #[error("i/o error")]
    Io(#[from] io::Error),
}

/// Reads a client's first byte and hands the connection, byte replayed, to the SOCKS5
/// (`05`), SOCKS4 (`04`) or HTTP acceptor.
pub type MixedAcceptor = ProtocolAcceptor<MixedHandshake>;

/// The three protocols of a mixed port and how long to wait for the byte that tells them apart.
#[derive(Debug)]
pub struct MixedHandshake {
    first_byte: Duration,
    socks5: Socks5Acceptor,
    socks4: Socks4Acceptor,
    http: HttpAcceptor,
}

impl Handshake for MixedHandshake {
    async fn handshake(self: Arc<Self>, mut incoming: Incoming) -> Result<Accepted, BoxError> {
        let mut io = incoming.take_io();
        let mut first = [0u8];
        match tokio::time::timeout(self.first_byte, io.read(&mut first)).await {
            Err(_) => return Err(MixedError::Timeout(self.first_byte).into()),
            Ok(Ok(0)) => return Err(MixedError::Closed.into()),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(MixedError::Io(e).into()),
        }
        incoming.replace_io(Prefixed::new(first.to_vec(), io));
        match first[0] {
            5 => self.socks5.clone().oneshot(incoming).await,
            4 => self.socks4.clone().oneshot(incoming).await,
            _ => self.http.clone().oneshot(incoming).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncWriteExt, duplex};

    fn options(yaml: &str) -> MixedOptions {
        serde_yaml::from_str(yaml).unwrap()
    }

    async fn accept(first_bytes: &[u8]) -> Result<Accepted, BoxError> {
        let acceptor = options("{}")
            .acceptor("127.0.0.1:1080".parse().unwrap())
            .unwrap();
        let (mut client, server) = duplex(1024);
        client.write_all(first_bytes).await.unwrap();
        client.shutdown().await.unwrap();
        let incoming = Incoming::new(
            server,
            "127.0.0.1:40000".parse().unwrap(),
            "127.0.0.1:1080".parse().unwrap(),
            "mixed".into(),
        );
        let accepted = acceptor.oneshot(incoming).await;
        drop(client);
        accepted
    }

    #[tokio::test]
    async fn the_first_byte_picks_the_protocol_and_is_replayed() {
        let socks4a = [4, 1, 0, 80, 0, 0, 0, 1, 0, b'a', b'.', b'b', 0];
        let http = b"CONNECT a.b:80 HTTP/1.1\r\n\r\n";
        for request in [&socks4a[..], http] {
            match accept(request).await {
                Ok(Accepted::Connect { target, .. }) => {
                    assert_eq!(target.destination.to_string(), "a.b:80")
                }
                other => panic!("{request:?}: {other:?}"),
            }
        }
        let err = accept(&[5, 0]).await.unwrap_err();
        assert!(
            err.to_string().contains("malformed"),
            "SOCKS5 read the greeting: {err}"
        );
        let err = accept(&[]).await.unwrap_err();
        assert!(err.is::<MixedError>(), "{err}");
    }

    #[test]
    fn open_relays_unknown_keys_and_bad_users_are_refused() {
        let public = "0.0.0.0:7890".parse().unwrap();
        let err = options("{}").acceptor(public).unwrap_err().to_string();
        assert!(err.contains("open mixed proxy"), "{err}");
        assert!(options("{ allow_open: true }").acceptor(public).is_ok());
        assert!(serde_yaml::from_str::<MixedOptions>("{ sniff_it: true }").is_err());
        let err = options("{ users: [{ user: 'a:b', pass: c }] }")
            .acceptor(public)
            .unwrap_err();
        assert_eq!(err.key(), Some("users[0].user"), "{err}");
    }
}
