//! Errors of HTTP/2 tunnels and of validating the `h2` and `grpc` options.

use std::{io, time::Duration};

/// An HTTP/2 tunnel that failed to open or to serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum H2Error {
    /// The HTTP/2 connection or stream failed.
    #[error("HTTP/2 error")]
    H2(#[from] h2::Error),
    /// The inner connector failed to dial a new connection.
    #[error("cannot dial a new HTTP/2 connection")]
    Dial(#[source] xypro_core::BoxError),
    /// The server answered the tunnel's request with a status other than 200.
    #[error("HTTP/2 server answered {status} instead of 200")]
    Status {
        /// The status code.
        status: u16,
    },
    /// The gRPC server ended the call with a non-zero `grpc-status`.
    #[error("gRPC server answered grpc-status {status}")]
    GrpcStatus {
        /// The status code (12 is "unimplemented": a wrong service name).
        status: String,
    },
    /// The client sent no connection preface before the deadline.
    #[error("HTTP/2 handshake not finished within {after:?}")]
    Timeout {
        /// The deadline that passed.
        after: Duration,
    },
    /// The peer's gun framing is malformed.
    #[error("malformed gRPC stream")]
    Gun(#[from] crate::proto::gun::GunError),
}

impl From<H2Error> for io::Error {
    fn from(err: H2Error) -> io::Error {
        let kind = match &err {
            H2Error::H2(e) if e.is_io() => return h2_to_io(e),
            H2Error::Status { .. } | H2Error::GrpcStatus { .. } => io::ErrorKind::ConnectionRefused,
            H2Error::Gun(_) => io::ErrorKind::InvalidData,
            H2Error::Timeout { .. } => io::ErrorKind::TimedOut,
            _ => io::ErrorKind::BrokenPipe,
        };
        io::Error::new(kind, err)
    }
}

/// The I/O error inside an h2 error, keeping its kind.
fn h2_to_io(err: &h2::Error) -> io::Error {
    let io = err.get_io().expect("checked by is_io");
    io::Error::new(io.kind(), io.to_string())
}

/// An `h2` or `grpc` option that cannot be turned into working settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `path` (or the path a `service_name` makes) is not a valid absolute path.
    #[error("path `{0}` must start with `/` and be visible ASCII")]
    Path(String),
    /// `service_name` is empty or not usable in a path.
    #[error("service_name `{0}` must be non-empty visible ASCII without spaces, `?` or `#`")]
    ServiceName(String),
    /// `host` or `authority` is not a valid `:authority`.
    #[error("host `{0}` is not a valid HTTP/2 authority")]
    Host(String),
    /// `method` is not a valid HTTP method.
    #[error("method `{0}` is not a valid HTTP method")]
    Method(String),
    /// `max_streams` is zero.
    #[error("max_streams must be greater than zero")]
    ZeroStreams,
    /// The gRPC client has no authority: neither `authority` nor a default from below.
    #[error(
        "authority is required (set `authority`, or put a TLS server_name or tcp address below)"
    )]
    MissingAuthority,
    /// `handshake_timeout` is zero.
    #[error("handshake_timeout must be greater than zero")]
    ZeroTimeout,
}

impl ConfigError {
    /// The option the error is about.
    pub fn key(&self) -> Option<&'static str> {
        Some(match self {
            ConfigError::Path(_) => "path",
            ConfigError::ServiceName(_) => "service_name",
            ConfigError::Host(_) => "host",
            ConfigError::Method(_) => "method",
            ConfigError::ZeroStreams => "max_streams",
            ConfigError::ZeroTimeout => "handshake_timeout",
            ConfigError::MissingAuthority => return None,
        })
    }
}

impl From<ConfigError> for xypro_core::InvalidOptions {
    fn from(error: ConfigError) -> Self {
        xypro_core::InvalidOptions::keyed(error.key(), error.to_string())
    }
}
