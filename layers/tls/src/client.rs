//! `TlsConnector`: dials through the inner connector, then runs a rustls client handshake
//! within a deadline.

use crate::{ClientTlsStream, TlsClientSettings, TlsError};
use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};
use tower::{Layer, Service};
use xypro_core::{BoxError, Io, ReadAhead, Target};

/// Wraps a connector so its streams are TLS client connections to the configured server name.
#[derive(Debug, Clone)]
pub struct TlsConnectorLayer {
    settings: TlsClientSettings,
}

impl TlsConnectorLayer {
    /// A layer with the given validated settings.
    pub fn new(settings: TlsClientSettings) -> Self {
        TlsConnectorLayer { settings }
    }
}

impl<C> Layer<C> for TlsConnectorLayer {
    type Service = TlsConnector<C>;

    fn layer(&self, inner: C) -> TlsConnector<C> {
        TlsConnector::new(inner, self.settings.clone())
    }
}

/// A connector that runs TLS over the inner connector's stream; clones share one rustls config.
#[derive(Debug, Clone)]
pub struct TlsConnector<C> {
    inner: C,
    settings: TlsClientSettings,
}

impl<C> TlsConnector<C> {
    /// Wraps `inner` with the given validated settings.
    pub fn new(inner: C, settings: TlsClientSettings) -> Self {
        TlsConnector { inner, settings }
    }

    /// The settings in force.
    pub fn settings(&self) -> &TlsClientSettings {
        &self.settings
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
}

impl<C> Service<Target> for TlsConnector<C>
where
    C: Service<Target>,
    C::Response: Io,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    type Response = ClientTlsStream<C::Response>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, target: Target) -> Self::Future {
        let connecting = self.inner.call(target);
        let tls = tokio_rustls::TlsConnector::from(self.settings.config.clone());
        let server_name = self.settings.server_name.clone();
        let after = self.settings.handshake_timeout;
        Box::pin(async move {
            let io = connecting.await.map_err(Into::into)?;
            let handshake = tls.connect(server_name.clone(), ReadAhead::new(io));
            let name = || server_name.to_str().into_owned();
            let mut stream = match tokio::time::timeout(after, handshake).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(source)) => {
                    let server_name = name();
                    return Err(TlsError::Handshake {
                        server_name,
                        source,
                    }
                    .into());
                }
                Err(source) => {
                    let server_name = name();
                    let error = TlsError::HandshakeTimeout {
                        server_name,
                        after,
                        source,
                    };
                    return Err(error.into());
                }
            };
            let conn = stream.get_mut().1;
            conn.set_buffer_limit(Some(crate::SEND_BUFFER_LIMIT));
            match conn.handshake_kind() {
                Some(rustls::HandshakeKind::Resumed) => {
                    xypro_core::events::TLS_CONNECTED_RESUMED.inc()
                }
                _ => xypro_core::events::TLS_CONNECTED_FULL.inc(),
            }
            tracing::debug!(
                handshake = ?conn.handshake_kind(),
                group = ?conn.negotiated_key_exchange_group().map(|g| g.name()),
                "tls: connected"
            );
            Ok(stream)
        })
    }
}
