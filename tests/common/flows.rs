//! Traffic through a SOCKS5 port, asserted end to end: echo, bulk hashes, UDP, banners.

use super::targets;
use std::{net::SocketAddr, time::Duration};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpStream, UdpSocket},
};
use xypro_stack::{
    core::Address,
    socks5::{Socks5Client, decode_udp, encode_udp},
};

/// Limit for any single exchange, so a broken tunnel fails the test instead of hanging it.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Opens a CONNECT through the SOCKS5 proxy at `socks`.
pub async fn connect(socks: SocketAddr, destination: impl Into<Address>) -> TcpStream {
    let mut stream = TcpStream::connect(socks).await.unwrap();
    Socks5Client::new()
        .connect(&mut stream, &destination.into())
        .await
        .unwrap();
    stream
}

/// Sends `message` to an echo server through the proxy and checks it comes back.
pub async fn echo(socks: SocketAddr, echo: SocketAddr, message: &[u8]) {
    let mut stream = connect(socks, echo).await;
    stream.write_all(message).await.unwrap();
    let mut back = vec![0u8; message.len()];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut back))
        .await
        .expect("echo in time")
        .unwrap();
    assert_eq!(back, message);
}

/// Downloads and uploads `size` bytes through the proxy to a bulk server, comparing SHA-256.
pub async fn bulk_both_ways(socks: SocketAddr, bulk: SocketAddr, size: usize) {
    let mut down = connect(socks, bulk).await;
    down.write_u64(size as u64).await.unwrap();
    let mut received = Vec::with_capacity(size);
    tokio::time::timeout(PATIENCE, down.read_to_end(&mut received))
        .await
        .expect("download in time")
        .unwrap();
    assert_eq!(received.len(), size, "download length");
    assert_eq!(
        targets::sha256_hex(&received),
        targets::sha256_hex(&targets::pattern(size as u64, size))
    );

    let mut up = connect(socks, bulk).await;
    let data = targets::pattern(99, size);
    up.write_u64(targets::UPLOAD | size as u64).await.unwrap();
    up.write_all(&data).await.unwrap();
    let mut digest = String::new();
    tokio::time::timeout(PATIENCE, up.read_to_string(&mut digest))
        .await
        .expect("upload digest in time")
        .unwrap();
    assert_eq!(digest, targets::sha256_hex(&data), "upload hash");
}

/// Reads a server-first banner through the proxy without sending anything first.
pub async fn banner_first(socks: SocketAddr, server: SocketAddr, banner: &[u8]) {
    let mut stream = connect(socks, server).await;
    let mut got = vec![0u8; banner.len()];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut got))
        .await
        .expect("banner in time")
        .unwrap();
    assert_eq!(got, banner);
}

/// Sends datagrams through a SOCKS5 UDP association to a UDP echo server and checks replies.
pub async fn udp_echo(socks: SocketAddr, echo: SocketAddr) {
    let mut control = TcpStream::connect(socks).await.unwrap();
    let relay = Socks5Client::new()
        .udp_associate(&mut control, &"0.0.0.0:0".parse().unwrap())
        .await
        .unwrap();
    let relay = match relay {
        Address::Ip(addr) if addr.ip().is_unspecified() => SocketAddr::new(socks.ip(), addr.port()),
        Address::Ip(addr) => addr,
        other => panic!("relay address {other}"),
    };
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let destination = Address::Ip(echo);
    for payload in [&b"datagram one"[..], &[7u8; 1200][..], b"three"] {
        let mut reply = None;
        // UDP may drop the first datagrams while the tunnel opens: resend a few times.
        for _ in 0..5 {
            socket
                .send_to(&encode_udp(&destination, payload), relay)
                .await
                .unwrap();
            let mut buf = vec![0u8; 4096];
            if let Ok(Ok((n, _))) =
                tokio::time::timeout(Duration::from_secs(2), socket.recv_from(&mut buf)).await
            {
                buf.truncate(n);
                reply = Some(buf);
                break;
            }
        }
        let reply = reply.expect("a UDP reply through the tunnel");
        let (from, data) = decode_udp(&reply).unwrap();
        assert_eq!(data, payload);
        assert_eq!(from, destination);
    }
    drop(control);
}

/// A UDP association on `socks`: the control connection, the relay address, a bound socket.
pub async fn associate(socks: SocketAddr) -> (TcpStream, SocketAddr, UdpSocket) {
    let mut control = TcpStream::connect(socks).await.unwrap();
    let relay = Socks5Client::new()
        .udp_associate(&mut control, &"0.0.0.0:0".parse().unwrap())
        .await
        .unwrap();
    let Address::Ip(relay) = relay else {
        panic!("relay address {relay}")
    };
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    (control, relay, socket)
}
