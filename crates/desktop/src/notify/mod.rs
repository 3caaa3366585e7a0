//! Desktop notifications (wiki "Notifications"): one [`Notifier`] trait,
//! one backend per OS, chosen by `cfg`:
//!
//! * Linux and the BSDs: the freedesktop notification spec over the session D-Bus
//!   (`linux.rs`, zbus);
//! * Windows: toast notifications through WinRT (`windows.rs`);
//! * macOS: `UNUserNotificationCenter` (`macos.rs`).
//!
//! This crate knows nothing of the service's launcher API: a [`Note`] is what the OS shows,
//! an [`Event`] what the user did. The binary maps `AddLocalNotification` onto it.
//!
//! Rules common to every backend (wiki: "there will be always just one missed call
//! notification visible"): a [`Kind::MissedCall`] note removes the missed-call note shown
//! before it; a [`Kind::IncomingCall`] note stays until it is clicked or removed (no
//! timeout). A note is closed by the backend once it was clicked: the launcher forgets it.

use std::sync::{Arc, Mutex, PoisonError};

#[cfg(all(unix, not(target_os = "macos")))]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(windows)]
mod windows;

/// What a note is about; backends pick urgency, timeout and category from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Anything else.
    Default,
    /// A call that rings now: stays until handled or removed.
    IncomingCall,
    /// A call that was missed: stays, and only the newest is shown.
    MissedCall,
    /// A chat message, possibly with a reply field.
    Chat,
}

/// One button of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Button {
    /// What [`Event::Clicked`] reports (e.g. `accept`).
    pub key: String,
    /// The label shown.
    pub label: String,
}

/// A notification to show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The caller's id; events name it. Showing an id again replaces that note.
    pub id: String,
    /// Layout and lifetime.
    pub kind: Kind,
    /// First line.
    pub title: String,
    /// The text below it (may be empty).
    pub body: String,
    /// An icon: a `file://` URL or an absolute path (other URLs are not shown).
    pub icon: Option<String>,
    /// Buttons, in order.
    pub buttons: Vec<Button>,
    /// A reply field with this label, where the OS offers one; where it does not, a button
    /// with this label and the key [`OPEN`] (the app opens, where the user replies).
    pub reply: Option<String>,
    /// Play the OS's default sound for the kind.
    pub sound: bool,
}

/// The button key a reply field becomes where the OS has no reply field.
pub const OPEN: &str = "open";

/// What the user did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Clicked the note (`button: None`) or one of its buttons.
    Clicked {
        /// [`Note::id`].
        id: String,
        /// [`Button::key`].
        button: Option<String>,
    },
    /// Typed a reply.
    Replied {
        /// [`Note::id`].
        id: String,
        /// The text.
        text: String,
    },
    /// Closed it without clicking (or it expired); no click will come.
    Closed {
        /// [`Note::id`].
        id: String,
    },
}

/// Receives [`Event`]s, on a thread of the backend's; must not block for long.
pub type Handler = Arc<dyn Fn(Event) + Send + Sync>;

/// Why notifications cannot be shown.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// No notification service (no session bus, no daemon, no app bundle, …).
    #[error("desktop notifications unavailable: {0}")]
    Unavailable(String),
    /// The service refused or failed one note.
    #[error("{0}")]
    Failed(String),
}

/// An OS notification backend.
pub trait Notifier: Send + Sync {
    /// Shows `note` (replacing a note with the same id). Returns quickly.
    fn show(&self, note: &Note) -> Result<(), Error>;
    /// Removes the note with this id, if shown.
    fn remove(&self, id: &str);
    /// Who shows them, for the log (e.g. `freedesktop: dunst 1.9.0, actions`).
    fn describe(&self) -> String;
}

/// Where to show notifications.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The application's name as the OS shows it (default `myApps`).
    pub app_name: Option<String>,
    /// Linux: the D-Bus address of the session bus (default: `DBUS_SESSION_BUS_ADDRESS`).
    pub bus_address: Option<String>,
    /// Windows: the AppUserModelID toasts are shown under (default
    /// [`WINDOWS_APP_ID`]); the installer's Start-menu shortcut carries it.
    pub app_id: Option<String>,
}

