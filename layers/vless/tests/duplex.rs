//! The VLESS client connector against the VLESS server acceptor over in-memory streams.

use std::{
    io,
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf, duplex},
    time::Instant,
};
use tower::{Layer, ServiceExt, service_fn};
use uuid::Uuid;
use xypro_core::{
    Accepted, Address, BoxError, DatagramReader, Failure, Incoming, Network, Reply, Target,
    write_datagram,
};
use xypro_vless::{
    VlessAcceptor, VlessClientSettings, VlessClientStream, VlessConnectorLayer,
    VlessServerSettings,
    proto::{Command, Request},
};

const USER: Uuid = Uuid::from_u128(0x2ad043a0_b930_46f8_bd55_1fcefc93339a);
const LOCAL: &str = "127.0.0.1:8443";
const PEER: &str = "127.0.0.1:50000";

type Writes = Arc<Mutex<Vec<Vec<u8>>>>;

/// A duplex end that records the bytes of every `poll_write` call it accepts.
struct Recorder {
    inner: DuplexStream,
    writes: Writes,
}

impl Recorder {
    fn new(inner: DuplexStream) -> (Self, Writes) {
        let writes = Writes::default();
        let recorder = Recorder {
            inner,
            writes: writes.clone(),
        };
        (recorder, writes)
    }
}

impl AsyncRead for Recorder {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Recorder {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            this.writes.lock().unwrap().push(buf[..n].to_vec());
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn header(command: Command) -> Vec<u8> {
    let mut wire = Vec::new();
    Request::new(USER, command).write_to_buf(&mut wire).unwrap();
    wire
}

fn incoming(io: impl xypro_core::Io) -> Incoming {
    Incoming::new(
        io,
        PEER.parse().unwrap(),
        LOCAL.parse().unwrap(),
        "vless-in".into(),
    )
}

fn acceptor() -> VlessAcceptor {
    VlessAcceptor::new(VlessServerSettings::new(vec![
        ("other".into(), Uuid::from_u128(7)),
        ("demo".into(), USER),
    ]))
}

/// Connects a VLESS client for `id` to `target` over `io`, checking the inner connector sees
/// the same target.
async fn connect<T: xypro_core::Io>(id: Uuid, io: T, target: Target) -> VlessClientStream<T> {
    let expected = target.clone();
    let mut slot = Some(io);
    let dial = service_fn(move |seen: Target| {
        assert_eq!(seen, expected, "the inner connector gets the same target");
        let io = slot.take().ok_or_else(|| BoxError::from("dialled twice"));
        async move { io }
    });
    VlessConnectorLayer::new(VlessClientSettings::new(id))
        .layer(dial)
        .oneshot(target)
        .await
        .unwrap()
}

fn expect_connect(accepted: Accepted) -> (Target, Box<dyn Reply>) {
    match accepted {
        Accepted::Connect { target, reply } => (target, reply),
        _ => panic!("expected a connect"),
    }
}

#[tokio::test]
async fn tcp_headers_ride_with_the_first_payload_both_ways() {
    let (client_end, server_end) = duplex(64 * 1024);
    let (client_end, client_writes) = Recorder::new(client_end);
    let (server_end, server_writes) = Recorder::new(server_end);
    let destination: Address = "example.com:443".parse().unwrap();
    let mut client = connect(USER, client_end, Target::tcp(destination.clone())).await;
    client.write_all(b"hello").await.unwrap();
    client.flush().await.unwrap();
    let expected_header = header(Command::Tcp(destination.clone()));
    assert_eq!(
        *client_writes.lock().unwrap(),
        [[expected_header.as_slice(), b"hello"].concat()],
        "request header and first payload are one inner write"
    );

    let (target, reply) = expect_connect(acceptor().oneshot(incoming(server_end)).await.unwrap());
    assert_eq!(target.destination, destination);
    assert_eq!(target.network, Network::Tcp);
    assert_eq!(target.meta().user.as_deref(), Some("demo"));
    assert_eq!(target.meta().peer, Some(PEER.parse().unwrap()));
    assert_eq!(&*target.meta().inbound, "vless-in");
    assert!(target.policy.public_only);
    assert!(
        target.policy.refuse_own_ports,
        "the server never dials itself"
    );

    let mut server = reply.succeed().await.unwrap();
    let mut buf = [0; 5];
    server.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello", "payload read with the header comes first");
    assert!(
        server_writes.lock().unwrap().is_empty(),
        "no response before data"
    );
    server.write_all(b"world").await.unwrap();
    server.write_all(b"!").await.unwrap();
    server.flush().await.unwrap();
    assert_eq!(*server_writes.lock().unwrap(), [&b"\0\0world"[..], b"!"]);

    let mut buf = [0; 6];
    client.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"world!");

