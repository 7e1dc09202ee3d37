//! Process-wide counters of events only a layer sees (TLS resumptions, dropped datagrams,
//! rate-limit waits), read by whoever exports metrics; plain atomics, no exporter in the layers.

use std::sync::atomic::{AtomicU64, Ordering};

/// A count that only goes up, shared by the whole process.
#[derive(Debug, Default)]
pub struct EventCounter {
    count: AtomicU64,
}

impl EventCounter {
    /// A counter at zero.
    pub const fn new() -> Self {
        EventCounter {
            count: AtomicU64::new(0),
        }
    }

    /// Counts one event.
    pub fn inc(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Events counted so far.
    pub fn get(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// TLS handshakes the server side finished with a full key exchange and certificate.
pub static TLS_ACCEPTED_FULL: EventCounter = EventCounter::new();

/// TLS handshakes the server side finished by resuming an earlier session.
pub static TLS_ACCEPTED_RESUMED: EventCounter = EventCounter::new();

/// TLS handshakes the client side finished with a full key exchange and certificate check.
pub static TLS_CONNECTED_FULL: EventCounter = EventCounter::new();

/// TLS handshakes the client side finished by resuming an earlier session.
pub static TLS_CONNECTED_RESUMED: EventCounter = EventCounter::new();

/// Datagrams a UDP session dropped: over its queue budget, over a cap, or to a gone destination.
pub static DATAGRAMS_DROPPED: EventCounter = EventCounter::new();

/// Connections that waited for a rate limit's connection rate before dialling.
pub static RATE_LIMIT_CONNECTION_WAITS: EventCounter = EventCounter::new();

/// Reads or writes that waited for a rate limit's byte budget.
pub static RATE_LIMIT_BYTE_WAITS: EventCounter = EventCounter::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_count() {
        let counter = EventCounter::new();
        counter.inc();
        counter.inc();
        assert_eq!(counter.get(), 2);
    }
}
