//! UDP ASSOCIATE: relays a client's datagrams through the outbound pipeline, one framed
//! stream per destination, for as long as the TCP control connection lives.

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
};
use tokio::{
    io::AsyncReadExt,
    net::UdpSocket,
    sync::mpsc,
    task::JoinSet,
    time::{Instant, sleep_until},
};
use tower::ServiceExt;
use xypro_core::{
    Address, BoxConnector, BoxError, BoxFuture, BoxIo, DatagramReader, MAX_DATAGRAM, Meta, Session,
    Target, write_datagram,
};

/// Datagrams queued per destination while its stream is being dialled or is slow.
const QUEUE_PER_DESTINATION: usize = 64;

/// A live UDP association.
#[derive(Debug)]
pub(crate) struct UdpAssociation {
    control: BoxIo,
    socket: Arc<UdpSocket>,
    peer: SocketAddr,
    meta: Meta,
    settings: Arc<Socks5Settings>,
}

/// What the association dropped, for its closing log line.
#[derive(Debug, Default)]
struct Drops {
    foreign: u64,
    malformed: u64,
    fragmented: u64,
    over_cap: u64,
    queue_full: u64,
}

/// When a datagram last moved either way, shared with the per-destination tasks.
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

impl UdpAssociation {
    pub(crate) fn new(
        control: BoxIo,
        socket: UdpSocket,
        peer: SocketAddr,
        meta: Meta,
        settings: Arc<Socks5Settings>,
    ) -> Self {
        UdpAssociation {
            control,
            socket: Arc::new(socket),
            peer,
            meta,
            settings,
        }
    }

    async fn serve(mut self, connector: BoxConnector) -> Result<(), BoxError> {
        let mut routes: HashMap<Address, mpsc::Sender<Bytes>> = HashMap::new();
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
                    if from.ip() != self.peer.ip() || client.is_some_and(|c| c != from) {
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
                        Some(tx) if !tx.is_closed() => tx,
                        _ => {
                            routes.retain(|_, tx| !tx.is_closed());
                            if routes.len() >= self.settings.udp_max_destinations {
                                drops.over_cap += 1;
                                continue;
                            }
                            let (tx, rx) = mpsc::channel(QUEUE_PER_DESTINATION);
                            let target = Target {
                                meta: self.meta.clone(),
                                ..Target::udp(header.address.clone())
                            };
                            let socket = self.socket.clone();
                            tasks.spawn(forward(connector.clone(), target, rx, socket, from, activity.clone()));
                            routes.entry(header.address).insert_entry(tx).into_mut()
                        }
                    };
                    if route.try_send(payload).is_err() {
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
        tracing::debug!(peer = %self.peer, destinations = routes.len(), ?drops, "UDP association closed");
        Ok(())
    }
}

impl Session for UdpAssociation {
    fn run(self: Box<Self>, connector: BoxConnector) -> BoxFuture<Result<(), BoxError>> {
        Box::pin(self.serve(connector))
    }
}

/// Carries one destination's datagrams both ways until either side ends.
async fn forward(
    connector: BoxConnector,
    target: Target,
    mut datagrams: mpsc::Receiver<Bytes>,
    socket: Arc<UdpSocket>,
    client: SocketAddr,
    activity: Arc<Activity>,
) {
    let address = target.destination.clone();
    let io = match connector.oneshot(target).await {
        Ok(io) => io,
        Err(e) => {
            tracing::debug!(%address, error = %e, "UDP destination unreachable");
            return;
        }
    };
    let (mut reader, mut writer) = tokio::io::split(io);
    let up = async {
        while let Some(datagram) = datagrams.recv().await {
            write_datagram(&mut writer, &datagram).await?;
        }
        Ok::<_, io::Error>(())
    };
    let down = async {
        let mut frames = DatagramReader::new();
        let mut packet = Vec::new();
        while let Some(datagram) = frames.next(&mut reader).await? {
            packet.clear();
            UdpHeader::write(&mut packet, &address);
            packet.extend_from_slice(&datagram);
            // A datagram the client cannot receive (too large, say) is lost, as UDP would lose it.
            if let Err(e) = socket.send_to(&packet, client).await {
                tracing::debug!(%address, error = %e, "UDP reply dropped");
                continue;
            }
            activity.touch();
        }
        Ok::<_, io::Error>(())
    };
    let result = tokio::select! { r = up => r, r = down => r };
    if let Err(e) = result {
        tracing::debug!(%address, error = %e, "UDP destination stream ended");
    }
}
