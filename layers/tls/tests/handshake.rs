//! Client and server layers against each other over real loopback sockets.

use rustls::{HandshakeKind, ServerConfig, pki_types::PrivateKeyDer};
use std::{
    error::Error,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tower::{Layer, Service, ServiceExt, service_fn};
use xypro_core::{Accepted, Address, BoxError, BoxIo, Failure, Incoming, Target};
use xypro_tls::{
    ClientOptions, ClientTlsStream, ServerOptions, TlsAcceptor, TlsConnector, TlsConnectorLayer,
    TlsError, TlsServerSettings, TlsUpgrade, crypto_provider,
};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Renders an error with its sources, as the binary logs it.
fn chain(err: &(dyn Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        out = format!("{out}: {e}");
        source = e.source();
    }
    out
}

fn target() -> Target {
    Target::tcp("example.com:80".parse::<Address>().unwrap())
}

/// The test CA's server certificate, with a given handshake deadline.
fn test_server(handshake_timeout: Option<Duration>) -> TlsServerSettings {
    let mut options = ServerOptions::new("certs/server.pem", "certs/server.key");
    options.handshake_timeout = handshake_timeout;
    options.settings(&examples()).unwrap()
}

/// A client trusting the test CA.
fn test_client(server_name: &str) -> ClientOptions {
    let mut options = ClientOptions::new(server_name);
    options.ca = Some("certs/ca.pem".into());
    options
}

/// An inner service that echoes the decrypted stream, then ends with an error.
async fn echo(incoming: Incoming) -> Result<Accepted, BoxError> {
    let (mut reader, mut writer) = tokio::io::split(incoming.io);
    tokio::io::copy(&mut reader, &mut writer).await?;
    Err("echo finished".into())
}

/// Accepts TLS connections and echoes; each connection's outcome goes to the channel.
async fn serve(settings: TlsServerSettings) -> (SocketAddr, mpsc::UnboundedReceiver<BoxError>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let acceptor = TlsAcceptor::new(TlsUpgrade::new(settings), service_fn(echo));
    tokio::spawn(async move {
        while let Ok((io, peer)) = listener.accept().await {
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                let incoming = Incoming::new(io, peer, addr, "tls-test".into());
                match acceptor.oneshot(incoming).await {
                    Ok(_) => panic!("the echo service never accepts"),
                    Err(e) => drop(tx.send(e)),
                }
            });
        }
    });
    (addr, rx)
}

/// A TLS connector over an inner connector that dials `addr` whatever the target.
fn connector(
    addr: SocketAddr,
    options: &ClientOptions,
) -> Result<
    TlsConnector<
        impl Service<Target, Response = TcpStream, Error = std::io::Error, Future: Send> + Clone + use<>,
    >,
    xypro_core::InvalidOptions,
> {
    let settings = options.settings(&examples())?;
    let dial = service_fn(move |_: Target| TcpStream::connect(addr));
    Ok(TlsConnectorLayer::new(settings).layer(dial))
}

async fn echo_round_trip(stream: &mut ClientTlsStream<TcpStream>) {
    stream.write_all(b"hello over tls").await.unwrap();
    let mut buf = [0; 14];
    stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello over tls");
}

#[tokio::test]
async fn handshake_negotiates_http11_and_echoes() {
    let (addr, _outcomes) = serve(test_server(None)).await;
    let connector = connector(addr, &test_client("example.test")).unwrap();
    let mut stream = connector.oneshot(target()).await.unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    echo_round_trip(&mut stream).await;
}

#[tokio::test]
async fn second_connection_is_resumed() {
    let (addr, _outcomes) = serve(test_server(None)).await;
    let connector = connector(addr, &test_client("localhost")).unwrap();
    let mut first = connector.clone().oneshot(target()).await.unwrap();
    echo_round_trip(&mut first).await; // reading takes in the server's session tickets
    assert_eq!(
        first.get_ref().1.handshake_kind(),
        Some(HandshakeKind::Full)
    );
    let mut second = connector.oneshot(target()).await.unwrap();
    assert_eq!(
        second.get_ref().1.handshake_kind(),
        Some(HandshakeKind::Resumed)
    );
    echo_round_trip(&mut second).await;
}

