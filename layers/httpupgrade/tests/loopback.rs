//! Our client against our server on 127.0.0.1: bulk both ways, early data, and what a miss
//! leaves for a fallback.

use sha2::{Digest, Sha256};
use std::{net::SocketAddr, time::Duration};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tower::{ServiceExt, service_fn};
use xypro_core::{Address, Target};
use xypro_httpupgrade::{
    ClientOptions, HttpUpgradeConnector, HttpUpgradeError, HttpUpgradeStream, ServerOptions,
    ServerSettings, accept,
};

/// What the server made of one connection: the tunnel, or the refusal's reason and bytes.
enum Outcome {
    Tunnel(xypro_core::Prefixed<TcpStream>),
    Refused(HttpUpgradeError, Vec<u8>),
}

/// Accepts on 127.0.0.1:0 and reports each connection's outcome; refusals are closed with
/// [`Refused::close`](xypro_httpupgrade::Refused::close).
async fn serve(settings: ServerSettings) -> (SocketAddr, mpsc::UnboundedReceiver<Outcome>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (settings, tx) = (settings.clone(), tx.clone());
            tokio::spawn(async move {
                let outcome = match accept(tcp, &settings).await {
                    Ok(tunnel) => Outcome::Tunnel(tunnel),
                    Err(refused) => {
                        let read = refused.read.to_vec();
                        Outcome::Refused(refused.close().await, read)
                    }
                };
                let _ = tx.send(outcome);
            });
        }
    });
    (addr, rx)
}

async fn connect(
    addr: SocketAddr,
    options: ClientOptions,
) -> Result<HttpUpgradeStream<TcpStream>, xypro_core::BoxError> {
    let tcp = service_fn(move |_: Target| TcpStream::connect(addr));
    let settings = options.settings(Some(&addr.to_string()))?;
    let target = Target::tcp("example.com:80".parse::<Address>().unwrap());
    HttpUpgradeConnector::new(tcp, settings)
        .oneshot(target)
        .await
}

/// Writes `send` and shuts down while reading everything the other side sends.
async fn pump<S: tokio::io::AsyncRead + tokio::io::AsyncWrite>(
    stream: S,
    send: Vec<u8>,
) -> Vec<u8> {
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

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn settings(path: &str) -> ServerSettings {
    let mut options = ServerOptions::new(path);
    options.handshake_timeout = Some(Duration::from_secs(2));
    options.settings().unwrap()
}

#[tokio::test]
async fn four_mib_each_way() {
    const SIZE: usize = 4 << 20;
    let (addr, mut outcomes) = serve(settings("/hu")).await;
    let client = connect(addr, ClientOptions::new("/hu")).await.unwrap();
    let Some(Outcome::Tunnel(server)) = outcomes.recv().await else {
        panic!("the server accepts the upgrade")
    };
    let (up, down) = (pattern(SIZE, 1), pattern(SIZE, 7));
    let (want_up, want_down) = (Sha256::digest(&up), Sha256::digest(&down));
    let (at_server, at_client) = tokio::join!(pump(server, down), pump(client, up));
    assert_eq!(Sha256::digest(&at_server), want_up);
    assert_eq!(Sha256::digest(&at_client), want_down);
}

#[tokio::test]
async fn early_mode_writes_before_the_101_and_the_server_keeps_those_bytes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut options = ClientOptions::new("/hu?ed=2048");
    options.host = Some("hu.example".into());
    // A server that reads the request and the first data before answering: the client must
    // not wait for the 101 to send.
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let want = b"GET /hu HTTP/1.1\r\nHost: hu.example\r\nConnection: Upgrade\r\n\
                     Upgrade: websocket\r\n\r\nearly";
        let mut got = vec![0; want.len()];
        tcp.read_exact(&mut got).await.unwrap();
        assert_eq!(got, want);
        tcp.write_all(b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\nreply")
            .await
            .unwrap();
    });
    let mut client = connect(addr, options).await.unwrap();
    client.write_all(b"early").await.unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).await.unwrap();
    assert_eq!(reply, b"reply");
    server.await.unwrap();

    // Against our server: everything sent in one go is kept behind the head.
    let (addr, mut outcomes) = serve(settings("/hu")).await;
    let mut options = ClientOptions::new("/hu");
    options.early = true;
    let mut client = connect(addr, options).await.unwrap();
    client.write_all(b"\x00vless header").await.unwrap();
    let Some(Outcome::Tunnel(mut server)) = outcomes.recv().await else {
        panic!("accepted")
    };
    let mut got = [0; 13];
    server.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"\x00vless header");
    server.write_all(b"ok").await.unwrap();
    let mut ok = [0; 2];
    client.read_exact(&mut ok).await.unwrap();
    assert_eq!(&ok, b"ok");
}

