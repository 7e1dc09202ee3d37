//! The VLESS server: a terminal inbound handshake that authenticates the user and yields the
//! destination.

use crate::{
    VlessError, VlessServerSettings,
    prepend::Prepend,
    proto::{Command, RESPONSE_OK, Request},
    xudp::XudpSession,
};
use bytes::BytesMut;
use rand::Rng;
use std::{
    io::{self},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use tokio::{
    io::{AsyncRead, AsyncReadExt, ReadBuf},
    time::Instant,
};
use uuid::Uuid;
use xypro_core::{
    Accepted, Address, BoxError, BoxFuture, BoxIo, DestinationPolicy, Failure, Handshake, Incoming,
    Network, Prefixed, ProtocolAcceptor, Reply, Target,
};

/// How many bytes the handshake reads at a time; a request header is at most 535 bytes.
const READ_CHUNK: usize = 1024;

/// The shortest and longest pause before a refused client is disconnected.
const REJECT_DELAY_MS: std::ops::RangeInclusive<u64> = 100..=1000;

/// Accepts VLESS clients: each request becomes an [`Accepted::Connect`] for its destination.
pub type VlessAcceptor = ProtocolAcceptor<VlessHandshake>;

/// The server's users and checks, as the handshake uses them.
#[derive(Debug)]
pub struct VlessHandshake {
    users: Vec<(Arc<str>, Uuid)>,
    allow_private: bool,
    handshake_timeout: Duration,
}

impl From<VlessServerSettings> for VlessHandshake {
    fn from(settings: VlessServerSettings) -> Self {
        let users = settings
            .users
            .into_iter()
            .map(|(name, id)| (Arc::from(name), id))
            .collect();
        VlessHandshake {
            users,
            allow_private: settings.allow_private,
            handshake_timeout: settings.handshake_timeout,
        }
    }
}

impl Handshake for VlessHandshake {
    async fn handshake(self: Arc<Self>, mut incoming: Incoming) -> Result<Accepted, BoxError> {
        let mut io = incoming.take_io();
        let mut buf = BytesMut::new();
        let (request, used, user) = match read_request(&self, &mut io, &mut buf).await {
            Ok(read) => read,
            Err(e) if incoming.hands_back() && falls_back(&e, &buf, &self.users) => {
                let read = buf.freeze();
                return Err(xypro_core::Refused::new(incoming, io, read, e).into());
            }
            Err(e) => {
                if !matches!(e, VlessError::HandshakeTimeout(_) | VlessError::Io(_)) {
                    let pause = rand::rng().random_range(REJECT_DELAY_MS);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                return Err(e.into());
            }
        };
        let payload = buf.split_off(used).freeze();
        let io = Prefixed::new(payload, io);
        Ok(accept(&self, &incoming, request, user, io))
    }
}

/// Reads the request header within the deadline and finds its user: the request, the header's
/// length in `buf`, and the user's name.
async fn read_request(
    shared: &VlessHandshake,
    io: &mut BoxIo,
    buf: &mut BytesMut,
) -> Result<(Request, usize, Arc<str>), VlessError> {
    let deadline = Instant::now() + shared.handshake_timeout;
    let (request, used) = loop {
        if let Some(parsed) = Request::parse(buf)? {
            break parsed;
        }
        buf.reserve(READ_CHUNK);
        let read = tokio::time::timeout_at(deadline, io.read_buf(buf));
        match read.await {
            Err(_) => return Err(VlessError::HandshakeTimeout(shared.handshake_timeout)),
            Ok(Ok(0)) => return Err(VlessError::Truncated(buf.len())),
            Ok(read) => read?,
        };
    };
    let user =
        find_user(&shared.users, &request.user).ok_or(VlessError::UnknownUser(request.user))?;
    Ok((request, used, user))
}

/// Whether a refused request goes to the inbound's fallback, as Xray decides: anything that
/// is not a request of a known user (too short, another version, an unknown id); a known
/// user's bad request is refused like any other.
fn falls_back(error: &VlessError, read: &[u8], users: &[(Arc<str>, Uuid)]) -> bool {
    let known_user = read
        .get(1..17)
        .and_then(|id| Uuid::from_slice(id).ok())
        .is_some_and(|id| find_user(users, &id).is_some());
    !read.is_empty() && !matches!(error, VlessError::Io(_)) && !known_user
}

/// The accepted request of `user`: one destination, or an XUDP session.
fn accept(
    shared: &VlessHandshake,
    incoming: &Incoming,
    request: Request,
    user: Arc<str>,
    io: Prefixed<BoxIo>,
) -> Accepted {
    let policy = match shared.allow_private {
        true => DestinationPolicy::not_self(),
        false => DestinationPolicy::public_only(),
    };
    let meta = incoming.meta().with_user(Some(user));
    let io = BoxIo::new(io);
    let (destination, network) = match request.command {
        Command::Tcp(address) => (address, Network::Tcp),
        Command::Udp(address) => (address, Network::Udp),
        Command::Mux => {
            let target = Target::new(mux_address(), Network::Udp, meta).with_policy(policy);
            let session = Box::new(XudpSession::new(io));
            return Accepted::Session { target, session };
        }
    };
    let target = Target::new(destination, network, meta).with_policy(policy);
    let udp = network == Network::Udp;
    Accepted::Connect {
        target,
        reply: Box::new(VlessReply { io, udp }),
    }
}

/// The destination a mux session stands for, as Xray and v2ray name it.
fn mux_address() -> Address {
    Address::Domain("v1.mux.cool".into(), 9527)
}

/// Finds the user with this id, comparing against every user in constant time.
fn find_user(users: &[(Arc<str>, Uuid)], id: &Uuid) -> Option<Arc<str>> {
    let mut found = Choice::from(0);
    let mut index = 0u32;
    for (i, (_, user)) in users.iter().enumerate() {
        let equal = user.as_bytes().ct_eq(id.as_bytes());
        index.conditional_assign(&u32::try_from(i).unwrap_or(u32::MAX), equal);
        found |= equal;
    }
    match bool::from(found) {
        true => users.get(index as usize).map(|(name, _)| name.clone()),
        false => None,
    }
}

/// Answers a VLESS client once the outbound result is known.
#[derive(Debug)]
struct VlessReply {
    io: BoxIo,
    /// Whether the client sends `len(2) | data` UDP frames, checked as they pass.
    udp: bool,
}

impl Reply for VlessReply {
    fn succeed(self: Box<Self>) -> BoxFuture<io::Result<BoxIo>> {
        let io = match self.udp {
            true => BoxIo::new(response_stream(BoxIo::new(UdpFrameCheck::new(self.io)))),
            false => BoxIo::new(response_stream(self.io)),
        };
        Box::pin(async move { Ok(io) })
    }

    fn fail(self: Box<Self>, _failure: Failure) -> BoxFuture<io::Result<()>> {
        drop(self.io);
        Box::pin(async { Ok(()) })
    }
}

/// The relayed server stream: the response header `00 00` rides with the first downstream write.
pub(crate) fn response_stream(io: BoxIo) -> Prepend<BoxIo> {
    Prepend::new(io, RESPONSE_OK.to_vec())
}

/// The client half of a VLESS UDP stream, read through a check of its `len(2) | data` framing:
/// a zero-length frame, or the stream ending inside a frame (a length past the payload), is
/// an error, so the relay ends and the stream is closed instead of waiting for the idle timeout.
struct UdpFrameCheck {
    inner: BoxIo,
    /// Length bytes of the next frame seen so far (0, 1) with the high byte.
    header: Option<u8>,
    /// Payload bytes of the current frame still to come.
    left: usize,
}

impl UdpFrameCheck {
    fn new(inner: BoxIo) -> Self {
        UdpFrameCheck {
            inner,
            header: None,
            left: 0,
        }
    }

    /// Advances the framing over `bytes`; fails on a zero-length frame.
    fn scan(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.left > 0 {
                let n = self.left.min(bytes.len());
                self.left -= n;
                bytes = &bytes[n..];
                continue;
            }
            let byte = bytes[0];
            bytes = &bytes[1..];
            match self.header.take() {
                None => self.header = Some(byte),
                Some(high) => {
                    self.left = usize::from(u16::from_be_bytes([high, byte]));
                    if self.left == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "zero-length VLESS UDP frame",
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

impl AsyncRead for UdpFrameCheck {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let read = &buf.filled()[before..];
        if read.is_empty() && (this.left > 0 || this.header.is_some()) {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "VLESS UDP stream ended inside a frame",
            )));
        }
        let checked = this.scan(read);
        if checked.is_err() {
            // An error reports nothing read: the bytes of this read are dropped with the stream.
            buf.set_filled(before);
        }
        Poll::Ready(checked)
    }
}

xypro_core::forward_write!(UdpFrameCheck, inner);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_users_by_id_only() {
        let users: Vec<(Arc<str>, Uuid)> = vec![
            ("a".into(), Uuid::from_u128(1)),
            ("b".into(), Uuid::from_u128(2)),
        ];
        assert_eq!(find_user(&users, &Uuid::from_u128(2)).as_deref(), Some("b"));
        assert_eq!(find_user(&users, &Uuid::from_u128(1)).as_deref(), Some("a"));
        assert_eq!(find_user(&users, &Uuid::from_u128(3)), None);
        assert_eq!(find_user(&[], &Uuid::from_u128(1)), None);
    }

    #[test]
    fn only_requests_of_no_known_user_fall_back() {
        let users: Vec<(Arc<str>, Uuid)> = vec![("a".into(), Uuid::from_u128(1))];
        let proto = || VlessError::Proto(crate::proto::ProtoError::Version(b'G'));
        assert!(falls_back(&proto(), b"GET / HTTP/1.1\r\n", &users));
        let mut known = vec![0];
        known.extend_from_slice(Uuid::from_u128(1).as_bytes());
        known.extend_from_slice(&[0, 9]);
        let command = VlessError::Proto(crate::proto::ProtoError::Command(9));
        assert!(
            !falls_back(&command, &known, &users),
            "a known user is refused"
        );
        let mut unknown = known.clone();
        unknown[16] = 7;
        assert!(falls_back(&command, &unknown, &users));
        assert!(falls_back(&VlessError::Truncated(3), &[0, 1, 2], &users));
        assert!(
            !falls_back(&VlessError::Truncated(0), &[], &users),
            "nothing to replay"
        );
        let io = VlessError::Io(io::ErrorKind::ConnectionReset.into());
        assert!(!falls_back(&io, b"GET", &users));
    }

    #[tokio::test]
    async fn udp_frames_are_checked_as_they_are_read() {
        use tokio::io::AsyncReadExt;
        let read_all = |wire: &'static [u8]| async move {
            let io = BoxIo::new(tokio_test::io::Builder::new().read(wire).build());
            let mut check = UdpFrameCheck::new(io);
            let mut out = Vec::new();
            check.read_to_end(&mut out).await.map(|_| out)
        };
        assert_eq!(
            read_all(&[0, 2, 7, 7, 0, 1, 9]).await.unwrap(),
            [0, 2, 7, 7, 0, 1, 9]
        );
        let zero = read_all(&[0, 1, 5, 0, 0]).await.unwrap_err();
        assert_eq!(zero.kind(), io::ErrorKind::InvalidData);
        let past = read_all(&[0, 9, 1, 2]).await.unwrap_err();
        assert_eq!(past.kind(), io::ErrorKind::UnexpectedEof);
        let half = read_all(&[0, 1, 5, 0]).await.unwrap_err();
        assert_eq!(half.kind(), io::ErrorKind::UnexpectedEof);
    }
}