#[tokio::test]
async fn a_burst_of_forty_connections_all_resumes() {
    // rustls' own cache keeps 8 tickets per server, so most of such a burst would verify the
    // certificate again; each connection here leaves one spare ticket (the server sends two).
    let (addr, _outcomes) = serve(test_server(None)).await;
    let connector = connector(addr, &test_client("localhost")).unwrap();
    let mut warm = connector.clone().oneshot(target()).await.unwrap();
    echo_round_trip(&mut warm).await;
    for _ in 0..40 {
        let mut stream = connector.clone().oneshot(target()).await.unwrap();
        echo_round_trip(&mut stream).await;
    }
    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..40 {
        let connecting = connector.clone().oneshot(target());
        burst.spawn(async move { connecting.await.unwrap() });
    }
    let mut full = 0;
    while let Some(stream) = burst.join_next().await {
        full += usize::from(
            stream.unwrap().get_ref().1.handshake_kind() != Some(HandshakeKind::Resumed),
        );
    }
    assert_eq!(full, 0, "connections of the burst that were not resumed");
}

#[tokio::test]
async fn wrong_server_name_is_a_clear_certificate_error() {
    let (addr, mut outcomes) = serve(test_server(None)).await;
    let connector = connector(addr, &test_client("wrong.test")).unwrap();
    let err = connector.oneshot(target()).await.unwrap_err();
    let text = chain(&*err);
    assert!(
        text.starts_with("TLS handshake with wrong.test failed: invalid peer certificate: "),
        "{text}"
    );
    assert!(text.contains("not valid for name"), "{text}");
    let tls = err.downcast_ref::<TlsError>().unwrap();
    assert!(matches!(
        tls.rustls_error(),
        Some(rustls::Error::InvalidCertificate(_))
    ));
    // The server sees the client's alert and ends the connection with an error.
    let server_err = outcomes.recv().await.unwrap();
    assert!(matches!(
        server_err.downcast_ref(),
        Some(TlsError::Accept { .. })
    ));
}

/// A server with a self-signed certificate for `example.test` that no CA vouches for.
fn self_signed_server() -> TlsServerSettings {
    let generated = rcgen::generate_simple_self_signed(vec!["example.test".into()]).unwrap();
    let key = PrivateKeyDer::Pkcs8(generated.signing_key.serialize_der().into());
    let config = ServerConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![generated.cert.der().clone()], key)
        .unwrap();
    TlsServerSettings::new(Arc::new(config))
}

#[tokio::test]
async fn unknown_issuer_fails_unless_insecure() {
    let (addr, _outcomes) = serve(self_signed_server()).await;
    let err = connector(addr, &test_client("example.test"))
        .unwrap()
        .oneshot(target())
        .await
        .unwrap_err();
    assert_eq!(
        chain(&*err),
        "TLS handshake with example.test failed: invalid peer certificate: UnknownIssuer"
    );
    // The webpki roots do not know it either.
    let err = connector(addr, &ClientOptions::new("example.test"))
        .unwrap()
        .oneshot(target())
        .await
        .unwrap_err();
    assert!(chain(&*err).ends_with("UnknownIssuer"), "{}", chain(&*err));

    let mut insecure = ClientOptions::new("example.test");
    insecure.insecure = true;
    let mut stream = connector(addr, &insecure)
        .unwrap()
        .oneshot(target())
        .await
        .unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), None); // this server offers no ALPN
    echo_round_trip(&mut stream).await;
}

#[tokio::test]
async fn silent_client_is_closed_at_the_deadline() {
    let deadline = Duration::from_millis(200);
    let (addr, mut outcomes) = serve(test_server(Some(deadline))).await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    let mut buf = [0; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), client.read(&mut buf))
        .await
        .expect("the server closes the connection");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    let waited = started.elapsed();
    assert!(waited >= deadline - Duration::from_millis(50), "{waited:?}");
    let err = outcomes.recv().await.unwrap();
    assert!(
        matches!(err.downcast_ref(), Some(TlsError::AcceptTimeout { after, .. }) if *after == deadline)
    );
}

#[tokio::test]
async fn garbage_instead_of_client_hello_is_closed_with_an_error() {
    let (addr, mut outcomes) = serve(test_server(None)).await;
    let mut client = TcpStream::connect(addr).await.unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut reply))
        .await
        .expect("the server closes the connection");
    // At most a TLS alert record (content type 21) comes back before the close.
    assert!(
        closed.is_err() || reply.is_empty() || reply[0] == 21,
        "{reply:?}"
    );
    let err = outcomes.recv().await.unwrap();
    let tls = err.downcast_ref::<TlsError>().unwrap();
    assert!(matches!(tls, TlsError::Accept { .. }), "{tls}");
    assert!(tls.rustls_error().is_some(), "{}", chain(&*err));
}

