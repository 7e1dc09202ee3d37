//! `HttpUpgradeConnector`: upgrades the stream of an inner connector with a bare HTTP/1.1
//! `GET` + `101`, after which the stream carries raw bytes.

use crate::{ClientSettings, HttpUpgradeStream, proto::request::write_request};
use std::{
    future::{Future, poll_fn},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};
use tokio::io::AsyncWriteExt;
use tower::{Layer, Service};
use xypro_core::{BoxError, Io, Target};

/// Wraps a connector so its streams go through an HTTPUpgrade.
#[derive(Debug, Clone)]
pub struct HttpUpgradeLayer {
    settings: Arc<ClientSettings>,
}

impl HttpUpgradeLayer {
    /// A layer with the given validated settings.
    pub fn new(settings: ClientSettings) -> Self {
        HttpUpgradeLayer {
            settings: Arc::new(settings),
        }
    }
}

impl<C> Layer<C> for HttpUpgradeLayer {
    type Service = HttpUpgradeConnector<C>;

    fn layer(&self, inner: C) -> HttpUpgradeConnector<C> {
        HttpUpgradeConnector {
            inner,
            settings: self.settings.clone(),
        }
    }
}

/// Calls the inner connector with the same target, sends the upgrade request, and returns the
/// stream once the `101` is in (or at once with `early`, leaving the `101` to the first read).
///
/// ```no_run
/// # async fn demo() -> Result<(), xypro_core::BoxError> {
/// use tokio::io::AsyncWriteExt;
/// use tower::{Layer, ServiceExt};
/// use xypro_core::{Address, Target};
/// use xypro_httpupgrade::{ClientOptions, HttpUpgradeLayer};
/// use xypro_tcp::TcpConnector;
///
/// let settings = ClientOptions::new("/hu").settings(Some("127.0.0.1:8080"))?;
/// let tcp = TcpConnector::new("127.0.0.1:8080".parse::<Address>()?);
/// let connector = HttpUpgradeLayer::new(settings).layer(tcp);
/// let mut stream = connector.oneshot(Target::tcp("example.com:80".parse::<Address>()?)).await?;
/// stream.write_all(b"raw bytes after the 101").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct HttpUpgradeConnector<C> {
    inner: C,
    settings: Arc<ClientSettings>,
}

impl<C> HttpUpgradeConnector<C> {
    /// Wraps `inner` with the given validated settings.
    pub fn new(inner: C, settings: ClientSettings) -> Self {
        HttpUpgradeLayer::new(settings).layer(inner)
    }

    /// The settings in force.
    pub fn settings(&self) -> &ClientSettings {
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

impl<C> Service<Target> for HttpUpgradeConnector<C>
where
    C: Service<Target>,
    C::Response: Io,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    type Response = HttpUpgradeStream<C::Response>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, target: Target) -> Self::Future {
        let connect = self.inner.call(target);
        let settings = self.settings.clone();
        Box::pin(async move {
            let mut io = connect.await.map_err(Into::into)?;
            let mut head = Vec::with_capacity(256);
            write_request(&mut head, &settings);
            io.write_all(&head).await?;
            io.flush().await?;
            let mut stream = HttpUpgradeStream::awaiting(io);
            if !settings.early {
                poll_fn(|cx| stream.poll_response(cx)).await?;
            }
            Ok(stream)
        })
    }
}
