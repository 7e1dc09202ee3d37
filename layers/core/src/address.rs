//! Destination addresses: an IP socket address or a domain name with a port.

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    str::FromStr,
};

/// Where a connection or datagram is going.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// A literal IP address and port.
    Ip(SocketAddr),
    /// A domain name (at most 253 bytes, the DNS limit) and port, resolved by whoever dials it.
    Domain(String, u16),
}

/// Why a string is not a valid `host:port` address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The string has no `:port` suffix.
    #[error("missing port (expected host:port)")]
    MissingPort,
    /// The port is not a number from 0 to 65535.
    #[error("invalid port `{0}`")]
    InvalidPort(String),
    /// The host is empty, longer than 253 bytes, or contains characters a host cannot.
    #[error("invalid host `{0}`")]
    InvalidHost(String),
}

impl Address {
    /// Builds a domain address, or an IP address when the name is an IP literal.
    pub fn from_host(host: &str, port: u16) -> Result<Self, AddressError> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(Address::Ip(SocketAddr::new(ip, port)));
        }
        if host.is_empty() || host.len() > 253 || !host.bytes().all(is_host_byte) {
            return Err(AddressError::InvalidHost(host.to_owned()));
        }
        Ok(Address::Domain(host.to_owned(), port))
    }

    /// The destination port.
    pub fn port(&self) -> u16 {
        match self {
            Address::Ip(addr) => addr.port(),
            Address::Domain(_, port) => *port,
        }
    }

    /// The host part as text: an IP literal (without brackets) or the domain name.
    pub fn host(&self) -> String {
        match self {
            Address::Ip(addr) => addr.ip().to_string(),
            Address::Domain(name, _) => name.clone(),
        }
    }
}

fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Ip(addr) => addr.fmt(f),
            Address::Domain(name, port) => write!(f, "{name}:{port}"),
        }
    }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(addr) = s.parse::<SocketAddr>() {
            return Ok(Address::Ip(addr));
        }
        let (host, port) = s.rsplit_once(':').ok_or(AddressError::MissingPort)?;
        let port = port
            .parse::<u16>()
            .map_err(|_| AddressError::InvalidPort(port.to_owned()))?;
        Address::from_host(host, port)
    }
}

impl From<SocketAddr> for Address {
    fn from(addr: SocketAddr) -> Self {
        Address::Ip(addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ip_domain_and_bracketed_v6() {
        assert_eq!(
            "127.0.0.1:80".parse::<Address>().unwrap(),
            Address::Ip("127.0.0.1:80".parse().unwrap())
        );
        assert_eq!(
            "[::1]:443".parse::<Address>().unwrap(),
            Address::Ip("[::1]:443".parse().unwrap())
        );
        assert_eq!(
            "example.com:8080".parse::<Address>().unwrap(),
            Address::Domain("example.com".into(), 8080)
        );
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            "example.com".parse::<Address>(),
            Err(AddressError::MissingPort)
        );
        assert!(matches!(
            "example.com:99999".parse::<Address>(),
            Err(AddressError::InvalidPort(_))
        ));
        assert!(matches!(
            ":80".parse::<Address>(),
            Err(AddressError::InvalidHost(_))
        ));
        assert!(matches!(
            "a b:80".parse::<Address>(),
            Err(AddressError::InvalidHost(_))
        ));
        let longest = "a".repeat(253);
        assert!(Address::from_host(&longest, 1).is_ok());
        assert!(Address::from_host(&format!("{longest}a"), 1).is_err());
    }

    #[test]
    fn displays_round_trip() {
        for s in ["10.0.0.1:1", "[::1]:2", "a.example:3"] {
            assert_eq!(s.parse::<Address>().unwrap().to_string(), s);
        }
    }
}
