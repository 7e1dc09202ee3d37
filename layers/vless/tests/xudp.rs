//! VLESS command 3 (XUDP) against the server acceptor, with in-memory UDP destinations.

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};
use tower::{ServiceExt, service_fn};
use uuid::Uuid;
use xypro_core::{
    Accepted, Address, BoxConnector, BoxError, BoxIo, DatagramReader, Dispatch, Incoming, Network,
    SessionDispatch, Target, write_datagram,
};
use xypro_vless::{
    VlessAcceptor, VlessServerSettings,
    proto::{
        Command, Request,
        xudp::{Frame, Status},
    },
};

const USER: Uuid = Uuid::from_u128(0x2ad043a0_b930_46f8_bd55_1fcefc93339a);

/// A connector whose UDP destinations answer every datagram with `reply:` + the datagram.
fn echo_connector(dialled: Arc<Mutex<Vec<Target>>>) -> BoxConnector {
    BoxConnector::new(service_fn(move |target: Target| {
        dialled.lock().unwrap().push(target);
        async move {
            let (near, mut far) = duplex(64 * 1024);
            tokio::spawn(async move {
                let mut reader = DatagramReader::new();
                while let Ok(Some(datagram)) = reader.next(&mut far).await {
                    let reply = [&b"reply:"[..], &datagram].concat();
                    if write_datagram(&mut far, &reply).await.is_err() {
                        break;
                    }
                }
            });
            Ok::<_, BoxError>(BoxIo::new(near))
        }
    }))
}

fn frame(frame: Frame<'_>) -> Vec<u8> {
    let mut wire = Vec::new();
    frame.write_to_buf(&mut wire).unwrap();
    wire
}

fn new_udp<'a>(session: u16, to: &str, data: &'a [u8]) -> Frame<'a> {
    Frame {
        session,
        status: Status::New,
        target: Some((Network::Udp, to.parse().unwrap())),
        global_id: Some([9; 8]),
        error: false,
        data: Some(data),
    }
}

fn keep<'a>(session: u16, to: Option<&str>, data: &'a [u8]) -> Frame<'a> {
    Frame {
        session,
        status: Status::Keep,
        target: to.map(|to| (Network::Udp, to.parse().unwrap())),
        global_id: None,
        error: false,
        data: Some(data),
    }
}

/// Reads downstream frames until `count` have arrived; returns them owned, in arrival order.
async fn read_frames(
    client: &mut DuplexStream,
    buf: &mut Vec<u8>,
    count: usize,
) -> Vec<(u16, Status, Option<Address>, Vec<u8>)> {
    let mut out = Vec::new();
    while out.len() < count {
        while let Some((f, used)) = Frame::parse(buf).unwrap() {
            out.push((
                f.session,
                f.status,
                f.target.map(|(_, a)| a),
                f.data.unwrap_or_default().to_vec(),
            ));
            buf.drain(..used);
        }
        if out.len() >= count {
            break;
        }
        let mut chunk = [0; 4096];
        let n = client.read(&mut chunk).await.unwrap();
        assert!(n > 0, "stream ended after {} frames", out.len());
        buf.extend_from_slice(&chunk[..n]);
    }
    out
}

