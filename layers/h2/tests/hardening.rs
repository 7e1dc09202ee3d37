//! What the server drivers do with clients that misbehave: silence, garbage, oversized headers.

use bytes::Bytes;
use std::time::Duration;
use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use xypro_h2::{H2Error, ServerOptions, serve};

/// Serves one h2 connection (path `/h2`, 300 ms handshake deadline) on 127.0.0.1:0; tunnels'
/// paths arrive on the first channel, the driver's result on the second.
async fn serve_once() -> (
    std::net::SocketAddr,
    mpsc::UnboundedReceiver<String>,
    tokio::task::JoinHandle<Result<(), H2Error>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, tunnels) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut options = ServerOptions::new("/h2");
        options.handshake_timeout = Some(Duration::from_millis(300));
        let settings = options.settings().unwrap();
        serve(tcp, &settings, |parts, stream| {
            let _ = tx.send(parts.uri.path().to_owned());
            drop(stream);
        })
        .await
    });
    (addr, tunnels, driver)
}

#[tokio::test]
async fn a_silent_client_is_dropped_at_the_handshake_deadline() {
    let (addr, _tunnels, driver) = serve_once().await;
    let _tcp = TcpStream::connect(addr).await.unwrap();
    let result = driver.await.unwrap();
    assert!(matches!(result, Err(H2Error::Timeout { .. })), "{result:?}");
}

#[tokio::test]
async fn garbage_instead_of_the_preface_is_an_error() {
    let (addr, _tunnels, driver) = serve_once().await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let result = driver.await.unwrap();
    assert!(matches!(result, Err(H2Error::H2(_))), "{result:?}");
}

#[tokio::test]
async fn oversized_headers_are_refused_and_the_connection_serves_on() {
    let (addr, mut tunnels, _driver) = serve_once().await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (send, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let request = |big: bool| {
        let mut builder = http::Request::put("https://www.example.com/h2");
        if big {
            builder = builder.header("x-pad", "a".repeat(32 * 1024));
        }
        builder.body(()).unwrap()
    };
    let mut send = send.ready().await.unwrap();
    let (response, _body) = send.send_request(request(true), true).unwrap();
    let refused = response.await.unwrap();
    assert_eq!(refused.status(), 431, "past the 16 KiB header list limit");
    let mut send = send.ready().await.unwrap();
    let (response, mut body) = send.send_request(request(false), false).unwrap();
    body.send_data(Bytes::from_static(b"hi"), true).unwrap();
    assert_eq!(response.await.unwrap().status(), 200);
    assert_eq!(
        tunnels.recv().await.unwrap(),
        "/h2",
        "only the normal request is a tunnel"
    );
    assert!(tunnels.try_recv().is_err());
}

#[tokio::test]
async fn a_shutdown_sends_goaway_lets_open_streams_finish_and_refuses_new_ones() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (tx, mut tunnels) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let settings = ServerOptions::new("/h2").settings().unwrap();
        let shutdown = async move {
            let _ = stopped.await;
        };
        xypro_h2::serve_until(tcp, &settings, shutdown, |_, stream| {
            let _ = tx.send(stream);
        })
        .await
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut client, connection) = h2::client::handshake(tcp).await.unwrap();
    let connection = tokio::spawn(connection);
    let request = || {
        http::Request::builder()
            .method("PUT")
            .uri("https://a.test/h2")
            .body(())
            .unwrap()
    };
    let (response, mut body) = client.send_request(request(), false).unwrap();
    let mut tunnel = tunnels.recv().await.unwrap();
    assert_eq!(response.await.unwrap().status(), 200);
    stop.send(()).unwrap();
    // The open stream still carries data both ways after the GOAWAY ...
    body.send_data(Bytes::from_static(b"still"), false).unwrap();
    let mut got = [0; 5];
    tokio::io::AsyncReadExt::read_exact(&mut tunnel, &mut got)
        .await
        .unwrap();
    assert_eq!(&got, b"still");
    // ... a new one is refused ...
    let refused = match client.clone().ready().await {
        Ok(mut ready) => match ready.send_request(request(), true) {
            Ok((response, _)) => response.await.is_err(),
            Err(_) => true,
        },
        Err(_) => true,
    };
    assert!(refused, "no new stream after the GOAWAY");
    // ... and the connection ends once the open stream does.
    tunnel.shutdown().await.unwrap();
    body.send_data(Bytes::new(), true).unwrap();
    drop(tunnel);
    let ended = tokio::time::timeout(Duration::from_secs(5), driver).await;
    assert!(ended.expect("the driver ends").unwrap().is_ok());
    let _ = connection.await;
}
