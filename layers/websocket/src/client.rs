//! `WsConnector`: upgrades the stream of an inner connector to a WebSocket byte stream.

use crate::{WsClientSettings, WsClientStream, handshake::handshake};
use bytes::Bytes;
use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};
use tower::{Layer, Service};
use xypro_core::{BoxError, Io, Target};

/// Wraps a connector so its streams carry a WebSocket.
#[derive(Debug, Clone)]
pub struct WsConnectorLayer {
    settings: Arc<WsClientSettings>,
}

impl WsConnectorLayer {
    /// A layer with the given validated settings.
    pub fn new(settings: WsClientSettings) -> Self {
        WsConnectorLayer {
            settings: Arc::new(settings),
        }
    }
}

impl<C> Layer<C> for WsConnectorLayer {
    type Service = WsConnector<C>;

    fn layer(&self, inner: C) -> WsConnector<C> {
        WsConnector {
            inner,
            settings: self.settings.clone(),
        }
    }
}

/// Calls the inner connector with the same target, then upgrades the stream to a WebSocket.
///
/// With `early_data` 0 the upgrade happens before the returned future resolves; otherwise it
/// waits for the first write (see [`WsClientStream`]) and errors surface on that write.
#[derive(Debug, Clone)]
pub struct WsConnector<C> {
    inner: C,
    settings: Arc<WsClientSettings>,
}

impl<C> WsConnector<C> {
    /// Wraps `inner` with the given validated settings.
    pub fn new(inner: C, settings: WsClientSettings) -> Self {
        WsConnectorLayer::new(settings).layer(inner)
    }

    /// The settings in force.
    pub fn settings(&self) -> &WsClientSettings {
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

impl<C> Service<Target> for WsConnector<C>
where
    C: Service<Target>,
    C::Response: Io,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    type Response = WsClientStream<C::Response>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, target: Target) -> Self::Future {
        let connect = self.inner.call(target);
        let settings = self.settings.clone();
        Box::pin(async move {
            let io = connect.await.map_err(Into::into)?;
            if settings.early_data > 0 {
                return Ok(WsClientStream::deferred(io, settings));
            }
            let stream = handshake(io, &settings, Bytes::new()).await?;
            Ok(WsClientStream::open(stream, settings))
        })
    }
}