#[tokio::test]
async fn xudp_datagrams_reach_each_destination_and_replies_name_their_source() {
    let (mut client, server_end) = duplex(64 * 1024);
    let mut request = Vec::new();
    Request::new(USER, Command::Mux)
        .write_to_buf(&mut request)
        .unwrap();
    // The header and the first frame arrive together, as a client sends them.
    request.extend(frame(new_udp(0, "8.8.8.8:53", b"one")));
    client.write_all(&request).await.unwrap();

    let mut settings = VlessServerSettings::new(vec![("demo".into(), USER)]);
    settings.allow_private = true;
    let incoming = Incoming::new(
        server_end,
        "127.0.0.1:40000".parse().unwrap(),
        "127.0.0.1:8443".parse().unwrap(),
        "vless".into(),
    );
    let accepted = VlessAcceptor::new(settings)
        .oneshot(incoming)
        .await
        .unwrap();
    assert!(
        matches!(accepted, Accepted::Session { .. }),
        "command 3 is a session"
    );
    let dialled = Arc::new(Mutex::new(Vec::new()));
    let dispatch = Dispatch::default();
    let running = tokio::spawn({
        let (dispatch, connector) = (dispatch.clone(), echo_connector(dialled.clone()));
        async move { dispatch.serve(accepted, connector).await }
    });

    // The response header comes first, with the first frame.
    let mut header = [0; 2];
    client.read_exact(&mut header).await.unwrap();
    assert_eq!(header, [0, 0]);
    let mut buf = Vec::new();
    let first = read_frames(&mut client, &mut buf, 1).await;
    assert_eq!(
        first,
        [(
            0,
            Status::Keep,
            Some("8.8.8.8:53".parse().unwrap()),
            b"reply:one".to_vec()
        )]
    );

    let mut more = frame(keep(0, Some("[2001:db8::1]:443"), b"two"));
    more.extend(frame(keep(0, None, b"three")));
    more.extend(frame(Frame {
        session: 0,
        status: Status::KeepAlive,
        target: None,
        global_id: None,
        error: false,
        data: Some(b"ignored"),
    }));
    client.write_all(&more).await.unwrap();
    let mut replies = read_frames(&mut client, &mut buf, 2).await;
    replies.sort_by(|a, b| a.3.cmp(&b.3));
    assert_eq!(
        replies,
        [
            (
                0,
                Status::Keep,
                Some("8.8.8.8:53".parse().unwrap()),
                b"reply:three".to_vec()
            ),
            (
                0,
                Status::Keep,
                Some("[2001:db8::1]:443".parse().unwrap()),
                b"reply:two".to_vec()
            ),
        ]
    );

    {
        let dialled = dialled.lock().unwrap();
        let destinations: Vec<String> = dialled.iter().map(|t| t.destination.to_string()).collect();
        assert_eq!(
            destinations,
            ["8.8.8.8:53", "[2001:db8::1]:443"],
            "one dial each"
        );
        for target in dialled.iter() {
            assert_eq!(target.network, Network::Udp);
            assert_eq!(target.meta().user.as_deref(), Some("demo"));
            assert!(!target.policy.public_only);
            assert!(
                target.policy.refuse_own_ports,
                "the server never dials itself"
            );
        }
    }

    // The table shows the session and one child per destination, with their bytes.
    let open = dispatch.table().list();
    assert_eq!(open.len(), 3, "{open:?}");
    let parent = open[0].id();
    assert!(open[1..].iter().all(|c| c.parent() == Some(parent)));
    let first = &open[1];
    assert_eq!(first.destination().to_string(), "8.8.8.8:53");
    // "one" and "three" up (2 + 3 and 2 + 5 framed), "reply:one" and "reply:three" down.
    assert_eq!(first.traffic().up(), 5 + 7);
    assert_eq!(first.traffic().down(), 11 + 13);

    // A TCP sub-session and a Keep for an unknown session are both ended, not dialled.
    let mut refused = frame(Frame {
        session: 1,
        status: Status::New,
        target: Some((Network::Tcp, "example.com:80".parse().unwrap())),
        global_id: None,
        error: false,
        data: Some(b"GET /"),
    });
    refused.extend(frame(keep(2, None, b"lost")));
    client.write_all(&refused).await.unwrap();
    let ends = read_frames(&mut client, &mut buf, 2).await;
    assert_eq!(
        ends,
        [
            (1, Status::End, None, Vec::new()),
            (2, Status::End, None, Vec::new()),
        ]
    );
    assert_eq!(dialled.lock().unwrap().len(), 2);

    client.shutdown().await.unwrap();
    drop(client);
    running.await.unwrap();
    assert!(
        dispatch.table().is_empty(),
        "the children end with the session"
    );
    assert_eq!(dispatch.table().totals().all.closed, 3);
}

#[tokio::test]
async fn a_malformed_frame_ends_the_session_with_an_error() {
    let (mut client, server_end) = duplex(4096);
    let mut request = Vec::new();
    Request::new(USER, Command::Mux)
        .write_to_buf(&mut request)
        .unwrap();
    request.extend_from_slice(&[0, 4, 0, 0, 9, 0]);
    client.write_all(&request).await.unwrap();
    let incoming = Incoming::new(
        server_end,
        "127.0.0.1:40000".parse().unwrap(),
        "127.0.0.1:8443".parse().unwrap(),
        "vless".into(),
    );
    let acceptor = VlessAcceptor::new(VlessServerSettings::new(vec![("demo".into(), USER)]));
    let Accepted::Session { target, session } = acceptor.oneshot(incoming).await.unwrap() else {
        panic!("command 3 is a session");
    };
    let dialled = Arc::new(Mutex::new(Vec::new()));
    let dispatch =
        SessionDispatch::new(target, Dispatch::default(), echo_connector(dialled.clone()));
    let err = session.run(dispatch).await.unwrap_err();
    assert!(
        xypro_core_chain(&*err).contains("unknown mux frame status 9"),
        "{err}"
    );
    assert!(dialled.lock().unwrap().is_empty());
    let mut out = Vec::new();
    client.read_to_end(&mut out).await.unwrap();
    assert!(out.is_empty());
}

fn xypro_core_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