#[tokio::test]
async fn a_miss_keeps_every_byte_read_and_answers_the_identical_404() {
    let (addr, mut outcomes) = serve(settings("/hu")).await;
    let request =
        b"GET /other HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nbody";
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await.unwrap();
    assert_eq!(
        answer,
        b"HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    );
    let Some(Outcome::Refused(error, read)) = outcomes.recv().await else {
        panic!("refused")
    };
    assert!(matches!(
        error,
        HttpUpgradeError::Rejected {
            reason: "wrong path"
        }
    ));
    assert_eq!(read, request);

    let err = connect(addr, ClientOptions::new("/nope"))
        .await
        .unwrap_err();
    let err = err.downcast::<HttpUpgradeError>().unwrap();
    assert!(matches!(*err, HttpUpgradeError::Status { status: 404 }));
    outcomes.recv().await.unwrap();

    // TLS bytes are malformed HTTP: the same 404, and the ClientHello is kept for a fallback.
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"\x16\x03\x01\x00\x05hello").await.unwrap();
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await.unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 404 Not Found\r\n"));
    let Some(Outcome::Refused(HttpUpgradeError::Malformed(_), read)) = outcomes.recv().await else {
        panic!("malformed")
    };
    assert_eq!(read, b"\x16\x03\x01\x00\x05hello");
}

#[tokio::test]
async fn an_unfinished_head_is_closed_silently_at_the_deadline() {
    let mut options = ServerOptions::new("/hu");
    options.handshake_timeout = Some(Duration::from_millis(200));
    let (addr, mut outcomes) = serve(options.settings().unwrap()).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /hu HTTP/1.1\r\nHost: a\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await.unwrap();
    assert!(answer.is_empty(), "nothing is written on a timeout");
    let Some(Outcome::Refused(error, read)) = outcomes.recv().await else {
        panic!("refused")
    };
    assert!(matches!(error, HttpUpgradeError::Timeout { .. }), "{error}");
    assert_eq!(read, b"GET /hu HTTP/1.1\r\nHost: a\r\n");
}

#[tokio::test]
async fn with_a_fallback_a_refused_request_comes_back_unanswered() {
    use xypro_core::{HandBack, Incoming, Refused, Upgrade};
    let request = b"GET /blog HTTP/1.1\r\nHost: a\r\n\r\n";
    let (mut client, server) = tokio::io::duplex(4096);
    client.write_all(request).await.unwrap();
    let mut incoming = Incoming::new(
        server,
        "127.0.0.1:5000".parse().unwrap(),
        "127.0.0.1:443".parse().unwrap(),
        "web".into(),
    );
    incoming.extensions.insert(HandBack);
    let upgrade =
        xypro_httpupgrade::HttpUpgradeAccept::new(ServerOptions::new("/hu").settings().unwrap());
    let error = upgrade.upgrade(incoming).await.unwrap_err();
    let refused = Refused::find(&error).expect("handed back");
    assert_eq!(refused.read(), request);
    let mut incoming = refused.take_incoming().unwrap();
    incoming.io.write_all(b"web").await.unwrap();
    let mut first = [0; 3];
    client.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"web", "no 404 went out before it");
}
