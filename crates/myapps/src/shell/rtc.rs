//! The native side of WebRTC in the app window (docs/webrtc.md, "Transport and security",
//! which holds the message contract, v1): the router between the pages' JS shim and the
//! local service's Media and device protocols. No GTK here, so it is tested with a real
//! service; the WebKitGTK plumbing is `rtc_linux` (`rtc_wry` over wry's IPC elsewhere),
//! the parts below the message level `rtc_session`.
//!
//! A message comes as the JSON text the isolated-world forwarder posts:
//! `{origin, session, id, msg}`. `origin` is what that world read from `location.origin`,
//! which the page's own scripts cannot change, so each message is judged by it, per frame
//! and per message: an origin that is not one of [`Trusted`]'s gets `NotAllowedError`
//! (and a rate-limited log line). The reply is the JSON value the forwarder hands back.
//!
//! A *session* is one document (the forwarder makes its id once per document), keyed by
//! (origin, session). It holds its own in-process Media connection ([`service::local`]),
//! opened with its first `media` request, so its channels are freed with it; channel ids
//! are prefixed per session on the way in and stripped on the way out, and each request
//! carries a `src` of ours that matches its result. Device news is the same for every
//! document, so the router holds ONE device connection for all of them (opened with the
//! first poll or `devices` request, opened again after the service ended it): its
//! `DeviceAdded`/`DeviceRemoved` go to every session's queue, its `GetDevicesResult`s to
//! their request by `src`. Events wait in a bounded queue for the session's one long poll.
//!
//! A session ends when its page says `close` (the forwarder does on `pagehide` and
//! `unload`), and when it has had no poll in flight for [`IDLE`]: the shim polls without
//! pause and a poll answers within [`POLL_WAIT`], so such a document is gone (a removed
//! frame need not say `close`). What a page can make us hold is bounded: messages of
//! [`MAX_MESSAGE`] bytes; [`MAX_SESSIONS_PER_ORIGIN`] sessions per origin (a new one then
//! evicts the least recently polled session without a poll in flight, else is refused);
//! [`MAX_MEDIA_CONNECTIONS`] Media connections in all (the same eviction), so the service
//! keeps connections for its websockets; the service's `max_channels` per session;
//! [`MAX_EVENTS`] events or [`MAX_EVENT_BYTES`] bytes queued per session (the oldest
//! dropped first). A page cannot pick the echo backend: channels get `audio:"devices"`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use serde_json::{Map, Value, json};
use service::local::{Connector, LocalError};
use service::refusal_log::RefusalLog;
use tokio::time::Instant;

use super::policy::Trusted;
use super::rtc_session::{Conn, Pending, Session, request, strip};

/// The largest message a page may send (its JSON text).
pub const MAX_MESSAGE: usize = 1 << 20;
/// Sessions (documents) one origin may have at once: a page with many frames, or one that
/// loads document after document into frames (the WPT runner: one per test file, each
/// gone within [`IDLE`] + [`POLL_WAIT`] at most).
pub const MAX_SESSIONS_PER_ORIGIN: usize = 64;
/// Media connections the router holds at once (one per session that made a channel): half
/// of the service's `max_connections` (64), so its websockets keep room.
pub const MAX_MEDIA_CONNECTIONS: usize = 32;
/// Events one session queues for its page at most.
pub const MAX_EVENTS: usize = 1000;
/// Bytes of events one session queues for its page at most.
pub const MAX_EVENT_BYTES: usize = 256 << 10;
/// How long a poll waits for an event before it answers `[]`.
pub const POLL_WAIT: Duration = Duration::from_secs(20);
/// A session without a poll in flight and without one for this long is closed.
pub const IDLE: Duration = Duration::from_secs(30);
/// The longest session id (the forwarder makes 32 hex digits).
const MAX_SESSION_ID: usize = 64;