    client.write_all(b"more").await.unwrap();
    client.shutdown().await.unwrap();
    let mut rest = Vec::new();
    server.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, b"more");
    server.shutdown().await.unwrap();
    assert_eq!(client.read(&mut buf).await.unwrap(), 0);
}

#[tokio::test]
async fn udp_uses_command_2_and_passes_framed_datagrams_through() {
    let (client_end, server_end) = duplex(64 * 1024);
    let destination: Address = "1.1.1.1:53".parse().unwrap();
    let mut client = connect(USER, client_end, Target::udp(destination.clone())).await;
    write_datagram(&mut client, b"query one").await.unwrap();
    write_datagram(&mut client, &[7; 3000]).await.unwrap();

    let (target, reply) = expect_connect(acceptor().oneshot(incoming(server_end)).await.unwrap());
    assert_eq!(target.network, Network::Udp);
    assert_eq!(target.destination, destination);
    let mut server = reply.succeed().await.unwrap();
    let mut reader = DatagramReader::new();
    assert_eq!(
        &reader.next(&mut server).await.unwrap().unwrap()[..],
        b"query one"
    );
    assert_eq!(reader.next(&mut server).await.unwrap().unwrap().len(), 3000);

    write_datagram(&mut server, b"answer").await.unwrap();
    write_datagram(&mut server, b"second").await.unwrap();
    let mut reader = DatagramReader::new();
    assert_eq!(
        &reader.next(&mut client).await.unwrap().unwrap()[..],
        b"answer"
    );
    assert_eq!(
        &reader.next(&mut client).await.unwrap().unwrap()[..],
        b"second"
    );
}

#[tokio::test]
async fn server_parses_a_header_dribbled_one_byte_at_a_time() {
    let destination: Address = "[2001:db8::5]:8080".parse().unwrap();
    let mut wire = header(Command::Tcp(destination.clone()));
    wire.extend_from_slice(b"payload");
    let mut builder = tokio_test::io::Builder::new();
    for byte in &wire {
        builder.read(std::slice::from_ref(byte));
    }
    let (target, reply) =
        expect_connect(acceptor().oneshot(incoming(builder.build())).await.unwrap());
    assert_eq!(target.destination, destination);
    let mut server = reply.succeed().await.unwrap();
    let mut payload = Vec::new();
    server.read_to_end(&mut payload).await.unwrap();
    assert_eq!(payload, b"payload");
}

#[tokio::test]
async fn client_strips_a_response_header_split_across_reads() {
    let target = Target::tcp("example.com:80".parse::<Address>().unwrap());
    let mut request = header(Command::Tcp(target.destination.clone()));
    request.extend_from_slice(b"GET");
    let io = tokio_test::io::Builder::new()
        .write(&request)
        .read(&[0])
        .read(&[3, 0xaa])
        .read(&[0xbb])
        .read(&[0xcc, b'o'])
        .read(b"k")
        .build();
    let mut client = connect(USER, io, target).await;
    client.write_all(b"GET").await.unwrap();
    let mut out = Vec::new();
    client.read_to_end(&mut out).await.unwrap();
    assert_eq!(out, b"ok");
}

#[tokio::test]
async fn client_refuses_a_bad_response_version_and_a_header_cut_short() {
    let target = Target::tcp("example.com:80".parse::<Address>().unwrap());
    let mut request = header(Command::Tcp(target.destination.clone()));
    request.push(b'x');
    for (reply, kind) in [
        (&[1u8, 0, b'a'][..], io::ErrorKind::InvalidData),
        (&[0u8, 5, 1][..], io::ErrorKind::UnexpectedEof),
    ] {
        let io = tokio_test::io::Builder::new()
            .write(&request)
            .read(reply)
            .build();
        let mut client = connect(USER, io, target.clone()).await;
        client.write_all(b"x").await.unwrap();
        let err = client.read(&mut [0; 16]).await.unwrap_err();
        assert_eq!(err.kind(), kind);
    }
}

#[tokio::test(start_paused = true)]
async fn header_goes_alone_after_500ms_when_the_server_speaks_first() {
    let (client_end, server_end) = duplex(64 * 1024);
    let (client_end, client_writes) = Recorder::new(client_end);
    let destination: Address = "10.0.0.2:22".parse().unwrap();
    let mut client = connect(USER, client_end, Target::tcp(destination.clone())).await;
    let start = Instant::now();
    let reader = tokio::spawn(async move {
        let mut banner = [0; 7];
        client.read_exact(&mut banner).await.map(|_| banner)
    });
    tokio::time::sleep(Duration::from_millis(499)).await;
    assert!(client_writes.lock().unwrap().is_empty(), "held for 500 ms");

    let accepted = acceptor().oneshot(incoming(server_end)).await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(500));
    assert_eq!(
        *client_writes.lock().unwrap(),
        [header(Command::Tcp(destination))],
        "the header went alone, once"
    );
    let (_, reply) = expect_connect(accepted);
    let mut server = reply.succeed().await.unwrap();
    server.write_all(b"SSH-2.0").await.unwrap();
    assert_eq!(&reader.await.unwrap().unwrap(), b"SSH-2.0");
}

