//! The transports other than WebSocket that both xypro-stack and sing-box speak.

/// A VLESS transport measured in the per-transport table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// HTTPUpgrade on `/hu`: a `101` and then raw bytes.
    HttpUpgrade,
    /// One HTTP/2 stream per tunnel on `/h2` (sing-box's `http` transport).
    H2,
    /// gRPC "gun" with the service name `gun`.
    Grpc,
}

impl Transport {
    /// Every transport, in report order.
    pub(crate) const ALL: [Transport; 3] = [Transport::HttpUpgrade, Transport::H2, Transport::Grpc];

    /// The name in the report.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Transport::HttpUpgrade => "HTTPUpgrade",
            Transport::H2 => "HTTP/2",
            Transport::Grpc => "gRPC",
        }
    }

    /// Our server's pipeline entry.
    pub(super) fn our_server_layer(self) -> &'static str {
        match self {
            Transport::HttpUpgrade => "httpupgrade: { path: /hu }",
            Transport::H2 => "h2: { path: /h2 }",
            Transport::Grpc => "grpc: { service_name: gun }",
        }
    }

    /// Our client's pipeline entry.
    pub(super) fn our_client_layer(self) -> &'static str {
        match self {
            Transport::HttpUpgrade => "httpupgrade: { path: /hu, host: example.test }",
            Transport::H2 => "h2: { path: /h2, host: example.test }",
            Transport::Grpc => "grpc: { service_name: gun }",
        }
    }

    /// sing-box's `transport` object.
    pub(super) fn sing_box(self) -> &'static str {
        match self {
            Transport::HttpUpgrade => {
                r#"{"type":"httpupgrade","path":"/hu","host":"example.test"}"#
            }
            Transport::H2 => r#"{"type":"http","path":"/h2","host":["example.test"]}"#,
            Transport::Grpc => r#"{"type":"grpc","service_name":"gun"}"#,
        }
    }

    /// The ALPN protocol TLS negotiates under it.
    pub(super) fn alpn(self) -> &'static str {
        match self {
            Transport::HttpUpgrade => "http/1.1",
            Transport::H2 | Transport::Grpc => "h2",
        }
    }
}
