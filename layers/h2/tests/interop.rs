//! Our h2 and gRPC transports against real peers on loopback: our clients (VLESS over them,
//! over TLS with ALPN h2) through sing-box 1.14.4 and v2ray 4.34 servers, and sing-box and
//! v2ray clients against our server drivers. Skipped with a message when a peer is missing,
//! failed under `CI=true`.

mod common;

use common::peers::{
    ID, Peer, cert, check_echo, echo_destination, free_port, require, socks5_connect, tls_acceptor,
    tls_client, vless_echo,
};
use std::{net::SocketAddr, path::Path};
use tokio::net::TcpListener;
use tower::{Layer, Service, ServiceExt};
use xypro_core::{Address, Target};
use xypro_h2::{H2Connector, H2Layer, grpc};
use xypro_tcp::TcpConnector;
use xypro_tls::{TlsClientLayer, TlsConnector};
use xypro_vless::{ClientSettings, VlessConnector, VlessLayer, proto::parse_user_id};

/// Which of our transports a test runs.
#[derive(Clone, Copy)]
enum Transport {
    H2,
    Grpc,
}

/// VLESS over our `transport` over TLS (ALPN h2) to `server`.
fn our_client(
    transport: Transport,
    server: SocketAddr,
) -> VlessConnector<H2Connector<TlsConnector<TcpConnector>>> {
    let tls = TlsClientLayer::new(tls_client("h2")).layer(TcpConnector::new(server.into()));
    let h2 = match transport {
        Transport::H2 => {
            H2Layer::new(xypro_h2::ClientOptions::new("/h2").validate().unwrap()).layer(tls)
        }
        Transport::Grpc => {
            let settings = grpc::ClientOptions::new("gun")
                .validate(Some(&format!("example.test:{}", server.port())))
                .unwrap();
            grpc::GrpcLayer::new(settings).layer(tls)
        }
    };
    VlessLayer::new(ClientSettings::new(parse_user_id(ID).unwrap())).layer(h2)
}

/// The sing-box `transport` object for `transport`.
fn sing_box_transport(transport: Transport) -> &'static str {
    match transport {
        Transport::H2 => r#"{"type":"http","path":"/h2"}"#,
        Transport::Grpc => r#"{"type":"grpc","service_name":"gun"}"#,
    }
}

/// sing-box as a VLESS server over `transport` over TLS (ALPN h2), dialling freely.
fn sing_box_server(binary: &Path, transport: Transport) -> Peer {
    let port = free_port();
    let config = format!(
        r#"{{"log":{{"level":"warn"}},
  "inbounds":[{{"type":"vless","listen":"127.0.0.1","listen_port":{port},"users":[{{"uuid":"{ID}"}}],
    "tls":{{"enabled":true,"certificate_path":"{cert}","key_path":"{key}","alpn":["h2"]}},
    "transport":{transport}}}],
  "outbounds":[{{"type":"direct"}}]}}"#,
        cert = cert("server.pem"),
        key = cert("server.key"),
        transport = sing_box_transport(transport),
    );
    Peer::start(binary, &["run", "-c"], &config, port)
}

/// sing-box as a SOCKS5 client whose outbound is VLESS over `transport` over TLS to `server`.
fn sing_box_client(binary: &Path, transport: Transport, server: SocketAddr) -> Peer {
    let port = free_port();
    let config = format!(
        r#"{{"log":{{"level":"warn"}},
  "inbounds":[{{"type":"socks","listen":"127.0.0.1","listen_port":{port}}}],
  "outbounds":[{{"type":"vless","server":"127.0.0.1","server_port":{sport},"uuid":"{ID}",
    "tls":{{"enabled":true,"server_name":"example.test","certificate_path":"{ca}","alpn":["h2"]}},
    "transport":{transport}}}]}}"#,
        sport = server.port(),
        ca = cert("ca.pem"),
        transport = sing_box_transport(transport),
    );
    Peer::start(binary, &["run", "-c"], &config, port)
}

/// v2ray 4.34 as a VLESS server over h2 (path `/h2`, no host: it then requires
/// `www.example.com`, our default) over TLS.
fn v2ray_server(binary: &Path) -> Peer {
    let port = free_port();
    let config = format!(
        r#"{{"log":{{"loglevel":"warning"}},
  "inbounds":[{{"listen":"127.0.0.1","port":{port},"protocol":"vless",
    "settings":{{"clients":[{{"id":"{ID}"}}],"decryption":"none"}},
    "streamSettings":{{"network":"h2","security":"tls",
      "tlsSettings":{{"certificates":[{{"certificateFile":"{cert}","keyFile":"{key}"}}]}},
      "httpSettings":{{"path":"/h2"}}}}}}],
  "outbounds":[{{"protocol":"freedom"}}]}}"#,
        cert = cert("server.pem"),
        key = cert("server.key"),
    );
    Peer::start(binary, &["-config"], &config, port)
}

