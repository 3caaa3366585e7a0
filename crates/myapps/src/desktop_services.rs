//! The desktop crate's notifications and idle watcher wired to the service's launcher.
//! The adapter lives here because the service does not know the
//! desktop crate and the desktop crate does not know the service (docs/architecture.md).
//!
//! `AddLocalNotification` (docs/public-protocols.md §5) → [`desktop::notify::Note`]:
//! * `PhoneCall` with `acceptTitle` or `rejectTitle` → an incoming call (stays until
//!   handled or removed); `PhoneCall` without either → a missed call (only the newest is
//!   shown); `ChatMessage` → chat; `Default` → default;
//! * `acceptTitle` → button `accept`, `rejectTitle` → `reject`, `buttonTitle` → a button
//!   whose click is the note's own (`action ""`), `replyTitle` → the reply field;
//! * `title` is the first line (the `text` when there is no title), `text` the body;
//!   `largeIcon` (else `smallIcon`) the icon where it is a local file; `soundUrl` set →
//!   the OS's sound.
//!
//! Clicks go back as `Click {id, action, replyText}`: a button's key, `""` for the note
//! or its `buttonTitle` button, `reply` with the text typed.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use desktop::notify::{self, Button, Event, Kind, Note};
use service::launcher::{
    Click, ClickAction, ClickSink, LogNotifier, Notification, NotificationType, Notifier,
    NotifyError,
};

/// The button key of `buttonTitle`.
const VIEW: &str = "view";

/// The launcher's [`Notifier`] on top of an OS backend.
struct DesktopNotifier {
    inner: Arc<dyn notify::Notifier>,
    sink: Arc<Mutex<Option<ClickSink>>>,
}

impl Notifier for DesktopNotifier {
    fn show(&self, n: &Notification) -> Result<(), NotifyError> {
        self.inner
            .show(&to_note(n))
            .map_err(|e| NotifyError(e.to_string()))
    }

    fn remove(&self, id: &str) {
        self.inner.remove(id);
    }

    fn attach(&self, clicks: ClickSink) {
        *self.sink.lock().unwrap_or_else(PoisonError::into_inner) = Some(clicks);
    }
}

/// The OS notifications when they work (Linux: a notification server on the session bus
/// `bus_address`, default `DBUS_SESSION_BUS_ADDRESS`), else the log with a line saying why.
pub fn notifier(bus_address: Option<String>) -> Arc<dyn Notifier> {
    let sink: Arc<Mutex<Option<ClickSink>>> = Arc::default();
    let events = sink.clone();
    let handler: notify::Handler = Arc::new(move |e: Event| {
        let Some(click) = to_click(e) else { return };
        if let Some(s) = &*events.lock().unwrap_or_else(PoisonError::into_inner) {
            s.clicked(click);
        }
    });
    let options = notify::Options {
        bus_address,
        ..Default::default()
    };
    match notify::open(&options, handler) {
        Ok(inner) => {
            tracing::info!("notifications: {}", inner.describe());
            Arc::new(DesktopNotifier { inner, sink })
        }
        Err(e) => {
            tracing::warn!("{e}; local notifications are only logged");
            Arc::new(LogNotifier)
        }
    }
}

fn to_note(n: &Notification) -> Note {
    let buttons_of_a_call = n.accept_title.is_some() || n.reject_title.is_some();
    let kind = match n.kind {
        NotificationType::PhoneCall if buttons_of_a_call => Kind::IncomingCall,
        NotificationType::PhoneCall => Kind::MissedCall,
        NotificationType::ChatMessage => Kind::Chat,
        NotificationType::Default => Kind::Default,
    };
    let (title, body) = match (&n.title, &n.text) {
        (Some(t), b) => (t.clone(), b.clone().unwrap_or_default()),
        (None, b) => (b.clone().unwrap_or_default(), String::new()),
    };
    let mut buttons = Vec::new();
    for (key, label) in [
        ("accept", &n.accept_title),
        ("reject", &n.reject_title),
        (VIEW, &n.button_title),
    ] {
        if let Some(label) = label {
            buttons.push(Button {
                key: key.into(),
                label: label.clone(),
            });
        }
    }
    Note {
        id: n.id.clone(),
        kind,
        title,
        body,
        icon: n.large_icon.clone().or_else(|| n.small_icon.clone()),
        buttons,
        reply: n.reply_title.clone(),
        sound: n.sound_url.is_some(),
    }
}

