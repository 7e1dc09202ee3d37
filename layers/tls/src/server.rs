//! `TlsAcceptor`: terminates TLS on an accepted stream, within a deadline, then hands the
//! decrypted stream to the inner inbound service.

use crate::{TlsError, TlsServerSettings};
use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};
use tower::{Layer, Service};
use xypro_core::{Accepted, BoxError, BoxIo, Incoming, ReadAhead};

/// Wraps an inbound service so it receives the decrypted side of a TLS connection.
#[derive(Debug, Clone)]
pub struct TlsServerLayer {
    settings: TlsServerSettings,
}

impl TlsServerLayer {
    /// A layer with the given validated settings.
    pub fn new(settings: TlsServerSettings) -> Self {
        TlsServerLayer { settings }
    }
}

impl<S> Layer<S> for TlsServerLayer {
    type Service = TlsAcceptor<S>;

    fn layer(&self, inner: S) -> TlsAcceptor<S> {
        TlsAcceptor::new(inner, self.settings.clone())
    }
}

/// Accepts TLS on `incoming.io` and calls the inner service with the TLS stream.
#[derive(Debug, Clone)]
pub struct TlsAcceptor<S> {
    inner: S,
    settings: TlsServerSettings,
}

impl<S> TlsAcceptor<S> {
    /// Wraps `inner` with the given validated settings.
    pub fn new(inner: S, settings: TlsServerSettings) -> Self {
        TlsAcceptor { inner, settings }
    }

    /// The settings in force.
    pub fn settings(&self) -> &TlsServerSettings {
        &self.settings
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Service<Incoming> for TlsAcceptor<S>
where
    S: Service<Incoming, Response = Accepted> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Accepted;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Accepted, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, incoming: Incoming) -> Self::Future {
        // Take the service that was polled ready; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let tls = tokio_rustls::TlsAcceptor::from(self.settings.config.clone());
        let deadline = self.settings.handshake_timeout;
        Box::pin(async move {
            let Incoming {
                io,
                peer,
                local,
                inbound,
            } = incoming;
            let mut stream =
                match tokio::time::timeout(deadline, tls.accept(ReadAhead::new(io))).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(source)) => return Err(TlsError::Accept { peer, source }.into()),
                    Err(_) => {
                        return Err(TlsError::AcceptTimeout {
                            peer,
                            after: deadline,
                        }
                        .into());
                    }
                };
            stream
                .get_mut()
                .1
                .set_buffer_limit(Some(crate::SEND_BUFFER_LIMIT));
            let incoming = Incoming {
                io: BoxIo::new(stream),
                peer,
                local,
                inbound,
            };
            inner.call(incoming).await.map_err(Into::into)
        })
    }
}
