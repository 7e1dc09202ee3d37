//! The connection context: who a logical connection is, where it goes, how far it got, and the
//! handle that closes it.

use crate::{Address, Network};
use std::{
    fmt,
    net::SocketAddr,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Instant, SystemTime},
};
use tokio_util::sync::CancellationToken;

/// Where a request came from: the inbound, the authenticated user and the client's address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Meta {
    /// Name of the inbound that accepted the connection.
    pub inbound: Arc<str>,
    /// The authenticated user, when the inbound has users.
    pub user: Option<Arc<str>>,
    /// The client's address as seen by the inbound.
    pub peer: Option<SocketAddr>,
}

impl Meta {
    /// A request accepted by the inbound `inbound`.
    pub fn new(inbound: impl Into<Arc<str>>) -> Self {
        Meta {
            inbound: inbound.into(),
            ..Meta::default()
        }
    }

    /// Sets the authenticated user.
    pub fn with_user(mut self, user: Option<Arc<str>>) -> Self {
        self.user = user;
        self
    }

    /// Sets the client's address.
    pub fn with_peer(mut self, peer: SocketAddr) -> Self {
        self.peer = Some(peer);
        self
    }
}

/// Bytes moved by a connection, updated by the relay without a lock.
#[derive(Debug, Default)]
pub struct Traffic {
    up: AtomicU64,
    down: AtomicU64,
}

impl Traffic {
    /// Counts `n` bytes sent from the client towards the destination.
    pub fn add_up(&self, n: u64) {
        self.up.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `n` bytes sent from the destination back to the client.
    pub fn add_down(&self, n: u64) {
        self.down.fetch_add(n, Ordering::Relaxed);
    }

    /// Bytes sent towards the destination so far.
    pub fn up(&self) -> u64 {
        self.up.load(Ordering::Relaxed)
    }

    /// Bytes sent back to the client so far.
    pub fn down(&self) -> u64 {
        self.down.load(Ordering::Relaxed)
    }
}

/// What layers learn about a connection on its way out: names, the rule that chose, addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Route {
    /// The outbounds the connection went through, in the order they were entered.
    pub chain: Vec<Arc<str>>,
    /// The routing rule that chose an outbound, as `(kind, payload)`.
    pub rule: Option<(Arc<str>, Arc<str>)>,
    /// A host name sniffed from the first bytes (TLS SNI, HTTP `Host`).
    pub sniffed_host: Option<Arc<str>>,
    /// The protocol sniffed from the first bytes (`tls`, `http`).
    pub sniffed_protocol: Option<&'static str>,
    /// The address the destination resolved to, once a layer resolved it.
    pub resolved: Option<SocketAddr>,
}

/// Process-wide source of connection ids.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One logical connection: an id, where it came from, where it asked to go, the outbounds it
/// passed, its byte counters and its close handle.
///
/// Cheap to clone (one `Arc`); every clone sees the same counters and route.
#[derive(Clone)]
pub struct ConnectionContext {
    shared: Arc<Shared>,
}

struct Shared {
    id: u64,
    parent: Option<u64>,
    meta: Meta,
    network: Network,
    destination: Address,
    started: SystemTime,
    started_at: Instant,
    traffic: Traffic,
    route: Mutex<Route>,
    close: CancellationToken,
}

impl ConnectionContext {
    /// A new connection with a fresh id.
    pub fn new(meta: Meta, network: Network, destination: Address) -> Self {
        Self::build(meta, network, destination, None, CancellationToken::new())
    }

    fn build(
        meta: Meta,
        network: Network,
        destination: Address,
        parent: Option<u64>,
        close: CancellationToken,
    ) -> Self {
        ConnectionContext {
            shared: Arc::new(Shared {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                parent,
                meta,
                network,
                destination,
                started: SystemTime::now(),
                started_at: Instant::now(),
                traffic: Traffic::default(),
                route: Mutex::new(Route::default()),
                close,
            }),
        }
    }

    /// A connection opened on behalf of this one (a UDP destination of a session, a mux
    /// stream): same origin, its own id and counters, closed when this one is.
    pub fn child(&self, network: Network, destination: Address) -> Self {
        Self::build(
            self.shared.meta.clone(),
            network,
            destination,
            Some(self.shared.id),
            self.shared.close.child_token(),
        )
    }

