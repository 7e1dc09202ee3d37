//! Byte-level interop over the HTTPUpgrade, HTTP/2 and gRPC transports with real peers, each
//! way, TCP and UDP, 4 MiB both directions with hashes: HTTPUpgrade, HTTP/2 and gRPC with
//! sing-box 1.14.4, HTTP/2 with v2ray 4.34.
//!
//! Needs `scripts/install-peers.sh`; without the peers these tests print SKIPPED, and under
//! `CI=true` they fail.

mod common;

use common::{
    Proxy, flows, peers, targets,
    tunnel::{self, Transport},
};
use std::net::SocketAddr;

/// Echo, 4 MiB each way and (when the peer carries it) UDP through the SOCKS5 port `socks`.
async fn traffic(socks: SocketAddr, udp: bool) {
    let echo = targets::echo_server().await;
    let bulk = targets::bulk_server().await;
    flows::echo(socks, echo, b"across implementations").await;
    flows::bulk_both_ways(socks, bulk, 4 << 20).await;
    if udp {
        flows::udp_echo(socks, targets::udp_echo_server().await).await;
    }
}

const SING_BOX_TRANSPORTS: [Transport; 3] =
    [Transport::HttpUpgrade, Transport::H2, Transport::Grpc];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_to_sing_box_servers() {
    let Some(sing_box) = peers::require("sing-box") else {
        return;
    };
    for transport in SING_BOX_TRANSPORTS {
        let server = peers::sing_box_transport_server(&sing_box, tunnel::ID, transport);
        let client = Proxy::start(&tunnel::transport_client_config(transport, server.addr));
        traffic(client.addr("socks"), true).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sing_box_clients_to_our_servers() {
    let Some(sing_box) = peers::require("sing-box") else {
        return;
    };
    for transport in SING_BOX_TRANSPORTS {
        let server = Proxy::start(&tunnel::transport_server_config(transport));
        // "" is plain VLESS UDP (cmd 2); "xudp" is sing-box's default.
        for packet_encoding in ["", "xudp"] {
            let client = peers::sing_box_transport_client(
                &sing_box,
                tunnel::ID,
                server.addr("server"),
                transport,
                packet_encoding,
            );
            traffic(client.addr, true).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_h2_client_to_a_v2ray_server() {
    let Some(v2ray) = peers::require("v2ray") else {
        return;
    };
    let server = peers::v2ray_h2_server(&v2ray, tunnel::ID);
    let client = Proxy::start(&tunnel::transport_client_config(Transport::H2, server.addr));
    traffic(client.addr("socks"), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v2ray_h2_client_to_our_server() {
    let Some(v2ray) = peers::require("v2ray") else {
        return;
    };
    let server = Proxy::start(&tunnel::transport_server_config(Transport::H2));
    let client = peers::v2ray_h2_client(&v2ray, tunnel::ID, server.addr("server"));
    traffic(client.addr, true).await;
}

/// README's server side of HTTPUpgrade, HTTP/2 and gRPC behind nginx, made runnable here:
/// ephemeral ports (on three loopback addresses, as two inbounds may not share one), and
/// private destinations allowed (the targets are on loopback).
fn readme_upstreams() -> String {
    let yaml = common::readme_block("yaml", "grpc: { service_name: grpc-service }")
        .replace("127.0.0.1:10001", "127.0.0.1:0")
        .replace("127.0.0.1:10002", "127.0.0.2:0")
        .replace("127.0.0.1:10003", "127.0.0.3:0")
        .replace("}] }", "}], allow_private: true }");
    format!("{yaml}outbounds:\n  free:\n    - direct\n")
}

/// Our client through nginx to `transport`'s README path.
fn client_through_nginx(layer: &str, nginx: SocketAddr) -> String {
    format!(
        "inbounds:\n  socks:\n    listen: 127.0.0.1:0\n    pipeline:\n      - socks5: {{ udp: true }}\n    outbound: tunnel\n\
         outbounds:\n  tunnel:\n\
         \x20   - vless: {{ id: {id} }}\n\
         \x20   - {layer}\n\
         \x20   - tls: {{ server_name: example.test, ca: {ca} }}\n\
         \x20   - tcp: {{ address: {nginx} }}\n",
        id = tunnel::ID,
        ca = common::cert("ca.pem"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transport_behind_nginx_as_the_readme_configures_it() {
    let Some(nginx) = peers::require("nginx") else {
        return;
    };
    let server = Proxy::start(&readme_upstreams());
    let upstreams = ["upgrade", "h2", "grpc"].map(|name| server.addr(name));
    let front = peers::nginx_transports_front(&nginx, upstreams);
    for layer in [
        "httpupgrade: { path: /upgrade-path }",
        "h2: { path: /h2-path, host: example.test }",
        "grpc: { service_name: grpc-service }",
    ] {
        let client = Proxy::start(&client_through_nginx(layer, front.addr));
        traffic(client.addr("socks"), true).await;
    }
}
