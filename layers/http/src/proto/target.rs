//! Request targets: the authority of a CONNECT and the absolute URI of a forwarded request.

use super::ProtoError;
use std::net::IpAddr;
use xypro_core::Address;

/// The port of `http://` URIs without one.
const HTTP_PORT: u16 = 80;

/// Where a CONNECT request goes: its authority-form target `host:port` (the port is required,
/// as RFC 9110 says; the `Host` header plays no part, so HTTP/1.0 requests without one work).
pub fn connect_destination(target: &str) -> Result<Address, ProtoError> {
    let (host, port) = split_authority(target)?;
    let port = port.ok_or(ProtoError::Target("CONNECT needs host:port"))?;
    address(host, port)
}

/// An absolute-URI request as the proxy forwards it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardTarget {
    /// Where to connect.
    pub destination: Address,
    /// The `Host` header for the origin: the authority, with the default port left out.
    pub host: String,
    /// The origin-form target: path and query, at least `/`; any fragment dropped.
    pub path: String,
}

/// Reads an absolute-form target `http://authority/path?query` and the request's `Host`
/// header. The `Host` header, when present and not empty, names the destination instead of
/// the URI's authority (as sing-box and mihomo do; clients send the same value in both).
pub fn forward_target(
    target: &str,
    host_header: Option<&[u8]>,
) -> Result<ForwardTarget, ProtoError> {
    let Some((scheme, rest)) = target.split_once("://") else {
        return Err(ProtoError::Target("not an absolute http:// URI"));
    };
    if !scheme.eq_ignore_ascii_case("http") {
        return Err(ProtoError::Target(
            "only http:// URIs are forwarded; https goes through CONNECT",
        ));
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let path = path.split('#').next().unwrap_or_default();
    let path = match path.chars().next() {
        Some('/') => path.to_owned(),
        _ => format!("/{path}"),
    };
    let from_uri = match authority {
        "" => None,
        authority => Some(split_authority(authority)?),
    };
    let host_header = match host_header.map(std::str::from_utf8) {
        Some(Ok(value)) if !value.trim().is_empty() => Some(split_authority(value.trim())?),
        Some(Ok(_)) | None => None,
        Some(Err(_)) => return Err(ProtoError::Target("Host header is not text")),
    };
    let (host, port) = host_header
        .or(from_uri)
        .ok_or(ProtoError::Target("no host in the URI or the Host header"))?;
    let port = port.unwrap_or(HTTP_PORT);
    Ok(ForwardTarget {
        destination: address(host, port)?,
        host: host_value(host, port),
        path,
    })
}

/// Splits `host[:port]` or `[v6][:port]`; an empty port counts as none.
fn split_authority(authority: &str) -> Result<(&str, Option<u16>), ProtoError> {
    if authority.contains('@') {
        return Err(ProtoError::Target("user info in the authority"));
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or(ProtoError::Target("unclosed IPv6 literal"))?;
            match after {
                "" => (host, None),
                _ => (
                    host,
                    Some(
                        after
                            .strip_prefix(':')
                            .ok_or(ProtoError::Target("junk after an IPv6 literal"))?,
                    ),
                ),
            }
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = match port {
        None | Some("") => None,
        Some(digits) => Some(parse_port(digits)?),
    };
    if host.is_empty() {
        return Err(ProtoError::Target("empty host"));
    }
    Ok((host, port))
}

fn parse_port(digits: &str) -> Result<u16, ProtoError> {
    match digits.parse::<u16>() {
        Ok(0) => Err(ProtoError::Target("port 0")),
        Ok(port) if digits.bytes().all(|b| b.is_ascii_digit()) => Ok(port),
        _ => Err(ProtoError::Target("invalid port")),
    }
}

/// The destination for `host`, lowercased (host names are case-insensitive).
fn address(host: &str, port: u16) -> Result<Address, ProtoError> {
    Address::from_host(&host.to_ascii_lowercase(), port)
        .map_err(|_| ProtoError::Target("invalid host"))
}

/// `host[:port]` for a `Host` header, IPv6 in brackets, port 80 left out.
fn host_value(host: &str, port: u16) -> String {
    let host = match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
        _ => host.to_owned(),
    };
    match port {
        HTTP_PORT => host,
        port => format!("{host}:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forward(target: &str, host: Option<&str>) -> Result<ForwardTarget, ProtoError> {
        forward_target(target, host.map(str::as_bytes))
    }

    #[test]
    fn connect_takes_host_and_port() {
        assert_eq!(
            connect_destination("Example.COM:443").unwrap().to_string(),
            "example.com:443"
        );
        assert_eq!(
            connect_destination("[2001:db8::1]:8443")
                .unwrap()
                .to_string(),
            "[2001:db8::1]:8443"
        );
        assert_eq!(
            connect_destination("10.0.0.1:22").unwrap(),
            "10.0.0.1:22".parse().unwrap()
        );
        for bad in [
            "example.com",
            "example.com:0",
            "example.com:https",
            ":443",
            "a b:1",
            "user@example.com:443",
            "[::1",
            "2001:db8::1:443",
            "example.com:65536",
        ] {
            assert!(connect_destination(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn absolute_uris_become_destination_host_and_origin_form() {
        let plain = forward("http://Example.com/a/b?c=d#frag", Some("example.com")).unwrap();
        assert_eq!(plain.destination.to_string(), "example.com:80");
        assert_eq!(
            (plain.host.as_str(), plain.path.as_str()),
            ("example.com", "/a/b?c=d")
        );

        let port = forward("HTTP://127.0.0.1:8080", None).unwrap();
        assert_eq!(port.destination.to_string(), "127.0.0.1:8080");
        assert_eq!(
            (port.host.as_str(), port.path.as_str()),
            ("127.0.0.1:8080", "/")
        );

        let query = forward("http://[::1]:80?x", None).unwrap();
        assert_eq!((query.host.as_str(), query.path.as_str()), ("[::1]", "/?x"));
    }

    #[test]
    fn the_host_header_wins_over_the_uri() {
        let other = forward("http://a.example/x", Some("b.example:8080")).unwrap();
        assert_eq!(other.destination.to_string(), "b.example:8080");
        assert_eq!(other.host, "b.example:8080");
        let empty = forward("http://a.example/x", Some("  ")).unwrap();
        assert_eq!(empty.destination.to_string(), "a.example:80");
        let only_header = forward("http:///x", Some("c.example")).unwrap();
        assert_eq!(only_header.destination.to_string(), "c.example:80");
    }

    #[test]
    fn refuses_what_cannot_be_forwarded() {
        for (target, host) in [
            ("/index.html", Some("example.com")),
            ("*", None),
            ("https://example.com/", None),
            ("http:///x", None),
            ("http://user:pw@example.com/", None),
            ("http://exa mple.com/", None),
            ("http://example.com/", Some("bad host")),
            ("http://example.com:99999/", None),
        ] {
            assert!(forward(target, host).is_err(), "{target} {host:?}");
        }
        assert!(forward_target("http://a/", Some(b"\xff")).is_err());
    }
}
