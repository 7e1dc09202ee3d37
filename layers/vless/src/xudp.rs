//! The XUDP session (VLESS command 3): UDP datagrams to many destinations over one stream.
//!
//! Each `(session id, destination)` pair is a child connection of the session, dispatched
//! like any other and carrying `len(2) | data` datagrams; replies go back as `Keep` frames
//! naming the destination as their source. Global ids (Xray's cross-connection full-cone
//! resumption) are read and ignored, and Mux.Cool TCP sub-sessions are refused with an `End`.

use crate::{
    VlessError,
    proto::xudp::{Frame, Status},
    server::response_stream,
};
use bytes::{Buf, Bytes, BytesMut};
use std::{
    collections::HashMap,
    io,
    task::{Context, Poll, ready},
    time::Duration,
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    sync::mpsc,
    task::JoinSet,
};
use tokio_util::sync::PollSender;
use xypro_core::{
    Address, BoxError, BoxFuture, BoxIo, ConnectionContext, DatagramBudget, DatagramSender,
    DatagramSink, Handover, Network, Session, SessionDispatch, datagram_pipe,
};

/// Most destinations one XUDP connection may have open at once.
const MAX_DESTINATIONS: usize = 256;
/// Most XUDP session ids one connection may keep (each remembers its first destination).
const MAX_SESSIONS: usize = 1024;
/// Bytes one connection may hold queued for all its destinations together.
const QUEUE_BUDGET: usize = 4 << 20;
/// Encoded frames queued for the client before destinations wait.
const FRAME_QUEUE: usize = 64;
/// A connection with no frames from the client and no destination open for this long ends.
const UDP_IDLE: Duration = Duration::from_secs(300);
/// Downstream frames are batched into writes of up to this size.
const WRITE_BATCH: usize = 64 * 1024;
/// How many bytes the frame reader asks for at a time.
const READ_CHUNK: usize = 16 * 1024;

/// A VLESS mux connection carrying XUDP frames, run once the dispatch hands it its children.
#[derive(Debug)]
pub(crate) struct XudpSession {
    io: BoxIo,
}

impl XudpSession {
    /// A session over the client stream (positioned after the VLESS request header).
    pub(crate) fn new(io: BoxIo) -> Self {
        XudpSession { io }
    }
}

impl Session for XudpSession {
    fn run(self: Box<Self>, dispatch: SessionDispatch) -> BoxFuture<Result<(), BoxError>> {
        Box::pin(async move {
            let (reader, writer) = tokio::io::split(response_stream(self.io));
            let (frames, queued) = mpsc::channel(FRAME_QUEUE);
            let mut demux = Demux {
                dispatch,
                frames,
                budget: DatagramBudget::new(QUEUE_BUDGET),
                sessions: HashMap::new(),
                destinations: HashMap::new(),
                tasks: JoinSet::new(),
            };
            let ended = tokio::select! {
                read = demux.run(reader) => read,
                written = write_frames(writer, queued) => written.map_err(|e| VlessError::Io(e).into()),
            };
            demux.close().await;
            tracing::debug!(dropped = demux.budget.dropped(), "XUDP session closed");
            ended
        })
    }
}

/// One destination: where its datagrams queue, and its connection.
struct Route {
    sender: DatagramSender,
    context: ConnectionContext,
}

/// Reads frames from the client and routes their datagrams to per-destination connections.
struct Demux {
    dispatch: SessionDispatch,
    frames: mpsc::Sender<Vec<u8>>,
    budget: DatagramBudget,
    /// The destination each open session was created for.
    sessions: HashMap<u16, Address>,
    destinations: HashMap<(u16, Address), Route>,
    tasks: JoinSet<()>,
}

impl Demux {
    async fn run<R: AsyncRead + Unpin>(&mut self, mut reader: R) -> Result<(), BoxError> {
        let mut buf = BytesMut::new();
        loop {
            while let Some((frame, used)) = Frame::parse(&buf).map_err(VlessError::from)? {
                let reply = self.handle(frame);
                buf.advance(used);
                if let Some(reply) = reply
                    && self.frames.send(reply).await.is_err()
                {
                    return Ok(());
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

    /// Ends every destination and waits for their connections to finish.
    async fn close(&mut self) {
        for route in self.destinations.values() {
            route.context.close();
        }
        while self.tasks.join_next().await.is_some() {}
    }

    /// Acts on one frame; returns a frame to send back, if any.
    fn handle(&mut self, frame: Frame<'_>) -> Option<Vec<u8>> {
        let id = frame.session;
        let destination = match (frame.status, frame.target) {
            (Status::New, Some((Network::Udp, address))) => {
                if self.sessions.len() >= MAX_SESSIONS && !self.sessions.contains_key(&id) {
                    self.budget.count_drop();
                    tracing::debug!(session = id, "XUDP session cap reached; refusing");
                    return Some(encode(&Frame::end(id, true)));
                }
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
                self.destinations.retain(|(session, _), route| {
                    let keep = *session != id;
                    if !keep {
                        route.context.close();
                    }
                    keep
                });
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
        if let Some(route) = self.destinations.get(&key) {
            if !route.sender.is_closed() {
                if route.sender.send(datagram).is_err() {
                    tracing::debug!(destination = %key.1, "XUDP queue full; datagram dropped");
                }
                return;
            }
            self.destinations.remove(&key);
        }
        if self.destinations.len() >= MAX_DESTINATIONS {
            self.destinations
                .retain(|_, route| !route.sender.is_closed());
            if self.destinations.len() >= MAX_DESTINATIONS {
                self.budget.count_drop();
                tracing::debug!(destination = %key.1, "XUDP destination cap reached; datagram dropped");
                return;
            }
        }
        let target = self.dispatch.child(key.1.clone(), Network::Udp);
        let sink = FrameSink {
            frames: PollSender::new(self.frames.clone()),
            session,
            source: key.1.clone(),
        };
        let (sender, stream) = datagram_pipe(self.budget.clone(), sink);
        let context = target.context.clone();
        let Ok(dial) = self.dispatch.connect(target, Handover::new(stream)) else {
            self.budget.count_drop();
            tracing::debug!(destination = %key.1, "XUDP dials at their cap; datagram dropped");
            return;
        };
        let _ = sender.send(datagram);
        self.tasks.spawn(dial);
        self.destinations.insert(key, Route { sender, context });
    }
}

/// Sends one destination's replies to the client as `Keep` frames naming it as the source.
struct FrameSink {
    frames: PollSender<Vec<u8>>,
    session: u16,
    source: Address,
}

impl DatagramSink for FrameSink {
    fn poll_send(&mut self, cx: &mut Context<'_>, datagram: &[u8]) -> Poll<io::Result<()>> {
        let closed = || io::Error::from(io::ErrorKind::BrokenPipe);
        ready!(self.frames.poll_reserve(cx)).map_err(|_| closed())?;
        let frame = encode(&Frame::udp_keep(
            self.session,
            self.source.clone(),
            datagram,
        ));
        self.frames.send_item(frame).map_err(|_| closed())?;
        Poll::Ready(Ok(()))
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
