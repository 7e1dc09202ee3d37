//! WebSocket streams: the upgrade answered by hyper, then JSON lines sent as text frames until
//! the client leaves, stops reading or the admin server stops.

use super::{
    clash::streams::Lines,
    reply::{self, Body},
};
use futures_util::{SinkExt, StreamExt};
use hyper::{Request, Response, StatusCode, header, upgrade::Upgraded};
use hyper_util::rt::TokioIo;
use std::time::Duration;
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        Message, Utf8Bytes,
        handshake::derive_accept_key,
        protocol::{Role, WebSocketConfig},
    },
};

/// A client that has not taken a frame for this long is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// The largest message a client may send (dashboards send none but close frames).
const MAX_INCOMING: usize = 64 * 1024;

/// Whether `request` asks for a WebSocket upgrade.
pub(crate) fn is_upgrade<B>(request: &Request<B>) -> bool {
    let has = |name, token: &str| {
        request.headers().get_all(name).iter().any(|value| {
            value
                .to_str()
                .unwrap_or("")
                .split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(token))
        })
    };
    request.method() == hyper::Method::GET
        && has(header::UPGRADE, "websocket")
        && has(header::CONNECTION, "upgrade")
}

/// Answers the upgrade with `101` and sends `lines` over the WebSocket once hyper hands it over.
pub(crate) fn respond<B>(mut request: Request<B>, lines: Lines) -> Response<Body> {
    let headers = request.headers();
    let version_ok = headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_some_and(|v| v.as_bytes() == b"13");
    let Some(key) = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .filter(|_| version_ok)
    else {
        return reply::message(StatusCode::BAD_REQUEST, "Bad WebSocket upgrade");
    };
    let accept = derive_accept_key(key.as_bytes());
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        match upgrade.await {
            Ok(upgraded) => pump(upgraded, lines).await,
            Err(e) => tracing::debug!("admin WebSocket upgrade failed: {e}"),
        }
    });
    let mut response = reply::empty(StatusCode::SWITCHING_PROTOCOLS);
    let out = response.headers_mut();
    out.insert(
        header::UPGRADE,
        header::HeaderValue::from_static("websocket"),
    );
    out.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("Upgrade"),
    );
    if let Ok(accept) = accept.parse() {
        out.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

/// Sends each line as a text frame; reads (and so answers pings and closes) in between.
async fn pump(upgraded: Upgraded, mut lines: Lines) {
    // Small buffers: a dashboard sends nothing but control frames, and each send is flushed.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_INCOMING))
        .max_frame_size(Some(MAX_INCOMING));
    let io = TokioIo::new(upgraded);
    let mut ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
    loop {
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => continue,
            },
            line = lines.next() => {
                let Some(line) = line else { break };
                let Ok(text) = Utf8Bytes::try_from(line) else { break };
                match tokio::time::timeout(SEND_TIMEOUT, ws.send(Message::Text(text))).await {
                    Ok(Ok(())) => {}
                    _ => return,
                }
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
}
