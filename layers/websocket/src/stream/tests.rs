//! `WsByteStream` against tungstenite as the reference peer, both ends.

use super::*;
use futures_util::{SinkExt, StreamExt};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex},
    net::{TcpListener, TcpStream},
};
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{
        Message,
        protocol::{CloseFrame, Role as TRole, frame::coding::CloseCode},
    },
};

/// Our client end with a prefix, and tungstenite's server end.
async fn pair() -> (WsByteStream<DuplexStream>, WebSocketStream<DuplexStream>) {
    let (a, b) = duplex(1 << 20);
    let server = WebSocketStream::from_raw_socket(b, TRole::Server, None).await;
    let client = WsByteStream::new(a, Role::Client).with_prefix(Bytes::from_static(b"early "));
    (client, server)
}

/// Our server end over real TCP (vectored, so large writes go direct), and tungstenite's client.
async fn tcp_pair() -> (WsByteStream<TcpStream>, WebSocketStream<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dial = TcpStream::connect(listener.local_addr().unwrap());
    let (dialed, accepted) = tokio::join!(dial, listener.accept());
    let client = WebSocketStream::from_raw_socket(dialed.unwrap(), TRole::Client, None).await;
    (WsByteStream::new(accepted.unwrap().0, Role::Server), client)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[tokio::test(start_paused = true)]
async fn close_frame_follows_the_data_after_the_delay_unless_the_peer_closed() {
    let (mut bytes, mut server) = pair().await;
    bytes.write_all(b"last data").await.unwrap();
    let started = tokio::time::Instant::now();
    let shutdown = tokio::spawn(async move {
        bytes.shutdown().await.unwrap();
        bytes
    });
    let first = server.next().await.unwrap().unwrap();
    assert_eq!(
        first,
        Message::binary(&b"last data"[..]),
        "data leaves at once"
    );
    let close = server.next().await.unwrap().unwrap();
    assert!(matches!(close, Message::Close(Some(ref f)) if f.code == CloseCode::Normal));
    assert_eq!(
        started.elapsed(),
        CLOSE_DELAY,
        "the close waits for the delay"
    );
    shutdown.await.unwrap();

    let (mut bytes, mut server) = pair().await;
    server.close(None).await.unwrap();
    let mut out = Vec::new();
    bytes.read_to_end(&mut out).await.unwrap();
    let started = tokio::time::Instant::now();
    bytes.shutdown().await.unwrap();
    assert!(
        started.elapsed() < CLOSE_DELAY,
        "no delay once the peer has closed"
    );
    let err = bytes.write_all(b"late").await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
}

#[tokio::test]
async fn reads_prefix_then_concatenated_messages_until_close() {
    let (mut bytes, mut server) = pair().await;
    server.feed(Message::binary(&b"bin"[..])).await.unwrap();
    server
        .feed(Message::Ping(Bytes::from_static(b"p")))
        .await
        .unwrap();
    server.feed(Message::binary(Bytes::new())).await.unwrap();
    server.feed(Message::text(" text")).await.unwrap();
    server.close(None).await.unwrap();
    let mut out = Vec::new();
    bytes.read_to_end(&mut out).await.unwrap();
    assert_eq!(out, b"early bin text");
    // The ping was answered and the close echoed.
    assert_eq!(
        server.next().await.unwrap().unwrap(),
        Message::Pong(Bytes::from_static(b"p"))
    );
}

#[tokio::test]
async fn keeps_the_unread_rest_of_a_message() {
    let (mut bytes, mut server) = pair().await;
    server
        .send(Message::binary(&b"0123456789"[..]))
        .await
        .unwrap();
    let mut small = [0; 4];
    bytes.read_exact(&mut small).await.unwrap();
    assert_eq!(&small, b"earl");
    let mut rest = [0; 12];
    bytes.read_exact(&mut rest).await.unwrap();
    assert_eq!(&rest, b"y 0123456789");
}

#[tokio::test]
async fn each_write_is_one_binary_message_and_shutdown_closes() {
    let (mut bytes, mut server) = pair().await;
    bytes.set_close_delay(Duration::ZERO);
    bytes.write_all(b"one").await.unwrap();
    let bufs = [IoSlice::new(b"tw"), IoSlice::new(b"o")];
    assert_eq!(bytes.write_vectored(&bufs).await.unwrap(), 3);
    bytes.shutdown().await.unwrap();
    let mut messages = Vec::new();
    while let Some(Ok(message)) = server.next().await {
        messages.push(message);
    }
    assert_eq!(
        messages[..2],
        [Message::binary(&b"one"[..]), Message::binary(&b"two"[..])]
    );
    assert!(matches!(messages[2..], [Message::Close(_)]));
}

#[tokio::test]
async fn bulk_data_crosses_both_ways_intact_with_either_end_ours() {
    // Writes of mixed sizes: small ones are queued, large ones go direct when the queue is empty.
    let data = pattern(3 << 20);
    let writes: Vec<&[u8]> = data
        .chunks(50_000)
        .enumerate()
        .map(|(i, chunk)| if i % 3 == 0 { &chunk[..1000] } else { chunk })
        .collect();
    let sent: Vec<u8> = writes.concat();
    // Our server end (over TCP) against tungstenite's client.
    let (mut ours, mut theirs) = tcp_pair().await;
    let expected = sent.clone();
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        while got.len() < expected.len() {
            got.extend_from_slice(&theirs.next().await.unwrap().unwrap().into_data());
        }
        assert_eq!(got, expected, "server to client");
        for chunk in expected.chunks(100_000) {
            theirs.feed(Message::binary(chunk.to_vec())).await.unwrap();
        }
        theirs.flush().await.unwrap();
        theirs
    });
    for write in writes {
        ours.write_all(write).await.unwrap();
    }
    ours.flush().await.unwrap();
    let mut got = vec![0; sent.len()];
    let (theirs, read) = tokio::join!(reader, ours.read_exact(&mut got));
    drop(theirs.unwrap());
    read.unwrap();
    assert_eq!(got, sent, "client to server, unmasked in place");
}

