//! One websocket as a protocol handler sees it (`Conn`): text frames in, JSON values out
//! through an `Outbox`. The handlers never touch the socket; [`crate::server`] moves
//! frames between the two.
//!
//! The outbox is bounded in bytes: events come from other tasks (channel statistics, the
//! ApiRelay's updates, device news) at a rate the peer does not control, so a peer that
//! stops reading would otherwise make the service queue without end. Past
//! [`OUTBOX_LIMIT`] the connection is closed (code `SlowReader`, `docs/protocol.md` §2.4).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::Value;
use tokio::sync::{Notify, mpsc};

/// Bytes of serialised messages one connection may have waiting for its peer. A single
/// message is always queued when nothing else waits, however large (an `ApiUpdate` may
/// carry several models).
pub const OUTBOX_LIMIT: usize = 4 << 20;

/// Frames from the peer a connection buffers before it stops reading the socket.
pub(crate) const INBOUND_QUEUE: usize = 32;

/// One websocket as a handler sees it.
pub(crate) struct Conn {
    /// Text frames from the peer, in order; ends when the peer goes.
    pub inbound: mpsc::Receiver<String>,
    /// Replies and events to the peer.
    pub out: Outbox,
}

/// What the outbox and the socket loop share.
struct Queue {
    /// Bytes waiting.
    queued: AtomicUsize,
    /// The limit was passed; the socket loop closes the connection.
    overflowed: AtomicBool,
    /// Wakes the socket loop when `overflowed` is set (a permit is kept if it is busy).
    wake: Notify,
}

/// Where a handler writes. Sending never blocks; a gone or overflowed peer makes sends
/// no-ops.
#[derive(Clone)]
pub(crate) struct Outbox {
    tx: mpsc::UnboundedSender<String>,
    queue: Arc<Queue>,
}

/// The socket loop's end of an [`Outbox`].
pub(crate) struct OutboxReceiver {
    rx: mpsc::UnboundedReceiver<String>,
    queue: Arc<Queue>,
}

/// A connection's outbox and its receiving end.
pub(crate) fn outbox() -> (Outbox, OutboxReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    let queue = Arc::new(Queue {
        queued: AtomicUsize::new(0),
        overflowed: AtomicBool::new(false),
        wake: Notify::new(),
    });
    (
        Outbox {
            tx,
            queue: queue.clone(),
        },
        OutboxReceiver { rx, queue },
    )
}

impl Outbox {
    /// Queues one message, unless the peer lets more than [`OUTBOX_LIMIT`] bytes wait:
    /// then nothing more is queued and the connection is closed.
    pub fn send(&self, v: Value) {
        let q = &self.queue;
        if q.overflowed.load(Ordering::Acquire) {
            return;
        }
        let text = v.to_string();
        let len = text.len();
        let before = q.queued.fetch_add(len, Ordering::AcqRel);
        if before > 0 && before + len > OUTBOX_LIMIT {
            q.queued.fetch_sub(len, Ordering::AcqRel);
            if !q.overflowed.swap(true, Ordering::AcqRel) {
                q.wake.notify_one();
            }
            return;
        }
        if self.tx.send(text).is_err() {
            q.queued.fetch_sub(len, Ordering::AcqRel);
        }
    }

    /// Resolves once the outbox passed its limit.
    pub async fn overflowed(&self) {
        while !self.queue.overflowed.load(Ordering::Acquire) {
            self.queue.wake.notified().await;
        }
    }
}

impl OutboxReceiver {
    /// The next message for the peer; `None` once every [`Outbox`] is gone.
    pub async fn recv(&mut self) -> Option<String> {
        let text = self.rx.recv().await?;
        self.queue.queued.fetch_sub(text.len(), Ordering::AcqRel);
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn bounded_in_bytes_but_one_message_always_fits() {
        let (out, mut rx) = outbox();
        let big = json!("x".repeat(OUTBOX_LIMIT * 2));
        out.send(big);
        assert!(!rx.queue.overflowed.load(Ordering::Acquire));
        assert!(rx.recv().await.is_some_and(|t| t.len() > OUTBOX_LIMIT));
        let piece = json!("y".repeat(1000));
        let fit = OUTBOX_LIMIT / piece.to_string().len();
        for _ in 0..fit {
            out.send(piece.clone());
        }
        assert!(!rx.queue.overflowed.load(Ordering::Acquire));
        out.send(piece.clone());
        out.overflowed().await;
        // Nothing more is queued after the overflow, even once the queue drains.
        while rx.queue.queued.load(Ordering::Acquire) > 0 {
            rx.recv().await;
        }
        out.send(piece);
        drop(out);
        assert!(rx.recv().await.is_none());
    }
}
