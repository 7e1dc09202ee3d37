//! The live connection table: every open logical connection, closable by id, with totals.

use crate::ConnectionContext;
use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};
use tokio::sync::watch;

/// Connections and bytes of one inbound, outbound or user (or of everything).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Connections open now.
    pub open: u64,
    /// Connections that have ended.
    pub closed: u64,
    /// Bytes sent towards destinations, by open and ended connections.
    pub up: u64,
    /// Bytes sent back to clients, by open and ended connections.
    pub down: u64,
}

impl Totals {
    /// Every connection ever opened: `open + closed`.
    pub fn connections(&self) -> u64 {
        self.open + self.closed
    }

    fn add_open(&mut self, context: &ConnectionContext) {
        self.open += 1;
        self.add_bytes(context);
    }

    fn add_closed(&mut self, context: &ConnectionContext) {
        self.closed += 1;
        self.add_bytes(context);
    }

    fn add_bytes(&mut self, context: &ConnectionContext) {
        self.up += context.traffic().up();
        self.down += context.traffic().down();
    }

    fn merge(&mut self, other: &Totals) {
        self.open += other.open;
        self.closed += other.closed;
        self.up += other.up;
        self.down += other.down;
    }
}

/// Totals of the whole table and by inbound, by outbound (the last one entered) and by user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableTotals {
    /// Everything.
    pub all: Totals,
    /// By inbound name.
    pub by_inbound: BTreeMap<Arc<str>, Totals>,
    /// By the outbound that carried the connection (the last one in its chain).
    pub by_outbound: BTreeMap<Arc<str>, Totals>,
    /// By authenticated user.
    pub by_user: BTreeMap<Arc<str>, Totals>,
}

impl TableTotals {
    /// Adds one connection's figures under each of its keys.
    fn add(&mut self, context: &ConnectionContext, count: fn(&mut Totals, &ConnectionContext)) {
        count(&mut self.all, context);
        let meta = context.meta();
        count(
            self.by_inbound.entry(meta.inbound.clone()).or_default(),
            context,
        );
        if let Some(user) = &meta.user {
            count(self.by_user.entry(user.clone()).or_default(), context);
        }
        if let Some(outbound) = context.route().chain.last() {
            count(
                self.by_outbound.entry(outbound.clone()).or_default(),
                context,
            );
        }
    }

    fn merge(&mut self, other: &TableTotals) {
        self.all.merge(&other.all);
        for (mine, theirs) in [
            (&mut self.by_inbound, &other.by_inbound),
            (&mut self.by_outbound, &other.by_outbound),
            (&mut self.by_user, &other.by_user),
        ] {
            for (key, totals) in theirs {
                mine.entry(key.clone()).or_default().merge(totals);
            }
        }
    }
}

/// The open logical connections of a running server; clones share one table.
///
/// The dispatch registers every connection for as long as it lives. Keep one table for the
/// life of the process, across reloads, so nothing open is forgotten.
#[derive(Clone)]
pub struct ConnectionTable {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    open: watch::Sender<usize>,
}

#[derive(Default)]
struct State {
    open: HashMap<u64, ConnectionContext>,
    ended: TableTotals,
}

impl Default for ConnectionTable {
    fn default() -> Self {
        ConnectionTable {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                open: watch::Sender::new(0),
            }),
        }
    }
}

impl fmt::Debug for ConnectionTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionTable")
            .field("open", &self.len())
            .finish()
    }
}