fn to_click(e: Event) -> Option<Click> {
    let (id, action, reply_text) = match e {
        Event::Clicked { id, button } => {
            let action = match button.as_deref() {
                Some("accept") => ClickAction::Accept,
                Some("reject") => ClickAction::Reject,
                // The note, its `buttonTitle` button, or a reply field the OS lacks
                // (notify::OPEN): the app opens.
                _ => ClickAction::Default,
            };
            (id, action, None)
        }
        Event::Replied { id, text } => (id, ClickAction::Reply, Some(text)),
        Event::Closed { .. } => return None,
    };
    Some(Click {
        id,
        action,
        reply_text,
    })
}

/// Watches the user's idle time and tells the launcher (`userActivity.inactive`).
/// `None` (with a log line saying why) when idle detection is unavailable or off.
pub fn idle_watcher(
    launcher: service::launcher::Launcher,
    threshold: Duration,
) -> Option<desktop::idle::Watcher> {
    if threshold.is_zero() {
        tracing::info!("user activity: not watched (appear offline: never)");
        return None;
    }
    let source = match desktop::idle::open(None) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("{e}; the user always appears active");
            return None;
        }
    };
    tracing::info!(
        "user activity: {}, inactive after {} s",
        source.describe(),
        threshold.as_secs_f64()
    );
    match desktop::idle::Watcher::start(source, threshold, desktop::idle::POLL, move |inactive| {
        tracing::info!(inactive, "user activity changed");
        launcher.set_user_activity(inactive);
    }) {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!("{e}; the user always appears active");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(kind: NotificationType) -> Notification {
        Notification {
            id: "n1".into(),
            src: "s".into(),
            kind,
            title: Some("Bob".into()),
            text: Some("4711".into()),
            small_icon: None,
            large_icon: Some("https://pbx/bob.png".into()),
            sound_url: Some("*".into()),
            button_title: None,
            accept_title: None,
            reject_title: None,
            reply_title: None,
        }
    }

    #[test]
    fn launcher_notifications_map_to_notes() {
        let mut call = n(NotificationType::PhoneCall);
        call.accept_title = Some("Connect".into());
        call.reject_title = Some("Reject".into());
        call.button_title = Some("Show".into());
        let note = to_note(&call);
        assert_eq!(note.kind, Kind::IncomingCall);
        let keys: Vec<_> = note
            .buttons
            .iter()
            .map(|b| (b.key.as_str(), b.label.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("accept", "Connect"),
                ("reject", "Reject"),
                ("view", "Show")
            ]
        );
        assert_eq!(
            (note.title.as_str(), note.body.as_str(), note.sound),
            ("Bob", "4711", true)
        );
        assert_eq!(
            to_note(&n(NotificationType::PhoneCall)).kind,
            Kind::MissedCall
        );
        let mut chat = n(NotificationType::ChatMessage);
        chat.title = None;
        chat.reply_title = Some("Reply".into());
        let note = to_note(&chat);
        assert_eq!(
            (note.kind, note.title.as_str(), note.body.as_str()),
            (Kind::Chat, "4711", "")
        );
        assert_eq!(note.reply.as_deref(), Some("Reply"));
    }

    #[test]
    fn events_map_to_clicks() {
        let click = |button: Option<&str>| {
            to_click(Event::Clicked {
                id: "n1".into(),
                button: button.map(str::to_owned),
            })
            .unwrap()
            .action
        };
        assert_eq!(click(Some("accept")), ClickAction::Accept);
        assert_eq!(click(Some("reject")), ClickAction::Reject);
        assert_eq!(click(Some(VIEW)), ClickAction::Default);
        assert_eq!(click(Some(notify::OPEN)), ClickAction::Default);
        assert_eq!(click(None), ClickAction::Default);
        let r = to_click(Event::Replied {
            id: "n2".into(),
            text: "ok".into(),
        })
        .unwrap();
        assert_eq!(
            (r.id.as_str(), r.action, r.reply_text.as_deref()),
            ("n2", ClickAction::Reply, Some("ok"))
        );
        assert!(to_click(Event::Closed { id: "n1".into() }).is_none());
    }
}
