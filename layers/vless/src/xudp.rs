//! The XUDP session (VLESS command 3): UDP datagrams to many destinations over one stream.
//!
//! Each `(session id, destination)` pair gets its own `Target::udp` stream through the outbound
//! connector, carrying `len(2) | data` datagrams; replies go back as `Keep` frames naming the
//! destination as their source. Global ids (Xray's cross-connection full-cone resumption) are
//! read and ignored, and Mux.Cool TCP sub-sessions are refused with an `End` frame.

use crate::{
    VlessError,
    proto::xudp::{Frame, Status},
    server::response_stream,
};
use bytes::{Buf, Bytes, BytesMut};
use std::{collections::HashMap, io, time::Duration};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    sync::mpsc,
    task::JoinSet,
};
use tower::ServiceExt;
use xypro_core::{
    Address, BoxConnector, BoxError, BoxFuture, BoxIo, DatagramReader, DestinationPolicy, Meta,
    Network, Session, Target, write_datagram,
};

/// Most destinations one XUDP connection may have open at once.
const MAX_DESTINATIONS: usize = 256;
/// Datagrams queued per destination before new ones are dropped.
const DATAGRAM_QUEUE: usize = 64;
/// Encoded frames queued for the client before destinations wait.
const FRAME_QUEUE: usize = 64;
/// A destination with no datagram either way for this long is closed, and so is a connection
/// with no frames from the client and no destination open for this long.
const UDP_IDLE: Duration = Duration::from_secs(300);
/// Downstream frames are batched into writes of up to this size.
const WRITE_BATCH: usize = 64 * 1024;
/// How many bytes the frame reader asks for at a time.
const READ_CHUNK: usize = 16 * 1024;

/// A VLESS mux connection carrying XUDP frames, run once the relay hands it a connector.
#[derive(Debug)]
pub(crate) struct XudpSession {
    io: BoxIo,
    policy: DestinationPolicy,
    meta: Meta,
}

impl XudpSession {
    /// A session over the client stream (positioned after the VLESS request header).
    pub(crate) fn new(io: BoxIo, policy: DestinationPolicy, meta: Meta) -> Self {
        XudpSession { io, policy, meta }
    }
}

impl Session for XudpSession {
    fn run(self: Box<Self>, connector: BoxConnector) -> BoxFuture<Result<(), BoxError>> {
        Box::pin(async move {
            let XudpSession { io, policy, meta } = *self;
            let (reader, writer) = tokio::io::split(response_stream(io));
            let (frames, queued) = mpsc::channel(FRAME_QUEUE);
            let mut demux = Demux {
                connector,
                policy,
                meta,
                frames,
                sessions: HashMap::new(),
                destinations: HashMap::new(),
                tasks: JoinSet::new(),
            };
            tokio::select! {
                read = demux.run(reader) => read,
                written = write_frames(writer, queued) => written.map_err(|e| VlessError::Io(e).into()),
            }
        })
    }
}

/// Reads frames from the client and routes their datagrams to per-destination tasks.
struct Demux {
    connector: BoxConnector,
    policy: DestinationPolicy,
    meta: Meta,
    frames: mpsc::Sender<Vec<u8>>,
    /// The destination each open session was created for.
    sessions: HashMap<u16, Address>,
    destinations: HashMap<(u16, Address), mpsc::Sender<Bytes>>,
    tasks: JoinSet<()>,
}

impl Demux {
    async fn run<R: AsyncRead + Unpin>(&mut self, mut reader: R) -> Result<(), BoxError> {
        let mut buf = BytesMut::new();
        loop {
            while let Some((frame, used)) = Frame::parse(&buf).map_err(VlessError::from)? {
                let reply = self.handle(frame);
                buf.advance(used);
                if let Some(reply) = reply {
                    if self.frames.send(reply).await.is_err() {
                        return Ok(());
                    }
                }
            }
            while self.tasks.try_join_next().is_some() {}
            buf.reserve(READ_CHUNK);
            let read = match tokio::time::timeout(UDP_IDLE, reader.read_buf(&mut buf)).await {
                Ok(read) => read.map_err(VlessError::Io)?,
                Err(_) if self.tasks.is_empty() => return Ok(()),
                Err(_) => continue,
            };
            if read == 0 {
                return match buf.is_empty() {
                    true => Ok(()),
                    false => Err(VlessError::Io(io::ErrorKind::UnexpectedEof.into()).into()),
                };
            }
        }
    }

