//! The dispatch: the one place every logical connection goes through — connect, reply, relay
//! with the idle deadline, the table entry, close by id, and one log line when it ends.
//!
//! The accept loop calls [`Dispatch::serve`] for what each accepted socket's handshake
//! yields; a session (a UDP association, an XUDP or mux session, the streams of an HTTP/2
//! connection) calls [`SessionDispatch::connect`] for each connection it opens.

use crate::{
    Accepted, Address, BoxConnector, BoxError, ConnectionContext, ConnectionTable, Failure,
    Network, RelayStats, Reply, Session, Target, error_chain, relay,
};
use std::{
    fmt,
    future::Future,
    io,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

/// What the dispatch applies to every connection; a reload may change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DispatchSettings {
    /// A relay with no byte either way for this long is closed.
    pub idle_timeout: Duration,
}

impl DispatchSettings {
    /// Settings with the given idle timeout.
    pub fn new(idle_timeout: Duration) -> Self {
        DispatchSettings { idle_timeout }
    }
}

impl Default for DispatchSettings {
    fn default() -> Self {
        DispatchSettings::new(Duration::from_secs(300))
    }
}

/// Told how each connection's dial through its outbound went, for metrics.
pub trait DialObserver: Send + Sync + fmt::Debug + 'static {
    /// `context` finished dialling after `elapsed`: connected, or failed with a [`Failure`].
    fn dialled(&self, context: &ConnectionContext, elapsed: Duration, outcome: Result<(), Failure>);
}

/// Runs logical connections and keeps them in its [`ConnectionTable`]; clones share both.
#[derive(Clone)]
pub struct Dispatch {
    shared: Arc<Shared>,
}

struct Shared {
    table: ConnectionTable,
    settings: Mutex<DispatchSettings>,
    observer: Option<Arc<dyn DialObserver>>,
}

impl fmt::Debug for Dispatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatch")
            .field("table", &self.shared.table)
            .field("settings", &self.settings())
            .finish()
    }
}

impl Default for Dispatch {
    fn default() -> Self {
        Dispatch::new(ConnectionTable::new(), DispatchSettings::default())
    }
}

impl Dispatch {
    /// A dispatch recording connections in `table`.
    pub fn new(table: ConnectionTable, settings: DispatchSettings) -> Self {
        Self::build(table, settings, None)
    }

    /// A dispatch recording connections in `table` and telling `observer` about each dial.
    pub fn with_observer(
        table: ConnectionTable,
        settings: DispatchSettings,
        observer: Arc<dyn DialObserver>,
    ) -> Self {
        Self::build(table, settings, Some(observer))
    }

    fn build(
        table: ConnectionTable,
        settings: DispatchSettings,
        observer: Option<Arc<dyn DialObserver>>,
    ) -> Self {
        Dispatch {
            shared: Arc::new(Shared {
                table,
                settings: Mutex::new(settings),
                observer,
            }),
        }
    }

    /// The table of open connections.
    pub fn table(&self) -> &ConnectionTable {
        &self.shared.table
    }

