//! The web platform the web client uses in any browser, mapped to the OS for trusted
//! origins, on Linux (WebKitGTK):
//!
//! * **Badging API** (W3C): `navigator.setAppBadge(n)` / `clearAppBadge()`, which
//!   WebKitGTK lacks, are defined by a page-world script in every frame; the call and
//!   the frame's own origin (read in our isolated world) come here, and a trusted
//!   origin's badge goes to the tray item ([`Badge`], `UserEvent::Badge`).
//! * **Notifications API** (WHATWG): page notifications as OS notifications.
//! * **Idle Detection** (WICG): `super::web_idle`.
//!
//! Notifications: WebKitGTK asks for the permission (`permission-request` with a
//! `NotificationPermissionRequest`, answered in `linux.rs`: yes for trusted origins, no
//! for others) and hands each `new Notification(…)` to `show-notification`. We show it
//! through `desktop::notify` (the same backends as the launcher's notifications) instead
//! of WebKit's default, so it follows the `NOTIFICATIONS` setting and a click comes back:
//! the OS's click focuses the page's window and fires the page's `click` event
//! (`webkit_notification_clicked`); the page's `close()` removes it from the OS.
//!
//! Everything here runs on GTK's main thread; the notification service's click handler
//! runs on its own thread and comes back through the main context.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use tao::event_loop::EventLoopProxy;
use webkit2gtk::glib;
use webkit2gtk::glib::prelude::Cast;
use webkit2gtk::{Notification, NotificationExt, WebView};

use super::UserEvent;

/// An app badge (W3C Badging API §2: "nothing", "flag" or a number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Badge {
    /// Cleared (`clearAppBadge()`, or `setAppBadge(0)`).
    Nothing,
    /// `setAppBadge()` without a number.
    Flag,
    /// `setAppBadge(n)`, n ≥ 1.
    Count(u64),
}

impl Badge {
    /// From the forwarder's text: `flag` or a decimal number (0 clears).
    fn parse(text: &str) -> Option<Badge> {
        match text {
            "flag" => Some(Badge::Flag),
            n => match n.parse::<u64>().ok()? {
                0 => Some(Badge::Nothing),
                n => Some(Badge::Count(n)),
            },
        }
    }
}

/// In every frame, in the page's world: the Badging API (W3C Badging §3) where the
/// webview lacks it. The value goes on the root element and an event tells our world
/// (the two worlds share the DOM, not JavaScript objects). Invalid numbers are the
/// spec's TypeError ([EnforceRange] unsigned long long).
pub const BADGE_CALLS: &str = "(function(){if(navigator.setAppBadge)return;\
function send(v){document.documentElement.setAttribute('data-myapps-badge',v);\
document.dispatchEvent(new Event('myapps-badge'));}\
Object.defineProperty(Navigator.prototype,'setAppBadge',{value:function(n){\
if(n===undefined){send('flag');return Promise.resolve();}\
n=Number(n);if(!isFinite(n)||n<0||n>Number.MAX_SAFE_INTEGER)\
return Promise.reject(new TypeError('setAppBadge: not an unsigned long long'));\
send(String(Math.floor(n)));return Promise.resolve();},writable:true,configurable:true});\
Object.defineProperty(Navigator.prototype,'clearAppBadge',{value:function(){send('0');\
return Promise.resolve();},writable:true,configurable:true});})();";

/// In every frame, in our world: the badge and the frame's own origin to native code as
/// `"badge <value> <origin>"`.
pub const BADGE_FORWARDER: &str = "document.addEventListener('myapps-badge',function(){\
window.webkit.messageHandlers.myappsPlatform.postMessage('badge '+\
document.documentElement.getAttribute('data-myapps-badge')+' '+String(location.origin));},true);";

/// Where a badge goes: the event loop (set once by the app).
pub fn set_events(proxy: EventLoopProxy<UserEvent>) {
    EVENTS.with_borrow_mut(|e| *e = Some(proxy));
}

/// Whether `origin` is one of the trusted origins of a window.
pub fn is_trusted(origin: &str) -> bool {
    GRANTED.with_borrow(|g| g.iter().flatten().any(|o| o == origin))
}

/// A message of [`BADGE_FORWARDER`] or [`super::web_idle::IDLE_FORWARDER`]: a trusted
/// frame's badge goes to the tray, its idle detector's threshold to the idle watcher.
pub fn platform_message(message: &str) {
    let mut parts = message.splitn(3, ' ');
    let (Some(kind), Some(value), Some(origin)) = (parts.next(), parts.next(), parts.next()) else {
        tracing::warn!(?message, "unexpected web platform message");
        return;
    };
    if kind == "idle" {
        match value.parse::<u64>() {
            Ok(ms) if is_trusted(origin) => super::web_idle::start(ms),
            Ok(_) => tracing::info!(%origin, "IdleDetector of an untrusted frame ignored"),
            Err(_) => tracing::warn!(?message, "unexpected idle threshold"),
        }
        return;
    }
    if kind != "badge" {
        tracing::warn!(?message, "unexpected web platform message");
        return;
    }
    let Some(badge) = Badge::parse(value) else {
        tracing::warn!(?message, "unexpected badge");
        return;
    };
    if !is_trusted(origin) {
        tracing::info!(%origin, ?badge, "app badge of an untrusted frame ignored");
        return;
    }
    tracing::info!(%origin, ?badge, "app badge");
    EVENTS.with_borrow(|e| {
        if let Some(p) = e {
            let _ = p.send_event(UserEvent::Badge(badge));
        }
    });
}

