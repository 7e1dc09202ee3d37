//! Configs for our own VLESS/WS/TLS client and server, as users would write them.

use super::cert;
use std::net::SocketAddr;

/// The demo user id of `config.yaml.example`.
pub const ID: &str = "2ad043a0-b930-46f8-bd55-1fcefc93339a";

/// A VLESS/WS/TLS server on an ephemeral port; `vless_options` go inside the `vless` layer.
pub fn server_config(vless_options: &str) -> String {
    format!(
        "inbounds:\n  server:\n    listen: 127.0.0.1:0\n    pipeline:\n\
         \x20     - tls: {{ cert: {cert}, key: {key} }}\n\
         \x20     - websocket: {{ path: /xy }}\n\
         \x20     - vless: {vless_options}\n\
         \x20   outbound: free\noutbounds:\n  free:\n    - direct: {{ connect_timeout: 5s }}\n",
        cert = cert("server.pem"),
        key = cert("server.key"),
    )
}

/// The server's usual options: the demo user, private destinations allowed (tests run on loopback).
pub fn server_users() -> String {
    format!("{{ users: [{{ name: demo, id: {ID} }}], allow_private: true }}")
}

/// A SOCKS5 client on an ephemeral port tunnelling VLESS/WS/TLS to `server`, with `early_data`
/// bytes of header early data.
pub fn client_config(server: SocketAddr, early_data: usize) -> String {
    client_config_with(server, &format!("early_data: {early_data}"))
}

/// As [`client_config`], with `websocket_options` spliced into the `websocket` layer.
pub fn client_config_with(server: SocketAddr, websocket_options: &str) -> String {
    client_config_tls(server, websocket_options, "")
}

/// As [`client_config_with`], with `tls_options` (each followed by `, `) spliced into the
/// `tls` layer.
pub fn client_config_tls(server: SocketAddr, websocket_options: &str, tls_options: &str) -> String {
    format!(
        "inbounds:\n  socks:\n    listen: 127.0.0.1:0\n    pipeline:\n      - socks5: {{ udp: true }}\n    outbound: tunnel\n\
         outbounds:\n  tunnel:\n\
         \x20   - vless: {{ id: {ID} }}\n\
         \x20   - websocket: {{ path: /xy, host: example.test, {websocket_options} }}\n\
         \x20   - tls: {{ {tls_options}server_name: example.test, ca: {ca} }}\n\
         \x20   - tcp: {{ address: {server} }}\n",
        ca = cert("ca.pem"),
    )
}

/// The layers of an outbound tunnelling VLESS/WS/TLS to `server`, indented as list items of
/// an `outbounds` entry (for configs with several tunnels, such as a `balance` over them).
pub fn tunnel_outbound(server: SocketAddr) -> String {
    format!(
        "\x20   - vless: {{ id: {ID} }}\n\
         \x20   - websocket: {{ path: /xy, host: example.test, early_data: 2048 }}\n\
         \x20   - tls: {{ server_name: example.test, ca: {ca} }}\n\
         \x20   - tcp: {{ address: {server} }}\n",
        ca = cert("ca.pem"),
    )
}

/// A transport between VLESS and TLS, as the README configures each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `websocket` on `/xy`.
    WebSocket,
    /// `httpupgrade` on `/hu`.
    HttpUpgrade,
    /// `h2` on `/h2`.
    H2,
    /// `grpc` with the service name `gun`.
    Grpc,
}

impl Transport {
    /// Every transport.
    pub const ALL: [Transport; 4] = [
        Transport::WebSocket,
        Transport::HttpUpgrade,
        Transport::H2,
        Transport::Grpc,
    ];

    /// The inbound layer, as a pipeline entry.
    pub fn server_layer(self) -> &'static str {
        match self {
            Transport::WebSocket => "websocket: { path: /xy }",
            Transport::HttpUpgrade => "httpupgrade: { path: /hu }",
            Transport::H2 => "h2: { path: /h2 }",
            Transport::Grpc => "grpc: { service_name: gun }",
        }
    }

    /// The outbound layer, as a pipeline entry.
    pub fn client_layer(self) -> &'static str {
        match self {
            Transport::WebSocket => "websocket: { path: /xy, host: example.test }",
            Transport::HttpUpgrade => "httpupgrade: { path: /hu, host: example.test }",
            Transport::H2 => "h2: { path: /h2 }",
            Transport::Grpc => "grpc: { service_name: gun }",
        }
    }
}

/// A VLESS server over `transport` over TLS on an ephemeral port, with the demo user.
pub fn transport_server_config(transport: Transport) -> String {
    format!(
        "inbounds:\n  server:\n    listen: 127.0.0.1:0\n    pipeline:\n\
         \x20     - tls: {{ cert: {cert}, key: {key} }}\n\
         \x20     - {layer}\n\
         \x20     - vless: {users}\n\
         \x20   outbound: free\noutbounds:\n  free:\n    - direct: {{ connect_timeout: 5s }}\n",
        cert = cert("server.pem"),
        key = cert("server.key"),
        layer = transport.server_layer(),
        users = server_users(),
    )
}

/// A SOCKS5 client on an ephemeral port tunnelling VLESS over `transport` over TLS to `server`.
pub fn transport_client_config(transport: Transport, server: SocketAddr) -> String {
    format!(
        "inbounds:\n  socks:\n    listen: 127.0.0.1:0\n    pipeline:\n      - socks5: {{ udp: true }}\n    outbound: tunnel\n\
         outbounds:\n  tunnel:\n\
         \x20   - vless: {{ id: {ID} }}\n\
         \x20   - {layer}\n\
         \x20   - tls: {{ server_name: example.test, ca: {ca} }}\n\
         \x20   - tcp: {{ address: {server} }}\n",
        ca = cert("ca.pem"),
        layer = transport.client_layer(),
    )
}
