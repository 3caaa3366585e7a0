//! The router's parts below the message level (docs/webrtc.md, "Transport and security"):
//! a connection to the local service with its reader task ([`Conn`]), a request matched to
//! its result by our `src` ([`request`]), the bounded event queue of one document
//! ([`Mailbox`]) and the document's [`Session`].

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value, json};
use service::local::{LocalConnection, LocalError, LocalSender};
use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use super::rtc::{Limits, Refusal, lock};

/// How long a request waits for the service's result (an `AllocChannel` with STUN/TURN
/// servers takes up to 2 s, docs/protocol.md §2.2).
const RESULT_WAIT: Duration = Duration::from_secs(30);

/// Requests waiting for their result, by our `src`.
pub(super) type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Value>>>>;

/// One in-process connection with its reader task, which ends with the last clone.
#[derive(Clone)]
pub(super) struct Conn {
    tx: LocalSender,
    /// Set by the reader when the service ended the connection (outbox overflow, stop):
    /// the holder then opens a new one.
    ended: Arc<AtomicBool>,
    _reader: Arc<AbortOnDrop>,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Conn {
    /// Opens a connection: results go to their waiter in `pending`, everything else (events,
    /// and results nobody waits for any more) to `on_event` with its size in bytes.
    pub(super) fn open(
        conn: Result<LocalConnection, LocalError>,
        pending: Pending,
        mut on_event: impl FnMut(Value, usize) + Send + 'static,
        label: String,
    ) -> Result<Conn, LocalError> {
        let (tx, mut rx) = conn?.into_split();
        let ended = Arc::new(AtomicBool::new(false));
        let end = ended.clone();
        let reader = tokio::spawn(async move {
            while let Some(text) = rx.recv().await {
                let Ok(v) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                let waiter = v
                    .get("src")
                    .and_then(Value::as_str)
                    .and_then(|src| lock(&pending).remove(src));
                match waiter {
                    Some(w) => {
                        let _ = w.send(v);
                    }
                    None => on_event(v, text.len()),
                }
            }
            end.store(true, Ordering::Release);
            tracing::debug!(%label, "a WebRTC service connection ended");
        });
        Ok(Conn {
            tx,
            ended,
            _reader: Arc::new(AbortOnDrop(reader)),
        })
    }

    /// Whether it can still carry requests.
    pub(super) fn live(&self) -> bool {
        !self.ended.load(Ordering::Acquire)
    }
}

/// Sends `req` on `conn` with `src` and waits for its result (without `src`).
pub(super) async fn request(
    conn: &Conn,
    pending: &Pending,
    src: String,
    mut req: Map<String, Value>,
) -> Value {
    req.insert("src".into(), json!(src));
    let (tx, rx) = oneshot::channel();
    lock(pending).insert(src.clone(), tx);
    let sent = conn.tx.send(Value::Object(req).to_string()).await;
    let reply = match sent {
        Err(e) => Err(Refusal::Operation.reply(e)),
        Ok(()) => match tokio::time::timeout(RESULT_WAIT, rx).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(_)) => Err(Refusal::Operation.reply("the service connection ended")),
            Err(_) => Err(Refusal::Operation.reply(format!(
                "no result from the service within {} s",
                RESULT_WAIT.as_secs()
            ))),
        },
    };
    lock(pending).remove(&src);
    match reply {
        Ok(mut v) => {
            if let Some(o) = v.as_object_mut() {
                o.remove("src");
            }
            v
        }
        Err(v) => v,
    }
}

/// One document's events for its page, bounded in number and bytes (the oldest dropped
/// first), and the news that one came.
pub(super) struct Mailbox {
    queue: Mutex<Queue>,
    news: Notify,
    limits: Limits,
}

#[derive(Default)]
struct Queue {
    events: VecDeque<(Value, usize)>,
    bytes: usize,
    /// Dropped since the last poll (logged then).
    dropped: u64,
}

impl Mailbox {
    fn new(limits: Limits) -> Mailbox {
        Mailbox {
            queue: Mutex::new(Queue::default()),
            news: Notify::new(),
            limits,
        }
    }

    /// Queues `v` (of `size` bytes), dropping the oldest beyond the bounds.
    pub(super) fn push(&self, v: Value, size: usize) {
        // Which events a page got, for support (names only: no SDP, no candidates).
        tracing::debug!(mt = %v["mt"], channel = %v["channel"], "WebRTC event queued");
        let mut q = lock(&self.queue);
        while !q.events.is_empty()
            && (q.events.len() >= self.limits.max_events
                || q.bytes + size > self.limits.max_event_bytes)
        {
            if let Some((_, n)) = q.events.pop_front() {
                q.bytes -= n;
                q.dropped += 1;
            }
        }
        q.events.push_back((v, size));
        q.bytes += size;
        drop(q);
        self.news.notify_waiters();
    }

