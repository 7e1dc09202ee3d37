//! One configured name server: `system`, or a URL naming the protocol and the server's address.

use std::{fmt, net::SocketAddr, str::FromStr};
use url::Url;

/// Where a query goes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Server {
    /// The operating system's resolver (`/etc/hosts`, `resolv.conf`).
    System,
    /// Plain DNS over UDP (with TCP for truncated answers).
    Udp(SocketAddr),
    /// Plain DNS over TCP.
    Tcp(SocketAddr),
    /// DNS over TLS, the certificate checked for the address.
    Tls(SocketAddr),
    /// DNS over HTTPS (HTTP/2), at `path`, the certificate checked for the address.
    Https(SocketAddr, String),
}

/// Why a server entry cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{entry}`: {reason}")]
pub struct BadServer {
    entry: String,
    reason: &'static str,
}

impl FromStr for Server {
    type Err = BadServer;

    fn from_str(entry: &str) -> Result<Server, BadServer> {
        let bad = |reason| BadServer {
            entry: entry.to_owned(),
            reason,
        };
        if entry == "system" {
            return Ok(Server::System);
        }
        let url = Url::parse(entry)
            .map_err(|_| bad("expected `system` or a URL such as udp://1.1.1.1"))?;
        let default_port = match url.scheme() {
            "udp" | "tcp" => 53,
            "tls" => 853,
            "https" => 443,
            _ => return Err(bad("the scheme must be udp, tcp, tls or https")),
        };
        let host = url.host_str().ok_or_else(|| bad("no server address"))?;
        let ip = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| bad("the server must be an IP address (nothing resolves the resolver)"))?;
        let addr = SocketAddr::new(ip, url.port().unwrap_or(default_port));
        Ok(match url.scheme() {
            "udp" => Server::Udp(addr),
            "tcp" => Server::Tcp(addr),
            "tls" => Server::Tls(addr),
            _ => {
                let path = match url.path() {
                    "" | "/" => "/dns-query".to_owned(),
                    path => path.to_owned(),
                };
                Server::Https(addr, path)
            }
        })
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Server::System => f.write_str("system"),
            Server::Udp(addr) => write!(f, "udp://{addr}"),
            Server::Tcp(addr) => write!(f, "tcp://{addr}"),
            Server::Tls(addr) => write!(f, "tls://{addr}"),
            Server::Https(addr, path) => write!(f, "https://{addr}{path}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_with_default_ports_and_paths() {
        let parse = |s: &str| s.parse::<Server>();
        assert_eq!(parse("system").unwrap(), Server::System);
        assert_eq!(
            parse("udp://1.1.1.1").unwrap(),
            Server::Udp("1.1.1.1:53".parse().unwrap())
        );
        assert_eq!(
            parse("tcp://[2606:4700::1111]:5353").unwrap(),
            Server::Tcp("[2606:4700::1111]:5353".parse().unwrap())
        );
        assert_eq!(
            parse("tls://9.9.9.9").unwrap(),
            Server::Tls("9.9.9.9:853".parse().unwrap())
        );
        assert_eq!(
            parse("https://1.1.1.1").unwrap(),
            Server::Https("1.1.1.1:443".parse().unwrap(), "/dns-query".into())
        );
        assert_eq!(
            parse("https://1.1.1.1/resolve").unwrap().to_string(),
            "https://1.1.1.1:443/resolve"
        );
        for bad in ["dns.google", "udp://dns.google", "quic://1.1.1.1", "udp://"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