/// The AppUserModelID of the installed app (installer/wix sets it on the shortcut).
pub const WINDOWS_APP_ID: &str = "innovaphone.myApps";

/// Opens the OS's notification service; `handler` gets every [`Event`].
/// [`Error::Unavailable`] when there is none (the caller falls back to logging).
pub fn open(options: &Options, handler: Handler) -> Result<Arc<dyn Notifier>, Error> {
    let backend = open_backend(options, handler)?;
    Ok(Arc::new(OneMissedCall {
        inner: backend,
        missed: Mutex::new(None),
    }))
}

#[cfg(all(unix, not(target_os = "macos")))]
fn open_backend(options: &Options, handler: Handler) -> Result<Box<dyn Notifier>, Error> {
    Ok(Box::new(linux::Freedesktop::open(options, handler)?))
}

#[cfg(windows)]
fn open_backend(options: &Options, handler: Handler) -> Result<Box<dyn Notifier>, Error> {
    Ok(Box::new(windows::Toasts::open(options, handler)?))
}

#[cfg(target_os = "macos")]
fn open_backend(options: &Options, handler: Handler) -> Result<Box<dyn Notifier>, Error> {
    Ok(Box::new(macos::UserNotifications::open(options, handler)?))
}

#[cfg(not(any(unix, windows)))]
fn open_backend(_: &Options, _: Handler) -> Result<Box<dyn Notifier>, Error> {
    Err(Error::Unavailable("no backend for this OS".into()))
}

/// Keeps one missed-call note (the wiki's rule) on top of any backend.
struct OneMissedCall {
    inner: Box<dyn Notifier>,
    missed: Mutex<Option<String>>,
}

impl Notifier for OneMissedCall {
    fn show(&self, note: &Note) -> Result<(), Error> {
        if note.kind == Kind::MissedCall {
            let previous = self
                .missed
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .replace(note.id.clone());
            if let Some(p) = previous.filter(|p| *p != note.id) {
                self.inner.remove(&p);
            }
        }
        self.inner.show(note)
    }

    fn remove(&self, id: &str) {
        let mut missed = self.missed.lock().unwrap_or_else(PoisonError::into_inner);
        if missed.as_deref() == Some(id) {
            *missed = None;
        }
        drop(missed);
        self.inner.remove(id);
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Rec(Mutex<Vec<String>>);

    impl Notifier for Arc<Rec> {
        fn show(&self, note: &Note) -> Result<(), Error> {
            self.0.lock().unwrap().push(format!("show {}", note.id));
            Ok(())
        }
        fn remove(&self, id: &str) {
            self.0.lock().unwrap().push(format!("remove {id}"));
        }
        fn describe(&self) -> String {
            "rec".into()
        }
    }

    fn note(id: &str, kind: Kind) -> Note {
        Note {
            id: id.into(),
            kind,
            title: "t".into(),
            body: String::new(),
            icon: None,
            buttons: Vec::new(),
            reply: None,
            sound: false,
        }
    }

    #[test]
    fn only_the_newest_missed_call_stays() {
        let rec = Arc::new(Rec::default());
        let n = OneMissedCall {
            inner: Box::new(rec.clone()),
            missed: Mutex::new(None),
        };
        n.show(&note("m1", Kind::MissedCall)).unwrap();
        n.show(&note("c1", Kind::IncomingCall)).unwrap();
        n.show(&note("m2", Kind::MissedCall)).unwrap();
        n.remove("m2");
        n.show(&note("m3", Kind::MissedCall)).unwrap();
        assert_eq!(
            *rec.0.lock().unwrap(),
            [
                "show m1",
                "show c1",
                "remove m1",
                "show m2",
                "remove m2",
                "show m3"
            ]
        );
    }
}
