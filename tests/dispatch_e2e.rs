//! The dispatch and its connection table, seen from the outside: what is listed, with which
//! byte counts, what closing by id does, and what reload and shutdown do to open connections.

mod common;

use common::{
    Proxy, TempDir, flows, peers, raw, targets,
    tunnel::{self, Transport},
};
use std::{net::SocketAddr, time::Duration};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream, UdpSocket},
};
use xypro_stack::{
    Registry, Server,
    core::{Address, ConnectionContext},
    socks5::{Socks5Client, Socks5Error, decode_udp, encode_udp},
};

/// How long a step may take before the test fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(20);

/// Runs `yaml` in this process, so the test can read the server's connection table.
async fn serve(yaml: &str) -> (Server, TempDir) {
    let dir = TempDir::new();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, yaml).unwrap();
    let server = Server::start(&path, Registry::with_builtin())
        .await
        .unwrap();
    (server, dir)
}

fn addr_of(server: &Server, inbound: &str) -> SocketAddr {
    server
        .local_addrs()
        .into_iter()
        .find(|(name, _)| &**name == inbound)
        .map(|(_, addr)| addr)
        .unwrap()
}

const SOCKS_DIRECT: &str = "inbounds:\n  socks:\n    listen: 127.0.0.1:0\n    pipeline:\n      - socks5: { udp: true }\n    outbound: free\noutbounds:\n  free:\n    - direct\n";

/// A SOCKS5 UDP association from this test: the relay address and the client socket.
struct Association {
    _control: TcpStream,
    relay: SocketAddr,
    socket: UdpSocket,
}

impl Association {
    async fn open(socks: SocketAddr) -> Association {
        let (control, relay, socket) = flows::associate(socks).await;
        Association {
            _control: control,
            relay,
            socket,
        }
    }

    /// Sends one datagram to `to` through the relay and returns the reply's payload.
    async fn exchange(&self, to: SocketAddr, payload: &[u8]) -> Vec<u8> {
        let packet = encode_udp(&Address::Ip(to), payload);
        self.socket.send_to(&packet, self.relay).await.unwrap();
        let mut buf = vec![0u8; 65536];
        let (n, _) = tokio::time::timeout(PATIENCE, self.socket.recv_from(&mut buf))
            .await
            .expect("a reply in time")
            .unwrap();
        let (from, data) = decode_udp(&buf[..n]).unwrap();
        assert_eq!(from, Address::Ip(to));
        data.to_vec()
    }
}

/// The open connections as (parent, destination, up, down), parents first.
fn listed(open: &[ConnectionContext]) -> Vec<(Option<u64>, String, u64, u64)> {
    open.iter()
        .map(|c| {
            (
                c.parent(),
                c.destination().to_string(),
                c.traffic().up(),
                c.traffic().down(),
            )
        })
        .collect()
}

