//! Name resolution under a destination policy, and dialling the first address that answers.

use std::{future::Future, io, net::SocketAddr, time::Duration};
use tokio::{net::TcpStream, sync::Semaphore};
use xypro_core::{Address, Denied, DestinationPolicy, ResolveError};

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

/// Most system name look-ups this process runs at once. Each takes a blocking thread that
/// runs to its end even when its dial is abandoned, so a flood of names that never resolve
/// must not pile them up: past the cap a look-up fails at once.
pub const LOOKUPS_IN_FLIGHT: usize = 128;

static LOOKUPS: Semaphore = Semaphore::const_new(LOOKUPS_IN_FLIGHT);

/// Resolves a name with the system resolver on a blocking thread, which holds one of the
/// process's look-up slots until the look-up itself ends.
async fn lookup(host: &str, port: u16) -> Result<Vec<SocketAddr>, ResolveError> {
    let failed = |source| ResolveError {
        host: host.to_owned(),
        source: Some(source),
    };
    let slot = LOOKUPS.try_acquire().map_err(|_| {
        failed(io::Error::new(
            io::ErrorKind::ResourceBusy,
            format!("{LOOKUPS_IN_FLIGHT} name look-ups already in flight"),
        ))
    })?;
    let name = (host.to_owned(), port);
    let lookup = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        std::net::ToSocketAddrs::to_socket_addrs(&name).map(Iterator::collect)
    });
    match lookup.await {
        Ok(result) => result.map_err(failed),
        Err(e) => Err(failed(io::Error::other(e))),
    }
}

/// Resolves an address and keeps only what the policy permits.
pub async fn resolve(
    address: &Address,
    policy: &DestinationPolicy,
) -> Result<Vec<SocketAddr>, DialError> {
    let resolved: Vec<SocketAddr> = match address {
        Address::Ip(addr) => vec![*addr],
        Address::Domain(host, port) => lookup(host, *port).await?,
    };
    if resolved.is_empty() {
        return Err(ResolveError {
            host: address.host(),
            source: None,
        }
        .into());
    }
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

/// Connects to the first address that accepts, in order.
pub(crate) async fn connect_any(
    addrs: &[SocketAddr],
    nodelay: bool,
) -> Result<TcpStream, DialError> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                stream
                    .set_nodelay(nodelay)
                    .map_err(|source| DialError::Connect {
                        addr: *addr,
                        source,
                    })?;
                return Ok(stream);
            }
            Err(source) => {
                last = Some(DialError::Connect {
                    addr: *addr,
                    source,
                })
            }
        }
    }
    Err(last.expect("resolve never returns an empty list"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use xypro_core::Failure;

    #[tokio::test]
    async fn private_destinations_are_denied_after_resolution() {
        let err = resolve(
            &"localhost:80".parse().unwrap(),
            &DestinationPolicy::public_only(),
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
        )
        .await
        .unwrap_err();
        assert_eq!(Failure::classify(&err), Failure::HostUnreachable);
    }
}
