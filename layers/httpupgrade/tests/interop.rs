//! Our HTTPUpgrade transport against sing-box 1.14.4 on loopback: our client (VLESS over it,
//! over TLS) through a sing-box server, waiting for the 101 and in early mode, and a sing-box
//! client against our `accept`. Skipped with a message when sing-box is missing, failed under
//! `CI=true`.

mod common;

use common::{
    ID, Peer, cert, check_echo, echo_destination, free_port, require, socks5_connect, tls_acceptor,
    tls_client, vless_echo,
};
use std::{net::SocketAddr, path::Path};
use tokio::net::TcpListener;
use tower::{Layer, Service, ServiceExt};
use xypro_core::{Address, Target};
use xypro_httpupgrade::{
    ClientOptions, HttpUpgradeConnector, HttpUpgradeError, HttpUpgradeLayer, ServerOptions, accept,
};
use xypro_tcp::TcpConnector;
use xypro_tls::{TlsClientLayer, TlsConnector};
use xypro_vless::{ClientSettings, VlessConnector, VlessLayer, proto::parse_user_id};

/// sing-box as a VLESS server over HTTPUpgrade (path `/hu`, host `hu.example`) over TLS.
fn sing_box_server(binary: &Path) -> Peer {
    let port = free_port();
    let config = format!(
        r#"{{"log":{{"level":"warn"}},
  "inbounds":[{{"type":"vless","listen":"127.0.0.1","listen_port":{port},"users":[{{"uuid":"{ID}"}}],
    "tls":{{"enabled":true,"certificate_path":"{cert}","key_path":"{key}"}},
    "transport":{{"type":"httpupgrade","path":"/hu","host":"hu.example"}}}}],
  "outbounds":[{{"type":"direct"}}]}}"#,
        cert = cert("server.pem"),
        key = cert("server.key"),
    );
    Peer::start(binary, &["run", "-c"], &config, port)
}

/// sing-box as a SOCKS5 client whose outbound is VLESS over HTTPUpgrade over TLS to `server`.
fn sing_box_client(binary: &Path, server: SocketAddr) -> Peer {
    let port = free_port();
    let config = format!(
        r#"{{"log":{{"level":"warn"}},
  "inbounds":[{{"type":"socks","listen":"127.0.0.1","listen_port":{port}}}],
  "outbounds":[{{"type":"vless","server":"127.0.0.1","server_port":{sport},"uuid":"{ID}",
    "tls":{{"enabled":true,"server_name":"example.test","certificate_path":"{ca}"}},
    "transport":{{"type":"httpupgrade","path":"/hu","host":"hu.example","headers":{{"X-Test":"a"}}}}}}]}}"#,
        sport = server.port(),
        ca = cert("ca.pem"),
    );
    Peer::start(binary, &["run", "-c"], &config, port)
}

type Client = VlessConnector<HttpUpgradeConnector<TlsConnector<TcpConnector>>>;

/// VLESS over our HTTPUpgrade client (`options`, Host `hu.example`) over TLS to `server`.
fn our_client(server: SocketAddr, mut options: ClientOptions) -> Client {
    options.host = Some("hu.example".into());
    let settings = options.validate(None).unwrap();
    let tls = TlsClientLayer::new(tls_client("http/1.1")).layer(TcpConnector::new(server.into()));
    let upgrade = HttpUpgradeLayer::new(settings).layer(tls);
    VlessLayer::new(ClientSettings::new(parse_user_id(ID).unwrap())).layer(upgrade)
}

/// Four tunnels at once through `client` to an echo destination, 1 MiB each.
async fn four_echoes(client: Client) {
    let destination = echo_destination().await;
    let mut tunnels = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let mut client = client.clone();
        tunnels.spawn(async move {
            let target = Target::tcp(Address::from(destination));
            let stream = client.ready().await.unwrap().call(target).await.unwrap();
            check_echo(stream, 1 << 20).await;
        });
    }
    tunnels.join_all().await;
}

#[tokio::test]
async fn our_client_through_sing_box() {
    let Some(binary) = require("sing-box") else {
        return;
    };
    let server = sing_box_server(&binary);
    four_echoes(our_client(server.addr, ClientOptions::new("/hu"))).await;
}

#[tokio::test]
async fn our_early_client_through_sing_box() {
    let Some(binary) = require("sing-box") else {
        return;
    };
    let server = sing_box_server(&binary);
    four_echoes(our_client(server.addr, ClientOptions::new("/hu?ed=2048"))).await;
}

#[tokio::test]
async fn sing_box_refuses_a_wrong_path_with_404() {
    let Some(binary) = require("sing-box") else {
        return;
    };
    let server = sing_box_server(&binary);
    let settings = ClientOptions::new("/other")
        .validate(Some("hu.example"))
        .unwrap();
    let tls =
        TlsClientLayer::new(tls_client("http/1.1")).layer(TcpConnector::new(server.addr.into()));
    let target = Target::tcp("example.com:80".parse::<Address>().unwrap());
    let err = HttpUpgradeLayer::new(settings)
        .layer(tls)
        .oneshot(target)
        .await
        .unwrap_err();
    let err = err.downcast::<HttpUpgradeError>().unwrap();
    assert!(
        matches!(*err, HttpUpgradeError::Status { status: 404 }),
        "{err}"
    );
}

#[tokio::test]
async fn sing_box_client_to_our_accept() {
    let Some(binary) = require("sing-box") else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tls_acceptor("http/1.1");
    let mut options = ServerOptions::new("/hu");
    options.host = Some("hu.example".into());
    let settings = options.validate().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, settings) = (acceptor.clone(), settings.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                match accept(tls, &settings).await {
                    Ok(tunnel) => vless_echo(tunnel).await,
                    Err(refused) => panic!("sing-box's request was refused: {refused:?}"),
                }
            });
        }
    });
    let client = sing_box_client(&binary, addr);
    let mut tunnels = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let proxy = client.addr;
        tunnels.spawn(async move {
            let destination: SocketAddr = "127.0.0.1:9".parse().unwrap();
            check_echo(socks5_connect(proxy, destination).await, 1 << 20).await;
        });
    }
    tunnels.join_all().await;
}