    /// The settings new connections start with.
    pub fn settings(&self) -> DispatchSettings {
        *self
            .shared
            .settings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the settings for connections that start from now on.
    pub fn set_settings(&self, settings: DispatchSettings) {
        *self
            .shared
            .settings
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = settings;
    }

    /// Runs what an inbound handshake produced to its end, dialling through `connector`.
    pub async fn serve(&self, accepted: Accepted, connector: BoxConnector) {
        match accepted {
            Accepted::Connect { target, reply } => self.connect(target, reply, connector).await,
            Accepted::Session { target, session } => {
                self.run_session(target, session, connector).await
            }
        }
    }

    /// Connects `target` through `connector`, answers the client through `reply`, then relays
    /// until both sides close, the idle deadline passes or the connection is closed by id.
    pub async fn connect(&self, target: Target, reply: Box<dyn Reply>, connector: BoxConnector) {
        let context = target.context.clone();
        let _entry = self.shared.table.register(context.clone());
        let idle = self.settings().idle_timeout;
        let outcome = tokio::select! {
            biased;
            () = context.closed() => Outcome::Closed,
            outcome = self.connect_and_relay(target, reply, connector, idle) => outcome,
        };
        outcome.log(&context);
    }

    async fn run_session(
        &self,
        target: Target,
        session: Box<dyn Session>,
        connector: BoxConnector,
    ) {
        let context = target.context.clone();
        let _entry = self.shared.table.register(context.clone());
        let dispatch = SessionDispatch::new(target, self.clone(), connector);
        let grace = session.closing_grace();
        let mut run = session.run(dispatch);
        let outcome = tokio::select! {
            biased;
            () = context.closed() => {
                if !grace.is_zero() {
                    let _ = tokio::time::timeout(grace, &mut run).await;
                }
                Outcome::Closed
            }
            ended = &mut run => Outcome::SessionEnded(ended),
        };
        // Whatever the session left open ends with it.
        context.close();
        outcome.log(&context);
    }
}

/// How many connections one session may be dialling at once; past it, new destinations are
/// refused until a dial finishes (a flood of unresolvable names cannot pile up dials).
pub const DIALS_PER_SESSION: usize = 16;

/// How a session opens its connections: as children of its own, through the same dispatch.
#[derive(Debug)]
pub struct SessionDispatch {
    parent: Target,
    dispatch: Dispatch,
    connector: BoxConnector,
    dials: Arc<Semaphore>,
}

/// A session already has [`DIALS_PER_SESSION`] dials under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many connections of this session are being dialled")]
pub struct Busy;

impl SessionDispatch {
    /// Children of `parent`, dispatched by `dispatch` through `connector`.
    ///
    /// [`Dispatch::serve`] builds this for every session it runs (and lists the parent in its
    /// table); build one yourself only to run a session under your own supervision.
    pub fn new(parent: Target, dispatch: Dispatch, connector: BoxConnector) -> Self {
        SessionDispatch {
            parent,
            dispatch,
            connector,
            dials: Arc::new(Semaphore::new(DIALS_PER_SESSION)),
        }
    }

    /// The session's own connection.
    pub fn parent(&self) -> &Target {
        &self.parent
    }

    /// The settings of the dispatch, such as the idle timeout a session applies to its own waits.
    pub fn settings(&self) -> DispatchSettings {
        self.dispatch.settings()
    }

    /// A request for `destination` on behalf of the session (a child connection).
    pub fn child(&self, destination: Address, network: Network) -> Target {
        self.parent.child(destination, network)
    }

    /// Runs what an inner handshake yielded on one of the session's streams (an HTTP/2 or mux
    /// stream), as a child of the session; run the future on a task of the session's.
    pub fn serve(&self, accepted: Accepted) -> impl Future<Output = ()> + Send + 'static {
        let parent = &self.parent.context;
        let accepted = match accepted {
            Accepted::Connect { mut target, reply } => {
                target.context = adopt(parent, &target);
                Accepted::Connect { target, reply }
            }
            Accepted::Session {
                mut target,
                session,
            } => {
                target.context = adopt(parent, &target);
                Accepted::Session { target, session }
            }
        };
        let dispatch = self.dispatch.clone();
        let connector = self.connector.clone();
        async move { dispatch.serve(accepted, connector).await }
    }

    /// Dispatches a connection the session opened; run the future on a task of the session's.
    ///
    /// Refused with [`Busy`] while [`DIALS_PER_SESSION`] of the session's connections are still
    /// being dialled; the dial's slot is free once the outbound answered (or gave up).
    pub fn connect(
        &self,
        target: Target,
        reply: Box<dyn Reply>,
    ) -> Result<impl Future<Output = ()> + Send + 'static, Busy> {
        let permit = self.dials.clone().try_acquire_owned().map_err(|_| Busy)?;
        let reply = Box::new(Dialling { reply, permit });
        let dispatch = self.dispatch.clone();
        let connector = self.connector.clone();
        Ok(async move { dispatch.connect(target, reply, connector).await })
    }
}

