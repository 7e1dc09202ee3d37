//! A small SOCKS5 client: for tests, tools, and chaining to an upstream SOCKS5 proxy.

use crate::{
    Socks5Error,
    proto::{
        AuthStatus, Command, Credentials, Greeting, Method, ProtoError, Reply, ReplyCode, Request,
        UdpHeader,
    },
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use xypro_core::Address;

/// Fills `buf` from `io`; an early end of stream is a truncated message.
async fn read_exact<S: AsyncRead + Unpin>(io: &mut S, buf: &mut [u8]) -> Result<(), Socks5Error> {
    match io.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(Socks5Error::Truncated),
        Err(e) => Err(e.into()),
    }
}

/// Reads one reply, exactly its own bytes: the fixed part, then the address its type implies.
async fn read_reply<S: AsyncRead + Unpin>(io: &mut S) -> Result<Reply, Socks5Error> {
    let mut wire = vec![0u8; 5];
    read_exact(io, &mut wire).await?;
    let rest = match wire[3] {
        1 => 4 + 2 - 1,
        4 => 16 + 2 - 1,
        3 => usize::from(wire[4]) + 2,
        other => return Err(ProtoError::AddressType(other).into()),
    };
    let start = wire.len();
    wire.resize(start + rest, 0);
    read_exact(io, &mut wire[start..]).await?;
    match Reply::parse(&wire)? {
        Some((reply, used)) if used == wire.len() => Ok(reply),
        _ => Err(Socks5Error::Truncated),
    }
}

/// Runs the client side of a SOCKS5 handshake over any stream.
#[derive(Debug, Clone, Default)]
pub struct Socks5Client {
    credentials: Option<(String, String)>,
}

impl Socks5Client {
    /// A client that offers no authentication.
    pub fn new() -> Self {
        Self::default()
    }

    /// A client that authenticates with a username and password.
    pub fn with_credentials(user: impl Into<String>, pass: impl Into<String>) -> Self {
        Socks5Client {
            credentials: Some((user.into(), pass.into())),
        }
    }

    /// Asks the server to CONNECT to `destination`; returns the bound address it reports.
    pub async fn connect<S>(
        &self,
        io: &mut S,
        destination: &Address,
    ) -> Result<Address, Socks5Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.request(io, Command::Connect, destination).await
    }

    /// Asks for a UDP association; returns the relay address to send datagrams to.
    pub async fn udp_associate<S>(&self, io: &mut S, from: &Address) -> Result<Address, Socks5Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.request(io, Command::UdpAssociate, from).await
    }

    async fn request<S>(
        &self,
        io: &mut S,
        command: Command,
        address: &Address,
    ) -> Result<Address, Socks5Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let method = match self.credentials {
            Some(_) => Method::UserPass,
            None => Method::NoAuth,
        };
        let mut wire = Vec::new();
        Greeting {
            methods: vec![method.byte()],
        }
        .write_to_buf(&mut wire);
        io.write_all(&wire).await?;
        // Every answer is read exactly, never past its end: what follows the reply is the
        // destination's (a server that speaks first, such as SSH, sends right away).
        let mut chosen = [0u8; 2];
        read_exact(io, &mut chosen).await?;
        if chosen[0] != 5 {
            return Err(ProtoError::Version(chosen[0]).into());
        }
        if chosen[1] != method.byte() {
            return Err(Socks5Error::NoAcceptableMethod);
        }
        if let Some((user, pass)) = &self.credentials {
            wire.clear();
            Credentials {
                user: user.clone().into_bytes(),
                pass: pass.clone().into_bytes(),
            }
            .write_to_buf(&mut wire);
            io.write_all(&wire).await?;
            let mut status = [0u8; 2];
            read_exact(io, &mut status).await?;
            if status != AuthStatus::Success.to_bytes() {
                return Err(Socks5Error::AuthFailed(user.clone()));
            }
        }
        wire.clear();
        Request {
            command,
            address: address.clone(),
        }
        .write_to_buf(&mut wire);
        io.write_all(&wire).await?;
        let reply = read_reply(io).await?;
        match reply.code {
            ReplyCode::Succeeded => Ok(reply.bound),
            code => Err(Socks5Error::Rejected(code)),
        }
    }
}

/// Wraps `data` for `destination` in a SOCKS5 UDP header.
pub fn encode_udp(destination: &Address, data: &[u8]) -> Vec<u8> {
    let mut packet = Vec::with_capacity(data.len() + 32);
    UdpHeader::write(&mut packet, destination);
    packet.extend_from_slice(data);
    packet
}

/// Splits a relayed datagram into its source address and data.
pub fn decode_udp(packet: &[u8]) -> Result<(Address, &[u8]), ProtoError> {
    let (header, at) = UdpHeader::parse(packet)?;
    Ok((header.address, &packet[at..]))
}
