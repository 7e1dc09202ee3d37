//! Client connector against server acceptor over real loopback TCP.

mod common;

use common::{connect, serve, server_settings};
use std::{sync::atomic::Ordering, time::Duration};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use xypro_websocket::{ClientOptions, WsError};

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test]
async fn round_trip_without_early_data() {
    let mut server = serve(server_settings("/xy")).await;
    let (mut client, _) = connect(server.addr, ClientOptions::new("/xy"))
        .await
        .unwrap();
    assert!(client.is_open(), "early_data 0 upgrades inside call");
    let mut remote = server.streams.recv().await.unwrap();
    client.write_all(b"hello").await.unwrap();
    client.flush().await.unwrap();
    let mut buf = [0; 5];
    remote.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello");
    remote.write_all(b"world").await.unwrap();
    remote.flush().await.unwrap();
    client.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"world");
    client.shutdown().await.unwrap();
    assert_eq!(
        remote.read(&mut buf).await.unwrap(),
        0,
        "close frame reads as EOF"
    );
    assert_eq!(server.results.recv().await.unwrap(), Ok(()));
}

#[tokio::test]
async fn early_data_rides_in_the_header_and_is_not_sent_twice() {
    let mut server = serve(server_settings("/xy")).await;
    let (mut client, writes) = connect(server.addr, ClientOptions::new("/xy?ed=2048"))
        .await
        .unwrap();
    assert!(!client.is_open(), "the handshake waits for the first write");
    assert_eq!(
        writes.load(Ordering::SeqCst),
        0,
        "nothing sent before the first write"
    );
    let data = pattern(3000, 7);
    let n = client.write(&data).await.unwrap();
    assert_eq!(n, 2048, "the first write takes up to early_data bytes");
    assert!(client.is_open());
    client.write_all(&data[n..]).await.unwrap();
    client.flush().await.unwrap();
    let mut remote = server.streams.recv().await.unwrap();
    let mut got = vec![0; data.len()];
    remote.read_exact(&mut got).await.unwrap();
    assert_eq!(got, data);
    remote.write_all(b"ok").await.unwrap();
    remote.flush().await.unwrap();
    drop(remote);
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).await.unwrap();
    assert_eq!(
        rest, b"ok",
        "nothing duplicated, and a dropped server reads as EOF"
    );
}

#[tokio::test]
async fn early_data_takes_all_of_a_short_vectored_write() {
    let mut server = serve(server_settings("/xy")).await;
    let (mut client, _) = connect(server.addr, ClientOptions::new("/xy?ed=2048"))
        .await
        .unwrap();
    let bufs = [
        std::io::IoSlice::new(b"head|"),
        std::io::IoSlice::new(b"payload"),
    ];
    assert_eq!(client.write_vectored(&bufs).await.unwrap(), 12);
    client.flush().await.unwrap();
    let mut remote = server.streams.recv().await.unwrap();
    let mut got = [0; 12];
    remote.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"head|payload");
}

#[tokio::test]
async fn a_read_first_upgrades_without_early_data_after_the_wait() {
    let mut server = serve(server_settings("/xy")).await;
    let (mut client, _) = connect(server.addr, ClientOptions::new("/xy?ed=2048"))
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let reader = tokio::spawn(async move {
        let mut banner = [0; 6];
        client.read_exact(&mut banner).await.unwrap();
        (client, banner)
    });
    let mut remote = server.streams.recv().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(450),
        "upgraded after the wait"
    );
    remote.write_all(b"banner").await.unwrap();
    remote.flush().await.unwrap();
    let (mut client, banner) = reader.await.unwrap();
    assert_eq!(&banner, b"banner");
    client.write_all(b"reply").await.unwrap();
    client.flush().await.unwrap();
    let mut got = [0; 5];
    remote.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"reply");
}

#[tokio::test]
async fn four_mib_each_way_intact() {
    let mut server = serve(server_settings("/bulk")).await;
    let (client, _) = connect(server.addr, ClientOptions::new("/bulk"))
        .await
        .unwrap();
    let remote = server.streams.recv().await.unwrap();
    let echo = tokio::spawn(async move {
        let (mut r, mut w) = tokio::io::split(remote);
        let n = tokio::io::copy(&mut r, &mut w).await.unwrap();
        w.flush().await.unwrap();
        n
    });
    let data = pattern(4 << 20, 3);
    let (mut r, mut w) = tokio::io::split(client);
    let sent = data.clone();
    let writer = tokio::spawn(async move {
        for chunk in sent.chunks(100_000) {
            w.write_all(chunk).await.unwrap();
        }
        w.flush().await.unwrap();
        w
    });
    let mut got = vec![0; data.len()];
    r.read_exact(&mut got).await.unwrap();
    assert!(got == data, "echoed bytes differ");
    let mut client = r.unsplit(writer.await.unwrap());
    client.shutdown().await.unwrap();
    assert_eq!(echo.await.unwrap(), data.len() as u64);
}

#[tokio::test]
async fn small_writes_are_batched_until_flush() {
    let mut server = serve(server_settings("/xy")).await;
    let (mut client, writes) = connect(server.addr, ClientOptions::new("/xy"))
        .await
        .unwrap();
    let mut remote = server.streams.recv().await.unwrap();
    let before = writes.load(Ordering::SeqCst);
    for i in 0..1000u32 {
        client.write_all(&i.to_be_bytes()).await.unwrap();
    }
    assert_eq!(
        writes.load(Ordering::SeqCst),
        before,
        "nothing written before the flush"
    );
    client.flush().await.unwrap();
    let socket_writes = writes.load(Ordering::SeqCst) - before;
    assert!(
        (1..=2).contains(&socket_writes),
        "{socket_writes} socket writes for 1000 messages"
    );
    let mut got = vec![0; 4000];
    remote.read_exact(&mut got).await.unwrap();
    let expected: Vec<u8> = (0..1000u32).flat_map(u32::to_be_bytes).collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn a_wrong_path_is_a_clear_client_error() {
    let mut server = serve(server_settings("/xy")).await;
    let err = connect(server.addr, ClientOptions::new("/other"))
        .await
        .unwrap_err();
    let ws = err.downcast_ref::<WsError>().expect("a WsError");
    assert!(matches!(ws, WsError::Status { status: 404 }), "{ws}");
    let result = server.results.recv().await.unwrap().unwrap_err();
    assert!(result.contains("wrong path"), "{result}");
}

#[tokio::test]
async fn a_handshake_error_with_early_data_surfaces_on_the_first_write() {
    let server = serve(server_settings("/xy")).await;
    let (mut client, _) = connect(server.addr, ClientOptions::new("/other?ed=100"))
        .await
        .unwrap();
    let err = client.write(b"x").await.unwrap_err();
    let inner = err.get_ref().and_then(|e| e.downcast_ref::<WsError>());
    assert!(
        matches!(inner, Some(WsError::Status { status: 404 })),
        "{err}"
    );
    assert!(client.write(b"x").await.is_err(), "stays failed");
}