impl ConnectionTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Lists `context` until the returned guard is dropped; its figures then move to the totals.
    pub fn register(&self, context: ConnectionContext) -> Registration {
        let open = {
            let mut state = self.state();
            state.open.insert(context.id(), context.clone());
            state.open.len()
        };
        self.shared.open.send_replace(open);
        Registration {
            table: self.clone(),
            context,
        }
    }

    fn unregister(&self, context: &ConnectionContext) {
        let open = {
            let mut state = self.state();
            if state.open.remove(&context.id()).is_some() {
                state.ended.add(context, Totals::add_closed);
            }
            state.open.len()
        };
        self.shared.open.send_replace(open);
    }

    /// The open connections, oldest first.
    pub fn list(&self) -> Vec<ConnectionContext> {
        let mut open: Vec<ConnectionContext> = self.state().open.values().cloned().collect();
        open.sort_by_key(ConnectionContext::id);
        open
    }

    /// The open connection with this id.
    pub fn get(&self, id: u64) -> Option<ConnectionContext> {
        self.state().open.get(&id).cloned()
    }

    /// Closes the connection with this id (and the connections opened on its behalf);
    /// `false` when no such connection is open.
    pub fn close(&self, id: u64) -> bool {
        match self.get(id) {
            Some(context) => {
                context.close();
                true
            }
            None => false,
        }
    }

    /// Closes every open connection.
    pub fn close_all(&self) {
        for context in self.list() {
            context.close();
        }
    }

    /// How many connections are open.
    pub fn len(&self) -> usize {
        *self.shared.open.borrow()
    }

    /// Whether no connection is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until no connection is open.
    pub async fn wait_empty(&self) {
        let mut open = self.shared.open.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = open.wait_for(|n| *n == 0).await;
    }

    /// Connections and bytes so far, open ones included.
    pub fn totals(&self) -> TableTotals {
        let state = self.state();
        let mut totals = TableTotals::default();
        for context in state.open.values() {
            totals.add(context, Totals::add_open);
        }
        totals.merge(&state.ended);
        totals
    }
}

/// Keeps a connection in the table; dropping it ends the entry.
#[derive(Debug)]
pub struct Registration {
    table: ConnectionTable,
    context: ConnectionContext,
}

impl Registration {
    /// The registered connection.
    pub fn context(&self) -> &ConnectionContext {
        &self.context
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.table.unregister(&self.context);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Meta, Network};

    fn context(inbound: &str, user: Option<&str>) -> ConnectionContext {
        let meta = Meta::new(inbound).with_user(user.map(Arc::from));
        ConnectionContext::new(meta, Network::Tcp, "example.com:443".parse().unwrap())
    }

    #[test]
    fn entries_live_as_long_as_their_registration() {
        let table = ConnectionTable::new();
        let a = table.register(context("socks", None));
        let b = table.register(context("socks", None));
        assert_eq!(table.len(), 2);
        let ids: Vec<u64> = table.list().iter().map(ConnectionContext::id).collect();
        assert_eq!(ids, [a.context().id(), b.context().id()]);
        drop(a);
        assert_eq!(table.len(), 1);
        assert!(table.get(b.context().id()).is_some());
    }

    #[test]
    fn totals_count_open_and_ended_connections_by_key() {
        let table = ConnectionTable::new();
        let alice = table.register(context("vless", Some("alice")));
        alice.context().traffic().add_up(10);
        alice
            .context()
            .enter_outbound(&Arc::from("free") as &Arc<str>);
        let bob = table.register(context("vless", Some("bob")));
        bob.context().traffic().add_down(5);
        drop(alice);
        let totals = table.totals();
        assert_eq!(
            totals.all,
            Totals {
                open: 1,
                closed: 1,
                up: 10,
                down: 5
            }
        );
        assert_eq!(totals.by_inbound["vless"].connections(), 2);
        assert_eq!(totals.by_user["alice"].up, 10);
        assert_eq!(totals.by_user["bob"].open, 1);
        assert_eq!(totals.by_outbound["free"].closed, 1);
    }

    #[tokio::test]
    async fn close_by_id_reaches_the_connection_and_wait_empty_returns() {
        let table = ConnectionTable::new();
        let entry = table.register(context("socks", None));
        let id = entry.context().id();
        assert!(table.close(id));
        assert!(entry.context().is_closed());
        assert!(!table.close(id + 1_000_000));
        let waiter = tokio::spawn({
            let table = table.clone();
            async move { table.wait_empty().await }
        });
        drop(entry);
        waiter.await.unwrap();
        assert!(table.is_empty());
    }
}
