//! Opening one tunnel: a slot on a pooled connection (dialled through the inner connector when
//! none has room), then one request stream whose body goes out without waiting for the response.

use crate::{H2Error, H2Stream, pool::Pool, proto::gun::Decoder, stream::Framing};
use http::{
    HeaderMap, Method, Request, Uri,
    uri::{Authority, Scheme},
};
use tower::{Service, ServiceExt};
use xypro_core::{BoxError, Io, Target};

/// The request every tunnel of a connector sends, and how its body is framed.
#[derive(Debug)]
pub(crate) struct Template {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) headers: HeaderMap,
    pub(crate) gun: bool,
    pub(crate) max_streams: usize,
}

impl Template {
    /// The URI of requests to `path` at `authority` (`https`, also for h2c below).
    pub(crate) fn uri(authority: Authority, path: String) -> Uri {
        Uri::builder()
            .scheme(Scheme::HTTPS)
            .authority(authority)
            .path_and_query(path)
            .build()
            .expect("validated path and authority")
    }

    fn request(&self) -> Request<()> {
        let mut request = Request::new(());
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }

    fn framing(&self) -> Framing {
        if self.gun {
            Framing::Gun(Decoder::default())
        } else {
            Framing::Raw
        }
    }
}

/// Opens a tunnel stream for `target`; a connection that turns out dead is dropped from the
/// pool and the tunnel tried once more on another.
pub(crate) async fn open<C>(
    mut inner: C,
    target: Target,
    pool: &Pool,
    template: &Template,
) -> Result<H2Stream, H2Error>
where
    C: Service<Target>,
    C::Response: Io,
    C::Error: Into<BoxError>,
{
    let mut tries = 2;
    loop {
        tries -= 1;
        let dial = async {
            let connector = inner.ready().await.map_err(Into::into)?;
            connector.call(target.clone()).await.map_err(Into::into)
        };
        let (send, lease) = pool.get(template.max_streams, dial).await?;
        let sent = async {
            let mut send = send.ready().await?;
            send.send_request(template.request(), false)
        };
        match sent.await {
            Ok((response, body)) => {
                return Ok(H2Stream::client(body, response, template.framing(), lease));
            }
            Err(err) if tries > 0 => {
                tracing::debug!(error = %err, "h2: pooled connection is gone; dialling again");
                pool.discard(&lease);
            }
            Err(err) => return Err(err.into()),
        }
    }
}
