//! Faults around a running tunnel: the server killed mid-transfer, targets that reset, refuse,
//! time out or do not resolve, clients that reset or half-close; each with a healthy neighbour.

mod common;

use common::{
    Proxy, flows,
    raw::{self, Healthy},
    targets, tunnel,
};
use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use xypro_stack::socks5::{Socks5Client, Socks5Error, proto::ReplyCode};

/// A tunnel client with a second, plain SOCKS5 inbound (`plain`) dialling directly, for the
/// healthy neighbour that does not depend on the tunnel.
fn client_with_plain_inbound(server: SocketAddr) -> String {
    tunnel::client_config(server, 0).replace(
        "outbounds:\n",
        "  plain:\n    listen: 127.0.0.2:0\n    pipeline:\n      - socks5: {}\n    outbound: free\n\
         outbounds:\n  free:\n    - direct: { connect_timeout: 1s }\n",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_mid_transfer_closes_the_client_cleanly() {
    let server = Proxy::start(&tunnel::server_config(&tunnel::server_users()));
    let client = Proxy::start(&client_with_plain_inbound(server.addr("server")));
    let echo = targets::echo_server().await;
    let bulk = targets::bulk_server().await;
    let mut healthy = Healthy::open(client.addr("plain"), echo).await;

    let mut download = flows::connect(client.addr("socks"), bulk).await;
    download.write_u64(1 << 30).await.unwrap();
    let mut first = vec![0u8; 1 << 20];
    download.read_exact(&mut first).await.unwrap();
    drop(server); // SIGKILL
    let started = Instant::now();
    let (rest, closed) = raw::read_until_close(&mut download, Duration::from_secs(15)).await;
    assert!(closed, "the client sees the end, no hang");
    assert!(rest.len() < 1 << 30, "the transfer was cut");
    eprintln!(
        "download closed {:?} after the kill, {} more bytes",
        started.elapsed(),
        rest.len()
    );
    healthy.check().await;

    // New tunnels fail with a SOCKS5 error reply, promptly.
    let mut stream = TcpStream::connect(client.addr("socks")).await.unwrap();
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        Socks5Client::new().connect(&mut stream, &echo.into()),
    )
    .await
    .expect("a reply in time");
    assert!(result.is_err(), "no tunnel to a dead server");
    healthy.check().await;
}

/// A target that sends `before` bytes, then resets the connection (SO_LINGER 0).
async fn resetting_target(before: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut header = [0u8; 4];
                if stream.read_exact(&mut header).await.is_ok() {
                    let _ = stream.write_all(&vec![7u8; before]).await;
                    let _ = stream.flush().await;
                }
                let _ = stream.set_zero_linger();
                drop(stream);
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_reset_closes_the_client_through_direct_and_tunnel() {
    let server = Proxy::start(&tunnel::server_config(&tunnel::server_users()));
    let client = Proxy::start(&client_with_plain_inbound(server.addr("server")));
    let echo = targets::echo_server().await;
    let target = resetting_target(100_000).await;
    let mut healthy = Healthy::open(client.addr("socks"), echo).await;
    for inbound in ["plain", "socks"] {
        let mut stream = flows::connect(client.addr(inbound), target).await;
        stream.write_all(b"go!!").await.unwrap();
        let started = Instant::now();
        let (got, closed) = raw::read_until_close(&mut stream, Duration::from_secs(10)).await;
        assert!(closed, "{inbound}: the reset reaches the client");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{inbound}: promptly"
        );
        assert!(
            got.len() <= 100_000 && got.iter().all(|&b| b == 7),
            "{inbound}"
        );
        healthy.check().await;
    }
}

async fn socks_connect(proxy: SocketAddr, destination: &str) -> Result<TcpStream, Socks5Error> {
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    Socks5Client::new()
        .connect(&mut stream, &destination.parse().unwrap())
        .await?;
    Ok(stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_unresolvable_and_timed_out_targets_map_to_05_04_06() {
    let (hole, _fillers, _socket) = targets::blackhole();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = Proxy::start(&tunnel::server_config(&tunnel::server_users()));
    // A third inbound whose tunnel's own server address is the black hole: an upstream timeout.
    let config = client_with_plain_inbound(server.addr("server")).replace(
        "outbounds:\n",
        "  stuck:\n    listen: 127.0.0.3:0\n    pipeline:\n      - socks5: {}\n    outbound: stuck\n\
         outbounds:\n",
    ) + &format!(
        "  stuck:\n    - timeout: {{ connect: 1s }}\n    - vless: {{ id: {id} }}\n\
         \x20   - websocket: {{ path: /xy }}\n    - tcp: {{ address: {hole} }}\n",
        id = tunnel::ID
    );
    let client = Proxy::start(&config);
    let echo = targets::echo_server().await;
    let mut healthy = Healthy::open(client.addr("socks"), echo).await;
    let plain = client.addr("plain");

    for (what, proxy, destination, code) in [
        (
            "refused",
            plain,
            closed.to_string(),
            ReplyCode::ConnectionRefused,
        ),
        (
            "DNS failure",
            plain,
            "no-such-host.invalid:80".to_owned(),
            ReplyCode::HostUnreachable,
        ),
        (
            "target timeout",
            plain,
            hole.to_string(),
            ReplyCode::TtlExpired,
        ),
        (
            "upstream (tunnel) timeout",
            client.addr("stuck"),
            echo.to_string(),
            ReplyCode::TtlExpired,
        ),
    ] {
        let started = Instant::now();
        let err = socks_connect(proxy, &destination).await.unwrap_err();
        assert!(
            matches!(&err, Socks5Error::Rejected(got) if *got == code),
            "{what}: {err}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what}: within the timeout, took {:?}",
            started.elapsed()
        );
        healthy.check().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reset_and_half_close_reach_the_other_side_and_tasks_end() {
    let server = Proxy::start(&tunnel::server_config(&tunnel::server_users()));
    let client = Proxy::start(&client_with_plain_inbound(server.addr("server")));
    let echo = targets::echo_server().await;
    let mut healthy = Healthy::open(client.addr("socks"), echo).await;
    let pids = [raw::pid_of(&client), raw::pid_of(&server)];
    let baseline = pids.map(raw::fd_count);

    // Half-close: the target sees the end of the upload and still answers (direct only:
    // WebSocket has no half-close).
    let mut half = flows::connect(client.addr("plain"), echo).await;
    half.write_all(b"last words").await.unwrap();
    half.shutdown().await.unwrap();
    let mut back = String::new();
    tokio::time::timeout(flows::PATIENCE, half.read_to_string(&mut back))
        .await
        .expect("the echo ends after the half-close")
        .unwrap();
    assert_eq!(back, "last words");
    healthy.check().await;

    // Reset mid-download, direct and through the tunnel: the target's writes fail soon.
    for inbound in ["plain", "socks"] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let target = listener.local_addr().unwrap();
        let source = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let chunk = vec![1u8; 64 * 1024];
            let mut sent = 0usize;
            loop {
                match stream.write_all(&chunk).await {
                    Ok(()) => sent += chunk.len(),
                    Err(_) => return sent,
                }
            }
        });
        let mut stream = flows::connect(client.addr(inbound), target).await;
        let mut some = vec![0u8; 256 * 1024];
        stream.read_exact(&mut some).await.unwrap();
        stream.set_zero_linger().unwrap();
        drop(stream);
        let sent = tokio::time::timeout(Duration::from_secs(10), source)
            .await
            .unwrap_or_else(|_| panic!("{inbound}: the target sees the reset"))
            .unwrap();
        assert!(sent >= 256 * 1024, "{inbound}");
        healthy.check().await;
    }

    // Every task of those connections ended: descriptors are back at the baseline.
    for (pid, before) in pids.into_iter().zip(baseline) {
        assert!(
            raw::eventually(Duration::from_secs(10), || raw::fd_count(pid) <= before).await,
            "fds of {pid}: {} now, {before} before",
            raw::fd_count(pid)
        );
    }
    healthy.check().await;
}