#[tokio::test]
async fn bulk_data_crosses_from_our_client_masked() {
    let data = pattern(2 << 20);
    let (mut ours, mut theirs) = pair().await;
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        for chunk in sent.chunks(70_000) {
            ours.write_all(chunk).await.unwrap();
        }
        ours.flush().await.unwrap();
        ours
    });
    let mut got = Vec::new();
    while got.len() < data.len() {
        got.extend_from_slice(&theirs.next().await.unwrap().unwrap().into_data());
    }
    assert_eq!(got, data);
    drop(writer.await.unwrap());
}

#[tokio::test]
async fn fragmented_messages_read_as_one_stream() {
    let (mut ours, mut peer) = raw_pair(Role::Server);
    peer.write_all(&masked_frame(0x01, b"frag")).await.unwrap();
    peer.write_all(&masked_frame(0x89, b"ping")).await.unwrap();
    peer.write_all(&masked_frame(0x80, b"ment")).await.unwrap();
    let mut got = [0; 8];
    ours.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"fragment");
    let mut pong = [0; 6];
    peer.read_exact(&mut pong).await.unwrap();
    assert_eq!(pong, [0x8a, 4, b'p', b'i', b'n', b'g'], "unmasked pong");
}

#[tokio::test]
async fn violations_send_a_close_frame_and_read_as_invalid_data() {
    for (bytes, code) in [
        (frame(0x82, None, b"unmasked"), 1002),
        (masked_frame(0x83, b"reserved"), 1002),
        (masked_frame(0x00, b"stray continuation"), 1002),
        (masked_frame(0x09, b"fragmented ping"), 1002),
        (masked_frame(0xc2, b"rsv1"), 1002),
        (big_header(MAX_FRAME_SIZE as u64 + 1), 1009),
    ] {
        let (mut ours, mut peer) = raw_pair(Role::Server);
        peer.write_all(&bytes).await.unwrap();
        let mut got = Vec::new();
        let err = ours.read_to_end(&mut got).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{bytes:02x?}");
        let mut close = [0; 4];
        peer.read_exact(&mut close).await.unwrap();
        assert_eq!(close[..2], [0x88, 2], "a close frame");
        assert_eq!(u16::from_be_bytes([close[2], close[3]]), code);
    }
}

