//! Real destination servers on 127.0.0.1:0: HTTP, echo, bulk source/sink, UDP echo.

use sha2::{Digest, Sha256};
use std::{future::Future, net::SocketAddr};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream, UdpSocket},
    sync::mpsc,
};

/// Accepts connections on 127.0.0.1:0, running `handle` on each in its own task; reports every
/// accepted connection on the channel.
async fn serve<F, Fut>(handle: F) -> (SocketAddr, mpsc::UnboundedReceiver<()>)
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = tx.send(());
            tokio::spawn(handle(stream));
        }
    });
    (addr, rx)
}

/// Echoes every byte back until the client closes.
async fn echo(stream: TcpStream) {
    let (mut r, mut w) = stream.into_split();
    let _ = tokio::io::copy(&mut r, &mut w).await;
}

/// A minimal HTTP/1.1 server answering every request with `body`; counts connections.
pub async fn http_server(body: &'static str) -> (SocketAddr, mpsc::UnboundedReceiver<()>) {
    serve(move |mut stream| async move {
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
    })
    .await
}

/// Echoes every byte back until the client closes.
pub async fn echo_server() -> SocketAddr {
    serve(echo).await.0
}

/// Deterministic pseudo-random bytes (xorshift), the same for the same seed.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// SHA-256 as hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Marks an upload request in [`bulk_server`]'s 8-byte header.
pub const UPLOAD: u64 = 1 << 63;

/// A server that reads an 8-byte header `n`: sends `n` pattern bytes and closes; or, when
/// `n & UPLOAD`, reads `n & !UPLOAD` bytes and answers with their SHA-256 hex (no half-close
/// needed, since WebSocket tunnels cannot carry one).
pub async fn bulk_server() -> SocketAddr {
    serve(|mut stream| async move {
        let Ok(header) = stream.read_u64().await else {
            return;
        };
        if header & UPLOAD == 0 {
            let data = pattern(header, header as usize);
            let _ = stream.write_all(&data).await;
            let _ = stream.shutdown().await;
            return;
        }
        let mut left = (header & !UPLOAD) as usize;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64 * 1024];
        while left > 0 {
            let want = left.min(buf.len());
            match stream.read(&mut buf[..want]).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    hasher.update(&buf[..n]);
                    left -= n;
                }
            }
        }
        let _ = stream.write_all(hex(&hasher.finalize()).as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await
    .0
}

/// Echoes every UDP datagram back to its sender.
pub async fn udp_echo_server() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let _ = socket.send_to(&buf[..n], from).await;
        }
    });
    addr
}

/// A listener whose accept queue is full, so further connection attempts hang.
pub fn blackhole() -> (SocketAddr, Vec<std::net::TcpStream>, socket2::Socket) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(200)) {
            Ok(s) => fillers.push(s),
            Err(_) => break,
        }
    }
    (addr, fillers, socket)
}

/// A server that speaks first, like SSH: sends `banner` on accept, then echoes.
pub async fn banner_server(banner: &'static [u8]) -> SocketAddr {
    serve(move |mut stream| async move {
        if stream.write_all(banner).await.is_ok() {
            echo(stream).await;
        }
    })
    .await
    .0
}

/// An echo server that also reports every accepted connection.
pub async fn counting_echo_server() -> (SocketAddr, mpsc::UnboundedReceiver<()>) {
    serve(echo).await
}

/// An HTTP server that answers each request with `total` bytes, `chunk` at a time every
/// `period`, like a slow download; reports how many bytes each response got out before it
/// ended (the whole `total`, or less when the client went away).
pub async fn slow_http_server(
    total: usize,
    chunk: usize,
    period: std::time::Duration,
) -> (SocketAddr, mpsc::UnboundedReceiver<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {total}\r\nconnection: close\r\n\r\n"
                );
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let data = vec![b'x'; chunk];
                let mut sent = 0;
                while sent < total {
                    let n = chunk.min(total - sent);
                    if stream.write_all(&data[..n]).await.is_err() {
                        break;
                    }
                    sent += n;
                    tokio::time::sleep(period).await;
                }
                let _ = tx.send(sent);
            });
        }
    });
    (addr, rx)
}

/// What the test website learned about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    /// The client address a PROXY protocol header (v1 or v2) gave, if one came first.
    pub proxied: Option<SocketAddr>,
    /// The request path, or `None` when the request was not HTTP (answered `400`).
    pub path: Option<String>,
}

/// The page the test website serves.
pub const WEB_PAGE: &str = "<!doctype html><html><head><title>real site</title></head><body><h1>A real website</h1></body></html>";

/// How long the test website waits for a whole request head (nginx's `client_header_timeout`).
pub const WEB_HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// A small website on 127.0.0.1:0: takes an optional PROXY protocol header, answers an HTTP
/// request with [`WEB_PAGE`] (`200`) and anything else with `400`, one request per connection,
/// and closes a connection whose head is not in within [`WEB_HEADER_TIMEOUT`]; reports each
/// request.
pub async fn web_server() -> (SocketAddr, mpsc::UnboundedReceiver<Visit>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(visit(stream, tx.clone()));
        }
    });
    (addr, rx)
}

/// Serves one connection of [`web_server`].
async fn visit(mut stream: TcpStream, visits: mpsc::UnboundedSender<Visit>) {
    let deadline = tokio::time::Instant::now() + WEB_HEADER_TIMEOUT;
    let mut read = Vec::new();
    let mut buf = [0u8; 4096];
    let (proxied, head) = loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) | Err(_) => return,
            Ok(Ok(n)) => read.extend_from_slice(&buf[..n]),
        }
        let Some((proxied, start)) = proxy_header(&read) else {
            continue;
        };
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&read[start..]) {
            Ok(httparse::Status::Partial) if read.len() < 64 * 1024 => continue,
            Ok(httparse::Status::Complete(_)) => {
                break (proxied, request.path.map(str::to_owned));
            }
            _ => break (proxied, None),
        }
    };
    let response = match &head {
        Some(_) => format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{WEB_PAGE}",
            WEB_PAGE.len()
        ),
        None => "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into(),
    };
    let _ = visits.send(Visit {
        proxied,
        path: head,
    });
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The client address of a PROXY protocol header at the start of `read` and where the request
/// after it starts; `(None, 0)` without one; `None` while the header is incomplete.
fn proxy_header(read: &[u8]) -> Option<(Option<SocketAddr>, usize)> {
    const V2: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
    if read.starts_with(b"PROXY ") {
        let end = read.windows(2).position(|w| w == b"\r\n")?;
        let line = std::str::from_utf8(&read[..end]).ok()?;
        let fields: Vec<&str> = line.split(' ').collect();
        let client = format!("{}:{}", fields.get(2)?, fields.get(4)?);
        return Some((client.parse().ok(), end + 2));
    }
    if read.len() < V2.len() && V2.starts_with(read) {
        return None;
    }
    if !read.starts_with(V2) {
        return Some((None, 0));
    }
    let len = usize::from(u16::from_be_bytes([*read.get(14)?, *read.get(15)?]));
    let body = read.get(16..16 + len)?;
    let client = match read[13] {
        0x11 => SocketAddr::from((
            <[u8; 4]>::try_from(&body[..4]).ok()?,
            u16::from_be_bytes([body[8], body[9]]),
        )),
        0x21 => SocketAddr::from((
            <[u8; 16]>::try_from(&body[..16]).ok()?,
            u16::from_be_bytes([body[32], body[33]]),
        )),
        _ => return Some((None, 16 + len)),
    };
    Some((Some(client), 16 + len))
}
