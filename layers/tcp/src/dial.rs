//! Name resolution under a destination policy, and dialling the first address that answers.

use std::{future::Future, io, net::SocketAddr, time::Duration};
use tokio::net::TcpStream;
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

/// Resolves an address and keeps only what the policy permits.
pub async fn resolve(
    address: &Address,
    policy: &DestinationPolicy,
) -> Result<Vec<SocketAddr>, DialError> {
    let resolved: Vec<SocketAddr> = match address {
        Address::Ip(addr) => vec![*addr],
        Address::Domain(host, port) => tokio::net::lookup_host((host.as_str(), *port))
            .await
            .map_err(|e| ResolveError {
                host: host.clone(),
                source: Some(e),
            })?
            .collect(),
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
