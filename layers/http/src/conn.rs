//! The client side of an HTTP proxy connection: read the next request, answer what is wrong
//! with it (400, 431, 407) and hand on the ones that may pass.

use crate::{
    HttpError, HttpSettings,
    proto::{BodyProgress, Framing, RequestHead, Status, Version, write_status},
    read::{CopyError, Patience, copy_body, read_message},
    request::Request,
    users::{Refusal, authorize},
};
use bytes::BytesMut;
use std::{sync::Arc, time::Duration};
use tokio::io::AsyncWriteExt;
use xypro_core::{BoxIo, Prefixed};

/// The challenge every 407 carries.
const CHALLENGE: (&str, &str) = ("Proxy-Authenticate", "Basic realm=\"xypro-stack\"");

/// Failed authentications one connection may have before it is closed.
const MAX_AUTH_FAILURES: u32 = 8;

/// A request body bigger than this is not read just to throw it away after a 407: the
/// connection closes instead.
const MAX_DISCARDED_BODY: u64 = 64 * 1024;

/// A request that passed the checks, and the user it authenticated as.
#[derive(Debug)]
pub(crate) struct Authorized {
    pub(crate) request: Request,
    pub(crate) user: Option<Arc<str>>,
}

/// A client connection and the bytes read from it but not yet used.
#[derive(Debug)]
pub(crate) struct ClientConn {
    pub(crate) io: BoxIo,
    pub(crate) buf: BytesMut,
    pub(crate) settings: Arc<HttpSettings>,
    auth_failures: u32,
}

impl ClientConn {
    pub(crate) fn new(io: BoxIo, settings: Arc<HttpSettings>) -> Self {
        ClientConn {
            io,
            buf: BytesMut::new(),
            settings,
            auth_failures: 0,
        }
    }

    /// Reads requests until one may pass, answering the others; waits `first_byte` for each
    /// to start. `Ok(None)` when the client closes or stays silent between requests.
    /// `session_user` is the user the connection already authenticated as, if any.
    pub(crate) async fn next_request(
        &mut self,
        first_byte: Duration,
        session_user: Option<&Arc<str>>,
    ) -> Result<Option<Authorized>, HttpError> {
        let patience = Patience {
            first_byte,
            whole: self.settings.handshake_timeout,
        };
        loop {
            let head = match read_message(&mut self.io, &mut self.buf, RequestHead::parse, patience)
                .await
            {
                Ok(Some(head)) => head,
                Ok(None) => return Ok(None),
                Err(HttpError::Proto(e)) => {
                    self.respond(Version::Http11, e.status(), &[], true, &format!("{e}\n"))
                        .await?;
                    return Err(e.into());
                }
                Err(e) => return Err(e),
            };
            let version = head.version;
            let request = match Request::from_head(head) {
                Ok(request) => request,
                Err(e) => {
                    self.respond(version, e.status(), &[], true, &format!("{e}\n"))
                        .await?;
                    return Err(e.into());
                }
            };
            match authorize(&self.settings, &request.head) {
                Ok(user) if session_user.is_none() || user.as_ref() == session_user => {
                    self.auth_failures = 0;
                    return Ok(Some(Authorized { request, user }));
                }
                Ok(_) => return Err(HttpError::UserChanged),
                Err(refusal) => self.challenge(&request, refusal).await?,
            }
        }
    }

    /// Answers `407` with the Basic challenge. The connection stays open for the retry unless
    /// the client closes after this request, its body is too big to skip, or it failed too
    /// often; then the refusal becomes the error.
    async fn challenge(&mut self, request: &Request, refusal: Refusal) -> Result<(), HttpError> {
        let error = match &refusal {
            Refusal::Missing => {
                tracing::debug!("request without credentials: 407");
                HttpError::AuthRequired
            }
            Refusal::Wrong(user) => {
                tracing::info!("authentication failed for user {user}");
                HttpError::AuthFailed(user.clone())
            }
        };
        self.auth_failures += 1;
        let keep = request.keep_alive()
            && self.auth_failures < MAX_AUTH_FAILURES
            && self.discard_body(request.framing).await?;
        let version = request.version();
        self.respond(version, Status::AUTH_REQUIRED, &[CHALLENGE], !keep, "")
            .await?;
        match keep {
            true => Ok(()),
            false => Err(error),
        }
    }

    /// Reads and drops a small request body; `false` (nothing read) for a big one.
    async fn discard_body(&mut self, framing: Framing) -> Result<bool, HttpError> {
        let small = match framing {
            Framing::Empty => return Ok(true),
            Framing::Length(n) => n <= MAX_DISCARDED_BODY,
            Framing::Chunked | Framing::UntilClose => false,
        };
        if !small {
            return Ok(false);
        }
        let mut progress = BodyProgress::new(framing);
        let deadline = self.settings.handshake_timeout;
        let mut sink = tokio::io::sink();
        match copy_body(
            &mut self.io,
            &mut self.buf,
            &mut sink,
            &mut progress,
            deadline,
        )
        .await
        {
            Ok(()) => Ok(true),
            Err(CopyError::Source(e)) => Err(e),
            Err(CopyError::Sink(e)) => Err(e.into()),
        }
    }

    /// Writes a response of the proxy's own (see [`write_status`]) and flushes it.
    pub(crate) async fn respond(
        &mut self,
        version: Version,
        status: Status,
        extra: &[(&str, &str)],
        close: bool,
        text: &str,
    ) -> Result<(), HttpError> {
        let mut wire = Vec::with_capacity(128 + text.len());
        write_status(&mut wire, version, status, extra, close, text);
        self.io.write_all(&wire).await?;
        self.io.flush().await?;
        if close {
            self.io.shutdown().await.ok();
        }
        Ok(())
    }

    /// Lets go of a read buffer that a big head grew, once it holds nothing, so an idle
    /// kept-alive connection holds no buffer.
    pub(crate) fn release_buffer(&mut self) {
        if self.buf.is_empty() {
            self.buf = BytesMut::new();
        }
    }

    /// The client stream, replaying `first` and then the unread bytes before its own.
    pub(crate) fn into_io(self, first: Vec<u8>) -> BoxIo {
        let mut prefix = BytesMut::from(&first[..]);
        prefix.extend_from_slice(&self.buf);
        match prefix.is_empty() {
            true => self.io,
            false => BoxIo::new(Prefixed::new(prefix.freeze(), self.io)),
        }
    }
}