#[tokio::test]
async fn inner_connector_errors_pass_through_unchanged() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = connector(addr, &test_client("example.test"))
        .unwrap()
        .oneshot(target())
        .await
        .unwrap_err();
    assert_eq!(Failure::classify(&*err), Failure::ConnectionRefused);
}

#[tokio::test]
async fn layers_box_into_the_pipeline_types() {
    use xypro_core::{BoxAcceptor, BoxConnector};
    let (addr, _outcomes) = serve(test_server(None)).await;
    let inner = BoxAcceptor::new(service_fn(echo));
    let _acceptor = BoxAcceptor::new(
        xypro_tls::TlsAcceptorLayer::new(TlsUpgrade::new(test_server(None))).layer(inner),
    );
    let settings = test_client("example.test").settings(&examples()).unwrap();
    let tcp = xypro_tcp::TcpConnector::new(addr.into());
    let tls = TlsConnectorLayer::new(settings)
        .layer(tcp)
        .map_response(BoxIo::new);
    let mut stream = BoxConnector::new(tls).oneshot(target()).await.unwrap();
    stream.write_all(b"boxed").await.unwrap();
    let mut buf = [0; 5];
    stream.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"boxed");
}

#[tokio::test]
async fn a_server_that_never_answers_the_client_hello_times_out_as_such() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts the TCP connection and then says nothing, like a stalling middlebox.
    let silent = tokio::spawn(async move { listener.accept().await.unwrap().0 });
    let mut options = test_client("example.test");
    options.handshake_timeout = Some(Duration::from_millis(300));
    let started = Instant::now();
    let err = connector(addr, &options)
        .unwrap()
        .oneshot(target())
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        (Duration::from_millis(300)..Duration::from_secs(3)).contains(&waited),
        "{waited:?}"
    );
    assert_eq!(Failure::classify(&*err), Failure::TimedOut, "{err}");
    assert!(chain(&*err).contains("not finished within 300ms"), "{err}");
    drop(silent.await.unwrap());
}

/// An inner service that fails with what the TLS layer recorded.
async fn report(incoming: Incoming) -> Result<Accepted, BoxError> {
    let info = incoming.extensions.get::<xypro_core::TlsInfo>().cloned();
    Err(format!("{info:?}").into())
}

#[tokio::test]
async fn the_acceptor_records_what_the_handshake_negotiated() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::new(TlsUpgrade::new(test_server(None)), service_fn(report));
    let server = tokio::spawn(async move {
        let (io, peer) = listener.accept().await.unwrap();
        acceptor
            .oneshot(Incoming::new(io, peer, addr, "tls-test".into()))
            .await
            .unwrap_err()
            .to_string()
    });
    let _client = connector(addr, &test_client("Localhost"))
        .unwrap()
        .oneshot(target())
        .await
        .unwrap();
    let recorded = server.await.unwrap();
    assert!(
        recorded.contains(r#"server_name: Some("localhost")"#),
        "{recorded}"
    );
    assert!(
        recorded.contains("alpn: Some([104, 116, 116, 112, 47, 49, 46, 49])"),
        "{recorded}"
    );
    assert!(
        recorded.contains(r#"version: Some("TLSv1_3")"#),
        "{recorded}"
    );
}

#[tokio::test]
async fn reject_unknown_sni_answers_only_names_the_certificate_covers() {
    let mut options = ServerOptions::new("certs/server.pem", "certs/server.key");
    options.reject_unknown_sni = true;
    let (addr, mut outcomes) = serve(options.settings(&examples()).unwrap()).await;
    let dial = |name: &str| {
        let mut client = ClientOptions::new(name);
        client.insecure = true; // so only the server's choice decides
        connector(addr, &client).unwrap().oneshot(target())
    };
    let mut covered = dial("example.test").await.unwrap();
    echo_round_trip(&mut covered).await;
    for (name, what) in [
        ("other.test", "an unknown name"),
        ("127.0.0.1", "no SNI at all"),
    ] {
        let err = dial(name).await.unwrap_err();
        assert!(
            chain(&*err).contains("received fatal alert"),
            "{what}: {}",
            chain(&*err)
        );
        assert!(matches!(
            outcomes.recv().await.unwrap().downcast_ref(),
            Some(TlsError::Accept { .. })
        ));
    }
    // Without the option, any name gets the certificate (the default).
    let (addr, _) = serve(test_server(None)).await;
    let mut client = ClientOptions::new("other.test");
    client.insecure = true;
    let mut stream = connector(addr, &client)
        .unwrap()
        .oneshot(target())
        .await
        .unwrap();
    echo_round_trip(&mut stream).await;
}
