//! One destination of a UDP session as a byte stream, so the dispatch can relay it like any
//! other connection: datagrams the session queues are read as `len(2) | data` frames, and
//! frames the destination sends back are handed to the session's sink one datagram at a time.

use bytes::{Buf, Bytes, BytesMut};
use std::{
    fmt, io,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll, ready},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    sync::mpsc,
};

/// What one queued datagram costs the budget beyond its payload (the `Bytes` and queue node).
const QUEUED_OVERHEAD: usize = 64;

/// The bytes one session may hold queued for all its destinations together, and what it
/// dropped for want of room. Clones share one budget.
#[derive(Debug, Clone)]
pub struct DatagramBudget {
    shared: Arc<BudgetShared>,
}

#[derive(Debug)]
struct BudgetShared {
    limit: usize,
    used: AtomicUsize,
    dropped: AtomicU64,
}

impl DatagramBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        DatagramBudget {
            shared: Arc::new(BudgetShared {
                limit,
                used: AtomicUsize::new(0),
                dropped: AtomicU64::new(0),
            }),
        }
    }

    /// Bytes queued now.
    pub fn used(&self) -> usize {
        self.shared.used.load(Ordering::Relaxed)
    }

    /// Datagrams this session dropped so far because the budget was spent or the destination was
    /// gone (the process-wide count is [`events::DATAGRAMS_DROPPED`](crate::events::DATAGRAMS_DROPPED)).
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Counts a datagram the session dropped for a reason of its own (a cap, a foreign sender).
    pub fn count_drop(&self) {
        self.shared.dropped.fetch_add(1, Ordering::Relaxed);
        crate::events::DATAGRAMS_DROPPED.inc();
    }

    fn try_take(&self, cost: usize) -> bool {
        let taken = self
            .shared
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(cost)
                    .filter(|sum| *sum <= self.shared.limit)
            });
        taken.is_ok()
    }

    fn give_back(&self, cost: usize) {
        self.shared.used.fetch_sub(cost, Ordering::AcqRel);
    }
}

/// Where a destination's replies go: the session's socket or frame queue.
pub trait DatagramSink: Send + Unpin + 'static {
    /// Sends one datagram towards the client; `Pending` holds the relay until it can.
    fn poll_send(&mut self, cx: &mut Context<'_>, datagram: &[u8]) -> Poll<io::Result<()>>;
}

/// The session's end of one destination: queues datagrams for the relay to carry.
#[derive(Debug)]
pub struct DatagramSender {
    queue: mpsc::UnboundedSender<Bytes>,
    budget: DatagramBudget,
}

/// A datagram that was not queued: the budget is spent or the destination has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("datagram dropped: {0}")]
pub struct Dropped(&'static str);

impl DatagramSender {
    /// Queues a datagram, or drops it (and counts the drop) when it does not fit the budget.
    pub fn send(&self, datagram: Bytes) -> Result<(), Dropped> {
        let cost = datagram.len() + QUEUED_OVERHEAD;
        if !self.budget.try_take(cost) {
            self.budget.count_drop();
            return Err(Dropped("the session's queue budget is spent"));
        }
        self.queue.send(datagram).map_err(|_| {
            self.budget.give_back(cost);
            self.budget.count_drop();
            Dropped("the destination has ended")
        })
    }

    /// Whether the destination's stream has ended.
    pub fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }
}

/// Makes one destination's pipe: the sender for the session and the stream for the dispatch.
pub fn datagram_pipe<S: DatagramSink>(
    budget: DatagramBudget,
    sink: S,
) -> (DatagramSender, DatagramStream<S>) {
    let (queue, queued) = mpsc::unbounded_channel();
    let sender = DatagramSender {
        queue,
        budget: budget.clone(),
    };
    let stream = DatagramStream {
        queued,
        budget,
        reading: None,
        sink,
        partial: BytesMut::new(),
    };
    (sender, stream)
}

/// The dispatch's end of one destination: reads queued datagrams as frames, writes frames
/// back into the sink. Ends (reads EOF) once the session drops its sender.
pub struct DatagramStream<S> {
    queued: mpsc::UnboundedReceiver<Bytes>,
    budget: DatagramBudget,
    /// The frame being read out: its length header and what is left of it.
    reading: Option<([u8; 2], usize, Bytes)>,
    sink: S,
    /// A frame written in pieces, gathered until whole (at most one frame).
    partial: BytesMut,
}

impl<S> fmt::Debug for DatagramStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatagramStream")
            .field("partial", &self.partial.len())
            .finish_non_exhaustive()
    }
}

impl<S> Drop for DatagramStream<S> {
    fn drop(&mut self) {
        self.queued.close();
        while let Ok(datagram) = self.queued.try_recv() {
            self.budget.give_back(datagram.len() + QUEUED_OVERHEAD);
        }
    }
}

impl<S: DatagramSink> AsyncRead for DatagramStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if let Some((header, header_left, data)) = this.reading.as_mut() {
                while *header_left > 0 && buf.remaining() > 0 {
                    buf.put_slice(&header[2 - *header_left..][..1]);
                    *header_left -= 1;
                }
                let n = buf.remaining().min(data.len());
                buf.put_slice(&data[..n]);
                data.advance(n);
                if *header_left == 0 && data.is_empty() {
                    this.reading = None;
                }
                return Poll::Ready(Ok(()));
            }
            match ready!(this.queued.poll_recv(cx)) {
                Some(datagram) => {
                    this.budget.give_back(datagram.len() + QUEUED_OVERHEAD);
                    let len = u16::try_from(datagram.len()).unwrap_or(u16::MAX);
                    let datagram = datagram.slice(..usize::from(len));
                    this.reading = Some((len.to_be_bytes(), 2, datagram));
                }
                None => return Poll::Ready(Ok(())),
            }
        }
    }
}

