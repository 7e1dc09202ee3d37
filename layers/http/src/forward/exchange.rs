//! One forwarded request: its head and body to the origin, the origin's response (interim
//! ones too) back to the client, with their framing intact; both directions at once, so an
//! origin may answer before it has read the whole body.

use super::upstream::Upstream;
use crate::{
    HttpError,
    conn::ClientConn,
    proto::{
        BodyProgress, ConnectionOptions, Framing, ProtoError, ResponseHead, Version, is_chunked,
    },
    read::{CopyError, Patience, copy_body, read_message},
    request::Request,
};
use bytes::BytesMut;
use std::{io, pin::pin, time::Duration};
use tokio::{
    io::{AsyncRead, AsyncWrite, AsyncWriteExt},
    time::timeout,
};

/// How an exchange that completed leaves the two connections.
#[derive(Debug, Clone, Copy)]
pub(super) struct Done {
    /// The client connection may carry another request.
    pub(super) client_keep: bool,
    /// The origin connection may carry another request.
    pub(super) upstream_keep: bool,
}

/// Why an exchange did not complete.
#[derive(Debug)]
pub(super) enum Failed {
    /// The client's side failed: the session ends.
    Client(HttpError),
    /// The origin's side failed; `responded` once the client got any byte of the response.
    Upstream { responded: bool, error: HttpError },
}

/// Sends `request` to `upstream` and its response to `client`.
pub(super) async fn exchange(
    client: &mut ClientConn,
    upstream: &mut Upstream,
    request: &Request,
    close_client: bool,
    idle: Duration,
) -> Result<Done, Failed> {
    let mut head = Vec::new();
    request.write_forward_head(&mut head, close_client);
    let unsent = |error: io::Error| Failed::Upstream {
        responded: false,
        error: error.into(),
    };
    match timeout(idle, upstream.io.write_all(&head)).await {
        Ok(written) => written.map_err(unsent)?,
        Err(_) => return Err(unsent(io::ErrorKind::TimedOut.into())),
    }
    let (mut client_read, mut client_write) = tokio::io::split(&mut client.io);
    let (mut origin_read, mut origin_write) = tokio::io::split(&mut upstream.io);
    let mut body = BodyProgress::new(request.framing);
    let mut upload = pin!(copy_body(
        &mut client_read,
        &mut client.buf,
        &mut origin_write,
        &mut body,
        idle,
    ));
    let mut download = pin!(relay_response(
        &mut origin_read,
        &mut upstream.buf,
        &mut client_write,
        request,
        close_client,
        idle,
    ));
    let mut uploaded = None;
    let response = loop {
        tokio::select! {
            sent = &mut upload, if uploaded.is_none() => match sent {
                Err(CopyError::Source(e)) => return Err(Failed::Client(e)),
                // The origin stopped reading; its response may still explain why.
                Err(CopyError::Sink(_)) => uploaded = Some(false),
                Ok(()) => uploaded = Some(true),
            },
            response = &mut download => break response,
        }
    };
    let done = response?;
    // A body the origin did not wait for is still on the client connection, in the way.
    let body_sent = uploaded == Some(true);
    Ok(Done {
        client_keep: done.client_keep && body_sent,
        upstream_keep: done.upstream_keep && body_sent,
    })
}