/// The OS notifications of pages, shown and not yet clicked or closed.
struct Shown {
    notifier: Arc<dyn desktop::notify::Notifier>,
    notes: HashMap<String, (Notification, WebView)>,
}

thread_local! {
    /// The trusted origins of every window so far: may set the badge, detect idleness.
    static GRANTED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
    /// The way to the event loop (the tray lives there), set by the app at start.
    static EVENTS: RefCell<Option<EventLoopProxy<UserEvent>>> = const { RefCell::new(None) };
    /// Opened at the first notification; `None` inside when the OS has no service (or
    /// `NOTIFICATIONS` is off), which is logged once.
    static SHOWN: RefCell<Option<Option<Shown>>> = const { RefCell::new(None) };
}

/// Adds a window's trusted origins (the PBX's, the local service's): they may set the
/// badge and use the idle detector. (The Notification permission is answered per
/// request in `linux.rs`; WebKit asks only after a user gesture.)
pub fn trust(origins: &[String]) {
    GRANTED.with_borrow_mut(|g| {
        let list = g.get_or_insert_with(Vec::new);
        for o in origins {
            if !list.contains(o) {
                list.push(o.clone());
            }
        }
    });
}

/// `show-notification` of a webview of a trusted page: shows `n` on the OS. Returns
/// whether it was handled (always: WebKit's own display would bypass the setting).
pub fn show(wv: &WebView, n: &Notification) -> bool {
    let id = format!("web-{}", n.id());
    let note = desktop::notify::Note {
        id: id.clone(),
        kind: desktop::notify::Kind::Default,
        title: n.title().map(|t| t.to_string()).unwrap_or_default(),
        body: n.body().map(|t| t.to_string()).unwrap_or_default(),
        icon: None,
        buttons: Vec::new(),
        reply: None,
        sound: false,
    };
    SHOWN.with_borrow_mut(|slot| {
        let Some(shown) = slot.get_or_insert_with(open) else {
            tracing::info!(%id, "page notification not shown (no notification service)");
            return;
        };
        match shown.notifier.show(&note) {
            Ok(()) => {
                tracing::info!(%id, title = %note.title, "page notification shown");
                let closed_id = id.clone();
                // The page's `close()` (or a replacement by tag): off the OS too.
                n.connect_closed(move |_| closed(&closed_id));
                shown.notes.insert(id, (n.clone(), wv.clone()));
            }
            Err(e) => tracing::warn!(%id, "page notification not shown: {e}"),
        }
    });
    true
}

/// The notification service, with clicks routed back to the main thread.
fn open() -> Option<Shown> {
    if !crate::headless::user_settings().notifications {
        tracing::info!("page notifications off (NOTIFICATIONS)");
        return None;
    }
    let handler: desktop::notify::Handler = Arc::new(|e: desktop::notify::Event| {
        if let desktop::notify::Event::Clicked { id, .. } = e {
            glib::MainContext::default().invoke(move || clicked(&id));
        }
    });
    match desktop::notify::open(&desktop::notify::Options::default(), handler) {
        Ok(notifier) => Some(Shown {
            notifier,
            notes: HashMap::new(),
        }),
        Err(e) => {
            tracing::warn!("page notifications are not shown: {e}");
            None
        }
    }
}

/// The OS's click: the page's window comes to the front and the page hears `click`.
fn clicked(id: &str) {
    let Some((n, wv)) = SHOWN.with_borrow_mut(|slot| {
        slot.as_mut()
            .and_then(Option::as_mut)
            .and_then(|s| s.notes.remove(id))
    }) else {
        return;
    };
    use gtk::prelude::{GtkWindowExt, WidgetExt};
    if let Some(window) = wv.toplevel().and_then(|w| w.downcast::<gtk::Window>().ok()) {
        window.present();
    }
    n.clicked();
    tracing::info!(%id, "page notification clicked: window raised, click sent to the page");
}

/// The page closed it (or WebKit replaced it): removed from the OS.
fn closed(id: &str) {
    SHOWN.with_borrow_mut(|slot| {
        if let Some(s) = slot.as_mut().and_then(Option::as_mut)
            && s.notes.remove(id).is_some()
        {
            s.notifier.remove(id);
            tracing::info!(%id, "page notification closed by the page");
        }
    });
}
