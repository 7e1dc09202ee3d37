//! Our HTTP/2 and gRPC clients against our server drivers on 127.0.0.1: bulk both ways,
//! pooling, a dying connection, and refusals.

mod common;

use common::{Kind, connector, echo, pattern, pump, serve, sha256, target};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::{Service, ServiceExt};

async fn four_mib_each_way(kind: Kind, path: &str, request_path: &str) {
    const SIZE: usize = 4 << 20;
    let mut server = serve(kind).await;
    let client = connector(kind, server.addr, 128, path)
        .oneshot(target())
        .await
        .unwrap();
    let (up, down) = (pattern(SIZE, 1), pattern(SIZE, 7));
    let (want_up, want_down) = (sha256(&up), sha256(&down));
    let client = tokio::spawn(pump(client, up));
    let (seen_path, stream) = server.streams.recv().await.unwrap();
    assert_eq!(seen_path, request_path);
    let at_server = pump(stream, down).await;
    let at_client = client.await.unwrap();
    assert_eq!(sha256(&at_server), want_up);
    assert_eq!(sha256(&at_client), want_down);
}

#[tokio::test]
async fn h2_four_mib_each_way() {
    four_mib_each_way(Kind::H2, "/h2", "/h2").await;
}

#[tokio::test]
async fn grpc_four_mib_each_way() {
    four_mib_each_way(Kind::Grpc, "gun", "/gun/Tun").await;
}

async fn sixty_four_tunnels_share_one_connection(kind: Kind, path: &str) {
    let mut server = serve(kind).await;
    tokio::spawn(async move {
        while let Some((_, stream)) = server.streams.recv().await {
            tokio::spawn(echo(stream));
        }
    });
    let connector = connector(kind, server.addr, 128, path);
    let mut tunnels = tokio::task::JoinSet::new();
    for i in 0..64u8 {
        let mut connector = connector.clone();
        tunnels.spawn(async move {
            let stream = connector
                .ready()
                .await
                .unwrap()
                .call(target())
                .await
                .unwrap();
            let id = stream.connection_id();
            let payload = pattern(10_000 + usize::from(i) * 997, i);
            let echoed = pump(stream, payload.clone()).await;
            assert_eq!(echoed, payload, "tunnel {i}");
            id
        });
    }
    let ids = tunnels.join_all().await;
    assert!(
        ids.iter().all(|id| *id == ids[0] && id.is_some()),
        "{ids:?}"
    );
    assert_eq!(connector.connections(), 1);
}

#[tokio::test]
async fn h2_sixty_four_tunnels_share_one_connection() {
    sixty_four_tunnels_share_one_connection(Kind::H2, "/h2").await;
}

#[tokio::test]
async fn grpc_sixty_four_tunnels_share_one_connection() {
    sixty_four_tunnels_share_one_connection(Kind::Grpc, "gun").await;
}

async fn a_full_connection_dials_another(kind: Kind, path: &str) {
    let mut server = serve(kind).await;
    let mut connector = connector(kind, server.addr, 2, path);
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut stream = connector
            .ready()
            .await
            .unwrap()
            .call(target())
            .await
            .unwrap();
        stream.write_all(b"x").await.unwrap();
        server.streams.recv().await.unwrap();
        streams.push(stream);
    }
    assert_eq!(connector.connections(), 2);
    assert_eq!(streams[0].connection_id(), streams[1].connection_id());
    assert_ne!(streams[1].connection_id(), streams[2].connection_id());
    drop(streams.remove(0));
    let fourth = connector
        .ready()
        .await
        .unwrap()
        .call(target())
        .await
        .unwrap();
    assert_eq!(
        fourth.connection_id(),
        streams[0].connection_id(),
        "a freed slot is reused"
    );
}

#[tokio::test]
async fn h2_a_full_connection_dials_another() {
    a_full_connection_dials_another(Kind::H2, "/h2").await;
}

#[tokio::test]
async fn grpc_a_full_connection_dials_another() {
    a_full_connection_dials_another(Kind::Grpc, "gun").await;
}

async fn a_dead_connection_fails_its_tunnels_only(kind: Kind, path: &str) {
    let mut server = serve(kind).await;
    let mut connector = connector(kind, server.addr, 128, path);
    let mut tunnels = Vec::new();
    for _ in 0..3 {
        let mut stream = connector
            .ready()
            .await
            .unwrap()
            .call(target())
            .await
            .unwrap();
        stream.write_all(b"hello").await.unwrap();
        let (_, server_side) = server.streams.recv().await.unwrap();
        tunnels.push((stream, server_side));
    }
    let first_connection = tunnels[0].0.connection_id();
    for handle in server.connections.lock().unwrap().drain(..) {
        handle.abort();
    }
    for (mut stream, _) in tunnels {
        let mut buf = [0; 16];
        let read = stream.read(&mut buf).await;
        assert!(
            read.is_err(),
            "a tunnel of the dead connection fails: {read:?}"
        );
    }
    let mut next = connector
        .ready()
        .await
        .unwrap()
        .call(target())
        .await
        .unwrap();
    assert_ne!(next.connection_id(), first_connection);
    assert_eq!(connector.connections(), 1);
    next.write_all(b"again").await.unwrap();
    let (_, mut server_side) = server.streams.recv().await.unwrap();
    let mut got = [0; 5];
    server_side.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"again");
    server_side.write_all(b"back").await.unwrap();
    next.read_exact(&mut got[..4]).await.unwrap();
    assert_eq!(&got[..4], b"back");
}

#[tokio::test]
async fn h2_a_dead_connection_fails_its_tunnels_only() {
    a_dead_connection_fails_its_tunnels_only(Kind::H2, "/h2").await;
}

#[tokio::test]
async fn grpc_a_dead_connection_fails_its_tunnels_only() {
    a_dead_connection_fails_its_tunnels_only(Kind::Grpc, "gun").await;
}

#[tokio::test]
async fn a_wrong_path_is_a_404_on_the_first_read() {
    for (kind, path, want) in [(Kind::H2, "/other", "404"), (Kind::Grpc, "nope", "404")] {
        let server = serve(kind).await;
        let mut stream = connector(kind, server.addr, 128, path)
            .oneshot(target())
            .await
            .unwrap();
        stream.write_all(b"sent before the answer").await.unwrap();
        let mut buf = [0; 8];
        let err = stream.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
        assert!(err.to_string().contains(want), "{err}");
    }
}

#[tokio::test]
async fn shutdown_is_eof_both_ways_and_grpc_ends_with_trailers() {
    for kind in [Kind::H2, Kind::Grpc] {
        let mut server = serve(kind).await;
        let path = match kind {
            Kind::H2 => "/h2",
            Kind::Grpc => "gun",
        };
        let mut client = connector(kind, server.addr, 128, path)
            .oneshot(target())
            .await
            .unwrap();
        client.write_all(b"bye").await.unwrap();
        client.shutdown().await.unwrap();
        let (_, mut stream) = server.streams.recv().await.unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"bye");
        stream.write_all(b"ok").await.unwrap();
        stream.shutdown().await.unwrap();
        let mut back = Vec::new();
        client.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, b"ok", "{kind:?}");
    }
}
