//! `TlsConnector`: dials through the inner connector, then runs a rustls client handshake
//! within a deadline; with `preconnect`, hands out sessions connected ahead of time.

use crate::{
    ClientTlsStream, TlsClientSettings, TlsError,
    preconnect::{Dial, Pool, Session},
};
use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, Waker},
    time::Duration,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tower::{Layer, Service, ServiceExt};
use xypro_core::{BoxError, Io, Meta, ReadAhead, Target};

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

impl<C: Service<Target>> Layer<C> for TlsConnectorLayer {
    type Service = TlsConnector<C>;

    fn layer(&self, inner: C) -> TlsConnector<C> {
        TlsConnector::new(inner, self.settings.clone())
    }
}

/// A connector that runs TLS over the inner connector's stream; clones share one rustls config
/// and, when `preconnect` is set, one pool of sessions connected ahead of time.
pub struct TlsConnector<C: Service<Target>> {
    inner: C,
    settings: TlsClientSettings,
    pool: Option<Arc<Pool<ClientTlsStream<C::Response>>>>,
}

impl<C: Service<Target> + Clone> Clone for TlsConnector<C> {
    fn clone(&self) -> Self {
        TlsConnector {
            inner: self.inner.clone(),
            settings: self.settings.clone(),
            pool: self.pool.clone(),
        }
    }
}

impl<C: Service<Target> + fmt::Debug> fmt::Debug for TlsConnector<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector")
            .field("inner", &self.inner)
            .field("settings", &self.settings)
            .field("pool", &self.pool)
            .finish()
    }
}

impl<C: Service<Target>> TlsConnector<C> {
    /// Wraps `inner` with the given validated settings; with `preconnect` above 0, the
    /// connector and its clones share a pool that fills from their first call on.
    pub fn new(inner: C, settings: TlsClientSettings) -> Self {
        let pool = (settings.preconnect > 0)
            .then(|| Pool::new(settings.preconnect, settings.preconnect_timing));
        TlsConnector {
            inner,
            settings,
            pool,
        }
    }

    /// How many preconnected sessions are ready now (0 without `preconnect`).
    pub fn preconnected(&self) -> usize {
        self.pool.as_ref().map_or(0, |pool| pool.ready())
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

impl<C> TlsConnector<C>
where
    C: Service<Target> + Clone + Send + 'static,
    C::Response: Io,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    /// How the pool dials: through a clone of the inner connector, for a target like
    /// `target` without its user or client address.
    fn dialer(&self, target: &Target) -> Dial<ClientTlsStream<C::Response>> {
        let inner = self.inner.clone();
        let settings = self.settings.clone();
        let (destination, network) = (target.destination.clone(), target.network);
        let inbound = target.meta().inbound.clone();
        let policy = target.policy.clone();
        Box::new(move || {
            let meta = Meta::new(inbound.clone());
            let target =
                Target::new(destination.clone(), network, meta).with_policy(policy.clone());
            let connecting = inner.clone().oneshot(target);
            Box::pin(handshake(connecting, settings.clone()))
        })
    }
}

impl<C> Service<Target> for TlsConnector<C>
where
    C: Service<Target> + Clone + Send + 'static,
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

    /// Hands out a ready session from the pool when there is one (with `preconnect`, this
    /// must run inside a tokio runtime, which keeps the pool); otherwise dials and handshakes.
    fn call(&mut self, target: Target) -> Self::Future {
        if let Some(pool) = &self.pool
            && let Some(stream) = pool.take(|| self.dialer(&target))
        {
            tracing::debug!("tls: preconnected session taken");
            return Box::pin(std::future::ready(Ok(stream)));
        }
        let connecting = self.inner.call(target);
        Box::pin(handshake(connecting, self.settings.clone()))
    }
}

/// Awaits the inner stream, then runs the TLS handshake on it within the deadline.
async fn handshake<S, E>(
    connecting: impl Future<Output = Result<S, E>>,
    settings: TlsClientSettings,
) -> Result<ClientTlsStream<S>, BoxError>
where
    S: Io,
    E: Into<BoxError>,
{
    let TlsClientSettings {
        server_name,
        config,
        handshake_timeout: after,
        ..
    } = settings;
    let io = connecting.await.map_err(Into::into)?;
    let tls = tokio_rustls::TlsConnector::from(config);
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
        Some(rustls::HandshakeKind::Resumed) => xypro_core::events::TLS_CONNECTED_RESUMED.inc(),
        _ => xypro_core::events::TLS_CONNECTED_FULL.inc(),
    }
    tracing::debug!(
        handshake = ?conn.handshake_kind(),
        group = ?conn.negotiated_key_exchange_group().map(|g| g.name()),
        "tls: connected"
    );
    Ok(stream)
}

/// How long a retired session may take to close in order before it is dropped.
const RETIRE_WITHIN: Duration = Duration::from_secs(2);

impl<S: Io> Session for ClientTlsStream<S> {
    /// The server sends nothing before the client's request (rustls takes in its session
    /// tickets), so a read that would block means open; anything else (the server closed it,
    /// an error, stray bytes) means unusable.
    fn is_open(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        let mut byte = [0; 1];
        let mut buf = ReadBuf::new(&mut byte);
        Pin::new(self).poll_read(&mut cx, &mut buf).is_pending()
    }

    /// Sends `close_notify` and a FIN, then waits for the server's close, so that the server
    /// sees a client that left without a request (not a reset) and neither side is left with
    /// unread bytes; dropped at once outside a runtime.
    fn retire(mut self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let close = async {
                self.shutdown().await?;
                let mut sink = [0; 512];
                while self.read(&mut sink).await? > 0 {}
                Ok::<_, std::io::Error>(())
            };
            let _ = tokio::time::timeout(RETIRE_WITHIN, close).await;
        });
    }
}