    /// Every event waiting (the drops since the last poll logged once).
    fn take(&self, label: &str) -> Vec<Value> {
        let mut q = lock(&self.queue);
        if q.dropped > 0 {
            tracing::warn!(
                session = %label,
                dropped = q.dropped,
                "WebRTC events dropped: the page did not poll (oldest first)"
            );
            q.dropped = 0;
        }
        q.bytes = 0;
        q.events.drain(..).map(|(v, _)| v).collect()
    }
}

/// One document: its Media connection (opened with its first `media` request) and its
/// event queue. Dropping the last reference closes the connection, which frees its
/// channels.
pub(super) struct Session {
    /// Our prefix of its channel ids (`r7.`).
    pub(super) prefix: String,
    /// For log lines: origin, prefix and the first digits of the session id.
    pub(super) label: String,
    media: Mutex<Option<Conn>>,
    pub(super) mailbox: Arc<Mailbox>,
    polling: AtomicBool,
    /// When a poll of it last began or ended (made: when it was made).
    last_poll: Mutex<Instant>,
    pending: Pending,
    next_src: AtomicU64,
}

impl Session {
    pub(super) fn new(n: u64, origin: &str, id: &str, limits: Limits) -> Session {
        let prefix = format!("r{n}.");
        let short: String = id.chars().take(8).collect();
        Session {
            label: format!("{origin} {prefix}{short}"),
            prefix,
            media: Mutex::new(None),
            mailbox: Arc::new(Mailbox::new(limits)),
            polling: AtomicBool::new(false),
            last_poll: Mutex::new(Instant::now()),
            pending: Arc::new(Mutex::new(HashMap::new())),
            next_src: AtomicU64::new(1),
        }
    }

    /// Whether it holds a live Media connection.
    pub(super) fn has_media(&self) -> bool {
        lock(&self.media).as_ref().is_some_and(Conn::live)
    }

    /// Its Media connection, opened by `open` when there is none (or it ended).
    pub(super) fn media(
        &self,
        open: impl FnOnce() -> Result<LocalConnection, LocalError>,
    ) -> Result<Conn, LocalError> {
        let mut slot = lock(&self.media);
        if let Some(c) = slot.as_ref().filter(|c| c.live()) {
            return Ok(c.clone());
        }
        let (prefix, mailbox) = (self.prefix.clone(), self.mailbox.clone());
        let c = Conn::open(
            open(),
            self.pending.clone(),
            move |mut v, size| {
                strip(&prefix, &mut v);
                mailbox.push(v, size);
            },
            self.label.clone(),
        )?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Sends `req` on its Media connection `conn` and waits for the result.
    pub(super) async fn request(&self, conn: &Conn, req: Map<String, Value>) -> Value {
        let src = format!("rtc{}", self.next_src.fetch_add(1, Ordering::Relaxed));
        request(conn, &self.pending, src, req).await
    }

    /// Whether a poll of it is in flight.
    pub(super) fn polling(&self) -> bool {
        self.polling.load(Ordering::Acquire)
    }

    /// How long since a poll of it began or ended (or it was made).
    pub(super) fn since_poll(&self) -> Duration {
        lock(&self.last_poll).elapsed()
    }

    /// Marks a poll begun; `false` when one is in flight already.
    pub(super) fn begin_poll(&self) -> bool {
        if self.polling.swap(true, Ordering::AcqRel) {
            return false;
        }
        *lock(&self.last_poll) = Instant::now();
        true
    }

    /// The events waiting, or those that come by `deadline`; ends the poll (also when
    /// the future is dropped).
    pub(super) async fn poll(&self, deadline: Instant) -> Vec<Value> {
        let _end = PollEnd(self);
        loop {
            // Made before the queue is looked at: it then sees every push after that.
            let news = self.mailbox.news.notified();
            let events = self.mailbox.take(&self.label);
            if !events.is_empty() || Instant::now() >= deadline {
                return events;
            }
            if tokio::time::timeout_at(deadline, news).await.is_err() {
                return self.mailbox.take(&self.label);
            }
        }
    }
}

/// Ends a session's poll when dropped.
struct PollEnd<'a>(&'a Session);

impl Drop for PollEnd<'_> {
    fn drop(&mut self) {
        *lock(&self.0.last_poll) = Instant::now();
        self.0.polling.store(false, Ordering::Release);
    }
}

/// `r7.pc1` → `pc1` in `v.channel` (channels the service named keep their names).
pub(super) fn strip(prefix: &str, v: &mut Value) {
    if let Some(Value::String(c)) = v.get_mut("channel")
        && let Some(rest) = c.strip_prefix(prefix)
    {
        *c = rest.to_owned();
    }
}