/// Reads the origin's response (after any interim ones) and forwards it to the client.
async fn relay_response<R, W>(
    origin: &mut R,
    buf: &mut BytesMut,
    client: &mut W,
    request: &Request,
    close_client: bool,
    idle: Duration,
) -> Result<Done, Failed>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let patience = Patience {
        first_byte: idle,
        whole: idle,
    };
    let mut responded = false;
    loop {
        let failed = |responded, error: HttpError| Failed::Upstream { responded, error };
        let head = match read_message(origin, buf, ResponseHead::parse, patience).await {
            Ok(Some(head)) => head,
            Ok(None) => return Err(failed(responded, HttpError::Truncated)),
            Err(e) => return Err(failed(responded, e)),
        };
        if head.code == 101 {
            let error = ProtoError::Framing("101 Switching Protocols without an upgrade request");
            return Err(failed(responded, error.into()));
        }
        if head.is_interim() {
            // HTTP/1.0 clients know no interim responses.
            if request.version() == Version::Http11 {
                let mut wire = Vec::new();
                write_response_head(&mut wire, &head, None);
                send(client, &wire, idle).await?;
                responded = true;
            }
            continue;
        }
        let framing = Framing::response(&head, &request.head.method)
            .map_err(|e| failed(responded, e.into()))?;
        let close = close_client || framing == Framing::UntilClose;
        let connection = match (close, request.version()) {
            (true, _) => Some("close"),
            (false, Version::Http10) => Some("keep-alive"),
            (false, Version::Http11) => None,
        };
        let mut wire = Vec::new();
        write_response_head(&mut wire, &head, connection);
        send(client, &wire, idle).await?;
        let mut body = BodyProgress::new(framing);
        match copy_body(origin, buf, client, &mut body, idle).await {
            Ok(()) => {}
            Err(CopyError::Source(e)) => return Err(failed(true, e)),
            Err(CopyError::Sink(e)) => return Err(Failed::Client(e.into())),
        }
        let origin_keeps = ConnectionOptions::of(&head.headers).keep_alive(head.version);
        return Ok(Done {
            client_keep: !close,
            upstream_keep: framing != Framing::UntilClose && origin_keeps && buf.is_empty(),
        });
    }
}

/// Writes `wire` to the client and flushes it, within `idle`.
async fn send<W: AsyncWrite + Unpin>(
    client: &mut W,
    wire: &[u8],
    idle: Duration,
) -> Result<(), Failed> {
    let write = async {
        client.write_all(wire).await?;
        client.flush().await
    };
    match timeout(idle, write).await {
        Ok(written) => written.map_err(|e| Failed::Client(e.into())),
        Err(_) => Err(Failed::Client(
            io::Error::from(io::ErrorKind::TimedOut).into(),
        )),
    }
}

/// Appends the response head the client receives: the origin's status line and fields
/// without hop-by-hop ones (and without `Content-Length` beside `Transfer-Encoding`, as RFC
/// 9112 asks of a proxy), then `Connection: <connection>` if given.
fn write_response_head(buf: &mut Vec<u8>, head: &ResponseHead, connection: Option<&str>) {
    head.write_status_line(buf);
    let options = ConnectionOptions::of(&head.headers);
    let transfer_coded = is_chunked(&head.headers).is_some();
    for header in &head.headers {
        let dropped =
            options.is_hop_by_hop(&header.name) || (transfer_coded && header.is("content-length"));
        if !dropped {
            header.write_to_buf(buf);
        }
    }
    if let Some(connection) = connection {
        buf.extend_from_slice(format!("Connection: {connection}\r\n").as_bytes());
    }
    buf.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::Header;

    #[test]
    fn the_client_gets_the_response_without_hop_by_hop_fields() {
        let head = ResponseHead {
            version: Version::Http11,
            code: 200,
            reason: b"OK".to_vec(),
            headers: vec![
                Header::new("Transfer-Encoding", "chunked"),
                Header::new("Content-Length", "10"),
                Header::new("Connection", "keep-alive, X-Hop"),
                Header::new("Keep-Alive", "timeout=5"),
                Header::new("X-Hop", "1"),
                Header::new("Proxy-Authenticate", "Basic"),
                Header::new("Content-Type", "text/plain"),
            ],
        };
        let mut wire = Vec::new();
        write_response_head(&mut wire, &head, Some("close"));
        assert_eq!(
            String::from_utf8(wire).unwrap(),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\
             Connection: close\r\n\r\n"
        );
    }
}