impl<S: DatagramSink> DatagramStream<S> {
    /// The length of the frame `partial` holds, once its header is complete.
    fn partial_frame_len(&self) -> Option<usize> {
        let header = self.partial.get(..2)?;
        Some(2 + usize::from(u16::from_be_bytes([header[0], header[1]])))
    }

    /// Delivers the frame gathered in `partial`, if it is whole.
    fn poll_deliver_partial(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.partial_frame_len() {
            Some(len) if self.partial.len() == len => {
                ready!(self.sink.poll_send(cx, &self.partial[2..]))?;
                self.partial.clear();
                Poll::Ready(Ok(()))
            }
            _ => Poll::Ready(Ok(())),
        }
    }
}

impl<S: DatagramSink> AsyncWrite for DatagramStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_deliver_partial(cx))?;
        let mut used = 0;
        while used < buf.len() {
            let rest = &buf[used..];
            let whole = rest.len() >= 2
                && rest.len() >= 2 + usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            if this.partial.is_empty() && whole {
                let len = 2 + usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                match this.sink.poll_send(cx, &rest[2..len]) {
                    Poll::Ready(Ok(())) => used += len,
                    // What was delivered is reported; the failing frame is retried next time.
                    Poll::Ready(Err(_)) | Poll::Pending if used > 0 => break,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
                continue;
            }
            // Gather a frame that arrives in pieces, never more than that one frame.
            let want = match this.partial_frame_len() {
                Some(len) => len - this.partial.len(),
                None => 2 - this.partial.len(),
            };
            let take = want.min(rest.len());
            this.partial.extend_from_slice(&rest[..take]);
            used += take;
            let whole = this.partial_frame_len() == Some(this.partial.len());
            if whole && this.poll_deliver_partial(cx)?.is_pending() {
                break;
            }
        }
        Poll::Ready(Ok(used))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_deliver_partial(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_deliver_partial(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode_datagram;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Collects delivered datagrams.
    struct Collect(mpsc::UnboundedSender<Vec<u8>>);

    impl DatagramSink for Collect {
        fn poll_send(&mut self, _: &mut Context<'_>, datagram: &[u8]) -> Poll<io::Result<()>> {
            let _ = self.0.send(datagram.to_vec());
            Poll::Ready(Ok(()))
        }
    }

    fn pipe(
        limit: usize,
    ) -> (
        DatagramSender,
        DatagramStream<Collect>,
        mpsc::UnboundedReceiver<Vec<u8>>,
        DatagramBudget,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        let budget = DatagramBudget::new(limit);
        let (sender, stream) = datagram_pipe(budget.clone(), Collect(tx));
        (sender, stream, rx, budget)
    }

    #[tokio::test]
    async fn queued_datagrams_read_as_frames_and_end_with_the_sender() {
        let (sender, mut stream, _, budget) = pipe(1 << 20);
        sender.send(Bytes::from_static(b"hello")).unwrap();
        sender.send(Bytes::from_static(b"")).unwrap();
        assert!(budget.used() > 0);
        drop(sender);
        let mut wire = Vec::new();
        stream.read_to_end(&mut wire).await.unwrap();
        assert_eq!(wire, b"\x00\x05hello\x00\x00");
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test]
    async fn written_frames_reach_the_sink_whatever_the_write_boundaries() {
        let (_sender, mut stream, mut delivered, _) = pipe(1 << 20);
        let mut wire = Vec::new();
        encode_datagram(&mut wire, b"one").unwrap();
        encode_datagram(&mut wire, &[7; 300]).unwrap();
        encode_datagram(&mut wire, b"three").unwrap();
        for piece in wire.chunks(7) {
            stream.write_all(piece).await.unwrap();
        }
        stream.write_all(&wire).await.unwrap();
        let mut got = Vec::new();
        while let Ok(datagram) = delivered.try_recv() {
            got.push(datagram);
        }
        assert_eq!(got.len(), 6);
        assert_eq!(got[1], vec![7; 300]);
        assert_eq!(got[5], b"three");
    }

    #[test]
    fn the_budget_is_shared_and_drops_are_counted() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let budget = DatagramBudget::new(2 * (1000 + QUEUED_OVERHEAD));
        let (a, _a_stream) = datagram_pipe(budget.clone(), Collect(tx.clone()));
        let (b, b_stream) = datagram_pipe(budget.clone(), Collect(tx));
        a.send(Bytes::from(vec![0; 1000])).unwrap();
        b.send(Bytes::from(vec![0; 1000])).unwrap();
        assert!(a.send(Bytes::from(vec![0; 10])).is_err());
        assert_eq!(budget.dropped(), 1);
        drop(b_stream);
        assert_eq!(
            budget.used(),
            1000 + QUEUED_OVERHEAD,
            "a dropped stream frees its queue"
        );
        assert!(b.send(Bytes::from_static(b"x")).is_err());
        assert_eq!(budget.dropped(), 2);
    }
}
