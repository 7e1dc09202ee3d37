//! Raw-socket helpers for hardening tests: hand-built WebSocket frames and VLESS headers, a TLS
//! client from the tls layer, `/proc` readings of the binary, and a healthy neighbour.

use super::{Proxy, flows, repo_root};
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpStream,
};
use tower::ServiceExt;
use xypro_stack::{
    core::Target,
    tls::{ClientOptions, ClientTlsStream, TlsConnector},
};

/// What the server answers to every HTTP request that is not the upgrade.
pub const NOT_FOUND: &[u8] =
    b"HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";

/// The upgrade request for path `/xy` that the test server accepts.
pub const UPGRADE: &str = "GET /xy HTTP/1.1\r\nHost: example.test\r\nConnection: Upgrade\r\n\
     Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

/// Reads until the peer closes (or fails) and returns the bytes and whether it closed within `limit`.
pub async fn read_until_close<R: AsyncRead + Unpin>(
    io: &mut R,
    limit: Duration,
) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, io.read(&mut buf)).await {
            Err(_) => return (out, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Opens TLS to `addr` with SNI `server_name`, verified against the test CA.
pub async fn tls_connect(
    addr: SocketAddr,
    server_name: &str,
) -> Result<ClientTlsStream<TcpStream>, xypro_stack::core::BoxError> {
    tls_connect_alpn(addr, server_name, "http/1.1").await
}

/// As [`tls_connect`], offering `alpn`.
pub async fn tls_connect_alpn(
    addr: SocketAddr,
    server_name: &str,
    alpn: &str,
) -> Result<ClientTlsStream<TcpStream>, xypro_stack::core::BoxError> {
    let mut options = ClientOptions::new(server_name);
    options.ca = Some(repo_root().join("examples/certs/ca.pem"));
    options.alpn = vec![alpn.to_owned()];
    let settings = options.settings(&repo_root()).unwrap();
    let dial = tower::service_fn(move |_: Target| TcpStream::connect(addr));
    TlsConnector::new(dial, settings)
        .oneshot(Target::tcp(addr))
        .await
}

/// TLS to the test server, then the WebSocket upgrade; panics unless the answer is `101`.
pub async fn websocket(addr: SocketAddr) -> ClientTlsStream<TcpStream> {
    let mut tls = tls_connect(addr, "example.test").await.unwrap();
    tls.write_all(UPGRADE.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        tokio::time::timeout(flows::PATIENCE, tls.read_exact(&mut byte))
            .await
            .expect("101 in time")
            .unwrap();
        head.push(byte[0]);
        assert!(head.len() < 4096, "endless response head");
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    tls
}

/// A client (masked) frame; `fin` and the raw opcode as given, the length encoded minimally.
pub fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = frame_head(fin, opcode, true, payload.len() as u64);
    let key = [0x37u8, 0xfa, 0x21, 0x3d];
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

/// A frame head: FIN/opcode byte, mask bit and 7/16/64-bit length (no mask key).
pub fn frame_head(fin: bool, opcode: u8, masked: bool, len: u64) -> Vec<u8> {
    let mut head = vec![(u8::from(fin) << 7) | (opcode & 0x0f)];
    let mask = u8::from(masked) << 7;
    match len {
        0..=125 => head.push(mask | len as u8),
        126..=0xffff => {
            head.push(mask | 126);
            head.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            head.push(mask | 127);
            head.extend_from_slice(&len.to_be_bytes());
        }
    }
    head
}

/// Reads one server frame: (opcode, payload), or `None` if the connection ended first.
pub async fn read_frame<R: AsyncRead + Unpin>(io: &mut R) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    io.read_exact(&mut head).await.ok()?;
    let len = match head[1] & 0x7f {
        126 => u64::from(io.read_u16().await.ok()?),
        127 => io.read_u64().await.ok()?,
        n => u64::from(n),
    };
    if len > 1 << 20 {
        return None;
    }
    let mut payload = vec![0u8; len as usize];
    io.read_exact(&mut payload).await.ok()?;
    Some((head[0] & 0x0f, payload))
}

/// Reads frames until a close frame (returns its status code) or the end of the connection
/// (`None`), within `limit`; panics if neither happens in time.
pub async fn expect_close<R: AsyncRead + Unpin>(io: &mut R, limit: Duration) -> Option<u16> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = tokio::time::timeout(left, read_frame(io))
            .await
            .expect("the server closes in time");
        match frame {
            None => return None,
            Some((8, payload)) => {
                return payload.get(..2).map(|c| u16::from_be_bytes([c[0], c[1]]));
            }
            Some(_) => continue,
        }
    }
}

/// A VLESS request header for the demo user: command 1 (TCP) or 2 (UDP) to `destination`.
pub fn vless_header(command: u8, destination: SocketAddr) -> Vec<u8> {
    let SocketAddr::V4(v4) = destination else {
        panic!("IPv4 destinations only")
    };
    let id = uuid::Uuid::parse_str(super::tunnel::ID).unwrap();
    let mut header = vec![0u8];
    header.extend_from_slice(id.as_bytes());
    header.push(0);
    header.push(command);
    header.extend_from_slice(&v4.port().to_be_bytes());
    header.push(1);
    header.extend_from_slice(&v4.ip().octets());
    header
}

/// The process id of a running [`Proxy`].
pub fn pid_of(proxy: &Proxy) -> u32 {
    proxy.child.id()
}

/// Open file descriptors of process `pid`.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// Resident memory of process `pid` in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

/// CPU time (user + system) of process `pid`, in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Polls `check` every 50 ms until it holds or `limit` passes; returns whether it held.
pub async fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A connection to an echo server that stays open through a test and proves it still works.
pub struct Healthy {
    stream: TcpStream,
    round: u32,
}

impl Healthy {
    /// Opens a SOCKS5 CONNECT through `socks` to `echo` and checks one round trip.
    pub async fn open(socks: SocketAddr, echo: SocketAddr) -> Healthy {
        let mut healthy = Healthy {
            stream: flows::connect(socks, echo).await,
            round: 0,
        };
        healthy.check().await;
        healthy
    }

    /// Wraps an already open stream to an echo server.
    pub async fn from_stream(stream: TcpStream) -> Healthy {
        let mut healthy = Healthy { stream, round: 0 };
        healthy.check().await;
        healthy
    }

    /// One more echo round trip on the same connection.
    pub async fn check(&mut self) {
        self.round += 1;
        let message = format!("healthy round {:05}", self.round);
        self.stream.write_all(message.as_bytes()).await.unwrap();
        let mut back = vec![0u8; message.len()];
        tokio::time::timeout(flows::PATIENCE, self.stream.read_exact(&mut back))
            .await
            .expect("the healthy neighbour answers in time")
            .expect("the healthy neighbour is still open");
        assert_eq!(back, message.as_bytes(), "the healthy neighbour's echo");
    }
}

/// Writes everything, ignoring errors (the peer may close first).
pub async fn write_lossy<W: AsyncWrite + Unpin>(io: &mut W, bytes: &[u8]) {
    let _ = io.write_all(bytes).await;
    let _ = io.flush().await;
}