#[tokio::test(start_paused = true)]
async fn unknown_user_is_dropped_after_a_pause_with_nothing_written() {
    let (client_end, server_end) = duplex(1024);
    let target = Target::tcp("example.com:80".parse::<Address>().unwrap());
    let mut client = connect(Uuid::from_u128(99), client_end, target).await;
    client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let start = Instant::now();
    let err = acceptor().oneshot(incoming(server_end)).await.unwrap_err();
    let paused = start.elapsed();
    assert!(err.to_string().contains("unknown user id"), "{err}");
    assert!(
        (Duration::from_millis(100)..=Duration::from_millis(1001)).contains(&paused),
        "{paused:?}"
    );
    let mut out = Vec::new();
    client.read_to_end(&mut out).await.unwrap();
    assert!(out.is_empty(), "nothing written back: {out:?}");
}

/// Runs the acceptor over raw client bytes (then end of stream, or a stall if `stall`), and
/// returns the error text and what the server wrote.
async fn reject(wire: &[u8], stall: bool) -> (String, Vec<u8>) {
    let (mut client, server_end) = duplex(4096);
    client.write_all(wire).await.unwrap();
    if !stall {
        client.shutdown().await.unwrap();
    }
    let err = acceptor()
        .oneshot(incoming(server_end))
        .await
        .unwrap_err()
        .to_string();
    let mut out = Vec::new();
    client.read_to_end(&mut out).await.unwrap();
    (err, out)
}

#[tokio::test(start_paused = true)]
async fn bad_requests_are_refused_without_a_byte_in_reply() {
    let good = header(Command::Tcp("1.2.3.4:80".parse().unwrap()));
    let mut bad_version = good.clone();
    bad_version[0] = 1;
    let mut unknown_command = good[..18].to_vec();
    unknown_command.extend_from_slice(&[4, 0, 80, 1, 1, 2, 3, 4]);
    let mut addons_past_end = good[..17].to_vec();
    addons_past_end.extend_from_slice(&[200, 1, 2, 3]);
    let cases: [(&[u8], bool, &str); 6] = [
        (&bad_version, false, "malformed"),
        (&unknown_command, false, "malformed"),
        (&addons_past_end, false, "client closed after 21 bytes"),
        (&good[..good.len() - 1], false, "inside the request header"),
        (&[], false, "client closed after 0 bytes"),
        (&good[..10], true, "not received within 10s"),
    ];
    for (wire, stall, expected) in cases {
        let (err, out) = reject(wire, stall).await;
        assert!(err.contains(expected), "{err:?} should say {expected:?}");
        assert!(out.is_empty());
    }
}

#[tokio::test]
async fn failed_reply_closes_without_a_byte() {
    let (mut client, server_end) = duplex(4096);
    client
        .write_all(&header(Command::Tcp("1.2.3.4:80".parse().unwrap())))
        .await
        .unwrap();
    let (_, reply) = expect_connect(acceptor().oneshot(incoming(server_end)).await.unwrap());
    reply.fail(Failure::ConnectionRefused).await.unwrap();
    let mut out = Vec::new();
    client.read_to_end(&mut out).await.unwrap();
    assert!(out.is_empty());
}

#[tokio::test]
async fn allow_private_lifts_only_the_public_only_rule() {
    let mut settings = VlessServerSettings::new(vec![("demo".into(), USER)]);
    settings.allow_private = true;
    let (mut client, server_end) = duplex(4096);
    client
        .write_all(&header(Command::Tcp("127.0.0.1:22".parse().unwrap())))
        .await
        .unwrap();
    let accepted = VlessAcceptor::new(settings)
        .oneshot(incoming(server_end))
        .await
        .unwrap();
    let (target, _) = expect_connect(accepted);
    assert!(!target.policy.public_only);
    assert!(
        target.policy.refuse_own_ports,
        "the server never dials itself"
    );
}

#[tokio::test]
async fn an_unencodable_destination_fails_before_dialling() {
    let dial = service_fn(|_: Target| async {
        panic!("nothing may be dialled");
        #[allow(unreachable_code)]
        Ok::<DuplexStream, BoxError>(duplex(1).0)
    });
    let target = Target::tcp(Address::Domain("a".repeat(256), 80));
    let err = VlessConnectorLayer::new(VlessClientSettings::new(USER))
        .layer(dial)
        .oneshot(target)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("malformed"), "{err}");
}
