//! Loopback fixtures: a WebSocket server whose inner service hands each upgraded stream to the
//! test, and a client connector that dials it.

#![allow(dead_code, unreachable_pub)]

use std::{
    future::ready,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tower::{ServiceExt, service_fn};
use xypro_core::{
    Accepted, Address, BoxAcceptor, BoxError, BoxFuture, BoxIo, Incoming, Session, SessionDispatch,
    Target,
};
use xypro_websocket::{
    ClientOptions, WsAcceptor, WsClientStream, WsConnector, WsServerSettings, WsUpgrade,
};

/// A session that does nothing: the inner acceptor's answer once it has handed the stream on.
#[derive(Debug)]
pub struct Done;

impl Session for Done {
    fn run(self: Box<Self>, _: SessionDispatch) -> BoxFuture<Result<(), BoxError>> {
        Box::pin(async { Ok(()) })
    }
}

/// A running server: upgraded streams arrive on `streams`, accept results on `results`.
pub struct Server {
    pub addr: SocketAddr,
    pub streams: mpsc::UnboundedReceiver<BoxIo>,
    pub results: mpsc::UnboundedReceiver<Result<(), String>>,
}

/// Serves `settings` on 127.0.0.1:0, one task per connection, until the test ends.
pub async fn serve(settings: WsServerSettings) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stream_tx, streams) = mpsc::unbounded_channel();
    let (result_tx, results) = mpsc::unbounded_channel();
    let inner = service_fn(move |incoming: Incoming| {
        let _ = stream_tx.send(incoming.io);
        let target = Target::tcp("done.test:1".parse::<Address>().unwrap());
        let session = Box::new(Done);
        ready(Ok::<_, BoxError>(Accepted::Session { target, session }))
    });
    let acceptor = BoxAcceptor::new(WsAcceptor::new(WsUpgrade::new(settings), inner));
    tokio::spawn(async move {
        loop {
            let (tcp, peer) = listener.accept().await.unwrap();
            let incoming = Incoming::new(tcp, peer, addr, "test".into());
            let acceptor = acceptor.clone();
            let result_tx = result_tx.clone();
            tokio::spawn(async move {
                let result = acceptor.oneshot(incoming).await;
                let _ = result_tx.send(result.map(drop).map_err(|e| e.to_string()));
            });
        }
    });
    Server {
        addr,
        streams,
        results,
    }
}

/// A TCP stream that counts the writes reaching it.
pub struct Counting {
    pub tcp: TcpStream,
    pub writes: Arc<AtomicUsize>,
}

impl AsyncRead for Counting {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counting {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.tcp).poll_write(cx, buf);
        if result.is_ready() {
            self.writes.fetch_add(1, Ordering::SeqCst);
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// Connects a WebSocket client with `options` to `addr`; returns the stream and the write counter.
pub async fn connect(
    addr: SocketAddr,
    options: ClientOptions,
) -> Result<(WsClientStream<Counting>, Arc<AtomicUsize>), BoxError> {
    let writes = Arc::new(AtomicUsize::new(0));
    let counter = writes.clone();
    let tcp = service_fn(move |_target: Target| {
        let writes = counter.clone();
        async move {
            let tcp = TcpStream::connect(addr).await?;
            Ok::<_, io::Error>(Counting { tcp, writes })
        }
    });
    let settings = options.settings(Some(&addr.to_string()))?;
    let target = Target::tcp("example.com:80".parse::<Address>().unwrap());
    let stream = WsConnector::new(tcp, settings).oneshot(target).await?;
    Ok((stream, writes))
}

/// Server settings for `path` with a short handshake deadline.
pub fn server_settings(path: &str) -> WsServerSettings {
    let mut options = xypro_websocket::ServerOptions::new(path);
    options.handshake_timeout = Some(std::time::Duration::from_secs(2));
    options.settings().unwrap()
}