/// A reply that holds a session's dial slot until the outbound has answered.
#[derive(Debug)]
struct Dialling {
    reply: Box<dyn Reply>,
    permit: OwnedSemaphorePermit,
}

impl Reply for Dialling {
    fn succeed(self: Box<Self>) -> crate::BoxFuture<io::Result<crate::BoxIo>> {
        drop(self.permit);
        self.reply.succeed()
    }

    fn fail(self: Box<Self>, failure: Failure) -> crate::BoxFuture<io::Result<()>> {
        drop(self.permit);
        self.reply.fail(failure)
    }
}

/// The context of `target` as a child of `parent`, keeping what the inner handshake learned.
fn adopt(parent: &ConnectionContext, target: &Target) -> ConnectionContext {
    let own = &target.context;
    parent.child_with(own.meta().clone(), own.network(), own.destination().clone())
}

impl Dispatch {
    /// Dials, answers the client, relays.
    async fn connect_and_relay(
        &self,
        target: Target,
        reply: Box<dyn Reply>,
        connector: BoxConnector,
        idle: Duration,
    ) -> Outcome {
        let context = target.context.clone();
        let started = Instant::now();
        let dialled = connector.oneshot(target).await;
        if let Some(observer) = &self.shared.observer {
            let outcome = dialled
                .as_ref()
                .map(drop)
                .map_err(|e| Failure::classify(&**e));
            observer.dialled(&context, started.elapsed(), outcome);
        }
        let mut remote = match dialled {
            Ok(remote) => remote,
            Err(error) => {
                let failure = Failure::classify(&*error);
                let _ = reply.fail(failure).await;
                return Outcome::ConnectFailed { failure, error };
            }
        };
        let mut client = match reply.succeed().await {
            Ok(client) => client,
            Err(e) => return Outcome::ClientGone(e),
        };
        Outcome::Relayed(relay(&mut client, &mut remote, Some(idle), context.traffic()).await)
    }
}

/// How a connection ended, for its one log line.
enum Outcome {
    ConnectFailed { failure: Failure, error: BoxError },
    ClientGone(io::Error),
    Relayed(io::Result<RelayStats>),
    SessionEnded(Result<(), BoxError>),
    Closed,
}

