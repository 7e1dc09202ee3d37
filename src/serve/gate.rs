//! The handshake gate of one listener: a cap on its unauthenticated connections, and a
//! smaller one per client address, so that silent connections from one place cannot hold
//! every slot (nor starve other listeners).

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, PoisonError},
};

/// How many handshakes one listener admits at once, in all and per client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct GateLimits {
    pub(super) per_inbound: usize,
    pub(super) per_address: usize,
}

/// Counts the handshakes under way on one listener.
#[derive(Debug, Default)]
pub(super) struct Gate {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// Why a connection was turned away at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Full {
    /// The listener holds its most handshakes.
    Inbound,
    /// This client address holds its most handshakes.
    Address,
}

impl Gate {
    /// A slot for one handshake from `ip`, unless a cap is reached.
    pub(super) fn admit(
        self: &Arc<Self>,
        ip: IpAddr,
        limits: GateLimits,
    ) -> Result<HandshakeSlot, Full> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.total >= limits.per_inbound {
            return Err(Full::Inbound);
        }
        let from_ip = state.by_address.entry(ip).or_default();
        if *from_ip >= limits.per_address {
            return Err(Full::Address);
        }
        *from_ip += 1;
        state.total += 1;
        Ok(HandshakeSlot {
            gate: self.clone(),
            ip,
        })
    }

    /// Handshakes under way.
    #[cfg(test)]
    fn open(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

/// One handshake's place in the gate, given back when dropped.
#[derive(Debug)]
pub(super) struct HandshakeSlot {
    gate: Arc<Gate>,
    ip: IpAddr,
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        let mut state = self
            .gate
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.total -= 1;
        if let Some(count) = state.by_address.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                state.by_address.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: GateLimits = GateLimits {
        per_inbound: 3,
        per_address: 2,
    };

    #[test]
    fn caps_hold_per_address_and_in_all_and_slots_come_back() {
        let gate = Arc::new(Gate::default());
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let first = gate.admit(a, LIMITS).unwrap();
        let _second = gate.admit(a, LIMITS).unwrap();
        assert_eq!(gate.admit(a, LIMITS).unwrap_err(), Full::Address);
        let _third = gate.admit(b, LIMITS).unwrap();
        assert_eq!(gate.admit(b, LIMITS).unwrap_err(), Full::Inbound);
        drop(first);
        assert_eq!(gate.open(), 2);
        assert!(gate.admit(a, LIMITS).is_ok());
    }
}
