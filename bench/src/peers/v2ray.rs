//! v2ray 4.34's configs: VLESS/WebSocket/TLS server, SOCKS5 client (4.34 has no early data).

use super::{Certs, ID};
use std::net::SocketAddr;

/// The server on 127.0.0.1:`port`, with a freedom outbound.
pub(super) fn server(port: u16, certs: &Certs) -> String {
    let Certs { cert, key, .. } = certs;
    format!(
        r#"{{"log":{{"loglevel":"none"}},"inbounds":[{{"listen":"127.0.0.1","port":{port},"protocol":"vless",
"settings":{{"clients":[{{"id":"{ID}"}}],"decryption":"none"}},"streamSettings":{{"network":"ws","security":"tls",
"tlsSettings":{{"certificates":[{{"certificateFile":"{cert}","keyFile":"{key}"}}]}},"wsSettings":{{"path":"/xy"}}}}}}],
"outbounds":[{{"protocol":"freedom"}}]}}"#
    )
}

/// The client: SOCKS5 on 127.0.0.1:`port`, tunnelling to `upstream`.
pub(super) fn client(port: u16, upstream: SocketAddr, certs: &Certs) -> String {
    let (ca, sport) = (&certs.ca, upstream.port());
    format!(
        r#"{{"log":{{"loglevel":"none"}},"inbounds":[{{"listen":"127.0.0.1","port":{port},"protocol":"socks","settings":{{"udp":false}}}}],
"outbounds":[{{"protocol":"vless","settings":{{"vnext":[{{"address":"127.0.0.1","port":{sport},"users":[{{"id":"{ID}","encryption":"none"}}]}}]}},
"streamSettings":{{"network":"ws","security":"tls","tlsSettings":{{"serverName":"example.test","certificates":[{{"usage":"verify","certificateFile":"{ca}"}}]}},
"wsSettings":{{"path":"/xy","headers":{{"Host":"example.test"}}}}}}}}]}}"#
    )
}