/// Bytes a run of datagrams takes on a stream: each is framed as `len(2) | data`.
fn framed(payloads: &[&[u8]]) -> u64 {
    payloads.iter().map(|p| 2 + p.len() as u64).sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socks5_udp_association_is_a_parent_with_one_entry_per_destination() {
    let (server, _dir) = serve(SOCKS_DIRECT).await;
    let (one, two) = (
        targets::udp_echo_server().await,
        targets::udp_echo_server().await,
    );
    let association = Association::open(addr_of(&server, "socks")).await;
    for payload in [&b"first"[..], b"second"] {
        assert_eq!(association.exchange(one, payload).await, payload);
    }
    assert_eq!(association.exchange(two, &[9; 1000]).await, [9; 1000]);

    let open = server.connections().list();
    let parent = open[0].id();
    let rows = listed(&open);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0].0, None);
    assert_eq!(open[0].network().as_str(), "udp");
    let to_one = framed(&[b"first", b"second"]);
    let to_two = framed(&[&[9; 1000]]);
    assert_eq!(
        rows[1..],
        [
            (Some(parent), one.to_string(), to_one, to_one),
            (Some(parent), two.to_string(), to_two, to_two),
        ]
    );

    // The association ends with its control connection, and its entries with it.
    drop(association);
    assert!(
        raw::eventually(PATIENCE, || server.connections().is_empty()).await,
        "{:?}",
        listed(&server.connections().list())
    );
    let totals = server.connections().totals();
    assert_eq!(totals.all.closed, 3);
    assert_eq!(totals.all.up, to_one + to_two);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xudp_session_from_sing_box_is_a_parent_with_one_entry_per_destination() {
    let Some(sing_box) = peers::require("sing-box") else {
        return;
    };
    let (server, _dir) = serve(&tunnel::server_config(&tunnel::server_users())).await;
    let client = peers::sing_box_client(&sing_box, tunnel::ID, addr_of(&server, "server"), "xudp");
    let (one, two) = (
        targets::udp_echo_server().await,
        targets::udp_echo_server().await,
    );
    let association = Association::open(client.addr).await;
    assert_eq!(association.exchange(one, b"to one").await, b"to one");
    assert_eq!(association.exchange(two, b"to two!").await, b"to two!");

    let open = server.connections().list();
    let rows = listed(&open);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0].1, "v1.mux.cool:9527", "the session itself");
    assert_eq!(open[0].meta().user.as_deref(), Some("demo"));
    let parent = open[0].id();
    assert_eq!(
        rows[1..],
        [
            (
                Some(parent),
                one.to_string(),
                framed(&[b"to one"]),
                framed(&[b"to one"])
            ),
            (
                Some(parent),
                two.to_string(),
                framed(&[b"to two!"]),
                framed(&[b"to two!"])
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_one_connection_by_id_ends_only_that_relay() {
    let (server, _dir) = serve(SOCKS_DIRECT).await;
    let socks = addr_of(&server, "socks");
    let echo = targets::echo_server().await;
    let mut first = flows::connect(socks, echo).await;
    let mut second = flows::connect(socks, echo).await;
    for stream in [&mut first, &mut second] {
        stream.write_all(b"ping").await.unwrap();
        let mut got = [0; 4];
        stream.read_exact(&mut got).await.unwrap();
    }
    let open = server.connections().list();
    assert_eq!(open.len(), 2);
    assert!(server.connections().close(open[0].id()));

    let mut rest = Vec::new();
    tokio::time::timeout(PATIENCE, first.read_to_end(&mut rest))
        .await
        .expect("the closed connection's client sees the end")
        .unwrap();
    assert!(rest.is_empty());
    second.write_all(b"still here").await.unwrap();
    let mut got = [0; 10];
    second.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"still here");
    assert_eq!(server.connections().list()[0].id(), open[1].id());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_keeps_the_table_and_its_connections() {
    let (mut server, dir) = serve(SOCKS_DIRECT).await;
    let socks = addr_of(&server, "socks");
    let echo = targets::echo_server().await;
    let mut open = flows::connect(socks, echo).await;
    open.write_all(b"before").await.unwrap();
    let id = server.connections().list()[0].id();

    let reloaded =
        SOCKS_DIRECT.replace("    - direct\n", "    - direct: { connect_timeout: 3s }\n");
    std::fs::write(dir.path().join("config.yaml"), reloaded).unwrap();
    server.reload().await.unwrap();
    assert_eq!(server.connections().list()[0].id(), id, "still listed");

    open.write_all(b" after").await.unwrap();
    let mut got = [0; 12];
    open.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"before after");
    assert_eq!(server.connections().get(id).unwrap().traffic().up(), 12);
    assert!(server.connections().close(id), "closable after the reload");
    assert_eq!(open.read(&mut [0; 8]).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_grace_drains_a_udp_association_and_its_destinations() {
    let mut proxy = Proxy::start(
        &SOCKS_DIRECT.replace("outbounds:", "limits: { shutdown_grace: 30s }\noutbounds:"),
    );
    let (one, two) = (
        targets::udp_echo_server().await,
        targets::udp_echo_server().await,
    );
    let association = Association::open(proxy.addr("socks")).await;
    assert_eq!(association.exchange(one, b"a").await, b"a");
    assert_eq!(association.exchange(two, b"b").await, b"b");

    proxy.signal("TERM");
    let waiting = proxy.wait_for_log("waiting up to");
    assert!(waiting.contains("(3 logical)"), "{waiting}");
    // Both destinations still answer during the grace period, new or old.
    assert_eq!(association.exchange(one, b"during").await, b"during");
    assert_eq!(association.exchange(two, b"grace").await, b"grace");
    let started = std::time::Instant::now();
    drop(association);
    assert_eq!(proxy.wait_exit(PATIENCE), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "exited once the association ended, not at the end of the grace period"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_timeout_layer_a_silent_tunnel_server_gets_reply_06_and_frees_its_fds() {
    // Accepts TCP and never speaks TLS, like a middlebox that stalls after the handshake.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut accepted = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            accepted.push(stream);
        }
    });
    let config = tunnel::client_config(silent_addr, 0)
        .replace("      - socks5: { udp: true }", "      - socks5");
    let proxy = Proxy::start(&config);
    let pid = raw::pid_of(&proxy);
    let baseline = raw::fd_count(pid);

    let started = std::time::Instant::now();
    let mut stream = TcpStream::connect(proxy.addr("socks")).await.unwrap();
    let outcome = tokio::time::timeout(
        PATIENCE,
        Socks5Client::new().connect(&mut stream, &"example.com:80".parse().unwrap()),
    )
    .await
    .expect("an answer before the test's patience runs out");
    let waited = started.elapsed();
    assert!(
        matches!(outcome, Err(Socks5Error::Rejected(code)) if code.byte() == 0x06),
        "{outcome:?}"
    );
    assert!(
        (Duration::from_secs(9)..Duration::from_secs(15)).contains(&waited),
        "the default 10 s deadline, took {waited:?}"
    );
    drop(stream);
    assert!(
        raw::eventually(PATIENCE, || raw::fd_count(pid) <= baseline).await,
        "file descriptors back to {baseline}, now {}",
        raw::fd_count(pid)
    );
    held.abort();
}

/// Sends `size` bytes of a pattern through `stream` to an echo while reading them back, and
/// checks them by SHA-256; the stream stays open.
async fn echo_checked(stream: &mut TcpStream, seed: u64, size: usize) {
    let sent = targets::pattern(seed, size);
    let (mut read, mut write) = stream.split();
    let mut back = vec![0; size];
    let (written, got) = tokio::time::timeout(PATIENCE, async {
        tokio::join!(write.write_all(&sent), read.read_exact(&mut back))
    })
    .await
    .expect("the echo in time");
    written.unwrap();
    got.unwrap();
    assert_eq!(targets::sha256_hex(&back), targets::sha256_hex(&sent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_tunnels_share_one_http2_connection_listed_as_their_parent() {
    let (server, _dir) = serve(&tunnel::transport_server_config(Transport::H2)).await;
    let client = Proxy::start(&tunnel::transport_client_config(
        Transport::H2,
        addr_of(&server, "server"),
    ));
    let socks = client.addr("socks");
    let echo = targets::echo_server().await;
    let mut opening = tokio::task::JoinSet::new();
    for seed in 0..64 {
        opening.spawn(async move {
            let mut stream = flows::connect(socks, echo).await;
            echo_checked(&mut stream, seed, 256 << 10).await;
            stream
        });
    }
    let tunnels = opening.join_all().await;

    let open = server.connections().list();
    let sessions: Vec<_> = open.iter().filter(|c| c.parent().is_none()).collect();
    assert_eq!(
        sessions.len(),
        1,
        "one HTTP/2 connection: {:?}",
        listed(&open)
    );
    let session = sessions[0].id();
    let streams = open.iter().filter(|c| c.parent() == Some(session));
    assert!(
        streams
            .clone()
            .all(|c| c.meta().user.as_deref() == Some("demo"))
    );
    assert_eq!(streams.count(), 64, "each tunnel a child of the connection");

    // Closing the HTTP/2 connection fails every tunnel on it ...
    assert!(server.connections().close(session));
    for mut stream in tunnels {
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut rest))
            .await
            .expect("the tunnel ends with its connection");
        assert!(rest.is_empty());
    }
    assert!(raw::eventually(PATIENCE, || server.connections().is_empty()).await);

    // ... and the next tunnel opens a new one.
    let mut next = flows::connect(socks, echo).await;
    echo_checked(&mut next, 99, 1 << 20).await;
    let open = server.connections().list();
    assert_eq!(open.len(), 2, "{:?}", listed(&open));
    assert_ne!(open[0].id(), session);
    assert_eq!(open[1].parent(), Some(open[0].id()));
}
