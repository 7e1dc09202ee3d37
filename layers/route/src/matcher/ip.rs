//! A set of IP networks as sorted, merged ranges of 128-bit numbers (IPv4 mapped into
//! `::ffff:0:0/96`), looked up by binary search.

use crate::rule::Cidr;
use std::{mem::size_of, net::IpAddr};

/// The 128-bit number of an address; IPv4 (and IPv4-mapped IPv6) as `::ffff:a.b.c.d`.
fn number(ip: IpAddr) -> u128 {
    match ip.to_canonical() {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The first and last number of a network.
fn range(cidr: Cidr) -> (u128, u128) {
    let (start, host_bits) = match cidr.addr {
        IpAddr::V4(v4) => (u128::from(v4.to_ipv6_mapped()), 32 - u32::from(cidr.prefix)),
        IpAddr::V6(v6) => (u128::from(v6), 128 - u32::from(cidr.prefix)),
    };
    let host_mask = match host_bits {
        0 => 0,
        bits => u128::MAX >> (128 - bits),
    };
    (start & !host_mask, start | host_mask)
}

/// Compiled IP networks.
#[derive(Debug, Clone)]
pub(crate) struct IpSet {
    ranges: Vec<(u128, u128)>,
}

impl IpSet {
    /// Sorts and merges the networks' ranges.
    pub(crate) fn new(cidrs: &[Cidr]) -> Self {
        let mut sorted: Vec<(u128, u128)> = cidrs.iter().map(|c| range(*c)).collect();
        sorted.sort_unstable();
        let mut ranges: Vec<(u128, u128)> = Vec::with_capacity(sorted.len());
        for (start, end) in sorted {
            match ranges.last_mut() {
                Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
                _ => ranges.push((start, end)),
            }
        }
        ranges.shrink_to_fit();
        IpSet { ranges }
    }

    /// Whether the address is in one of the networks.
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        let n = number(ip);
        let after = self.ranges.partition_point(|(start, _)| *start <= n);
        after > 0 && self.ranges[after - 1].1 >= n
    }

    /// Heap bytes of the ranges.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.ranges.capacity() * size_of::<(u128, u128)>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(cidrs: &[&str]) -> IpSet {
        let cidrs: Vec<Cidr> = cidrs.iter().map(|c| Cidr::parse(c).unwrap()).collect();
        IpSet::new(&cidrs)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        let set = set(&["10.0.0.0/8", "192.168.1.7", "2001:db8::/32"]);
        assert!(set.contains(ip("10.255.255.255")));
        assert!(set.contains(ip("10.0.0.0")));
        assert!(!set.contains(ip("11.0.0.0")));
        assert!(!set.contains(ip("9.255.255.255")));
        assert!(set.contains(ip("192.168.1.7")));
        assert!(!set.contains(ip("192.168.1.8")));
        assert!(set.contains(ip("2001:db8:ffff::1")));
        assert!(!set.contains(ip("2001:db9::")));
    }

    #[test]
    fn ipv4_mapped_ipv6_is_ipv4() {
        let set = set(&["1.2.3.0/24"]);
        assert!(set.contains(ip("::ffff:1.2.3.4")));
        let v6 = self::set(&["::ffff:0:0/96"]);
        assert!(v6.contains(ip("8.8.8.8")));
    }

    #[test]
    fn host_bits_of_the_address_are_ignored_and_ranges_merge() {
        let set = set(&[
            "10.1.2.3/16",
            "10.0.0.0/16",
            "10.0.128.0/17",
            "0.0.0.0/0",
            "::/0",
        ]);
        assert_eq!(set.ranges.len(), 1, "{:x?}", set.ranges);
        assert!(set.contains(ip("255.255.255.255")));
        assert!(set.contains(ip("::1")));
        let adjacent = self::set(&["10.0.0.0/9", "10.128.0.0/9", "10.1.0.0/16"]);
        assert_eq!(adjacent.ranges.len(), 1);
        assert!(adjacent.contains(ip("10.200.0.1")));
    }
}