/// The router's timings and bounds (tests shorten them).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// [`POLL_WAIT`].
    pub poll_wait: Duration,
    /// [`IDLE`].
    pub idle: Duration,
    /// [`MAX_EVENTS`].
    pub max_events: usize,
    /// [`MAX_EVENT_BYTES`].
    pub max_event_bytes: usize,
    /// [`MAX_SESSIONS_PER_ORIGIN`].
    pub max_sessions: usize,
    /// [`MAX_MEDIA_CONNECTIONS`].
    pub max_media: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            poll_wait: POLL_WAIT,
            idle: IDLE,
            max_events: MAX_EVENTS,
            max_event_bytes: MAX_EVENT_BYTES,
            max_sessions: MAX_SESSIONS_PER_ORIGIN,
            max_media: MAX_MEDIA_CONNECTIONS,
        }
    }
}

/// The error names of the contract (WebIDL §2.8.1 DOMException names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The origin is not trusted.
    NotAllowed,
    /// Not possible now (a second poll).
    InvalidState,
    /// A limit was reached.
    QuotaExceeded,
    /// Anything else (a malformed message, the service gone).
    Operation,
}

impl Refusal {
    fn name(self) -> &'static str {
        match self {
            Refusal::NotAllowed => "NotAllowedError",
            Refusal::InvalidState => "InvalidStateError",
            Refusal::QuotaExceeded => "QuotaExceededError",
            Refusal::Operation => "OperationError",
        }
    }

    /// The reply `{error, name}`.
    pub(super) fn reply(self, words: impl std::fmt::Display) -> Value {
        json!({"error": words.to_string(), "name": self.name()})
    }
}

type Key = (String, String);

/// The router; cheap to clone (all clones share the sessions).
#[derive(Clone)]
pub struct Router(Arc<Inner>);

struct Inner {
    trusted: Trusted,
    connector: Connector,
    limits: Limits,
    sessions: Mutex<HashMap<Key, Arc<Session>>>,
    /// The one device connection of all sessions.
    devices: Mutex<Option<Conn>>,
    /// `GetDevices` requests waiting for their result, by our `src`.
    device_requests: Pending,
    /// For the sessions' channel prefixes and the device requests' `src`.
    next: AtomicU64,
    refusals: Arc<RefusalLog>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here leaves its data consistent; a panic elsewhere does not
    // make it unusable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Router {
    /// A router for pages of `trusted` origins, reaching the service through `connector`,
    /// with the default [`Limits`]. Call [`Router::start_reaper`] on the runtime.
    pub fn new(trusted: Trusted, connector: Connector) -> Router {
        Router::with_limits(trusted, connector, Limits::default())
    }

    /// As [`Router::new`], with other limits.
    pub fn with_limits(trusted: Trusted, connector: Connector, limits: Limits) -> Router {
        Router(Arc::new(Inner {
            trusted,
            connector,
            limits,
            sessions: Mutex::new(HashMap::new()),
            devices: Mutex::new(None),
            device_requests: Arc::new(Mutex::new(HashMap::new())),
            next: AtomicU64::new(1),
            refusals: RefusalLog::of("WebRTC transport messages"),
        }))
    }

