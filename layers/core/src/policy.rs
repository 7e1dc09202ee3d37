//! Which resolved destination addresses an inbound may reach.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Restrictions a connector applies after DNS resolution, before it dials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationPolicy {
    /// Refuse loopback, private, link-local, CGNAT, unique-local, multicast and mapped addresses.
    pub public_only: bool,
    /// Socket addresses refused regardless of `public_only`, such as the server's own listener.
    pub deny: Vec<SocketAddr>,
}

impl DestinationPolicy {
    /// A policy that only admits publicly routable addresses.
    pub fn public_only() -> Self {
        DestinationPolicy {
            public_only: true,
            deny: Vec::new(),
        }
    }

    /// Whether a resolved address may be dialled under this policy.
    pub fn permits(&self, addr: SocketAddr) -> bool {
        if self.deny.contains(&addr) {
            return false;
        }
        !self.public_only || is_public_ip(addr.ip())
    }
}

/// Whether an address is globally routable unicast (the opposite of every range a server must
/// not be tricked into reaching).
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    let cgnat = a == 100 && (64..128).contains(&b);
    let this_network = a == 0;
    let reserved = a >= 240;
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || ip.is_documentation()
        || cgnat
        || this_network
        || reserved)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let unique_local = first & 0xfe00 == 0xfc00;
    let link_local = first & 0xffc0 == 0xfe80;
    let mapped_or_compat = ip.segments()[..5].iter().all(|s| *s == 0);
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || unique_local
        || link_local
        || mapped_or_compat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_every_internal_range() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_public_ip(ip.parse().unwrap()), "{ip} must be refused");
        }
    }

    #[test]
    fn admits_public_addresses() {
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "100.128.0.1"] {
            assert!(is_public_ip(ip.parse().unwrap()), "{ip} must be admitted");
        }
    }

    #[test]
    fn deny_list_applies_without_public_only() {
        let own: SocketAddr = "127.0.0.1:8443".parse().unwrap();
        let policy = DestinationPolicy {
            public_only: false,
            deny: vec![own],
        };
        assert!(!policy.permits(own));
        assert!(policy.permits("127.0.0.1:80".parse().unwrap()));
    }
}
