//! The server's connection driver, shared by `h2` and `grpc`: the HTTP/2 handshake with its
//! limits, then each request stream either becomes a tunnel or gets an empty `404`.

use crate::{
    H2Error, H2Stream,
    stream::{Ending, Framing},
    tuning::server_builder,
};
use bytes::Bytes;
use http::{Response, StatusCode, request::Parts};
use std::{future::Future, time::Duration};
use tokio::io::{AsyncRead, AsyncWrite};

/// How an accepted request becomes a tunnel.
pub(crate) struct Tunnel {
    /// The response head, sent before any body byte.
    pub(crate) response: Response<()>,
    pub(crate) framing: Framing,
    pub(crate) ending: Ending,
}

/// Serves one HTTP/2 connection on `io` until it closes: every request `route` turns into a
/// [`Tunnel`] is answered at once and handed to `on_stream`; every other gets `404` with
/// END_STREAM. Once `shutdown` completes, the connection is shut down gracefully (GOAWAY,
/// no new streams) and served until its open streams end.
pub(crate) async fn drive<S, R, D, F>(
    io: S,
    handshake_timeout: Duration,
    route: R,
    shutdown: D,
    mut on_stream: F,
) -> Result<(), H2Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    R: Fn(&Parts) -> Option<Tunnel>,
    D: Future<Output = ()>,
    F: FnMut(Parts, H2Stream),
{
    let handshake = server_builder().handshake::<_, Bytes>(io);
    let mut connection = tokio::time::timeout(handshake_timeout, handshake)
        .await
        .map_err(|_| H2Error::Timeout {
            after: handshake_timeout,
        })??;
    let mut shutdown = std::pin::pin!(shutdown);
    let mut shutting_down = false;
    loop {
        let accepted = tokio::select! {
            accepted = connection.accept() => accepted,
            () = &mut shutdown, if !shutting_down => {
                tracing::debug!("h2: shutting the connection down (GOAWAY)");
                connection.graceful_shutdown();
                shutting_down = true;
                continue;
            }
        };
        let Some(accepted) = accepted else { break };
        let (request, mut respond) = accepted?;
        let (parts, body) = request.into_parts();
        let Some(tunnel) = route(&parts) else {
            tracing::debug!(path = %parts.uri.path(), "h2: not a tunnel request; 404");
            let mut not_found = Response::new(());
            *not_found.status_mut() = StatusCode::NOT_FOUND;
            let _ = respond.send_response(not_found, true);
            continue;
        };
        match respond.send_response(tunnel.response, false) {
            Ok(send) => {
                let stream = H2Stream::server(send, body, tunnel.framing, tunnel.ending);
                on_stream(parts, stream);
            }
            Err(err) => tracing::debug!(error = %err, "h2: stream gone before its response"),
        }
    }
    Ok(())
}