    /// Closes sessions without a poll for [`Limits::idle`], until the router is dropped
    /// (a task on the current runtime).
    pub fn start_reaper(&self) {
        let weak: Weak<Inner> = Arc::downgrade(&self.0);
        let every = (self.0.limits.idle / 4).max(Duration::from_millis(50));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = weak.upgrade() else { return };
                Router(inner).reap();
            }
        });
    }

    /// The page-world script of every frame: in documents of a trusted origin only,
    /// `window.__myappsRtcTransport` (the contract: non-enumerable, configurable; the shim
    /// captures and deletes it) and then the shim (`assets/webrtc/`).
    #[cfg(target_os = "linux")]
    pub fn page_script(&self) -> String {
        page_script(self.0.trusted.origins(), TRANSPORT)
    }

    /// The same with another transport in the page's world (`rtc_wry`'s, where wry's IPC
    /// carries the messages).
    #[cfg(not(target_os = "linux"))]
    pub fn page_script_with(&self, transport: &str) -> String {
        page_script(self.0.trusted.origins(), transport)
    }

    /// Sessions open now.
    #[cfg(test)]
    pub fn sessions(&self) -> usize {
        lock(&self.0.sessions).len()
    }

    /// Sessions with a poll in flight now.
    #[cfg(test)]
    pub fn polls_in_flight(&self) -> usize {
        lock(&self.0.sessions)
            .values()
            .filter(|s| s.polling())
            .count()
    }

    fn idle(&self, s: &Session) -> bool {
        !s.polling() && s.since_poll() >= self.0.limits.idle
    }

    /// Closes the sessions without a poll in flight and none for [`Limits::idle`]; the
    /// device connection goes with the last session.
    fn reap(&self) {
        let mut sessions = lock(&self.0.sessions);
        sessions.retain(|_, s| {
            let keep = !self.idle(s);
            if !keep {
                tracing::info!(session = %s.label, "WebRTC session closed: no poll for {} s", self.0.limits.idle.as_secs());
            }
            keep
        });
        if sessions.is_empty() {
            lock(&self.0.devices).take();
        }
    }

    /// Logs a refusal at a bounded rate and makes its reply.
    fn refuse(&self, r: Refusal, origin: &str, words: String) -> Value {
        self.0.refusals.refused(|| {
            tracing::warn!(%origin, name = r.name(), "WebRTC transport: refused: {words}");
        });
        r.reply(words)
    }

    /// One message of the forwarder (its JSON text): the reply to hand back.
    pub async fn handle(&self, text: &str) -> Value {
        if text.len() > MAX_MESSAGE {
            let words = format!(
                "message of {} bytes; the limit is {MAX_MESSAGE}",
                text.len()
            );
            return self.refuse(Refusal::QuotaExceeded, "-", words);
        }
        let m = match Incoming::parse(text) {
            Ok(m) => m,
            Err(e) => return self.refuse(Refusal::Operation, "-", e),
        };
        // Judged per message, by the origin the isolated world read (the contract).
        if !self.0.trusted.url(&m.origin) {
            let words = format!("the origin {:?} may not use the app's WebRTC", m.origin);
            return self.refuse(Refusal::NotAllowed, &m.origin, words);
        }
        let op = m.msg.get("op").and_then(Value::as_str).unwrap_or("");
        let key = (m.origin.clone(), m.session.clone());
        if op == "close" {
            let mut sessions = lock(&self.0.sessions);
            if let Some(s) = sessions.remove(&key) {
                tracing::info!(session = %s.label, "WebRTC session closed by its page");
            }
            if sessions.is_empty() {
                lock(&self.0.devices).take();
            }
            return json!({"ok": true});
        }
        if !matches!(op, "media" | "poll" | "devices") {
            return self.refuse(Refusal::Operation, &m.origin, format!("unknown op {op:?}"));
        }
        let session = match self.session(key) {
            Ok(s) => s,
            Err(words) => return self.refuse(Refusal::QuotaExceeded, &m.origin, words),
        };
        match op {
            "media" => self.media(&session, m.msg.get("req")).await,
            "poll" => self.poll(&session).await,
            _ => self.devices().await,
        }
    }

    /// The session of `key`, made when new: at [`Limits::max_sessions`] of its origin, the
    /// least recently polled one without a poll in flight makes room, else it is refused.
    fn session(&self, key: Key) -> Result<Arc<Session>, String> {
        let mut sessions = lock(&self.0.sessions);
        if let Some(s) = sessions.get(&key) {
            return Ok(s.clone());
        }
        let of_origin = sessions.keys().filter(|(o, _)| *o == key.0).count();
        if of_origin >= self.0.limits.max_sessions {
            let oldest = sessions
                .iter()
                .filter(|((o, _), s)| *o == key.0 && !s.polling())
                .max_by_key(|(_, s)| s.since_poll())
                .map(|(k, _)| k.clone());
            let Some(oldest) = oldest else {
                return Err(format!(
                    "{of_origin} documents of {} are polling for WebRTC events, the most \
                     there may be",
                    key.0
                ));
            };
            if let Some(s) = sessions.remove(&oldest) {
                tracing::info!(session = %s.label, "WebRTC session closed: the least recently polled of {of_origin}, for a new one");
            }
        }
        let n = self.0.next.fetch_add(1, Ordering::Relaxed);
        let s = Arc::new(Session::new(n, &key.0, &key.1, self.0.limits));
        tracing::info!(session = %s.label, "WebRTC session opened");
        sessions.insert(key, s.clone());
        Ok(s)
    }

    /// The Media connection of `s`, opened when it has none: at [`Limits::max_media`]
    /// connections in all, the least recently polled other session with one and without
    /// a poll in flight is closed to make room, else it is refused.
    fn media_conn(&self, s: &Arc<Session>) -> Result<Conn, Value> {
        // Under the sessions' lock: the count holds until the connection is open.
        let mut sessions = lock(&self.0.sessions);
        if !s.has_media() {
            let with_media = sessions.values().filter(|o| o.has_media()).count();
            if with_media >= self.0.limits.max_media {
                let oldest = sessions
                    .iter()
                    .filter(|(_, o)| !Arc::ptr_eq(o, s) && o.has_media() && !o.polling())
                    .max_by_key(|(_, o)| o.since_poll())
                    .map(|(k, _)| k.clone());
                let Some(oldest) = oldest else {
                    return Err(Refusal::QuotaExceeded.reply(format!(
                        "{with_media} documents hold WebRTC channels, the most there may be"
                    )));
                };
                if let Some(o) = sessions.remove(&oldest) {
                    tracing::info!(session = %o.label, "WebRTC session closed: the least recently polled of {with_media} with channels, for a new one");
                }
            }
        }
        s.media(|| self.0.connector.media())
            .map_err(|e| connection_fault(&e))
    }

    /// `{op:"media", req}`: one Media-protocol request, its result as the websocket would
    /// give it (without our prefix and `src`).
    async fn media(&self, s: &Arc<Session>, req: Option<&Value>) -> Value {
        let Some(mut req) = req.and_then(Value::as_object).cloned() else {
            return Refusal::Operation.reply("`req` must be a Media-protocol request object");
        };
        if !req.get("mt").is_some_and(Value::is_string) {
            return Refusal::Operation.reply("`req.mt` must be a string");
        }
        if let Some(Value::String(c)) = req.get_mut("channel") {
            *c = format!("{}{c}", s.prefix);
        }
        if req.get("mt").and_then(Value::as_str) == Some("AllocChannel") {
            // The engine with the microphone, speaker and echo canceller; a page may not
            // pick the echo test.
            req.insert("audio".into(), json!("devices"));
            req.entry("statsInterval").or_insert(json!(0));
        }
        let conn = match self.media_conn(s) {
            Ok(c) => c,
            Err(v) => return v,
        };
        let mut reply = s.request(&conn, req).await;
        strip(&s.prefix, &mut reply);
        reply
    }

    /// The device connection of all sessions, opened when there is none (or it ended);
    /// its events go to every session's queue.
    fn device_conn(&self) -> Result<Conn, LocalError> {
        let mut slot = lock(&self.0.devices);
        if let Some(c) = slot.as_ref().filter(|c| c.live()) {
            return Ok(c.clone());
        }
        let weak = Arc::downgrade(&self.0);
        let c = Conn::open(
            self.0.connector.devices(),
            self.0.device_requests.clone(),
            move |v, size| {
                let Some(inner) = weak.upgrade() else { return };
                for s in lock(&inner.sessions).values() {
                    s.mailbox.push(v.clone(), size);
                }
            },
            "devices".into(),
        )?;
        tracing::debug!("WebRTC: the device connection opened");
        *slot = Some(c.clone());
        Ok(c)
    }

    /// `{op:"devices"}`: the device protocol's `GetDevicesResult`.
    async fn devices(&self) -> Value {
        let conn = match self.device_conn() {
            Ok(c) => c,
            Err(e) => return connection_fault(&e),
        };
        let mut req = Map::new();
        req.insert("mt".into(), json!("GetDevices"));
        let src = format!("dev{}", self.0.next.fetch_add(1, Ordering::Relaxed));
        request(&conn, &self.0.device_requests, src, req).await
    }

    /// `{op:"poll"}`: the events waiting, or those that come within [`Limits::poll_wait`].
    async fn poll(&self, s: &Session) -> Value {
        if !s.begin_poll() {
            return Refusal::InvalidState.reply("a poll of this document is pending already");
        }
        // Device news comes on the router's device connection: opened with the first poll.
        if let Err(e) = self.device_conn() {
            tracing::debug!(session = %s.label, "no device news: {e}");
        }
        let events = s.poll(Instant::now() + self.0.limits.poll_wait).await;
        json!({"events": events})
    }
}

