//! Real interop peers (sing-box 1.14.4, v2ray 4.34) on loopback, and the pieces around them:
//! an echo destination, a SOCKS5 CONNECT, a VLESS echo behind our server drivers, and TLS.

use std::{
    net::{SocketAddr, TcpStream as StdTcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// The user id every peer config and client uses.
pub const ID: &str = "2ad043a0-b930-46f8-bd55-1fcefc93339a";

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The path of a TEST-ONLY file in `examples/certs`.
pub fn cert(name: &str) -> String {
    repo_root()
        .join("examples/certs")
        .join(name)
        .display()
        .to_string()
}

/// The peer binary, or `None` (with a SKIPPED line) outside CI; under `CI=true` a missing peer fails.
pub fn require(peer: &str) -> Option<PathBuf> {
    let path = match peer {
        "v2ray" => PathBuf::from("/usr/bin/v2ray"),
        "sing-box" => repo_root().join("target/peers/sing-box"),
        other => panic!("unknown peer {other}"),
    };
    if path.exists() {
        return Some(path);
    }
    let hint = "run scripts/install-peers.sh (as root) to install the interop peers";
    if std::env::var_os("CI").is_some() {
        panic!("{peer} is not installed: {hint}");
    }
    eprintln!("SKIPPED: {peer} is not installed; {hint}");
    None
}

/// A port that was free a moment ago, for peers that cannot report the one they bound.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running peer, killed (and its config directory removed) on drop.
pub struct Peer {
    child: Child,
    dir: PathBuf,
    /// The address it listens on.
    pub addr: SocketAddr,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Peer {
    /// Runs `binary args.. CONFIG` (the config written to a fresh directory) and waits until
    /// `port` accepts connections.
    pub fn start(binary: &Path, args: &[&str], config: &str, port: u16) -> Peer {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("xypro-h2-peer-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.json");
        std::fs::write(&path, config).unwrap();
        let child = Command::new(binary)
            .args(args)
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut peer = Peer { child, dir, addr };
        let deadline = Instant::now() + Duration::from_secs(20);
        while StdTcpStream::connect(addr).is_err() {
            if let Some(status) = peer.child.try_wait().unwrap() {
                panic!(
                    "{} exited with {status}; config:\n{config}",
                    binary.display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "{} never listened",
                binary.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        peer
    }
}

/// A TCP echo destination on 127.0.0.1:0, copying every connection back to itself.
pub async fn echo_destination() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut read, mut write) = tcp.into_split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
    addr
}

/// Opens a SOCKS5 CONNECT (no auth) through `proxy` to `destination`.
pub async fn socks5_connect(proxy: SocketAddr, destination: SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(proxy).await.unwrap();
    tcp.write_all(&[5, 1, 0]).await.unwrap();
    let mut method = [0; 2];
    tcp.read_exact(&mut method).await.unwrap();
    assert_eq!(method, [5, 0]);
    let SocketAddr::V4(v4) = destination else {
        panic!("IPv4 destinations only")
    };
    let mut request = vec![5, 1, 0, 1];
    request.extend_from_slice(&v4.ip().octets());
    request.extend_from_slice(&v4.port().to_be_bytes());
    tcp.write_all(&request).await.unwrap();
    let mut reply = [0; 10];
    tcp.read_exact(&mut reply).await.unwrap();
    assert_eq!(reply[1], 0, "SOCKS5 CONNECT succeeded");
    tcp
}

/// Plays a VLESS server on an accepted tunnel: reads the request header with xypro-vless's
/// codec, checks the user, and echoes the payload behind a `00 00` response header.
pub async fn vless_echo<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    let mut buf = Vec::new();
    let consumed = loop {
        let mut chunk = [0; 4096];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the tunnel ended inside the VLESS header");
        buf.extend_from_slice(&chunk[..n]);
        if let Some((request, consumed)) = xypro_vless::proto::Request::parse(&buf).unwrap() {
            assert_eq!(request.user.to_string(), ID);
            break consumed;
        }
    };
    stream.write_all(&[0, 0]).await.unwrap();
    stream.write_all(&buf[consumed..]).await.unwrap();
    let (mut read, mut write) = tokio::io::split(stream);
    let _ = tokio::io::copy(&mut read, &mut write).await;
    let _ = write.shutdown().await;
}

/// A TLS acceptor with the test certificate for `example.test`, offering `alpn`.
pub fn tls_acceptor(alpn: &str) -> tokio_rustls::TlsAcceptor {
    let mut options = xypro_tls::ServerOptions::new(cert("server.pem"), cert("server.key"));
    options.alpn = vec![alpn.to_owned()];
    let settings = options.validate(Path::new("/")).unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::clone(&settings.config))
}

/// TLS client settings for `example.test` trusting the test CA, offering `alpn`.
pub fn tls_client(alpn: &str) -> xypro_tls::TlsClientSettings {
    let mut options = xypro_tls::ClientOptions::new("example.test");
    options.ca = Some(cert("ca.pem").into());
    options.alpn = vec![alpn.to_owned()];
    options.validate(Path::new("/")).unwrap()
}

/// Sends `len` bytes through `stream` while reading the echo, and checks it by SHA-256.
pub async fn check_echo<S: AsyncRead + AsyncWrite>(stream: S, len: usize) {
    let payload = super::pattern(len, 3);
    let want = super::sha256(&payload);
    let (mut read, mut write) = tokio::io::split(stream);
    let writer = async move {
        write.write_all(&payload).await.unwrap();
        write.flush().await.unwrap();
        write
    };
    let reader = async move {
        let mut got = vec![0; len];
        read.read_exact(&mut got).await.unwrap();
        got
    };
    let work = async { tokio::join!(writer, reader) };
    let (_write, got) = tokio::time::timeout(Duration::from_secs(30), work)
        .await
        .expect("the echo comes back within 30 s");
    assert_eq!(super::sha256(&got), want);
}
