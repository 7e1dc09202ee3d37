//! UDP ASSOCIATE: relays a client's datagrams through the dispatch, one child connection per
//! destination, for as long as the TCP control connection lives.

use crate::{Socks5Settings, proto::UdpHeader};
use bytes::Bytes;
use std::{
    collections::HashMap,
    io,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll, ready},
};
use tokio::{
    io::AsyncReadExt,
    net::UdpSocket,
    task::JoinSet,
    time::{Instant, sleep_until},
};
use xypro_core::{
    Address, BoxError, BoxFuture, BoxIo, ConnectionContext, DatagramBudget, DatagramSender,
    DatagramSink, Handover, MAX_DATAGRAM, Network, Session, SessionDispatch, datagram_pipe,
};

/// Bytes one association may hold queued for all its destinations together.
const QUEUE_BUDGET: usize = 4 << 20;

/// A live UDP association.
#[derive(Debug)]
pub(crate) struct UdpAssociation {
    control: BoxIo,
    socket: Arc<UdpSocket>,
    /// Where the client's datagrams must come from: its control connection's IP, and the port
    /// it named in the request (0 when it did not know it: then the first datagram's port).
    peer: SocketAddr,
    settings: Arc<Socks5Settings>,
}

/// What the association dropped, for its closing log line.
#[derive(Debug, Default)]
struct Drops {
    foreign: u64,
    malformed: u64,
    fragmented: u64,
    over_cap: u64,
    dialling: u64,
    queue_full: u64,
}

/// When a datagram last moved either way, shared with the per-destination sinks.
#[derive(Debug)]
struct Activity {
    base: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            base: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = self.base.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.base + std::time::Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// One destination of the association: where its datagrams queue, and its connection.
struct Route {
    sender: DatagramSender,
    context: ConnectionContext,
}

impl UdpAssociation {
    pub(crate) fn new(
        control: BoxIo,
        socket: UdpSocket,
        peer: SocketAddr,
        settings: Arc<Socks5Settings>,
    ) -> Self {
        UdpAssociation {
            control,
            socket: Arc::new(socket),
            peer,
            settings,
        }
    }

    async fn serve(mut self, dispatch: SessionDispatch) -> Result<(), BoxError> {
        let budget = DatagramBudget::new(QUEUE_BUDGET);
        let mut routes: HashMap<Address, Route> = HashMap::new();
        let mut tasks = JoinSet::new();
        let mut client: Option<SocketAddr> = None;
        let mut drops = Drops::default();
        let activity = Arc::new(Activity::new());
        let mut datagram = vec![0u8; MAX_DATAGRAM];
        let mut control_buf = [0u8; 64];
        loop {
            let idle_deadline = activity.last() + self.settings.udp_idle_timeout;
            tokio::select! {
                read = self.control.read(&mut control_buf) => match read {
                    Ok(0) | Err(_) => break,
                    Ok(_) => continue,
                },
                received = self.socket.recv_from(&mut datagram) => {
                    let (n, from) = received?;
                    let port_named = self.peer.port() != 0 && from.port() != self.peer.port();
                    if from.ip() != self.peer.ip() || port_named || client.is_some_and(|c| c != from) {
                        drops.foreign += 1;
                        continue;
                    }
                    let Ok((header, at)) = UdpHeader::parse(&datagram[..n]) else {
                        drops.malformed += 1;
                        continue;
                    };
                    if header.frag != 0 {
                        drops.fragmented += 1;
                        continue;
                    }
                    client = Some(from);
                    activity.touch();
                    let payload = Bytes::copy_from_slice(&datagram[at..n]);
                    let route = match routes.get(&header.address) {
                        Some(route) if !route.sender.is_closed() => route,
                        _ => {
                            routes.retain(|_, route| !route.sender.is_closed());
                            if routes.len() >= self.settings.udp_max_destinations {
                                drops.over_cap += 1;
                                continue;
                            }
                            let target = dispatch.child(header.address.clone(), Network::Udp);
                            let sink = ReplySink::new(self.socket.clone(), from, &header.address, activity.clone());
                            let (sender, stream) = datagram_pipe(budget.clone(), sink);
                            let context = target.context.clone();
                            let Ok(dial) = dispatch.connect(target, Handover::new(stream)) else {
                                drops.dialling += 1;
                                continue;
                            };
                            tasks.spawn(dial);
                            routes.entry(header.address).insert_entry(Route { sender, context }).into_mut()
                        }
                    };
                    if route.sender.send(payload).is_err() {
                        drops.queue_full += 1;
                    }
                },
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                () = sleep_until(idle_deadline) => {
                    if activity.last() + self.settings.udp_idle_timeout <= Instant::now() {
                        tracing::debug!(peer = %self.peer, "UDP association idle");
                        break;
                    }
                }
            }
        }
        // Each destination's relay ends (and logs) before the association does.
        for route in routes.values() {
            route.context.close();
        }
        while tasks.join_next().await.is_some() {}
        let budget_drops = budget.dropped();
        tracing::debug!(peer = %self.peer, destinations = routes.len(), ?drops, budget_drops, "UDP association closed");
        Ok(())
    }
}

impl Session for UdpAssociation {
    fn run(self: Box<Self>, dispatch: SessionDispatch) -> BoxFuture<Result<(), BoxError>> {
        Box::pin(self.serve(dispatch))
    }
}

/// Sends one destination's replies to the client, each with the SOCKS5 UDP header naming it.
struct ReplySink {
    socket: Arc<UdpSocket>,
    client: SocketAddr,
    header: Vec<u8>,
    packet: Vec<u8>,
    activity: Arc<Activity>,
}

impl ReplySink {
    fn new(
        socket: Arc<UdpSocket>,
        client: SocketAddr,
        source: &Address,
        activity: Arc<Activity>,
    ) -> Self {
        let mut header = Vec::new();
        UdpHeader::write(&mut header, source);
        ReplySink {
            socket,
            client,
            header,
            packet: Vec::new(),
            activity,
        }
    }
}

impl DatagramSink for ReplySink {
    fn poll_send(&mut self, cx: &mut Context<'_>, datagram: &[u8]) -> Poll<io::Result<()>> {
        self.packet.clear();
        self.packet.extend_from_slice(&self.header);
        self.packet.extend_from_slice(datagram);
        // A datagram the client cannot receive (too large, say) is lost, as UDP would lose it.
        if let Err(e) = ready!(self.socket.poll_send_to(cx, &self.packet, self.client)) {
            tracing::debug!(error = %e, "UDP reply dropped");
        } else {
            self.activity.touch();
        }
        Poll::Ready(Ok(()))
    }
}