/// The W3C API shim, in the order its header (webrtc.js) lists its files; they share one
/// closure in strict mode, so nothing of it is reachable by the page.
const SHIM: &[&str] = &[
    include_str!("../../../../assets/webrtc/webrtc.js"),
    include_str!("../../../../assets/webrtc/webrtc-media.js"),
    include_str!("../../../../assets/webrtc/webrtc-rtp.js"),
    include_str!("../../../../assets/webrtc/webrtc-pc.js"),
    include_str!("../../../../assets/webrtc/webrtc-channel.js"),
    include_str!("../../../../assets/webrtc/webrtc-legacy.js"),
];

/// The transport in the page's world: `send(msg)` dispatches `myapps-rtc` with a string
/// detail (strings cross between script worlds), and the forwarder's `myapps-rtc-reply`
/// resolves the promise of the same id. What it captures (`document`, `JSON`, `Map`…) it
/// takes before the page's scripts run (document start).
#[cfg(target_os = "linux")]
const TRANSPORT: &str = r#"(function () {
  var D = document, CE = CustomEvent, S = JSON.stringify, J = JSON.parse, P = Promise;
  var waiting = new Map(), n = 0;
  D.addEventListener("myapps-rtc-reply", function (ev) {
    var d;
    try { d = J(String(ev.detail)); } catch (e) { return; }
    var w = d && waiting.get(d.id);
    if (!w) return;
    waiting.delete(d.id);
    w(d.reply);
  }, true);
  Object.defineProperty(window, "__myappsRtcTransport", {value: Object.freeze({
    send: function (msg) {
      return new P(function (resolve) {
        var id = ++n;
        waiting.set(id, resolve);
        D.dispatchEvent(new CE("myapps-rtc", {detail: S({id: id, msg: msg})}));
      });
    }
  }), enumerable: false, configurable: true, writable: false});
})();
"#;

