//! Handshake failures by inbound, stage and reason, as the accept loop sees them: the error
//! is classified by the layer error types it wraps, so the labels stay a fixed, small set.

use std::{
    collections::BTreeMap,
    error::Error,
    io,
    sync::{Arc, Mutex, PoisonError},
};
use xypro_http::HttpError;
use xypro_socks5::Socks5Error;
use xypro_tls::TlsError;
use xypro_vless::VlessError;
use xypro_websocket::WsError;

/// Where a handshake failed and why, from fixed lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HandshakeFailure {
    /// The layer that failed: `tls`, `websocket`, `socks5` (SOCKS4 too), `vless`, `http`, else
    /// `transport` or `other`; `handshake` when the whole handshake outlived its deadline.
    pub stage: &'static str,
    /// Why: `timeout`, `eof`, `reset`, `auth`, `malformed`, `protocol`, `rejected`,
    /// `refused`, `http`, `io` or `other`.
    pub reason: &'static str,
}

/// Failures so far by inbound and classification.
type Counts = BTreeMap<(Arc<str>, HandshakeFailure), u64>;

static COUNTS: Mutex<Counts> = Mutex::new(BTreeMap::new());

/// Classifies `error` and counts it for `inbound`.
pub(crate) fn record(inbound: &Arc<str>, error: &(dyn Error + 'static)) -> HandshakeFailure {
    let failure = classify(error);
    count(inbound, failure);
    failure
}

/// Counts a handshake of `inbound` that did not finish within the inbound's deadline.
pub(crate) fn record_deadline(inbound: &Arc<str>) {
    count(
        inbound,
        HandshakeFailure {
            stage: "handshake",
            reason: "timeout",
        },
    );
}

fn count(inbound: &Arc<str>, failure: HandshakeFailure) {
    let mut counts = COUNTS.lock().unwrap_or_else(PoisonError::into_inner);
    *counts.entry((inbound.clone(), failure)).or_default() += 1;
}

/// Every handshake failure this process counted, by inbound and classification.
pub fn handshake_failures() -> Vec<(Arc<str>, HandshakeFailure, u64)> {
    let counts = COUNTS.lock().unwrap_or_else(PoisonError::into_inner);
    counts
        .iter()
        .map(|((inbound, failure), n)| (inbound.clone(), *failure, *n))
        .collect()
}

/// The stage and reason of a failed handshake, from the first layer error in its chain.
pub fn classify(error: &(dyn Error + 'static)) -> HandshakeFailure {
    let failure = |stage, reason| HandshakeFailure { stage, reason };
    let mut io_reason = None;
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(e) = error.downcast_ref::<TlsError>() {
            return failure("tls", tls_reason(e));
        }
        if let Some(e) = error.downcast_ref::<WsError>() {
            return failure("websocket", websocket_reason(e));
        }
        if let Some(e) = error.downcast_ref::<Socks5Error>() {
            return failure("socks5", socks5_reason(e));
        }
        if let Some(e) = error.downcast_ref::<VlessError>() {
            return failure("vless", vless_reason(e));
        }
        if let Some(e) = error.downcast_ref::<HttpError>() {
            return failure("http", http_reason(e));
        }
        if let Some(e) = error.downcast_ref::<io::Error>() {
            io_reason.get_or_insert(io_reason_of(e));
        }
        next = error.source();
    }
    match io_reason {
        Some(reason) => failure("transport", reason),
        None => failure("other", "other"),
    }
}

fn io_reason_of(error: &io::Error) -> &'static str {
    use io::ErrorKind::*;
    match error.kind() {
        UnexpectedEof => "eof",
        TimedOut => "timeout",
        ConnectionReset | ConnectionAborted | BrokenPipe => "reset",
        InvalidData => "malformed",
        _ => "io",
    }
}

fn tls_reason(error: &TlsError) -> &'static str {
    match error {
        TlsError::AcceptTimeout { .. } | TlsError::HandshakeTimeout { .. } => "timeout",
        e if e.rustls_error().is_some() => "protocol",
        TlsError::Accept { source, .. } | TlsError::Handshake { source, .. } => {
            io_reason_of(source)
        }
        _ => "other",
    }
}

