//! Handshake tests of the SOCKS5 acceptor over in-memory streams.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};
use tower::ServiceExt;
use xypro_core::{Accepted, Failure, Incoming, Network};
use xypro_socks5::{Socks5Acceptor, Socks5Client, Socks5Error, Socks5Settings, proto::ReplyCode};

fn acceptor(users: &[(&str, &str)]) -> Socks5Acceptor {
    Socks5Acceptor::new(Socks5Settings {
        users: users
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect(),
        ..Socks5Settings::default()
    })
}

fn incoming(io: DuplexStream) -> Incoming {
    Incoming::new(
        io,
        "127.0.0.1:40000".parse().unwrap(),
        "127.0.0.1:1080".parse().unwrap(),
        "socks".into(),
    )
}

/// Sends `bytes`, runs the acceptor, and returns its result with everything the server wrote.
async fn exchange(
    acceptor: Socks5Acceptor,
    bytes: &[u8],
) -> (Result<Accepted, xypro_core::BoxError>, Vec<u8>) {
    let (mut client, server) = duplex(4096);
    client.write_all(bytes).await.unwrap();
    client.shutdown().await.unwrap();
    let result = acceptor.oneshot(incoming(server)).await;
    let mut written = Vec::new();
    client.read_to_end(&mut written).await.unwrap();
    (result, written)
}

#[tokio::test]
async fn greeting_errors_answer_no_acceptable_method() {
    let (result, written) = exchange(acceptor(&[]), &[5, 0]).await;
    assert!(result.is_err());
    assert_eq!(written, [5, 0xff]);
    let (result, written) = exchange(acceptor(&[]), &[5, 1, 2]).await;
    assert!(result.is_err(), "user/pass only, but no users configured");
    assert_eq!(written, [5, 0xff]);
    let (result, written) = exchange(acceptor(&[("u", "p")]), &[5, 1, 0]).await;
    assert!(result.is_err(), "no-auth offered to a server with users");
    assert_eq!(written, [5, 0xff]);
    let (result, written) = exchange(acceptor(&[]), &[4, 1, 0, 80, 127, 0, 0, 1, 0]).await;
    assert!(result.is_err());
    assert!(written.is_empty(), "a SOCKS4 client gets a close");
    let (result, written) = exchange(acceptor(&[]), &[5, 3, 0]).await;
    let err = result.unwrap_err();
    assert!(
        matches!(err.downcast_ref(), Some(Socks5Error::Truncated)),
        "{err}"
    );
    assert!(written.is_empty());
}

#[tokio::test]
async fn wrong_password_and_empty_fields_fail_with_status_01() {
    let (result, written) = exchange(
        acceptor(&[("alice", "secret")]),
        b"\x05\x01\x02\x01\x05alice\x05wrong",
    )
    .await;
    assert!(
        matches!(result.unwrap_err().downcast_ref(), Some(Socks5Error::AuthFailed(u)) if u == "alice")
    );
    assert_eq!(written, [5, 2, 1, 1]);
    let (result, written) =
        exchange(acceptor(&[("alice", "secret")]), b"\x05\x01\x02\x01\x00").await;
    assert!(result.is_err());
    assert_eq!(written, [5, 2, 1, 1]);
}

#[tokio::test]
async fn request_errors_map_to_reply_codes() {
    let cases: [(&[u8], u8); 5] = [
        (&[5, 1, 0, 5, 2, 0, 1, 1, 2, 3, 4, 0, 80], 7), // BIND
        (&[5, 1, 0, 5, 9, 0, 1, 1, 2, 3, 4, 0, 80], 7), // unknown command
        (&[5, 1, 0, 5, 1, 0, 9, 1, 2, 3, 4, 0, 80], 8), // unknown address type
        (&[5, 1, 0, 5, 1, 0, 3, 0, 0, 80], 1),          // empty domain
        (&[5, 1, 0, 5, 1, 0, 1, 1, 2, 3, 4, 0, 0], 1),  // port 0
    ];
    for (bytes, code) in cases {
        let (result, written) = exchange(acceptor(&[]), bytes).await;
        assert!(result.is_err(), "{bytes:?}");
        assert_eq!(&written[..2], &[5, 0], "{bytes:?}");
        assert_eq!(written[2..4], [5, code], "{bytes:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn dribbling_client_hits_the_deadline() {
    let (mut client, server) = duplex(64);
    let task = tokio::spawn(acceptor(&[("u", "p")]).oneshot(incoming(server)));
    for byte in [5u8, 1, 2, 1] {
        client.write_all(&[byte]).await.unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let err = task.await.unwrap().unwrap_err();
    assert!(
        matches!(err.downcast_ref(), Some(Socks5Error::HandshakeTimeout)),
        "{err}"
    );
}

#[tokio::test]
async fn connect_with_auth_keeps_pipelined_payload_and_reports_failures() {
    let (mut client, server) = duplex(4096);
    let server = tokio::spawn(acceptor(&[("alice", "secret")]).oneshot(incoming(server)));
    let mut hello = Vec::new();
    hello.extend_from_slice(b"\x05\x01\x02\x01\x05alice\x06secret");
    hello.extend_from_slice(b"\x05\x01\x00\x03\x0bexample.com\x01\xbb");
    hello.extend_from_slice(b"early bytes");
    client.write_all(&hello).await.unwrap();
    let Accepted::Connect { target, reply } = server.await.unwrap().unwrap() else {
        panic!("CONNECT must yield a target");
    };
    assert_eq!(target.destination.to_string(), "example.com:443");
    assert_eq!(target.network, Network::Tcp);
    assert_eq!(target.meta().user.as_deref(), Some("alice"));
    let mut io = reply.succeed().await.unwrap();
    let mut early = [0u8; 11];
    io.read_exact(&mut early).await.unwrap();
    assert_eq!(&early, b"early bytes");
    let mut answer = [0u8; 14];
    client.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer[..4], &[5, 2, 1, 0]);
    assert_eq!(&answer[4..6], &[5, 0]);

    let (mut client, server) = duplex(4096);
    let server = tokio::spawn(acceptor(&[]).oneshot(incoming(server)));
    let asked = tokio::spawn(async move {
        Socks5Client::new()
            .connect(&mut client, &"10.0.0.1:80".parse().unwrap())
            .await
    });
    let Accepted::Connect { reply, .. } = server.await.unwrap().unwrap() else {
        panic!()
    };
    reply.fail(Failure::ConnectionRefused).await.unwrap();
    let err = asked.await.unwrap().unwrap_err();
    assert!(
        matches!(err, Socks5Error::Rejected(ReplyCode::ConnectionRefused)),
        "{err}"
    );
}