#[tokio::test]
async fn read_ahead_bytes_come_before_the_socket_and_truncation_is_an_error() {
    let (a, mut peer) = duplex(4096);
    let mut first = frame(0x82, None, b"from the head read");
    let split = first.split_off(5);
    let mut ours = WsByteStream::new(a, Role::Client).with_read_ahead(first.into());
    peer.write_all(&split).await.unwrap();
    peer.write_all(&frame(0x82, None, b"then more")[..6])
        .await
        .unwrap();
    drop(peer);
    let mut got = Vec::new();
    let err = ours.read_to_end(&mut got).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    assert_eq!(got, b"from the head readthen");
}

#[tokio::test]
async fn a_ping_flood_keeps_one_pong_waiting_and_the_stream_readable() {
    // The peer never reads: the pipe fills, and only the latest pong waits beyond it.
    let (a, mut peer) = duplex(1024);
    let mut ours = WsByteStream::new(a, Role::Server);
    let feeder = tokio::spawn(async move {
        for i in 0..5000u32 {
            peer.write_all(&masked_frame(0x89, &i.to_be_bytes()))
                .await
                .unwrap();
        }
        peer.write_all(&masked_frame(0x82, b"data")).await.unwrap();
        peer
    });
    let mut got = [0; 4];
    ours.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"data");
    let _peer = feeder.await.unwrap();
    assert!(ours.outbound.pending() < 2048, "pongs did not pile up");
}

#[tokio::test]
async fn a_close_code_is_echoed() {
    let (mut bytes, mut server) = pair().await;
    let going_away = Message::Close(Some(CloseFrame {
        code: CloseCode::Away,
        reason: "bye".into(),
    }));
    server.send(going_away).await.unwrap();
    let mut out = Vec::new();
    bytes.read_to_end(&mut out).await.unwrap();
    assert_eq!(out, b"early ");
    let echo = server.next().await.unwrap().unwrap();
    assert!(matches!(echo, Message::Close(Some(ref f)) if f.code == CloseCode::Away));
}

/// An end of ours and the raw bytes of its peer.
fn raw_pair(role: Role) -> (WsByteStream<DuplexStream>, DuplexStream) {
    let (a, b) = duplex(1 << 16);
    (WsByteStream::new(a, role), b)
}

fn frame(first: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let len = payload.len();
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    }
    let mut body = payload.to_vec();
    if let Some(mask) = mask {
        out.extend_from_slice(&mask);
        crate::proto::frame::apply_mask(&mut body, mask, 0);
    }
    out.extend_from_slice(&body);
    out
}

fn masked_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    frame(first, Some([0xa1, 0xb2, 0xc3, 0xd4]), payload)
}

fn big_header(len: u64) -> Vec<u8> {
    let mut out = vec![0x82, 0x80 | 127];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&[1, 2, 3, 4]);
    out
}

#[tokio::test]
async fn read_ahead_buffers_are_let_go_of_once_read() {
    // The read-ahead is usually a slice of a larger HTTP read buffer: an idle stream must not
    // keep that buffer alive.
    let head_buffer = Bytes::from(frame(0x82, None, b"first frame"));
    let (a, _peer) = duplex(64);
    let mut ours = WsByteStream::new(a, Role::Client).with_read_ahead(head_buffer.slice(..));
    let mut got = [0; 11];
    ours.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"first frame");
    assert!(
        head_buffer.try_into_mut().is_ok(),
        "the stream let go of the buffer"
    );

    let empty = Bytes::from(vec![0u8; 8192]);
    let _ours = WsByteStream::new(duplex(64).0, Role::Server).with_read_ahead(empty.slice(..0));
    assert!(
        empty.try_into_mut().is_ok(),
        "an empty read-ahead is not kept"
    );
}
