//! `GrpcConnector`: the pooled HTTP/2 connector sending gun requests.

use crate::{H2Connector, H2Layer, grpc::ClientSettings, open::Template};
use http::{HeaderMap, HeaderValue, Method, header};
use tower::Layer;

/// Opens each tunnel as one `POST /<service_name>/Tun` stream on a pooled HTTP/2 connection;
/// it is an [`H2Connector`] that frames its bodies as gun messages.
pub type GrpcConnector<C> = H2Connector<C>;

/// Wraps a connector (TLS with ALPN `h2` below it, or TCP for h2c) so tunnels become gRPC
/// streams, with the headers sing-box's gun-lite client sends.
///
/// ```no_run
/// # async fn demo() -> Result<(), xypro_core::BoxError> {
/// use tokio::io::AsyncWriteExt;
/// use tower::{Layer, ServiceExt};
/// use xypro_core::{Address, Target};
/// use xypro_h2::grpc::{ClientOptions, GrpcLayer};
/// use xypro_tcp::TcpConnector;
///
/// let settings = ClientOptions::new("TunService").settings(Some("127.0.0.1:8443"))?;
/// let tcp = TcpConnector::new("127.0.0.1:8443".parse::<Address>()?);
/// let grpc = GrpcLayer::new(settings).layer(tcp); // h2c; put TLS (ALPN h2) between them
/// let mut stream = grpc.oneshot(Target::tcp("example.com:80".parse::<Address>()?)).await?;
/// stream.write_all(b"one gun message").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct GrpcLayer {
    layer: H2Layer,
}

impl GrpcLayer {
    /// A layer with the given validated settings.
    pub fn new(settings: ClientSettings) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static("grpc-go/1.48.0"),
        );
        let template = Template {
            method: Method::POST,
            uri: Template::uri(settings.authority, settings.path),
            headers,
            gun: true,
            max_streams: settings.max_streams,
        };
        GrpcLayer {
            layer: H2Layer::with_template(template),
        }
    }
}

impl<C> Layer<C> for GrpcLayer {
    type Service = GrpcConnector<C>;

    fn layer(&self, inner: C) -> GrpcConnector<C> {
        self.layer.layer(inner)
    }
}