/// [`Router::page_script`] for `origins`: JSON is a valid JavaScript literal, so no
/// origin can break out of its string (as in [`super::bridge::script`]).
fn page_script(origins: &[String], transport: &str) -> String {
    let mut s = format!(
        "(function () {{\nif ({}.indexOf(String(window.location.origin)) < 0) return;\n{transport}",
        Value::from(origins.to_vec())
    );
    s.push_str("(function () {\n'use strict';\n");
    for file in SHIM {
        s.push_str(file);
        s.push('\n');
    }
    s.push_str("})();\n})();");
    s
}

/// The reply when a session's connection cannot be opened.
fn connection_fault(e: &LocalError) -> Value {
    match e {
        LocalError::TooManyConnections(_) => Refusal::QuotaExceeded.reply(e),
        _ => Refusal::Operation.reply(e),
    }
}

/// A message of the forwarder.
struct Incoming {
    origin: String,
    session: String,
    msg: Map<String, Value>,
}

impl Incoming {
    fn parse(text: &str) -> Result<Incoming, String> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| format!("the message is not JSON: {e}"))?;
        let field = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let origin = field("origin").ok_or("the message has no `origin` string")?;
        let session = field("session").ok_or("the message has no `session` string")?;
        let ok = !session.is_empty()
            && session.len() <= MAX_SESSION_ID
            && session.bytes().all(|b| b.is_ascii_hexdigit());
        if !ok {
            return Err(format!(
                "`session` must be 1 to {MAX_SESSION_ID} hex digits"
            ));
        }
        let msg = v
            .get("msg")
            .and_then(Value::as_object)
            .cloned()
            .ok_or("the message has no `msg` object")?;
        Ok(Incoming {
            origin,
            session,
            msg,
        })
    }
}

#[cfg(test)]
#[path = "rtc_tests.rs"]
mod tests;