impl Outcome {
    fn log(&self, context: &ConnectionContext) {
        let meta = context.meta();
        let route = context.route();
        let chain = route
            .chain
            .iter()
            .map(|name| &**name)
            .collect::<Vec<_>>()
            .join(">");
        let (up, down) = (context.traffic().up(), context.traffic().down());
        let user = meta.user.as_deref().unwrap_or("");
        let destination = context.destination();
        let id = context.id();
        let parent = context.parent().unwrap_or(0);
        let secs = context.started_at().elapsed().as_secs_f64();
        match self {
            Outcome::ConnectFailed { failure, error } => tracing::info!(
                id, parent, user, %destination, outbound = chain, ?failure,
                "connect failed: {}", error_chain(&**error)
            ),
            Outcome::ClientGone(e) => tracing::debug!(
                id, parent, user, %destination, outbound = chain,
                "client left before the reply: {e}"
            ),
            Outcome::Relayed(Ok(_)) => tracing::debug!(
                id, parent, user, %destination, outbound = chain, up, down, secs, "closed"
            ),
            Outcome::Relayed(Err(e)) => tracing::debug!(
                id, parent, user, %destination, outbound = chain, up, down, secs,
                "relay ended: {e}"
            ),
            Outcome::SessionEnded(Ok(())) => tracing::debug!(
                id, user, %destination, up, down, secs, "session closed"
            ),
            Outcome::SessionEnded(Err(e)) => tracing::debug!(
                id, user, %destination, up, down, secs,
                "session ended: {}", error_chain(&**e)
            ),
            Outcome::Closed => tracing::info!(
                id, parent, user, %destination, outbound = chain, up, down, secs,
                "closed by request"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BoxIo, Handover, Meta};
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};
    use tower::service_fn;

    /// A connector whose every connection is an echo.
    fn echo_connector() -> BoxConnector {
        BoxConnector::new(service_fn(|_: Target| async {
            let (ours, theirs) = duplex(1024);
            tokio::spawn(async move {
                let (mut read, mut write) = tokio::io::split(theirs);
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
            Ok::<_, BoxError>(BoxIo::new(ours))
        }))
    }

    fn target() -> Target {
        Target::new(
            "example.com:7".parse().unwrap(),
            Network::Tcp,
            Meta::new("test"),
        )
    }

    /// Dispatches `target` to an echo on a task; the client's end of the stream comes back.
    fn spawn_echo(
        dispatch: &Dispatch,
        target: Target,
    ) -> (tokio::io::DuplexStream, tokio::task::JoinHandle<()>) {
        let (client, server_end) = duplex(1024);
        let dispatch = dispatch.clone();
        let task = tokio::spawn(async move {
            dispatch
                .connect(target, Handover::new(server_end), echo_connector())
                .await
        });
        (client, task)
    }

    #[tokio::test]
    async fn counts_bytes_while_open_and_forgets_the_connection_when_it_ends() {
        let dispatch = Dispatch::default();
        let target = target();
        let context = target.context.clone();
        let (mut client, task) = spawn_echo(&dispatch, target);
        client.write_all(b"ping").await.unwrap();
        let mut got = [0; 4];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"ping");
        assert_eq!(dispatch.table().list()[0].id(), context.id());
        assert_eq!((context.traffic().up(), context.traffic().down()), (4, 4));
        drop(client);
        task.await.unwrap();
        assert!(dispatch.table().is_empty());
        assert_eq!(dispatch.table().totals().all.up, 4);
    }

    #[tokio::test]
    async fn closing_by_id_ends_the_relay_and_the_client_sees_the_end() {
        let dispatch = Dispatch::default();
        let target = target();
        let id = target.context.id();
        let (mut client, task) = spawn_echo(&dispatch, target);
        client.write_all(b"x").await.unwrap();
        client.read_exact(&mut [0; 1]).await.unwrap();
        assert!(dispatch.table().close(id));
        task.await.unwrap();
        assert_eq!(client.read(&mut [0; 8]).await.unwrap(), 0);
        assert!(dispatch.table().is_empty());
    }

    #[tokio::test]
    async fn a_stream_of_a_session_is_served_as_its_child() {
        let dispatch = Dispatch::default();
        let parent = target();
        let session = SessionDispatch::new(parent.clone(), dispatch.clone(), echo_connector());
        let (mut client, server_end) = duplex(1024);
        let meta = Meta::new("test").with_user(Some("alice".into()));
        let inner = Target::new("example.com:80".parse().unwrap(), Network::Tcp, meta);
        let accepted = Accepted::Connect {
            target: inner,
            reply: Handover::new(server_end),
        };
        let task = tokio::spawn(session.serve(accepted));
        client.write_all(b"hi").await.unwrap();
        client.read_exact(&mut [0; 2]).await.unwrap();
        let child = &dispatch.table().list()[0];
        assert_eq!(child.parent(), Some(parent.context.id()));
        assert_eq!(child.meta().user.as_deref(), Some("alice"));
        parent.context.close();
        task.await.unwrap();
        assert!(
            dispatch.table().is_empty(),
            "closing the session closed its stream"
        );
    }

    #[tokio::test]
    async fn a_closed_session_with_a_grace_ends_itself_within_it() {
        /// Sends its goodbye once its connection is closed, the way HTTP/2 sends GOAWAY.
        #[derive(Debug)]
        struct Polite(tokio::sync::oneshot::Sender<&'static str>);
        impl Session for Polite {
            fn run(
                self: Box<Self>,
                dispatch: SessionDispatch,
            ) -> crate::BoxFuture<Result<(), BoxError>> {
                Box::pin(async move {
                    dispatch.parent().context.closed().await;
                    tokio::task::yield_now().await;
                    let _ = self.0.send("goaway");
                    Ok(())
                })
            }
            fn closing_grace(&self) -> Duration {
                Duration::from_secs(5)
            }
        }
        let dispatch = Dispatch::default();
        let target = target();
        let context = target.context.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let accepted = Accepted::Session {
            target,
            session: Box::new(Polite(tx)),
        };
        let task = tokio::spawn({
            let dispatch = dispatch.clone();
            async move { dispatch.serve(accepted, echo_connector()).await }
        });
        while dispatch.table().is_empty() {
            tokio::task::yield_now().await;
        }
        context.close();
        task.await.unwrap();
        assert_eq!(rx.await.unwrap(), "goaway");
        assert!(dispatch.table().is_empty());
    }

    #[tokio::test]
    async fn a_session_dials_at_most_its_share_at_once() {
        let never = BoxConnector::new(service_fn(|_: Target| std::future::pending()));
        let session = SessionDispatch::new(target(), Dispatch::default(), never);
        let mut dialling = Vec::new();
        for _ in 0..DIALS_PER_SESSION {
            let (_, io) = duplex(64);
            let child = session.child("example.com:53".parse().unwrap(), Network::Udp);
            let dial = session.connect(child, Handover::new(io)).unwrap();
            dialling.push(tokio::spawn(dial));
        }
        tokio::task::yield_now().await;
        let (_, io) = duplex(64);
        let child = session.child("example.com:53".parse().unwrap(), Network::Udp);
        assert_eq!(session.connect(child, Handover::new(io)).err(), Some(Busy));
        dialling.pop().unwrap().abort();
        tokio::task::yield_now().await;
        let (_, io) = duplex(64);
        let child = session.child("example.com:53".parse().unwrap(), Network::Udp);
        assert!(
            session.connect(child, Handover::new(io)).is_ok(),
            "a slot freed"
        );
    }

    #[tokio::test]
    async fn a_failed_connect_reaches_the_reply() {
        #[derive(Debug)]
        struct Expect(tokio::sync::oneshot::Sender<Failure>);
        impl Reply for Expect {
            fn succeed(self: Box<Self>) -> crate::BoxFuture<io::Result<BoxIo>> {
                unreachable!("the connector refuses")
            }
            fn fail(self: Box<Self>, failure: Failure) -> crate::BoxFuture<io::Result<()>> {
                let _ = self.0.send(failure);
                Box::pin(async { Ok(()) })
            }
        }
        let refuse = BoxConnector::new(service_fn(|_: Target| async {
            Err::<BoxIo, BoxError>(io::Error::from(io::ErrorKind::ConnectionRefused).into())
        }));
        let (tx, rx) = tokio::sync::oneshot::channel();
        Dispatch::default()
            .connect(target(), Box::new(Expect(tx)), refuse)
            .await;
        assert_eq!(rx.await.unwrap(), Failure::ConnectionRefused);
    }

    #[tokio::test]
    async fn the_observer_hears_of_every_dial() {
        #[derive(Debug, Default)]
        struct Record(Mutex<Vec<Result<(), Failure>>>);
        impl DialObserver for Record {
            fn dialled(&self, _: &ConnectionContext, _: Duration, outcome: Result<(), Failure>) {
                self.0.lock().unwrap().push(outcome);
            }
        }
        let record = Arc::new(Record::default());
        let dispatch = Dispatch::with_observer(
            ConnectionTable::new(),
            DispatchSettings::default(),
            record.clone(),
        );
        let refuse = BoxConnector::new(service_fn(|_: Target| async {
            Err::<BoxIo, BoxError>(io::Error::from(io::ErrorKind::ConnectionRefused).into())
        }));
        let (_client, server_end) = duplex(64);
        dispatch
            .connect(target(), Handover::new(server_end), refuse)
            .await;
        let (client, server_end) = duplex(64);
        drop(client);
        dispatch
            .connect(target(), Handover::new(server_end), echo_connector())
            .await;
        let outcomes = record.0.lock().unwrap().clone();
        assert_eq!(outcomes, [Err(Failure::ConnectionRefused), Ok(())]);
    }
}
