//! Name resolution: the one resolver every layer of a process uses, so that the address a
//! policy checks or a rule matches is the address that gets dialled.

use crate::{BoxFuture, ResolveError};
use std::{
    fmt, io,
    net::{IpAddr, SocketAddr},
    sync::Arc,
};
use tokio::sync::Semaphore;

/// Turns a host name into its addresses, preferred first.
pub trait Resolve: Send + Sync + fmt::Debug + 'static {
    /// The addresses of `host`, preferred first; an error when it has none.
    fn resolve(&self, host: &str) -> BoxFuture<Result<Vec<IpAddr>, ResolveError>>;
}

/// A resolver shared by every layer of a process.
pub type SharedResolver = Arc<dyn Resolve>;

/// Most system name look-ups this process runs at once. Each takes a blocking thread that runs
/// to its end even when its dial is abandoned, so a flood of names that never resolve must not
/// pile them up: past the cap a look-up fails at once.
pub const LOOKUPS_IN_FLIGHT: usize = 128;

static LOOKUPS: Semaphore = Semaphore::const_new(LOOKUPS_IN_FLIGHT);

/// The operating system's resolver (`getaddrinfo`, so `/etc/hosts` and `resolv.conf`), on
/// blocking threads that hold one of the process's look-up slots until they end.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl SystemResolver {
    /// The system resolver, shared.
    pub fn shared() -> SharedResolver {
        Arc::new(SystemResolver)
    }
}

impl Resolve for SystemResolver {
    fn resolve(&self, host: &str) -> BoxFuture<Result<Vec<IpAddr>, ResolveError>> {
        let host = host.to_owned();
        Box::pin(async move {
            let failed = |source| ResolveError {
                host: host.clone(),
                source: Some(source),
            };
            let slot = LOOKUPS.try_acquire().map_err(|_| {
                failed(io::Error::new(
                    io::ErrorKind::ResourceBusy,
                    format!("{LOOKUPS_IN_FLIGHT} name look-ups already in flight"),
                ))
            })?;
            let name = (host.clone(), 0);
            let lookup = tokio::task::spawn_blocking(move || {
                let _slot = slot;
                std::net::ToSocketAddrs::to_socket_addrs(&name)
                    .map(|addrs| addrs.map(|addr: SocketAddr| addr.ip()).collect::<Vec<_>>())
            });
            let ips = match lookup.await {
                Ok(result) => result.map_err(failed)?,
                Err(e) => return Err(failed(io::Error::other(e))),
            };
            let mut unique = Vec::with_capacity(ips.len());
            for ip in ips {
                if !unique.contains(&ip) {
                    unique.push(ip);
                }
            }
            match unique.is_empty() {
                true => Err(ResolveError { host, source: None }),
                false => Ok(unique),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_system_resolver_reads_hosts_and_reports_unknown_names() {
        let ips = SystemResolver.resolve("localhost").await.unwrap();
        assert!(ips.iter().all(IpAddr::is_loopback), "{ips:?}");
        let err = SystemResolver
            .resolve("no-such-host.invalid")
            .await
            .unwrap_err();
        assert_eq!(err.host, "no-such-host.invalid");
    }
}
