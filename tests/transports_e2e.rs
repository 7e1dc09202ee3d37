//! Our client and our server over each transport (WebSocket, HTTPUpgrade, HTTP/2, gRPC), both
//! through the real binary: TCP echo, 4 MiB each way with hashes, UDP.

mod common;

use common::{
    Proxy, flows, targets,
    tunnel::{self, Transport},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transport_carries_tcp_bulk_and_udp() {
    let echo = targets::echo_server().await;
    let bulk = targets::bulk_server().await;
    let udp = targets::udp_echo_server().await;
    for transport in Transport::ALL {
        let server = Proxy::start(&tunnel::transport_server_config(transport));
        let client = Proxy::start(&tunnel::transport_client_config(
            transport,
            server.addr("server"),
        ));
        let socks = client.addr("socks");
        flows::echo(socks, echo, format!("over {transport:?}").as_bytes()).await;
        flows::bulk_both_ways(socks, bulk, 4 << 20).await;
        flows::udp_echo(socks, udp).await;
    }
}