/// v2ray 4.34 as a SOCKS5 client whose outbound is VLESS over h2 over TLS to `server`.
fn v2ray_client(binary: &Path, server: SocketAddr) -> Peer {
    let port = free_port();
    let config = format!(
        r#"{{"log":{{"loglevel":"warning"}},
  "inbounds":[{{"listen":"127.0.0.1","port":{port},"protocol":"socks","settings":{{"ip":"127.0.0.1"}}}}],
  "outbounds":[{{"protocol":"vless",
    "settings":{{"vnext":[{{"address":"127.0.0.1","port":{sport},"users":[{{"id":"{ID}","encryption":"none"}}]}}]}},
    "streamSettings":{{"network":"h2","security":"tls",
      "tlsSettings":{{"serverName":"example.test","certificates":[{{"usage":"verify","certificateFile":"{ca}"}}]}},
      "httpSettings":{{"path":"/h2"}}}}}}]}}"#,
        sport = server.port(),
        ca = cert("ca.pem"),
    );
    Peer::start(binary, &["-config"], &config, port)
}

/// Runs eight tunnels at once through `client` to an echo destination, 1 MiB each.
async fn eight_echoes<C>(client: C)
where
    C: Service<Target, Error = xypro_core::BoxError> + Clone + Send + 'static,
    C::Response: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    C::Future: Send,
{
    let destination = echo_destination().await;
    let mut tunnels = tokio::task::JoinSet::new();
    for _ in 0..8 {
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
async fn our_h2_client_through_sing_box() {
    let Some(binary) = require("sing-box") else {
        return;
    };
    let server = sing_box_server(&binary, Transport::H2);
    let client = our_client(Transport::H2, server.addr);
    eight_echoes(client.clone()).await;
    assert_eq!(
        client.get_ref().connections(),
        1,
        "eight tunnels, one connection"
    );
}

#[tokio::test]
async fn our_grpc_client_through_sing_box() {
    let Some(binary) = require("sing-box") else {
        return;
    };
    let server = sing_box_server(&binary, Transport::Grpc);
    let client = our_client(Transport::Grpc, server.addr);
    eight_echoes(client.clone()).await;
    assert_eq!(
        client.get_ref().connections(),
        1,
        "eight tunnels, one connection"
    );
}

#[tokio::test]
async fn our_h2_client_through_v2ray() {
    let Some(binary) = require("v2ray") else {
        return;
    };
    let server = v2ray_server(&binary);
    let client = our_client(Transport::H2, server.addr);
    eight_echoes(client.clone()).await;
    assert_eq!(
        client.get_ref().connections(),
        1,
        "eight tunnels, one connection"
    );
}

/// Our server driver for `transport` over TLS (ALPN h2) on 127.0.0.1:0, a VLESS echo behind it.
async fn our_server(transport: Transport) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tls_acceptor("h2");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let on_stream = |_parts, stream| {
                    tokio::spawn(vless_echo(stream));
                };
                let _ = match transport {
                    Transport::H2 => {
                        let settings = xypro_h2::ServerOptions::new("/h2").validate().unwrap();
                        xypro_h2::serve(tls, &settings, on_stream).await
                    }
                    Transport::Grpc => {
                        let settings = grpc::ServerOptions::new("gun").validate().unwrap();
                        grpc::serve(tls, &settings, on_stream).await
                    }
                };
            });
        }
    });
    addr
}

/// Four SOCKS5 tunnels at once through `proxy`, 1 MiB each, echoed by our server's VLESS echo.
async fn four_echoes_via_socks(proxy: SocketAddr) {
    let mut tunnels = tokio::task::JoinSet::new();
    for _ in 0..4 {
        tunnels.spawn(async move {
            let destination: SocketAddr = "127.0.0.1:9".parse().unwrap();
            check_echo(socks5_connect(proxy, destination).await, 1 << 20).await;
        });
    }
    tunnels.join_all().await;
}

#[tokio::test]
async fn sing_box_h2_client_to_our_server() {
    let Some(binary) = require("sing-box") else {
        return;
    };
    let server = our_server(Transport::H2).await;
    let client = sing_box_client(&binary, Transport::H2, server);
    four_echoes_via_socks(client.addr).await;
}

#[tokio::test]
async fn sing_box_grpc_client_to_our_server() {
    let Some(binary) = require("sing-box") else {
        return;
    };
    let server = our_server(Transport::Grpc).await;
    let client = sing_box_client(&binary, Transport::Grpc, server);
    four_echoes_via_socks(client.addr).await;
}

#[tokio::test]
async fn v2ray_h2_client_to_our_server() {
    let Some(binary) = require("v2ray") else {
        return;
    };
    let server = our_server(Transport::H2).await;
    let client = v2ray_client(&binary, server);
    four_echoes_via_socks(client.addr).await;
}
