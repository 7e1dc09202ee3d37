//! Loopback fixtures: an HTTP/2 server (h2 or gRPC) on 127.0.0.1:0 whose tunnels echo or are
//! handed to the test, and clients that dial it over TCP (h2c).

#![allow(dead_code, unreachable_pub)]

use sha2::{Digest, Sha256};
use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    net::TcpListener,
    sync::mpsc,
    task::AbortHandle,
};
use tower::{Service, ServiceExt};
use xypro_core::{Address, Target};
use xypro_h2::{H2Stream, grpc};
use xypro_tcp::TcpConnector;

/// Which transport a fixture speaks.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    H2,
    Grpc,
}

/// A running server: tunnels arrive on `streams` (with their request path); `connections`
/// can abort each connection's driver (which drops its socket).
pub struct Server {
    pub addr: SocketAddr,
    pub streams: mpsc::UnboundedReceiver<(String, H2Stream)>,
    pub connections: Arc<Mutex<Vec<AbortHandle>>>,
}

/// Serves `kind` on 127.0.0.1:0 (path `/h2`, or service `gun`: see [`Kind::client_path`]).
pub async fn serve(kind: Kind) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, streams) = mpsc::unbounded_channel();
    let connections = Arc::new(Mutex::new(Vec::new()));
    let handles = connections.clone();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let tx = tx.clone();
            let task = tokio::spawn(async move {
                let on_stream = |parts: http::request::Parts, stream| {
                    let _ = tx.send((parts.uri.path().to_owned(), stream));
                };
                let _ = match kind {
                    Kind::H2 => {
                        let settings = xypro_h2::ServerOptions::new("/h2").settings().unwrap();
                        xypro_h2::serve(tcp, &settings, on_stream).await
                    }
                    Kind::Grpc => {
                        let settings = grpc::ServerOptions::new("gun").settings().unwrap();
                        grpc::serve(tcp, &settings, on_stream).await
                    }
                };
            });
            handles.lock().unwrap().push(task.abort_handle());
        }
    });
    Server {
        addr,
        streams,
        connections,
    }
}

impl Kind {
    /// Both transports, for tests that run on each.
    pub const ALL: [Kind; 2] = [Kind::H2, Kind::Grpc];

    /// What a client of this kind configures to reach the server: its path or service name.
    pub fn client_path(self) -> &'static str {
        match self {
            Kind::H2 => "/h2",
            Kind::Grpc => "gun",
        }
    }

    /// The path the server sees in that client's requests.
    pub fn request_path(self) -> &'static str {
        match self {
            Kind::H2 => "/h2",
            Kind::Grpc => "/gun/Tun",
        }
    }
}

/// A connector of `kind` to `addr` (h2c) with the given per-connection stream limit.
pub fn connector(
    kind: Kind,
    addr: SocketAddr,
    max_streams: usize,
    path: &str,
) -> xypro_h2::H2Connector<TcpConnector> {
    use tower::Layer;
    let tcp = TcpConnector::new(Address::Ip(addr));
    match kind {
        Kind::H2 => {
            let mut options = xypro_h2::ClientOptions::new(path);
            options.max_streams = Some(max_streams);
            xypro_h2::H2Layer::new(options.settings().unwrap()).layer(tcp)
        }
        Kind::Grpc => {
            let mut options = grpc::ClientOptions::new(path);
            options.max_streams = Some(max_streams);
            let settings = options.settings(Some(&addr.to_string())).unwrap();
            grpc::GrpcLayer::new(settings).layer(tcp)
        }
    }
}

/// The target every test tunnel asks for (the transport never looks at it).
pub fn target() -> Target {
    Target::tcp("example.com:80".parse::<Address>().unwrap())
}

/// Opens one tunnel on `connector`, which keeps its pool for the next.
pub async fn open(connector: &mut xypro_h2::H2Connector<TcpConnector>) -> H2Stream {
    connector
        .ready()
        .await
        .unwrap()
        .call(target())
        .await
        .unwrap()
}

/// Copies everything read back until EOF, then shuts down.
pub async fn echo(stream: H2Stream) {
    let (mut read, mut write) = tokio::io::split(stream);
    tokio::io::copy(&mut read, &mut write).await.unwrap();
    write.shutdown().await.unwrap();
}

/// Writes `send` and shuts down while reading everything the other side sends.
pub async fn pump<S: AsyncRead + AsyncWrite>(stream: S, send: Vec<u8>) -> Vec<u8> {
    let (mut read, mut write) = tokio::io::split(stream);
    let writer = async move {
        write.write_all(&send).await.unwrap();
        write.shutdown().await.unwrap();
    };
    let reader = async move {
        let mut got = Vec::new();
        read.read_to_end(&mut got).await.unwrap();
        got
    };
    tokio::join!(writer, reader).1
}

/// A deterministic test payload.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// The SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}
