//! Which resolved destination addresses an inbound may reach.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::{Mutex, PoisonError},
};

/// Restrictions a connector applies after DNS resolution, before it dials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationPolicy {
    /// Refuse loopback, private, link-local, CGNAT, unique-local, multicast, reserved and
    /// mapped or translated addresses (NAT64, 6to4, Teredo) of internal ones.
    pub public_only: bool,
    /// Refuse every port this process listens on, at any address of this host (so a client
    /// cannot make the server dial itself, whatever address it names).
    pub refuse_own_ports: bool,
}

impl DestinationPolicy {
    /// A policy that only admits publicly routable addresses, never this process's listeners.
    pub fn public_only() -> Self {
        DestinationPolicy {
            public_only: true,
            refuse_own_ports: true,
        }
    }

    /// A policy that admits any address but this process's listeners.
    pub fn not_self() -> Self {
        DestinationPolicy {
            public_only: false,
            refuse_own_ports: true,
        }
    }

    /// Whether a resolved address may be dialled under this policy.
    pub fn permits(&self, addr: SocketAddr) -> bool {
        if self.refuse_own_ports
            && is_own_port(addr.port())
            && is_this_host(addr.ip().to_canonical())
        {
            return false;
        }
        !self.public_only || is_public_ip(addr.ip())
    }
}

/// Ports this process listens on, with how many listeners hold each.
static OWN_PORTS: Mutex<Option<HashMap<u16, usize>>> = Mutex::new(None);

/// Keeps a port in this process's set of listening ports until dropped.
#[derive(Debug)]
pub struct ListeningPort(u16);

impl ListeningPort {
    /// Records that this process listens on `port`.
    pub fn new(port: u16) -> Self {
        let mut ports = OWN_PORTS.lock().unwrap_or_else(PoisonError::into_inner);
        *ports
            .get_or_insert_with(HashMap::new)
            .entry(port)
            .or_default() += 1;
        ListeningPort(port)
    }
}

impl Drop for ListeningPort {
    fn drop(&mut self) {
        let mut ports = OWN_PORTS.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(ports) = ports.as_mut()
            && let Some(count) = ports.get_mut(&self.0)
        {
            *count -= 1;
            if *count == 0 {
                ports.remove(&self.0);
            }
        }
    }
}

fn is_own_port(port: u16) -> bool {
    let ports = OWN_PORTS.lock().unwrap_or_else(PoisonError::into_inner);
    ports
        .as_ref()
        .is_some_and(|ports| ports.contains_key(&port))
}

/// Whether `ip` reaches this host: loopback, unspecified, or an address of one of its
/// interfaces (which it can bind to).
fn is_this_host(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified() || std::net::UdpSocket::bind((ip, 0)).is_ok()
}

/// Whether an address is globally routable unicast (the opposite of every range a server must
/// not be tricked into reaching); IPv4-mapped IPv6 addresses are not.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let cgnat = a == 100 && (64..128).contains(&b);
    let this_network = a == 0;
    let reserved = a >= 240;
    let protocol_assignments = a == 192 && b == 0 && c == 0;
    let benchmarking = a == 198 && (b & 0xfe) == 18;
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified()
        || ip.is_documentation()
        || cgnat
        || this_network
        || reserved
        || protocol_assignments
        || benchmarking)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let unique_local = s[0] & 0xfe00 == 0xfc00;
    let link_local = s[0] & 0xffc0 == 0xfe80;
    let site_local = s[0] & 0xffc0 == 0xfec0;
    let mapped_or_compat = s[..5].iter().all(|s| *s == 0);
    let documentation = s[0] == 0x2001 && s[1] == 0x0db8;
    if ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || unique_local
        || link_local
        || site_local
        || mapped_or_compat
        || documentation
    {
        return false;
    }
    match embedded_v4(s) {
        Some(Embedded::One(v4)) => is_public_v4(v4),
        Some(Embedded::Two(a, b)) => is_public_v4(a) && is_public_v4(b),
        Some(Embedded::Internal) => false,
        None => true,
    }
}

/// An IPv4 address carried inside an IPv6 one by a translation or tunnelling prefix.
enum Embedded {
    One(Ipv4Addr),
    Two(Ipv4Addr, Ipv4Addr),
    /// A prefix for local use only, whatever it carries.
    Internal,
}

fn embedded_v4(s: [u16; 8]) -> Option<Embedded> {
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    match s {
        // NAT64 well-known prefix 64:ff9b::/96: the last 32 bits.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(Embedded::One(v4(hi, lo))),
        // Local-use NAT64 64:ff9b:1::/48 (RFC 8215).
        [0x64, 0xff9b, 1, ..] => Some(Embedded::Internal),
        // 6to4 2002::/16: bits 16..48.
        [0x2002, hi, lo, ..] => Some(Embedded::One(v4(hi, lo))),
        // Teredo 2001::/32: the server in bits 32..64, the client inverted in the last 32.
        [0x2001, 0, server_hi, server_lo, _, _, client_hi, client_lo] => Some(Embedded::Two(
            v4(server_hi, server_lo),
            v4(!client_hi, !client_lo),
        )),
        _ => None,
    }
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
            "64:ff9b::a00:1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::808:808",
            "2002:a00:1::1",
            "2002:c0a8:101::",
            "2001:0:a00:1::f5ff:fffe",
            "2001:0:808:808::f5ff:fffe",
            "fec0::1",
            "192.0.0.8",
            "198.18.0.1",
            "198.19.255.254",
            "2001:db8::1",
        ] {
            assert!(!is_public_ip(ip.parse().unwrap()), "{ip} must be refused");
        }
    }

    #[test]
    fn admits_public_addresses() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700::1111",
            "100.128.0.1",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:0:808:808::f7f7:f7f7",
            "198.20.0.1",
            "192.0.1.1",
        ] {
            assert!(is_public_ip(ip.parse().unwrap()), "{ip} must be admitted");
        }
    }

    #[test]
    fn own_ports_are_refused_at_every_local_address_without_public_only() {
        let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let policy = DestinationPolicy::not_self();
        let at = |ip: &str| SocketAddr::new(ip.parse().unwrap(), port);
        assert!(policy.permits(at("127.0.0.1")), "not registered yet");
        let registered = ListeningPort::new(port);
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
        ] {
            assert!(!policy.permits(at(ip)), "{ip}");
        }
        assert!(policy.permits(at("192.0.2.1")), "another host's same port");
        assert!(
            policy.permits("127.0.0.1:1".parse().unwrap()),
            "another port"
        );
        let open = DestinationPolicy::default();
        assert!(open.permits(at("127.0.0.1")), "only when asked");
        drop(registered);
        assert!(policy.permits(at("127.0.0.1")));
    }
}
