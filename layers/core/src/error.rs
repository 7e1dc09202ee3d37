//! Errors shared by layers, and their classification into proxy reply codes.

use std::{error::Error, io};

/// A type-erased error, used at generic service boundaries.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// Renders an error and its sources as `outer: inner: root`, skipping repeats.
pub fn error_chain(err: &(dyn Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let text = e.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = e.source();
    }
    out
}

/// A destination refused by policy (private address, allow-list, ...).
#[derive(Debug, Clone, thiserror::Error)]
#[error("destination {destination} is not allowed: {reason}")]
pub struct Denied {
    /// The destination as requested.
    pub destination: String,
    /// Which rule refused it.
    pub reason: &'static str,
}

/// A domain name that did not resolve to any address.
#[derive(Debug, thiserror::Error)]
#[error("cannot resolve {host}")]
pub struct ResolveError {
    /// The name that failed.
    pub host: String,
    /// What the resolver said, if anything.
    #[source]
    pub source: Option<io::Error>,
}

/// Why an outbound connection failed, in the vocabulary proxies reply with (RFC 1928).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// Any failure not listed below.
    General,
    /// A rule refused the destination.
    NotAllowed,
    /// No route to the destination network.
    NetworkUnreachable,
    /// The host did not resolve or cannot be reached.
    HostUnreachable,
    /// The destination actively refused the connection.
    ConnectionRefused,
    /// The attempt timed out.
    TimedOut,
    /// The client asked for a command the inbound does not support.
    CommandNotSupported,
    /// The client used an address type the inbound does not support.
    AddressTypeNotSupported,
}

impl Failure {
    /// Classifies an error by walking its `source()` chain (and `io::Error` payloads).
    pub fn classify(err: &(dyn Error + 'static)) -> Failure {
        let mut cur: Option<&(dyn Error + 'static)> = Some(err);
        while let Some(e) = cur {
            if let Some(found) = Self::classify_one(e) {
                return found;
            }
            cur = match e.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
                Some(inner) => Some(inner as &(dyn Error + 'static)),
                None => e.source(),
            };
        }
        Failure::General
    }

    fn classify_one(e: &(dyn Error + 'static)) -> Option<Failure> {
        if e.is::<Denied>() {
            return Some(Failure::NotAllowed);
        }
        if e.is::<ResolveError>() {
            return Some(Failure::HostUnreachable);
        }
        if e.is::<tower::timeout::error::Elapsed>() || e.is::<tokio::time::error::Elapsed>() {
            return Some(Failure::TimedOut);
        }
        let io = e.downcast_ref::<io::Error>()?;
        match io.kind() {
            io::ErrorKind::ConnectionRefused => Some(Failure::ConnectionRefused),
            io::ErrorKind::TimedOut => Some(Failure::TimedOut),
            io::ErrorKind::HostUnreachable => Some(Failure::HostUnreachable),
            io::ErrorKind::NetworkUnreachable => Some(Failure::NetworkUnreachable),
            io::ErrorKind::PermissionDenied => Some(Failure::NotAllowed),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("dial failed")]
    struct Wrapper(#[source] BoxError);

    #[test]
    fn classifies_through_wrappers_and_io_payloads() {
        let refused: BoxError = Box::new(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(
            Failure::classify(&*Box::new(Wrapper(refused)) as &(dyn Error + 'static)),
            Failure::ConnectionRefused
        );
        let denied = io::Error::other(Denied {
            destination: "127.0.0.1:1".into(),
            reason: "private address",
        });
        assert_eq!(Failure::classify(&denied), Failure::NotAllowed);
        let dns = ResolveError {
            host: "nowhere.invalid".into(),
            source: None,
        };
        assert_eq!(Failure::classify(&dns), Failure::HostUnreachable);
        let timeout = tower::timeout::error::Elapsed::new();
        assert_eq!(Failure::classify(&timeout), Failure::TimedOut);
        assert_eq!(Failure::classify(&io::Error::other("x")), Failure::General);
    }
}
