//! The freedesktop Desktop Notifications spec (1.2) over the session bus.
//!
//! One bus connection for everything: `Notify` / `CloseNotification` calls from the
//! caller's thread, and one thread that reads the server's `ActionInvoked`,
//! `NotificationClosed` and `NotificationReplied` signals (the last is the `inline-reply`
//! capability of KDE/GNOME-derived servers). The server's ids (`u32`) are mapped to ours.
//!
//! Per kind: an incoming call gets urgency critical, category `call.incoming` and no
//! timeout (it stays until handled or removed); a missed call category `call.unanswered`
//! and no timeout; a chat `im.received`. Buttons become actions; the note itself is the
//! action `default`. A clicked note is closed (servers such as dunst keep it otherwise).
//!
//! Texts are text: a server with the `body-markup` capability reads the body as markup
//! (spec, "Markup"), so `&`, `<` and `>` in it are sent as entities; a chat message
//! `a <b>c</b>` is shown as typed. The summary is plain text by the spec and sent as is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use zbus::blocking::{Connection, MessageIterator};
use zbus::message::Type;
use zbus::zvariant::Value;
use zbus::{MatchRule, Message};

use super::{Error, Event, Handler, Kind, Note, Notifier, OPEN, Options};

const DEST: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";
const IFACE: &str = "org.freedesktop.Notifications";
/// The action key of a click on the note itself (spec: "default").
const DEFAULT_ACTION: &str = "default";
/// The action key of the reply field (KDE's `inline-reply`).
const INLINE_REPLY: &str = "inline-reply";
/// The capability of servers that read the body as markup.
const BODY_MARKUP: &str = "body-markup";
/// A call to the server that takes longer than this fails, so a hung daemon cannot hold
/// up the launcher.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Default)]
struct Ids {
    /// Our id → the server's.
    server: HashMap<String, u32>,
    /// The server's id → ours.
    ours: HashMap<u32, String>,
}

impl Ids {
    fn forget_ours(&mut self, id: &str) -> Option<u32> {
        let s = self.server.remove(id)?;
        self.ours.remove(&s);
        Some(s)
    }

    fn forget_server(&mut self, s: u32) -> Option<String> {
        let id = self.ours.remove(&s)?;
        self.server.remove(&id);
        Some(id)
    }
}

/// The freedesktop backend.
pub(super) struct Freedesktop {
    conn: Connection,
    app_name: String,
    server: String,
    capabilities: Vec<String>,
    ids: Arc<Mutex<Ids>>,
}

fn lock(ids: &Mutex<Ids>) -> MutexGuard<'_, Ids> {
    // Nothing panics under this lock; a poisoned map is still right.
    ids.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!("{what}: {e}"))
}

impl Freedesktop {
    /// Connects, asks the server who it is (fails when no server runs) and starts the
    /// signal thread.
    pub(super) fn open(options: &Options, handler: Handler) -> Result<Self, Error> {
        let builder = match &options.bus_address {
            Some(a) => zbus::blocking::connection::Builder::address(a.as_str()),
            None if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() => {
                return Err(Error::Unavailable(
                    "no session bus (DBUS_SESSION_BUS_ADDRESS is not set)".into(),
                ));
            }
            None => zbus::blocking::connection::Builder::session(),
        }
        .map_err(|e| unavailable("session bus address", e))?;
        let conn = builder
            .method_timeout(CALL_TIMEOUT)
            .build()
            .map_err(|e| unavailable("cannot connect to the session bus", e))?;
        // Subscribe before the first note, so no signal is missed.
        let rule = MatchRule::builder()
            .msg_type(Type::Signal)
            .interface(IFACE)
            .and_then(|r| r.path(PATH))
            .map_err(|e| unavailable("match rule", e))?
            .build();
        let signals = MessageIterator::for_match_rule(rule, &conn, Some(256))
            .map_err(|e| unavailable("cannot subscribe to notification signals", e))?;
        let info = conn
            .call_method(Some(DEST), PATH, Some(IFACE), "GetServerInformation", &())
            .map_err(|e| unavailable("no notification server on the session bus", e))?;
        let (name, _vendor, version, _spec) = info
            .body()
            .deserialize::<(String, String, String, String)>()
            .map_err(|e| unavailable("GetServerInformation", e))?;
        let capabilities = conn
            .call_method(Some(DEST), PATH, Some(IFACE), "GetCapabilities", &())
            .and_then(|m| m.body().deserialize::<Vec<String>>())
            .map_err(|e| unavailable("GetCapabilities", e))?;
        let ids = Arc::new(Mutex::new(Ids::default()));
        let thread_ids = ids.clone();
        let thread_conn = conn.clone();
        std::thread::Builder::new()
            .name("notify-signals".into())
            .spawn(move || read_signals(signals, &thread_conn, &thread_ids, &handler))
            .map_err(|e| unavailable("cannot start the signal thread", e))?;
        Ok(Freedesktop {
            conn,
            app_name: options.app_name.clone().unwrap_or_else(|| "myApps".into()),
            server: format!("{name} {version}"),
            capabilities,
            ids,
        })
    }

    fn has(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }

    /// `Notify`'s `actions` (key, label pairs) for `note`.
    fn actions(&self, note: &Note) -> Vec<String> {
        let mut a = vec![DEFAULT_ACTION.to_owned(), String::new()];
        for b in &note.buttons {
            a.extend([b.key.clone(), b.label.clone()]);
        }
        if let Some(label) = &note.reply {
            let key = if self.has(INLINE_REPLY) {
                INLINE_REPLY
            } else {
                OPEN
            };
            a.extend([key.to_owned(), label.clone()]);
        }
        a
    }
}

impl Notifier for Freedesktop {
    fn show(&self, note: &Note) -> Result<(), Error> {
        let replaces = lock(&self.ids).forget_ours(&note.id).unwrap_or(0);
        let mut hints: HashMap<&str, Value<'_>> = HashMap::new();
        let (urgency, category, timeout) = match note.kind {
            Kind::IncomingCall => (2u8, "call.incoming", 0i32),
            Kind::MissedCall => (1, "call.unanswered", 0),
            Kind::Chat => (1, "im.received", -1),
            Kind::Default => (1, "", -1),
        };
        hints.insert("urgency", Value::from(urgency));
        if !category.is_empty() {
            hints.insert("category", Value::from(category));
        }
        if note.sound {
            let name = match note.kind {
                Kind::IncomingCall => "phone-incoming-call",
                Kind::Chat => "message-new-instant",
                _ => "message-new-instant",
            };
            hints.insert("sound-name", Value::from(name));
        } else {
            hints.insert("suppress-sound", Value::from(true));
        }
        let icon = note
            .icon
            .as_deref()
            .filter(|i| i.starts_with("file://") || i.starts_with('/'))
            .unwrap_or("");
        let body = if self.has(BODY_MARKUP) {
            escape_markup(&note.body)
        } else {
            note.body.clone()
        };
        let reply = self
            .conn
            .call_method(
                Some(DEST),
                PATH,
                Some(IFACE),
                "Notify",
                &(
                    self.app_name.as_str(),
                    replaces,
                    icon,
                    note.title.as_str(),
                    body.as_str(),
                    self.actions(note),
                    hints,
                    timeout,
                ),
            )
            .map_err(|e| Error::Failed(format!("Notify: {e}")))?;
        let server_id: u32 = reply
            .body()
            .deserialize()
            .map_err(|e| Error::Failed(format!("Notify's reply: {e}")))?;
        let mut ids = lock(&self.ids);
        ids.server.insert(note.id.clone(), server_id);
        ids.ours.insert(server_id, note.id.clone());
        Ok(())
    }

    fn remove(&self, id: &str) {
        let Some(s) = lock(&self.ids).forget_ours(id) else {
            return;
        };
        close(&self.conn, s);
    }

    fn describe(&self) -> String {
        format!(
            "freedesktop notifications: {} ({})",
            self.server,
            self.capabilities.join(", ")
        )
    }
}

fn close(conn: &Connection, server_id: u32) {
    if let Err(e) = conn.call_method(
        Some(DEST),
        PATH,
        Some(IFACE),
        "CloseNotification",
        &(server_id,),
    ) {
        tracing::debug!("CloseNotification {server_id}: {e}");
    }
}

/// The signal thread: runs while the connection lives (the process, in practice).
fn read_signals(signals: MessageIterator, conn: &Connection, ids: &Mutex<Ids>, handler: &Handler) {
    for msg in signals {
        match msg {
            Ok(m) => on_signal(&m, conn, ids, handler),
            Err(e) => {
                tracing::warn!("notification signals: {e}");
                break;
            }
        }
    }
    tracing::debug!("notification signal thread ends");
}

fn on_signal(m: &Message, conn: &Connection, ids: &Mutex<Ids>, handler: &Handler) {
    let header = m.header();
    let Some(member) = header.member() else {
        return;
    };
    match member.as_str() {
        "ActionInvoked" => {
            let Ok((s, key)) = m.body().deserialize::<(u32, String)>() else {
                return;
            };
            // Signals of other applications' notifications are not in the map.
            let Some(id) = lock(ids).forget_server(s) else {
                return;
            };
            if key == INLINE_REPLY {
                // A server with inline-reply sends NotificationReplied for the text; the
                // action itself only says the field was opened.
                lock(ids).ours.insert(s, id.clone());
                lock(ids).server.insert(id, s);
                return;
            }
            close(conn, s);
            handler(Event::Clicked {
                id,
                button: (key != DEFAULT_ACTION).then_some(key),
            });
        }
        "NotificationReplied" => {
            let Ok((s, text)) = m.body().deserialize::<(u32, String)>() else {
                return;
            };
            if let Some(id) = lock(ids).forget_server(s) {
                close(conn, s);
                handler(Event::Replied { id, text });
            }
        }
        "NotificationClosed" => {
            let Ok((s, _reason)) = m.body().deserialize::<(u32, u32)>() else {
                return;
            };
            if let Some(id) = lock(ids).forget_server(s) {
                handler(Event::Closed { id });
            }
        }
        _ => {}
    }
}

/// `text` for a markup body: `&`, `<`, `>` as the entities the spec's markup (a subset
/// of XML) knows.
fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_become_entities() {
        assert_eq!(
            escape_markup("Tom & Jerry <b>hi</b> &amp;"),
            "Tom &amp; Jerry &lt;b&gt;hi&lt;/b&gt; &amp;amp;"
        );
        assert_eq!(escape_markup("4711"), "4711");
    }
}
