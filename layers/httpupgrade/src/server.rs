//! The server's side of the upgrade as a function over any stream: read and check the request
//! head within a deadline and a size cap, answer `101`, and hand back the raw stream.

use crate::{
    HttpUpgradeError, ServerSettings,
    proto::{
        request::parse_request,
        response::{NOT_FOUND, SWITCHING_PROTOCOLS},
    },
};
use bytes::{Bytes, BytesMut};
use std::{fmt, sync::Arc};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use xypro_core::{
    BoxError, BoxFuture, HandBack, Incoming, Prefixed, Upgrade, UpgradeAcceptor, UpgradeLayer,
};

/// The HTTPUpgrade of the accept side, as an [`Upgrade`]: [`accept`] on the incoming stream,
/// which becomes the raw tunnel.
///
/// A refused connection gets the identical empty `404` and fails the upgrade; when the inbound
/// has a fallback ([`HandBack`]) and the client sent something, it is handed back instead as a
/// [`xypro_core::Refused`] with every byte read, unanswered.
#[derive(Debug, Clone)]
pub struct HttpUpgradeAccept {
    settings: Arc<ServerSettings>,
}

/// Accepts the HTTPUpgrade and calls the inner acceptor with the raw stream.
pub type HttpUpgradeAcceptor<S> = UpgradeAcceptor<HttpUpgradeAccept, S>;

/// Builds [`HttpUpgradeAcceptor`]s.
pub type HttpUpgradeAcceptorLayer = UpgradeLayer<HttpUpgradeAccept>;

impl HttpUpgradeAccept {
    /// The upgrade for the given validated settings.
    pub fn new(settings: ServerSettings) -> Self {
        HttpUpgradeAccept {
            settings: Arc::new(settings),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &ServerSettings {
        &self.settings
    }
}

impl Upgrade for HttpUpgradeAccept {
    fn upgrade(&self, mut incoming: Incoming) -> BoxFuture<Result<Incoming, BoxError>> {
        let settings = self.settings.clone();
        Box::pin(async move {
            match accept(incoming.take_io(), &settings).await {
                Ok(tunnel) => {
                    incoming.extensions.remove::<HandBack>();
                    incoming.replace_io(tunnel);
                    Ok(incoming)
                }
                Err(refused) if incoming.hands_back() && !refused.read.is_empty() => {
                    let Refused { io, read, error } = refused;
                    Err(xypro_core::Refused::new(incoming, io, read, error).into())
                }
                Err(refused) => Err(refused.close().await.into()),
            }
        })
    }
}

/// A connection that did not become an HTTPUpgrade tunnel, with everything read from it.
///
/// Hand `io` and `read` to a fallback (it replays `read` first), or call [`Refused::close`].
pub struct Refused<S> {
    /// The client's stream, nothing written to it yet.
    pub io: S,
    /// Every byte read from the client, the request head and anything after it.
    pub read: Bytes,
    /// Why the connection was refused.
    pub error: HttpUpgradeError,
}

impl<S> fmt::Debug for Refused<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refused")
            .field("read", &self.read.len())
            .field("error", &self.error)
            .finish()
    }
}

impl<S: AsyncWrite + Unpin> Refused<S> {
    /// Answers as the WebSocket server does when there is no fallback: the identical empty
    /// `404` to a request that was refused or could not be parsed, nothing to a client that
    /// timed out or hung up; then closes and returns the reason.
    pub async fn close(mut self) -> HttpUpgradeError {
        let answer = matches!(
            self.error,
            HttpUpgradeError::Rejected { .. }
                | HttpUpgradeError::Malformed(_)
                | HttpUpgradeError::HeadTooLarge { .. }
        );
        if answer {
            let _ = self.io.write_all(NOT_FOUND).await;
        }
        let _ = self.io.shutdown().await;
        self.error
    }
}

/// Accepts an HTTPUpgrade on `io`: reads the request head (at most [`MAX_HEAD`](crate::proto::MAX_HEAD) bytes, within
/// `settings.handshake_timeout`), checks it as sing-box does (see
/// [`parse_request`](crate::proto::request::parse_request)), answers `101` and returns the
/// stream, which reads the bytes that came with the request first.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use xypro_httpupgrade::{ServerOptions, accept};
///
/// let settings = ServerOptions::new("/hu").settings().unwrap();
/// let (mut client, server) = tokio::io::duplex(1024);
/// client
///     .write_all(b"GET /hu HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nhi")
///     .await
///     .unwrap();
/// let mut tunnel = accept(server, &settings).await.unwrap();
/// let mut hi = [0; 2];
/// tunnel.read_exact(&mut hi).await.unwrap();
/// assert_eq!(&hi, b"hi");
/// # }
/// ```
pub async fn accept<S>(mut io: S, settings: &ServerSettings) -> Result<Prefixed<S>, Refused<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(1024);
    let after = settings.handshake_timeout;
    let head = tokio::time::timeout(after, read_head(&mut io, &mut buf, settings)).await;
    let head_len = match head {
        Ok(Ok(len)) => len,
        Ok(Err(error)) => return Err(refused(io, buf, error)),
        Err(_) => return Err(refused(io, buf, HttpUpgradeError::Timeout { after })),
    };
    let written = async {
        io.write_all(SWITCHING_PROTOCOLS).await?;
        io.flush().await
    };
    if let Err(error) = written.await {
        return Err(refused(io, buf, error.into()));
    }
    let rest = buf.split_off(head_len).freeze();
    Ok(Prefixed::new(rest, io))
}

fn refused<S>(io: S, buf: BytesMut, error: HttpUpgradeError) -> Refused<S> {
    Refused {
        io,
        read: buf.freeze(),
        error,
    }
}

/// Reads into `buf` until it holds a complete request head that passes the checks; the size
/// check in `parse_request` keeps `buf` under [`MAX_HEAD`](crate::proto::MAX_HEAD) plus one read.
async fn read_head<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut BytesMut,
    settings: &ServerSettings,
) -> Result<usize, HttpUpgradeError> {
    loop {
        if let Some(len) = parse_request(buf, settings)? {
            return Ok(len);
        }
        buf.reserve(1024);
        if io.read_buf(buf).await? == 0 {
            return Err(HttpUpgradeError::Eof);
        }
    }
}