    /// A connection opened on behalf of this one by someone else: `meta` (the user an inner
    /// handshake authenticated, say), `network` and `destination` are its own; it is closed
    /// when this one is.
    pub fn child_with(&self, meta: Meta, network: Network, destination: Address) -> Self {
        Self::build(
            meta,
            network,
            destination,
            Some(self.shared.id),
            self.shared.close.child_token(),
        )
    }

    /// The process-unique id.
    pub fn id(&self) -> u64 {
        self.shared.id
    }

    /// The id of the session this connection belongs to, if any.
    pub fn parent(&self) -> Option<u64> {
        self.shared.parent
    }

    /// Where the connection came from.
    pub fn meta(&self) -> &Meta {
        &self.shared.meta
    }

    /// TCP or UDP.
    pub fn network(&self) -> Network {
        self.shared.network
    }

    /// The destination as the client asked for it.
    pub fn destination(&self) -> &Address {
        &self.shared.destination
    }

    /// When the connection was accepted, by the wall clock.
    pub fn started(&self) -> SystemTime {
        self.shared.started
    }

    /// When the connection was accepted, by the monotonic clock.
    pub fn started_at(&self) -> Instant {
        self.shared.started_at
    }

    /// The byte counters.
    pub fn traffic(&self) -> &Traffic {
        &self.shared.traffic
    }

    /// A copy of what layers recorded about the route so far.
    pub fn route(&self) -> Route {
        self.lock_route().clone()
    }

    /// Records something about the route (an outbound entered, a rule, a sniffed name).
    pub fn update_route(&self, update: impl FnOnce(&mut Route)) {
        update(&mut self.lock_route());
    }

    /// Appends an outbound name to the chain.
    pub fn enter_outbound(&self, name: &Arc<str>) {
        self.update_route(|route| route.chain.push(name.clone()));
    }

    fn lock_route(&self) -> std::sync::MutexGuard<'_, Route> {
        self.shared
            .route
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks the connection, and every connection opened on its behalf, to close.
    pub fn close(&self) {
        self.shared.close.cancel();
    }

    /// Whether [`close`](Self::close) was called on it or its parent.
    pub fn is_closed(&self) -> bool {
        self.shared.close.is_cancelled()
    }

    /// Resolves once the connection is asked to close.
    pub async fn closed(&self) {
        self.shared.close.cancelled().await
    }
}

impl fmt::Debug for ConnectionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionContext")
            .field("id", &self.shared.id)
            .field("parent", &self.shared.parent)
            .field("inbound", &self.shared.meta.inbound)
            .field("network", &self.shared.network)
            .field("destination", &self.shared.destination)
            .finish_non_exhaustive()
    }
}

impl Default for ConnectionContext {
    fn default() -> Self {
        ConnectionContext::new(
            Meta::default(),
            Network::Tcp,
            Address::Ip(([0, 0, 0, 0], 0).into()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> ConnectionContext {
        let meta = Meta::new("socks").with_user(Some("alice".into()));
        ConnectionContext::new(meta, Network::Udp, "example.com:53".parse().unwrap())
    }

    #[test]
    fn ids_are_unique_and_children_know_their_parent() {
        let parent = context();
        let child = parent.child(Network::Udp, "1.1.1.1:53".parse().unwrap());
        assert_ne!(parent.id(), child.id());
        assert_eq!(child.parent(), Some(parent.id()));
        assert_eq!(child.meta().user.as_deref(), Some("alice"));
        assert_eq!(parent.parent(), None);
    }

    #[test]
    fn closing_a_parent_closes_its_children_but_not_the_other_way() {
        let parent = context();
        let (a, b) = (
            parent.child(Network::Udp, "1.1.1.1:53".parse().unwrap()),
            parent.child(Network::Udp, "8.8.8.8:53".parse().unwrap()),
        );
        a.close();
        assert!(a.is_closed() && !b.is_closed() && !parent.is_closed());
        parent.close();
        assert!(b.is_closed());
    }

    #[test]
    fn clones_share_counters_and_route() {
        let context = context();
        let clone = context.clone();
        clone.traffic().add_up(5);
        clone.traffic().add_down(7);
        clone.enter_outbound(&Arc::from("tunnel"));
        assert_eq!((context.traffic().up(), context.traffic().down()), (5, 7));
        assert_eq!(context.route().chain, [Arc::<str>::from("tunnel")]);
    }
}
