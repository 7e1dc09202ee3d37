//! Sanity check of the interop harness: v2ray client to v2ray server, sing-box to sing-box.

mod common;

use common::{peers, targets};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use xypro_stack::socks5::Socks5Client;

const ID: &str = "2ad043a0-b930-46f8-bd55-1fcefc93339a";

async fn echo_through(socks: std::net::SocketAddr) {
    let echo = targets::echo_server().await;
    let mut stream = tokio::net::TcpStream::connect(socks).await.unwrap();
    Socks5Client::new()
        .connect(&mut stream, &echo.into())
        .await
        .unwrap();
    stream.write_all(b"ping").await.unwrap();
    let mut back = [0u8; 4];
    stream.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"ping");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2ray_to_v2ray() {
    let Some(v2ray) = peers::require("v2ray") else {
        return;
    };
    let server = peers::v2ray_server(&v2ray, ID);
    let client = peers::v2ray_client(&v2ray, ID, server.addr);
    echo_through(client.addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sing_box_to_sing_box() {
    let Some(sing_box) = peers::require("sing-box") else {
        return;
    };
    let server = peers::sing_box_server(&sing_box, ID);
    let client = peers::sing_box_client(&sing_box, ID, server.addr, "");
    echo_through(client.addr).await;
}
