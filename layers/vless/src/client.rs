//! The VLESS client: a connector layer that sends the destination in the VLESS request header.

use crate::{
    VlessClientSettings, VlessError,
    prepend::Prepend,
    proto::{Command, ProtoError, Request, Response},
};
use pin_project_lite::pin_project;
use std::{
    fmt,
    future::Future,
    io::{self},
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::Sleep,
};
use tower::{Layer, Service};
use xypro_core::{BoxError, Network, Target};

/// The longest response header: version, length byte and 255 bytes of addons.
const MAX_RESPONSE: usize = 2 + 255;

/// Wraps a connector in a [`VlessConnector`] for one user.
#[derive(Debug, Clone, Copy)]
pub struct VlessConnectorLayer {
    settings: VlessClientSettings,
}

impl VlessConnectorLayer {
    /// A layer that speaks VLESS with these settings.
    pub fn new(settings: VlessClientSettings) -> Self {
        VlessConnectorLayer { settings }
    }
}

impl<C> Layer<C> for VlessConnectorLayer {
    type Service = VlessConnector<C>;

    fn layer(&self, inner: C) -> Self::Service {
        VlessConnector::new(inner, self.settings)
    }
}

/// A connector that dials the inner connector with the same target and speaks VLESS over it.
#[derive(Debug, Clone)]
pub struct VlessConnector<C> {
    inner: C,
    settings: VlessClientSettings,
}

impl<C> VlessConnector<C> {
    /// Wraps `inner`, which reaches the VLESS server.
    pub fn new(inner: C, settings: VlessClientSettings) -> Self {
        VlessConnector { inner, settings }
    }

    /// The inner connector.
    pub fn get_ref(&self) -> &C {
        &self.inner
    }

    /// The inner connector, mutably.
    pub fn get_mut(&mut self) -> &mut C {
        &mut self.inner
    }

    /// Unwraps the inner connector.
    pub fn into_inner(self) -> C {
        self.inner
    }

    /// The client settings.
    pub fn settings(&self) -> &VlessClientSettings {
        &self.settings
    }
}

impl<C> Service<Target> for VlessConnector<C>
where
    C: Service<Target>,
    C::Error: Into<BoxError>,
{
    type Response = VlessClientStream<C::Response>;
    type Error = BoxError;
    type Future = ConnectFuture<C::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, target: Target) -> Self::Future {
        let command = match target.network {
            Network::Tcp => Ok(Command::Tcp(target.destination.clone())),
            Network::Udp => Ok(Command::Udp(target.destination.clone())),
            _ => Err(ProtoError::Network),
        };
        let mut header = Vec::new();
        let encoded = command
            .and_then(|command| Request::new(self.settings.id, command).write_to_buf(&mut header));
        if let Err(e) = encoded {
            let error = Some(e.into());
            return ConnectFuture {
                state: State::Failed { error },
            };
        }
        ConnectFuture {
            state: State::Dialling {
                inner: self.inner.call(target),
                header: Some(header),
                delay: self.settings.header_delay,
            },
        }
    }
}

pin_project! {
    /// Resolves to a [`VlessClientStream`] once the inner connector has connected.
    pub struct ConnectFuture<F> {
        #[pin]
        state: State<F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Dialling {
            #[pin]
            inner: F,
            header: Option<Vec<u8>>,
            delay: Duration,
        },
        Failed {
            error: Option<VlessError>,
        },
    }
}

impl<F> fmt::Debug for ConnectFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ConnectFuture")
    }
}

impl<F, T, E> Future for ConnectFuture<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
{
    type Output = Result<VlessClientStream<T>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Dialling {
                inner,
                header,
                delay,
            } => {
                let io = ready!(inner.poll(cx))
                    .map_err(|e| BoxError::from(VlessError::Connect(e.into())))?;
                let header = header.take().unwrap_or_default();
                Poll::Ready(Ok(VlessClientStream::new(io, header, *delay)))
            }
            StateProj::Failed { error } => Poll::Ready(Err(error
                .take()
                .map_or_else(|| "polled after completion".into(), Into::into))),
        }
    }
}

/// A VLESS client stream: the request header rides with the first write (or goes alone after
/// the header delay, driven by reads), and the response header is stripped from the first reads.
pub struct VlessClientStream<Io> {
    io: Prepend<Io>,
    delay: Duration,
    timer: Option<Pin<Box<Sleep>>>,
    flushing_alone: bool,
    /// Response header bytes seen so far, until the header is complete.
    response: Option<Vec<u8>>,
}

impl<Io> fmt::Debug for VlessClientStream<Io> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VlessClientStream")
            .field("header_sent", &!self.io.is_unsent())
            .field("response_read", &self.response.is_none())
            .finish_non_exhaustive()
    }
}

impl<Io> VlessClientStream<Io> {
    /// Wraps a stream to a VLESS server; `header` is an encoded [`Request`].
    pub fn new(inner: Io, header: Vec<u8>, delay: Duration) -> Self {
        VlessClientStream {
            io: Prepend::new(inner, header),
            delay,
            timer: None,
            flushing_alone: false,
            response: Some(Vec::new()),
        }
    }

    /// The stream to the server.
    pub fn get_ref(&self) -> &Io {
        self.io.get_ref()
    }

    /// The stream to the server, mutably; writing to it directly corrupts the tunnel.
    pub fn get_mut(&mut self) -> &mut Io {
        self.io.get_mut()
    }
}

impl<Io: AsyncRead + AsyncWrite + Unpin> VlessClientStream<Io> {
    /// Sends the header alone once the reader has waited the header delay with nothing written.
    fn poll_header_alone(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if self.io.is_unsent() {
            let delay = self.delay;
            let timer = self
                .timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(delay)));
            if timer.as_mut().poll(cx).is_ready() {
                self.io.queue_alone();
                self.flushing_alone = true;
            }
        }
        if !self.io.is_unsent() {
            self.timer = None;
        }
        if self.flushing_alone
            && let Poll::Ready(result) = Pin::new(&mut self.io).poll_flush(cx)
        {
            self.flushing_alone = false;
            result?;
        }
        Ok(())
    }
}

impl<Io: AsyncRead + AsyncWrite + Unpin> AsyncRead for VlessClientStream<Io> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.poll_header_alone(cx)?;
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            let Some(seen) = this.response.as_mut() else {
                return Pin::new(&mut this.io).poll_read(cx, buf);
            };
            let start = buf.filled().len();
            ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
            let fresh = &buf.filled()[start..];
            if fresh.is_empty() {
                return match seen.is_empty() {
                    true => Poll::Ready(Ok(())),
                    false => Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "stream ended inside the VLESS response header",
                    ))),
                };
            }
            let old = seen.len();
            let take = fresh.len().min(MAX_RESPONSE - old);
            seen.extend_from_slice(&fresh[..take]);
            let header_bytes = match Response::parse(seen) {
                Ok(Some((_, used))) => {
                    this.response = None;
                    used - old
                }
                Ok(None) => fresh.len(),
                Err(e) => return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, e))),
            };
            let end = buf.filled().len();
            buf.filled_mut()
                .copy_within(start + header_bytes..end, start);
            buf.set_filled(end - header_bytes);
            if buf.filled().len() > start {
                return Poll::Ready(Ok(()));
            }
        }
    }
}

xypro_core::forward_write!(VlessClientStream<Io>, io, Io);
