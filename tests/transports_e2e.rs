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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_links_of_each_transport_make_working_clients() {
    let echo = targets::echo_server().await;
    for (transport, kind) in [
        (Transport::WebSocket, "type=ws"),
        (Transport::HttpUpgrade, "type=httpupgrade"),
        (Transport::H2, "type=http"),
        (Transport::Grpc, "type=grpc&serviceName=gun"),
    ] {
        let yaml = tunnel::transport_server_config(transport);
        let server = Proxy::start(&yaml);
        let config = server.dir().join("config.yaml");
        let address = server.addr("server").to_string();
        let (code, links, err) = common::run_cli(&[
            "link",
            "-c",
            config.to_str().unwrap(),
            "--inbound",
            "server",
            "--address",
            &address,
        ]);
        assert_eq!(code, 0, "{err}");
        let link = links.trim();
        assert!(link.contains(kind), "{link}");
        let (code, pipeline, err) = common::run_cli(&["link", link]);
        assert_eq!(code, 0, "{err}");
        // The link names no CA; the test one signs the server's certificate.
        let pipeline = pipeline.replace(
            "      server_name: 127.0.0.1\n",
            &format!(
                "      server_name: 127.0.0.1\n      ca: {}\n",
                common::cert("ca.pem")
            ),
        );
        let outbound = pipeline
            .lines()
            .find_map(|line| line.strip_prefix("  ")?.strip_suffix(':'))
            .unwrap()
            .to_owned();
        let client = Proxy::start(&format!(
            "inbounds:\n  socks:\n    listen: 127.0.0.1:0\n    pipeline: [socks5]\n    outbound: {outbound}\n{pipeline}"
        ));
        flows::echo(client.addr("socks"), echo, kind.as_bytes()).await;
    }
}
