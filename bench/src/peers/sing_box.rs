//! sing-box 1.14.4's configs: VLESS/WebSocket/TLS server and SOCKS5 client, both with up to
//! 2048 bytes of early data in `Sec-WebSocket-Protocol`.

use super::{Certs, ID, Transport};
use std::net::SocketAddr;

/// The WebSocket transport both sides use.
const TRANSPORT: &str = r#""type":"ws","path":"/xy","max_early_data":2048,"early_data_header_name":"Sec-WebSocket-Protocol""#;

/// The server on 127.0.0.1:`port`, with a direct outbound.
pub(super) fn server(port: u16, certs: &Certs) -> String {
    let Certs { cert, key, .. } = certs;
    format!(
        r#"{{"log":{{"level":"error"}},
"inbounds":[{{"type":"vless","listen":"127.0.0.1","listen_port":{port},"users":[{{"uuid":"{ID}"}}],
"tls":{{"enabled":true,"certificate_path":"{cert}","key_path":"{key}"}},"transport":{{{TRANSPORT}}}}}],
"outbounds":[{{"type":"direct"}}]}}"#
    )
}

/// The client: SOCKS5 on 127.0.0.1:`port`, tunnelling to `upstream`.
pub(super) fn client(port: u16, upstream: SocketAddr, certs: &Certs) -> String {
    let (ca, sport) = (&certs.ca, upstream.port());
    format!(
        r#"{{"log":{{"level":"error"}},
"inbounds":[{{"type":"socks","listen":"127.0.0.1","listen_port":{port}}}],
"outbounds":[{{"type":"vless","server":"127.0.0.1","server_port":{sport},"uuid":"{ID}",
"tls":{{"enabled":true,"server_name":"example.test","certificate_path":"{ca}","alpn":["http/1.1"]}},
"transport":{{{TRANSPORT},"headers":{{"Host":"example.test"}}}}}}]}}"#
    )
}

/// The server over `transport` instead of WebSocket.
pub(super) fn transport_server(port: u16, certs: &Certs, transport: Transport) -> String {
    let Certs { cert, key, .. } = certs;
    let (alpn, transport) = (transport.alpn(), transport.sing_box());
    format!(
        r#"{{"log":{{"level":"error"}},
"inbounds":[{{"type":"vless","listen":"127.0.0.1","listen_port":{port},"users":[{{"uuid":"{ID}"}}],
"tls":{{"enabled":true,"certificate_path":"{cert}","key_path":"{key}","alpn":["{alpn}"]}},"transport":{transport}}}],
"outbounds":[{{"type":"direct"}}]}}"#
    )
}

/// The client over `transport` instead of WebSocket.
pub(super) fn transport_client(
    port: u16,
    upstream: SocketAddr,
    certs: &Certs,
    transport: Transport,
) -> String {
    let (ca, sport) = (&certs.ca, upstream.port());
    let (alpn, transport) = (transport.alpn(), transport.sing_box());
    format!(
        r#"{{"log":{{"level":"error"}},
"inbounds":[{{"type":"socks","listen":"127.0.0.1","listen_port":{port}}}],
"outbounds":[{{"type":"vless","server":"127.0.0.1","server_port":{sport},"uuid":"{ID}",
"tls":{{"enabled":true,"server_name":"example.test","certificate_path":"{ca}","alpn":["{alpn}"]}},
"transport":{transport}}}]}}"#
    )
}