fn websocket_reason(error: &WsError) -> &'static str {
    match error {
        WsError::Timeout { .. } | WsError::ResponseTimeout { .. } => "timeout",
        WsError::Rejected { .. } => "rejected",
        WsError::NoRequest { .. } | WsError::Eof => "eof",
        WsError::Http { source, .. } if source.is_timeout() => "timeout",
        WsError::Http { .. } => "http",
        WsError::Malformed(_) | WsError::HeadTooLarge { .. } => "malformed",
        WsError::Io(e) => io_reason_of(e),
        _ => "other",
    }
}

fn socks5_reason(error: &Socks5Error) -> &'static str {
    match error {
        Socks5Error::AuthFailed(_) | Socks5Error::NoAcceptableMethod => "auth",
        Socks5Error::HandshakeTimeout => "timeout",
        Socks5Error::Truncated => "eof",
        Socks5Error::Proto(_) | Socks5Error::TooLong => "malformed",
        Socks5Error::Refused(_) => "refused",
        Socks5Error::Io(e) => io_reason_of(e),
        Socks5Error::Rejected(_) => "other",
    }
}

fn vless_reason(error: &VlessError) -> &'static str {
    match error {
        VlessError::UnknownUser(_) => "auth",
        VlessError::HandshakeTimeout(_) => "timeout",
        VlessError::Truncated(_) => "eof",
        VlessError::Proto(_) => "malformed",
        VlessError::Io(e) => io_reason_of(e),
        VlessError::Connect(_) => "other",
    }
}

fn http_reason(error: &HttpError) -> &'static str {
    match error {
        HttpError::AuthRequired | HttpError::AuthFailed(_) | HttpError::UserChanged => "auth",
        HttpError::Idle(_) | HttpError::HeadTimeout(_) => "timeout",
        HttpError::Truncated | HttpError::NoRequest => "eof",
        HttpError::Proto(_) => "malformed",
        HttpError::Io(e) => io_reason_of(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use xypro_core::BoxError;

    fn of(error: impl Into<BoxError>) -> (&'static str, &'static str) {
        let error = error.into();
        let failure = classify(&*error);
        (failure.stage, failure.reason)
    }

    #[test]
    fn failures_are_classified_by_the_layer_error_they_wrap() {
        let peer = "127.0.0.1:1".parse().unwrap();
        let after = Duration::from_secs(1);
        assert_eq!(
            of(TlsError::AcceptTimeout { peer, after }),
            ("tls", "timeout")
        );
        let eof = io::Error::from(io::ErrorKind::UnexpectedEof);
        assert_eq!(of(TlsError::Accept { peer, source: eof }), ("tls", "eof"));
        let reason = "wrong path";
        assert_eq!(
            of(WsError::Rejected { peer, reason }),
            ("websocket", "rejected")
        );
        assert_eq!(
            of(Socks5Error::AuthFailed("bob".into())),
            ("socks5", "auth")
        );
        assert_eq!(
            of(VlessError::UnknownUser(uuid::Uuid::nil())),
            ("vless", "auth")
        );
        assert_eq!(of(VlessError::Truncated(3)), ("vless", "eof"));
        assert_eq!(of(HttpError::AuthRequired), ("http", "auth"));
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert_eq!(of(reset), ("transport", "reset"));
        assert_eq!(of("something else"), ("other", "other"));
    }

    #[test]
    fn failures_are_counted_by_inbound() {
        let inbound: Arc<str> = Arc::from("failures-test");
        let error: BoxError = Socks5Error::Truncated.into();
        record(&inbound, &*error);
        record(&inbound, &*error);
        let counted = handshake_failures()
            .into_iter()
            .find(|(name, _, _)| *name == inbound)
            .unwrap();
        assert_eq!(
            (counted.1.stage, counted.1.reason, counted.2),
            ("socks5", "eof", 2)
        );
    }
}
