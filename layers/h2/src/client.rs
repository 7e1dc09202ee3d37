//! `H2Connector`: each tunnel is one `PUT` stream on a pooled HTTP/2 connection, as v2ray's
//! and sing-box's `http` transports speak it.

use crate::{
    ClientSettings, H2Stream,
    open::{Template, open},
    pool::Pool,
};
use http::HeaderMap;
use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};
use tower::{Layer, Service};
use xypro_core::{BoxError, Io, Target};

/// Wraps a connector (TLS with ALPN `h2` below it, or TCP for h2c) so tunnels become HTTP/2
/// streams; every connector it makes has its own pool, shared by its clones.
#[derive(Debug, Clone)]
pub struct H2Layer {
    template: Arc<Template>,
}

impl H2Layer {
    /// A layer with the given validated settings.
    pub fn new(settings: ClientSettings) -> Self {
        H2Layer::with_template(Template {
            method: settings.method,
            uri: Template::uri(settings.host, settings.path),
            headers: HeaderMap::new(),
            gun: false,
            max_streams: settings.max_streams,
        })
    }

    /// A layer sending `template`'s requests, for the gRPC transport.
    pub(crate) fn with_template(template: Template) -> Self {
        H2Layer {
            template: Arc::new(template),
        }
    }
}

impl<C> Layer<C> for H2Layer {
    type Service = H2Connector<C>;

    fn layer(&self, inner: C) -> H2Connector<C> {
        H2Connector {
            inner,
            template: self.template.clone(),
            pool: Arc::new(Pool::default()),
        }
    }
}

/// Opens each tunnel as one HTTP/2 stream on a pooled connection, dialling a connection with
/// the inner connector only when none has room (at most `max_streams` tunnels each) or the
/// last one failed. The request body starts at once; a status other than 200 is an error on
/// the first read. A failed connection fails only its own tunnels.
///
/// `poll_ready` is always ready: the inner connector is called only when a connection is
/// dialled, and its readiness is awaited then.
///
/// ```no_run
/// # async fn demo() -> Result<(), xypro_core::BoxError> {
/// use std::path::Path;
/// use tokio::io::AsyncWriteExt;
/// use tower::{Layer, ServiceExt};
/// use xypro_core::{Address, Target};
/// use xypro_h2::{ClientOptions, H2Layer};
/// use xypro_tcp::TcpConnector;
/// use xypro_tls::TlsConnectorLayer;
///
/// let mut tls = xypro_tls::ClientOptions::new("example.test");
/// tls.alpn = vec!["h2".into()];
/// let tls = TlsConnectorLayer::new(tls.settings(Path::new("."))?);
/// let tcp = TcpConnector::new("127.0.0.1:8443".parse::<Address>()?);
/// let h2 = H2Layer::new(ClientOptions::new("/h2").settings()?).layer(tls.layer(tcp));
/// let mut stream = h2.oneshot(Target::tcp("example.com:80".parse::<Address>()?)).await?;
/// stream.write_all(b"tunnel bytes").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct H2Connector<C> {
    inner: C,
    template: Arc<Template>,
    pool: Arc<Pool>,
}

impl<C> H2Connector<C> {
    /// Wraps `inner` with the given validated settings.
    pub fn new(inner: C, settings: ClientSettings) -> Self {
        H2Layer::new(settings).layer(inner)
    }

    /// How many live HTTP/2 connections the pool holds.
    pub fn connections(&self) -> usize {
        self.pool.len()
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

impl<C> Service<Target> for H2Connector<C>
where
    C: Service<Target> + Clone + Send + 'static,
    C::Response: Io,
    C::Error: Into<BoxError>,
    C::Future: Send,
{
    type Response = H2Stream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<H2Stream, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, target: Target) -> Self::Future {
        let (inner, template, pool) =
            (self.inner.clone(), self.template.clone(), self.pool.clone());
        Box::pin(async move { Ok(open(inner, target, &pool, &template).await?) })
    }
}
