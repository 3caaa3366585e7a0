//! The web platform the web client uses in any browser, mapped to the OS for trusted
//! origins, on Linux (WebKitGTK):
//!
//! * **Badging API** (W3C): `navigator.setAppBadge(n)` / `clearAppBadge()`, which
//!   WebKitGTK lacks, are defined by a page-world script in every frame; the call and
//!   the frame's own origin (read in our isolated world) come here, and a trusted
//!   origin's badge goes to the tray item ([`Badge`], `UserEvent::Badge`).
//! * **Notifications API** (WHATWG), with actions: `super::web_notify`.
//! * **Idle Detection** (WICG): `super::web_idle`.
//!
//! Everything here runs on GTK's main thread.

use std::cell::RefCell;

use tao::event_loop::EventLoopProxy;

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

/// A message of [`BADGE_FORWARDER`], [`super::web_idle::IDLE_FORWARDER`] or
/// [`super::web_notify::ACTIONS_FORWARDER`]: a trusted frame's badge goes to the tray,
/// its idle detector's threshold to the idle watcher, a notification's actions to the
/// notification it is about to show.
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
    if kind == "actions" {
        if is_trusted(origin) {
            super::web_notify::offered(value, origin);
        } else {
            tracing::info!(%origin, "notification actions of an untrusted frame ignored");
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

thread_local! {
    /// The trusted origins of every window so far: may set the badge, detect idleness.
    static GRANTED: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
    /// The way to the event loop (the tray lives there), set by the app at start.
    static EVENTS: RefCell<Option<EventLoopProxy<UserEvent>>> = const { RefCell::new(None) };
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
