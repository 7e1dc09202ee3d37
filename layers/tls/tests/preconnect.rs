//! `preconnect` over real loopback sockets: sessions used once, replaced, expired and checked.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tower::{Layer, Service, ServiceExt, service_fn};
use xypro_core::{Accepted, Address, BoxError, Incoming, Target};
use xypro_tls::{
    ClientOptions, ClientTlsStream, PreconnectTiming, ServerOptions, TlsAcceptor, TlsConnector,
    TlsConnectorLayer, TlsUpgrade,
};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn target() -> Target {
    Target::tcp("example.com:80".parse::<Address>().unwrap())
}

/// What the test server did with one connection, once its TLS handshake was done.
#[derive(Debug, PartialEq, Eq)]
enum Served {
    /// Echoed this many bytes until the client closed.
    Echoed(u64),
    /// Closed it at once.
    HungUp,
}

/// A TLS server that hangs up on the connections whose accept index (from 0) is in
/// `hang_up`, and echoes on the others.
async fn serve(hang_up: std::ops::Range<usize>) -> (SocketAddr, mpsc::UnboundedReceiver<Served>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let settings = ServerOptions::new("certs/server.pem", "certs/server.key")
        .settings(&examples())
        .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let accepted = Arc::new(AtomicUsize::new(0));
    let inner = service_fn(move |incoming: Incoming| {
        let index = accepted.fetch_add(1, Ordering::SeqCst);
        let (tx, hang_up) = (tx.clone(), hang_up.contains(&index));
        async move {
            if hang_up {
                drop(incoming);
                let _ = tx.send(Served::HungUp);
            } else {
                let (mut reader, mut writer) = tokio::io::split(incoming.io);
                let echoed = tokio::io::copy(&mut reader, &mut writer).await.unwrap_or(0);
                let _ = tx.send(Served::Echoed(echoed));
            }
            Err::<Accepted, BoxError>("done".into())
        }
    });
    let acceptor = TlsAcceptor::new(TlsUpgrade::new(settings), inner);
    tokio::spawn(async move {
        while let Ok((io, peer)) = listener.accept().await {
            let incoming = Incoming::new(io, peer, addr, "tls-test".into());
            tokio::spawn(acceptor.clone().oneshot(incoming));
        }
    });
    (addr, rx)
}

/// A connector keeping `preconnect` sessions to `addr` for `lifetime`, and its count of dials.
fn connector(
    addr: SocketAddr,
    preconnect: usize,
    lifetime: Duration,
) -> (
    TlsConnector<
        impl Service<Target, Response = TcpStream, Error = std::io::Error, Future: Send>
        + Clone
        + Send
        + use<>,
    >,
    Arc<AtomicUsize>,
) {
    let mut options = ClientOptions::new("example.test");
    options.ca = Some("certs/ca.pem".into());
    options.preconnect = preconnect;
    let mut settings = options.settings(&examples()).unwrap();
    settings.preconnect_timing = PreconnectTiming {
        lifetime,
        ..PreconnectTiming::default()
    };
    let dials = Arc::new(AtomicUsize::new(0));
    let counted = dials.clone();
    let dial = service_fn(move |_: Target| {
        counted.fetch_add(1, Ordering::SeqCst);
        TcpStream::connect(addr)
    });
    (TlsConnectorLayer::new(settings).layer(dial), dials)
}

/// Waits (up to 10 s) until `ready` holds.
async fn until(mut ready: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if ready() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not met within 10 s");
}

async fn echo_round_trip(stream: &mut ClientTlsStream<TcpStream>) {
    stream.write_all(b"ping").await.unwrap();
    let mut buf = [0; 4];
    stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
}

#[tokio::test]
async fn each_ready_session_carries_one_tunnel_and_is_replaced() {
    let (addr, _served) = serve(0..0).await;
    let (connector, dials) = connector(addr, 2, Duration::from_secs(60));
    assert_eq!(connector.preconnected(), 0, "nothing before the first use");
    let mut first = connector.clone().oneshot(target()).await.unwrap();
    echo_round_trip(&mut first).await;
    until(|| connector.preconnected() == 2).await;
    assert_eq!(dials.load(Ordering::SeqCst), 3);
    let mut second = connector.clone().oneshot(target()).await.unwrap();
    let mut third = connector.clone().oneshot(target()).await.unwrap();
    assert_eq!(dials.load(Ordering::SeqCst), 3, "both came from the pool");
    let port = |s: &ClientTlsStream<TcpStream>| s.get_ref().0.get_ref().local_addr().unwrap();
    assert_ne!(port(&second), port(&third), "one session each");
    echo_round_trip(&mut second).await;
    echo_round_trip(&mut third).await;
    until(|| connector.preconnected() == 2).await;
    assert_eq!(
        dials.load(Ordering::SeqCst),
        5,
        "each taken session is replaced once"
    );
}

#[tokio::test]
async fn unused_sessions_are_closed_when_their_lifetime_ends() {
    let (addr, mut served) = serve(0..0).await;
    let (connector, dials) = connector(addr, 2, Duration::from_millis(200));
    let mut first = connector.clone().oneshot(target()).await.unwrap();
    echo_round_trip(&mut first).await;
    // The two ready sessions end unused, on the client's side, and two new ones are dialled.
    assert_eq!(served.recv().await, Some(Served::Echoed(0)));
    assert_eq!(served.recv().await, Some(Served::Echoed(0)));
    until(|| dials.load(Ordering::SeqCst) >= 5).await;
    first.shutdown().await.unwrap();
    // Meanwhile more have expired; the one tunnel echoed its 4 bytes.
    for _ in 0..100 {
        match served.recv().await.unwrap() {
            Served::Echoed(0) => continue,
            other => return assert_eq!(other, Served::Echoed(4)),
        }
    }
    panic!("the tunnel's end was not seen");
}

#[tokio::test]
async fn sessions_the_server_closed_are_not_handed_out() {
    // The first connection is the tunnel's own, the next two the ready sessions.
    let (addr, mut served) = serve(1..3).await;
    let (connector, dials) = connector(addr, 2, Duration::from_secs(60));
    let mut first = connector.clone().oneshot(target()).await.unwrap();
    echo_round_trip(&mut first).await;
    assert_eq!(served.recv().await, Some(Served::HungUp));
    assert_eq!(served.recv().await, Some(Served::HungUp));
    until(|| connector.preconnected() == 2).await;
    // Both ready sessions are closed by the server: the next tunnel dials its own, which works.
    let mut fourth = connector.clone().oneshot(target()).await.unwrap();
    echo_round_trip(&mut fourth).await;
    assert!(dials.load(Ordering::SeqCst) >= 4);
}