    /// Acts on one frame; returns a frame to send back, if any.
    fn handle(&mut self, frame: Frame<'_>) -> Option<Vec<u8>> {
        let id = frame.session;
        let destination = match (frame.status, frame.target) {
            (Status::New, Some((Network::Udp, address))) => {
                self.sessions.insert(id, address.clone());
                address
            }
            (Status::New, _) => {
                tracing::debug!(session = id, "refusing a mux TCP sub-session");
                return Some(encode(&Frame::end(id, true)));
            }
            (Status::Keep, target) => match (self.sessions.get(&id), target) {
                (Some(_), Some((_, address))) => address,
                (Some(address), None) => address.clone(),
                (None, _) => return Some(encode(&Frame::end(id, false))),
            },
            (Status::End, _) => {
                self.sessions.remove(&id);
                self.destinations.retain(|(session, _), _| *session != id);
                return None;
            }
            (Status::KeepAlive, _) => return None,
        };
        if let Some(data) = frame.data {
            self.forward(id, destination, Bytes::copy_from_slice(data));
        }
        None
    }

    /// Queues a datagram for a destination, opening it if needed; drops it when full.
    fn forward(&mut self, session: u16, destination: Address, datagram: Bytes) {
        let key = (session, destination);
        if let Some(tx) = self.destinations.get(&key) {
            match tx.try_send(datagram) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::debug!(destination = %key.1, "XUDP queue full; datagram dropped");
                    return;
                }
                Err(mpsc::error::TrySendError::Closed(datagram)) => {
                    self.destinations.remove(&key);
                    return self.forward(key.0, key.1, datagram);
                }
            }
        }
        if self.destinations.len() >= MAX_DESTINATIONS {
            self.destinations.retain(|_, tx| !tx.is_closed());
            if self.destinations.len() >= MAX_DESTINATIONS {
                tracing::debug!(destination = %key.1, "XUDP destination cap reached; datagram dropped");
                return;
            }
        }
        let (tx, rx) = mpsc::channel(DATAGRAM_QUEUE);
        let _ = tx.try_send(datagram);
        let target = Target {
            destination: key.1.clone(),
            network: Network::Udp,
            policy: self.policy.clone(),
            meta: self.meta.clone(),
        };
        let pump = pump(
            self.connector.clone(),
            target,
            session,
            rx,
            self.frames.clone(),
        );
        self.tasks.spawn(async move {
            if let Err(e) = pump.await {
                tracing::debug!("XUDP destination closed: {e}");
            }
        });
        self.destinations.insert(key, tx);
    }
}

/// Moves datagrams between one destination stream and the client's frame queue.
async fn pump(
    connector: BoxConnector,
    target: Target,
    session: u16,
    mut datagrams: mpsc::Receiver<Bytes>,
    frames: mpsc::Sender<Vec<u8>>,
) -> Result<(), BoxError> {
    enum Event {
        Up(Option<Bytes>),
        Down(io::Result<Option<Bytes>>),
    }
    let source = target.destination.clone();
    let mut stream = connector.oneshot(target).await?;
    let mut reader = DatagramReader::new();
    loop {
        let event = tokio::time::timeout(UDP_IDLE, async {
            tokio::select! {
                up = datagrams.recv() => Event::Up(up),
                down = reader.next(&mut stream) => Event::Down(down),
            }
        })
        .await;
        match event {
            Err(_) | Ok(Event::Up(None)) | Ok(Event::Down(Ok(None))) => return Ok(()),
            Ok(Event::Up(Some(datagram))) => write_datagram(&mut stream, &datagram).await?,
            Ok(Event::Down(Ok(Some(datagram)))) => {
                let frame = encode(&Frame::udp_keep(session, source.clone(), &datagram));
                if frames.send(frame).await.is_err() {
                    return Ok(());
                }
            }
            Ok(Event::Down(Err(e))) => return Err(e.into()),
        }
    }
}

/// Writes queued frames to the client, batching what is ready into one write and one flush.
async fn write_frames<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut queued: mpsc::Receiver<Vec<u8>>,
) -> io::Result<()> {
    while let Some(mut batch) = queued.recv().await {
        while batch.len() < WRITE_BATCH {
            match queued.try_recv() {
                Ok(frame) => batch.extend_from_slice(&frame),
                Err(_) => break,
            }
        }
        writer.write_all(&batch).await?;
        writer.flush().await?;
    }
    // The queue closes only when the demultiplexer is gone, which ends the session anyway.
    std::future::pending().await
}

/// Encodes a frame the server built itself (addresses it parsed, payloads under 64 KiB).
fn encode(frame: &Frame<'_>) -> Vec<u8> {
    let mut buf = Vec::with_capacity(frame.serialized_len());
    if let Err(e) = frame.write_to_buf(&mut buf) {
        tracing::debug!("cannot encode an XUDP frame: {e}");
        buf.clear();
    }
    buf
}
