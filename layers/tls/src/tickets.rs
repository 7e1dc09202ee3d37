//! `TicketStore`: the client's session cache, deep enough to resume bursts of connections.

use rustls::{
    NamedGroup,
    client::{ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue},
    pki_types::ServerName,
};
use std::{
    collections::{HashMap, VecDeque},
    sync::{Mutex, PoisonError},
};

/// TLS 1.3 tickets kept per server. Each ticket resumes one connection, so this is how many
/// connections can start at once without a full handshake (rustls' own cache keeps 8, which
/// sends most of a burst of 64 through certificate verification).
pub const TICKETS_PER_SERVER: usize = 128;

/// Servers remembered; the least recently used is forgotten first.
const MAX_SERVERS: usize = 16;

/// What is remembered about one server.
#[derive(Debug, Default)]
struct Server {
    kx_hint: Option<NamedGroup>,
    tls12: Option<Tls12ClientSessionValue>,
    /// Oldest first; the newest is taken first, being the furthest from expiry.
    tls13: VecDeque<Tls13ClientSessionValue>,
    last_used: u64,
}

/// An in-memory [`ClientSessionStore`] holding up to [`TICKETS_PER_SERVER`] tickets for each
/// of a few servers.
#[derive(Debug, Default)]
pub struct TicketStore {
    servers: Mutex<(u64, HashMap<String, Server>)>,
}

impl TicketStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f` on the entry of `name`, created (evicting the least recently used) if `create`.
    fn with<T>(
        &self,
        name: &ServerName<'_>,
        create: bool,
        f: impl FnOnce(&mut Server) -> T,
    ) -> Option<T> {
        // Keyed by the name's text, which a DNS name lends without allocating.
        let key = name.to_str();
        let mut guard = self.servers.lock().unwrap_or_else(PoisonError::into_inner);
        let (clock, servers) = &mut *guard;
        *clock += 1;
        if !servers.contains_key(key.as_ref()) {
            if !create {
                return None;
            }
            if servers.len() >= MAX_SERVERS {
                let oldest = servers
                    .iter()
                    .min_by_key(|(_, server)| server.last_used)
                    .map(|(name, _)| name.clone());
                if let Some(oldest) = oldest {
                    servers.remove(&oldest);
                }
            }
            servers.insert(key.as_ref().to_owned(), Server::default());
        }
        let server = servers.get_mut(key.as_ref())?;
        server.last_used = *clock;
        Some(f(server))
    }
}

impl ClientSessionStore for TicketStore {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.with(&server_name, true, |s| s.kx_hint = Some(group));
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.with(server_name, false, |s| s.kx_hint).flatten()
    }

    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.with(&server_name, true, |s| s.tls12 = Some(value));
    }

    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.with(server_name, false, |s| s.tls12.clone()).flatten()
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.with(server_name, false, |s| s.tls12 = None);
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: Tls13ClientSessionValue,
    ) {
        self.with(&server_name, true, |s| {
            if s.tls13.len() == TICKETS_PER_SERVER {
                s.tls13.pop_front();
            }
            s.tls13.push_back(value);
        });
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        self.with(server_name, false, |s| s.tls13.pop_back())
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(i: usize) -> ServerName<'static> {
        ServerName::try_from(format!("s{i}.example")).unwrap()
    }

    #[test]
    fn forgets_the_least_recently_used_server() {
        let store = TicketStore::new();
        for i in 0..MAX_SERVERS {
            store.set_kx_hint(name(i), NamedGroup::X25519);
        }
        assert_eq!(
            store.kx_hint(&name(0)),
            Some(NamedGroup::X25519),
            "touches s0"
        );
        store.set_kx_hint(name(MAX_SERVERS), NamedGroup::secp256r1);
        assert_eq!(store.kx_hint(&name(0)), Some(NamedGroup::X25519));
        assert_eq!(
            store.kx_hint(&name(1)),
            None,
            "s1 was the least recently used"
        );
        assert_eq!(
            store.kx_hint(&name(MAX_SERVERS)),
            Some(NamedGroup::secp256r1)
        );
        assert!(store.take_tls13_ticket(&name(99)).is_none());
    }
}
