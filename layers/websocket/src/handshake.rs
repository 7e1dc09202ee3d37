//! The client's upgrade over an established stream: request, `101`, and the early-data echo.

use crate::{
    WsByteStream, WsClientSettings, WsError,
    proto::{
        early_data,
        request::write_request,
        response::{MAX_RESPONSE_HEAD, parse_response},
    },
    stream::Role,
};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::client::generate_key;

/// Upgrades `io` to a WebSocket, carrying `early` in `Sec-WebSocket-Protocol` when non-empty.
///
/// A server that does not echo the header is taken not to have read the early data, so unless
/// `early_data_resend` is off it is queued again as the first binary message (not flushed: it
/// leaves with the caller's next flush).
pub(crate) async fn handshake<S>(
    mut io: S,
    settings: &WsClientSettings,
    early: Bytes,
) -> Result<WsByteStream<S>, WsError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let key = generate_key();
    let protocol = (!early.is_empty()).then(|| early_data::encode(&early));
    let mut head = Vec::with_capacity(256 + protocol.as_ref().map_or(0, String::len));
    write_request(&mut head, settings, &key, protocol.as_deref());
    io.write_all(&head).await?;
    io.flush().await?;

    let mut buf = BytesMut::with_capacity(1024);
    let response = async {
        loop {
            if let Some(switched) = parse_response(&buf, &key)? {
                return Ok(switched);
            }
            buf.reserve(1024.min((MAX_RESPONSE_HEAD + 1).saturating_sub(buf.len())));
            if io.read_buf(&mut buf).await? == 0 {
                return Err(WsError::Eof);
            }
        }
    };
    let after = settings.handshake_timeout;
    let switched = tokio::time::timeout(after, response)
        .await
        .map_err(|source| WsError::ResponseTimeout { after, source })??;
    let echoed = match (&switched.protocol, &protocol) {
        (Some(got), Some(sent)) if got == sent.as_bytes() => true,
        (Some(_), Some(_)) => return Err(WsError::ProtocolMismatch),
        _ => false,
    };
    let leftover = buf.split_off(switched.head_len).freeze();
    let mut stream = WsByteStream::new(io, Role::Client).with_read_ahead(leftover);
    if !early.is_empty() && !echoed && settings.early_data_resend {
        tracing::debug!("websocket: server did not echo early data; resending it as a message");
        stream.queue_message(&early);
    }
    Ok(stream)
}
