//! Name resolution under a destination policy, and dialling with happy eyeballs.

use std::{future::Future, io, net::SocketAddr, time::Duration};
use tokio::{net::TcpStream, task::JoinSet};
use xypro_core::{Address, Denied, DestinationPolicy, Resolve, ResolveError};

/// Why dialling failed: every resolved address was refused by policy, or by the network.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// The name did not resolve.
    #[error("name resolution failed")]
    Resolve(#[from] ResolveError),
    /// Every resolved address is forbidden by the request's policy.
    #[error("refused by destination policy")]
    Denied(#[from] Denied),
    /// The last address tried failed with this error.
    #[error("connect to {addr} failed")]
    Connect {
        /// The address that failed last.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
}

/// How long one connection attempt runs alone before the next address (of the other family
/// first) is tried beside it (RFC 8305's "connection attempt delay", as sing-box and mihomo).
pub const HAPPY_EYEBALLS_DELAY: Duration = Duration::from_millis(300);

/// Resolves an address with `resolver` and keeps only what the policy permits, preferred first.
pub async fn resolve(
    address: &Address,
    policy: &DestinationPolicy,
    resolver: &dyn Resolve,
) -> Result<Vec<SocketAddr>, DialError> {
    let resolved: Vec<SocketAddr> = match address {
        Address::Ip(addr) => vec![*addr],
        Address::Domain(host, port) => resolver
            .resolve(host)
            .await?
            .into_iter()
            .map(|ip| SocketAddr::new(ip, *port))
            .collect(),
    };
    let permitted: Vec<SocketAddr> = resolved
        .into_iter()
        .filter(|addr| policy.permits(*addr))
        .collect();
    if permitted.is_empty() {
        return Err(Denied {
            destination: address.to_string(),
            reason: "it resolves only to private or reserved addresses",
        }
        .into());
    }
    Ok(permitted)
}

/// Runs a dial under a deadline; when it passes, the error is `TimedOut` (SOCKS5 reply `06`).
pub(crate) async fn within<T, E>(
    limit: Duration,
    dial: impl Future<Output = Result<T, E>>,
) -> Result<T, xypro_core::BoxError>
where
    E: Into<xypro_core::BoxError>,
{
    match tokio::time::timeout(limit, dial).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no connection within {limit:?}"),
        )
        .into()),
    }
}

/// The order to try addresses in: the preferred one, then the first of the other family, then
/// the rest alternating (RFC 8305 §4).
fn interleave(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    let family = |addr: &SocketAddr| addr.ip().is_ipv6();
    let Some(first) = addrs.first() else {
        return Vec::new();
    };
    let (mut same, mut other): (Vec<_>, Vec<_>) = addrs
        .iter()
        .copied()
        .partition(|a| family(a) == family(first));
    same.reverse();
    other.reverse();
    let mut order = Vec::with_capacity(addrs.len());
    while !(same.is_empty() && other.is_empty()) {
        order.extend(same.pop());
        order.extend(other.pop());
    }
    order
}

/// Connects to the addresses, preferred first: each attempt gets [`HAPPY_EYEBALLS_DELAY`] alone
/// before the next one starts beside it, and the first to connect wins.
pub(crate) async fn connect_any(
    addrs: &[SocketAddr],
    nodelay: bool,
) -> Result<TcpStream, DialError> {
    let mut waiting = interleave(addrs).into_iter();
    let mut attempts = JoinSet::new();
    let mut last = None;
    // Every turn of the loop follows a failure or an elapsed delay: start the next attempt.
    loop {
        if let Some(addr) = waiting.next() {
            attempts.spawn(async move { (addr, TcpStream::connect(addr).await) });
        }
        if attempts.is_empty() {
            return Err(last.expect("resolve never returns an empty list"));
        }
        tokio::select! {
            finished = attempts.join_next() => match finished {
                Some(Ok((addr, Ok(stream)))) => {
                    stream
                        .set_nodelay(nodelay)
                        .map_err(|source| DialError::Connect { addr, source })?;
                    return Ok(stream);
                }
                Some(Ok((addr, Err(source)))) => last = Some(DialError::Connect { addr, source }),
                Some(Err(_)) | None => {}
            },
            () = tokio::time::sleep(HAPPY_EYEBALLS_DELAY), if !waiting.as_slice().is_empty() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xypro_core::{Failure, SystemResolver};

    #[tokio::test]
    async fn private_destinations_are_denied_after_resolution() {
        let err = resolve(
            &"localhost:80".parse().unwrap(),
            &DestinationPolicy::public_only(),
            &SystemResolver,
        )
        .await
        .unwrap_err();
        assert_eq!(Failure::classify(&err), Failure::NotAllowed);
    }

    #[tokio::test]
    async fn refused_connection_is_classified() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = connect_any(&[addr], true).await.unwrap_err();
        assert_eq!(Failure::classify(&err), Failure::ConnectionRefused);
    }

    #[tokio::test]
    async fn unknown_name_is_host_unreachable() {
        let err = resolve(
            &"no-such-host.invalid:80".parse().unwrap(),
            &DestinationPolicy::default(),
            &SystemResolver,
        )
        .await
        .unwrap_err();
        assert_eq!(Failure::classify(&err), Failure::HostUnreachable);
    }

    #[test]
    fn attempts_alternate_families_after_the_preferred_address() {
        let addrs: Vec<SocketAddr> = ["[::1]:1", "[::2]:1", "10.0.0.1:1", "10.0.0.2:1"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        let order = interleave(&addrs);
        assert_eq!(order, [addrs[0], addrs[2], addrs[1], addrs[3]]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_first_address_does_not_hold_up_a_working_second() {
        // 192.0.2.1 (TEST-NET-1) never answers; the loopback listener does.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let working = listener.local_addr().unwrap();
        let silent: SocketAddr = "[100::1]:9".parse().unwrap();
        let started = tokio::time::Instant::now();
        let stream = connect_any(&[silent, working], true).await;
        assert!(stream.is_ok(), "{stream:?}");
        assert!(started.elapsed() <= HAPPY_EYEBALLS_DELAY + Duration::from_millis(50));
    }
}
