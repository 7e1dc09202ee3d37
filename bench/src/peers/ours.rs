//! xypro-stack's configs: VLESS/WebSocket/TLS server, SOCKS5 client with header early data.

use super::{Certs, ID, Transport};
use std::net::SocketAddr;

/// The server on 127.0.0.1:`port`, with a direct outbound that may reach loopback.
pub(super) fn server(port: u16, certs: &Certs) -> String {
    let Certs { cert, key, .. } = certs;
    format!(
        "log: warn\ninbounds:\n  server:\n    listen: 127.0.0.1:{port}\n    pipeline:\n\
         \x20     - tls: {{ cert: {cert}, key: {key} }}\n      - websocket: {{ path: /xy }}\n\
         \x20     - vless: {{ users: [{{ name: bench, id: {ID} }}], allow_private: true }}\n\
         \x20   outbound: free\noutbounds:\n  free: [direct]\n"
    )
}

/// The client: SOCKS5 on 127.0.0.1:`port`, tunnelling to `upstream` with up to 2048 bytes of
/// header early data, sent again as the first message when the server does not echo it and
/// `resend` is on, keeping `preconnect` TLS sessions ready (the key is left out when 0, so
/// builds from before `preconnect` can be measured too).
pub(super) fn client(
    port: u16,
    upstream: SocketAddr,
    certs: &Certs,
    resend: bool,
    preconnect: usize,
) -> String {
    let ca = &certs.ca;
    let preconnect = match preconnect {
        0 => String::new(),
        n => format!(", preconnect: {n}"),
    };
    format!(
        "log: warn\ninbounds:\n  socks:\n    listen: 127.0.0.1:{port}\n    pipeline: [socks5]\n    outbound: tunnel\n\
         outbounds:\n  tunnel:\n    - vless: {{ id: {ID} }}\n\
         \x20   - websocket: {{ path: /xy, host: example.test, early_data: 2048, early_data_resend: {resend} }}\n\
         \x20   - tls: {{ server_name: example.test, ca: {ca}{preconnect} }}\n    - tcp: {{ address: {upstream} }}\n"
    )
}

/// The server over `transport` instead of WebSocket.
pub(super) fn transport_server(port: u16, certs: &Certs, transport: Transport) -> String {
    let Certs { cert, key, .. } = certs;
    let layer = transport.our_server_layer();
    format!(
        "log: warn\ninbounds:\n  server:\n    listen: 127.0.0.1:{port}\n    pipeline:\n\
         \x20     - tls: {{ cert: {cert}, key: {key} }}\n      - {layer}\n\
         \x20     - vless: {{ users: [{{ name: bench, id: {ID} }}], allow_private: true }}\n\
         \x20   outbound: free\noutbounds:\n  free: [direct]\n"
    )
}

/// The client over `transport` instead of WebSocket.
pub(super) fn transport_client(
    port: u16,
    upstream: SocketAddr,
    certs: &Certs,
    transport: Transport,
) -> String {
    let ca = &certs.ca;
    let layer = transport.our_client_layer();
    format!(
        "log: warn\ninbounds:\n  socks:\n    listen: 127.0.0.1:{port}\n    pipeline: [socks5]\n    outbound: tunnel\n\
         outbounds:\n  tunnel:\n    - vless: {{ id: {ID} }}\n    - {layer}\n\
         \x20   - tls: {{ server_name: example.test, ca: {ca} }}\n    - tcp: {{ address: {upstream} }}\n"
    )
}
