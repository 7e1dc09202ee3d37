//! A set of ports as sorted, merged ranges.

use crate::rule::PortRange;
use std::mem::size_of;

/// Compiled port ranges.
#[derive(Debug, Clone)]
pub(crate) struct PortSet {
    ranges: Vec<(u16, u16)>,
}

impl PortSet {
    /// Sorts and merges the ranges.
    pub(crate) fn new(list: &[PortRange]) -> Self {
        let mut sorted: Vec<(u16, u16)> = list.iter().map(|r| (r.start, r.end)).collect();
        sorted.sort_unstable();
        let mut ranges: Vec<(u16, u16)> = Vec::with_capacity(sorted.len());
        for (start, end) in sorted {
            match ranges.last_mut() {
                Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
                _ => ranges.push((start, end)),
            }
        }
        PortSet { ranges }
    }

    /// Whether the port is in one of the ranges.
    pub(crate) fn contains(&self, port: u16) -> bool {
        let after = self.ranges.partition_point(|(start, _)| *start <= port);
        after > 0 && self.ranges[after - 1].1 >= port
    }

    /// Heap bytes of the ranges.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.ranges.capacity() * size_of::<(u16, u16)>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_contain_their_ports() {
        let set = PortSet::new(&[
            PortRange::single(443),
            PortRange {
                start: 8000,
                end: 9000,
            },
            PortRange {
                start: 8500,
                end: 9100,
            },
            PortRange::single(80),
        ]);
        assert_eq!(set.ranges, [(80, 80), (443, 443), (8000, 9100)]);
        for port in [80, 443, 8000, 9100] {
            assert!(set.contains(port), "{port}");
        }
        for port in [0, 79, 81, 444, 7999, 9101, 65535] {
            assert!(!set.contains(port), "{port}");
        }
    }
}
