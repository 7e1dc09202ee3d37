//! Errors of TLS handshakes and of loading TLS settings.

use std::{io, net::SocketAddr, path::PathBuf, time::Duration};

/// A TLS handshake that failed, on the client or the server side.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The client handshake with a server failed (certificate, protocol or I/O error).
    #[error("TLS handshake with {server_name} failed")]
    Handshake {
        /// The server name that was verified.
        server_name: String,
        /// What rustls or the stream reported.
        #[source]
        source: io::Error,
    },
    /// The server handshake with a client failed.
    #[error("TLS handshake with client {peer} failed")]
    Accept {
        /// The client's address.
        peer: SocketAddr,
        /// What rustls or the stream reported.
        #[source]
        source: io::Error,
    },
    /// The server did not finish the client handshake before the deadline.
    #[error("TLS handshake with {server_name} not finished within {after:?}")]
    HandshakeTimeout {
        /// The server name that was to be verified.
        server_name: String,
        /// The deadline that passed.
        after: Duration,
        /// What makes the failure a timeout (a SOCKS5 client gets reply `06`).
        #[source]
        source: tokio::time::error::Elapsed,
    },
    /// The client did not finish the server handshake before the deadline.
    #[error("TLS handshake with client {peer} not finished within {after:?}")]
    AcceptTimeout {
        /// The client's address.
        peer: SocketAddr,
        /// The deadline that passed.
        after: Duration,
    },
}

impl TlsError {
    /// The rustls error behind a failed handshake, if the failure came from TLS itself.
    pub fn rustls_error(&self) -> Option<&rustls::Error> {
        match self {
            TlsError::Handshake { source, .. } | TlsError::Accept { source, .. } => {
                source.get_ref()?.downcast_ref()
            }
            TlsError::AcceptTimeout { .. } | TlsError::HandshakeTimeout { .. } => None,
        }
    }
}

/// A certificate, key or CA file that cannot be turned into a working configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A certificate, key or CA file could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O or PEM decoding error.
        #[source]
        source: io::Error,
    },
    /// A certificate or CA file holds no `CERTIFICATE` block.
    #[error("no certificate found in {}", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// A key file holds no PKCS#8, PKCS#1 or SEC1 private key.
    #[error("no private key found in {}", path.display())]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// A CA certificate that rustls cannot use as a trust anchor.
    #[error("invalid CA certificate in {}", path.display())]
    Ca {
        /// The CA file.
        path: PathBuf,
        /// Why rustls refused it.
        #[source]
        source: rustls::Error,
    },
    /// A certificate chain and key that rustls refuses (unsupported key, or a mismatch).
    #[error("cannot use certificate {} with key {}", cert.display(), key.display())]
    CertifiedKey {
        /// The certificate chain file.
        cert: PathBuf,
        /// The private key file.
        key: PathBuf,
        /// Why rustls refused them.
        #[source]
        source: rustls::Error,
    },
    /// rustls refused to build a configuration from the aws-lc-rs provider.
    #[error("cannot set up rustls")]
    Rustls(#[source] rustls::Error),
}
