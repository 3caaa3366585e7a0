//! Page notifications (WHATWG Notifications API) as OS notifications, on Linux
//! (WebKitGTK), with their actions.
//!
//! WebKitGTK asks for the permission (`permission-request` with a
//! `NotificationPermissionRequest`, answered in `linux.rs`: yes for trusted origins, no
//! for others) and hands each `new Notification(…)` to `show-notification`. We show it
//! through `desktop::notify` (the same backends as the launcher's notifications) instead
//! of WebKit's default, so it follows the `NOTIFICATIONS` setting and a click comes back:
//! the OS's click focuses the page's window and fires the page's `click` event
//! (`webkit_notification_clicked`); the page's `close()` removes it from the OS.
//!
//! **Actions.** The standard gives actions (buttons) only to a service worker's
//! notifications; WebKit's `Notification` ignores `options.actions`. A page-world script
//! in top documents ([`NOTIFICATION_ACTIONS`]) wraps the constructor: up to
//! [`MAX_ACTIONS`] actions (`Notification.maxActions`) go, with a token, title, body and
//! tag, through our isolated world to native code ([`offered`]) just before WebKit shows the
//! notification, and [`show`] puts them on the OS notification as buttons. A button
//! raises the window and fires `click` on the page's notification object with the
//! event's `action` set to the action's name, as the service worker's
//! `notificationclick` has it; then the notification is closed. The design is in
//! docs/architecture.md ("The web platform in the shell").
//!
//! Everything here runs on GTK's main thread; the notification service's click handler
//! runs on its own thread and comes back through the main context.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use webkit2gtk::glib::prelude::Cast;
use webkit2gtk::{Notification, NotificationExt, WebView, WebViewExt};
use webkit2gtk::{gio, glib};

/// Actions per notification (`Notification.maxActions`; Chromium's value as well).
pub const MAX_ACTIONS: usize = 2;
/// Notifications offered with actions and not shown yet: more are dropped, oldest first.
const MAX_PENDING: usize = 16;
/// Longest action name and label kept, in characters; longer ones are cut.
const MAX_TEXT: usize = 64;

/// In top documents, in the page's world: `Notification` wrapped so that its actions
/// reach us (the DOM attribute and event are how the page's world talks to ours), and
/// `__myappsNotificationAction(token, action)`, which fires `click` with `action`.
pub const NOTIFICATION_ACTIONS: &str = r#"(function(){var N=window.Notification;
if(!N||window!==window.top||N.maxActions!==undefined)return;
var MAX=2,live={},order=[],seq=0;
function W(title,options){if(!new.target)throw new TypeError("Please use the 'new' operator");
var o=options||{},acts=[],token=null;
if(o.actions&&typeof o.actions.length==='number')for(var i=0;i<o.actions.length&&acts.length<MAX;i++){
var a=o.actions[i]||{};acts.push(Object.freeze({action:String(a.action),title:String(a.title)}));}
if(acts.length){token='n'+(++seq)+'-'+Math.random().toString(36).slice(2);
document.documentElement.setAttribute('data-myapps-notification',JSON.stringify({token:token,
title:String(title),body:o.body===undefined?'':String(o.body),tag:o.tag===undefined?'':String(o.tag),actions:acts}));
document.dispatchEvent(new Event('myapps-notification'));}
var n=Reflect.construct(N,[title,o],new.target===W?N:new.target);
if(token){live[token]=n;order.push(token);if(order.length>32)delete live[order.shift()];
n.addEventListener('close',function(){delete live[token];});}
Object.defineProperty(n,'actions',{value:Object.freeze(acts),configurable:true});return n;}
W.prototype=N.prototype;Object.setPrototypeOf(W,N);
Object.defineProperty(N.prototype,'constructor',{value:W,writable:true,configurable:true});
Object.defineProperty(W,'maxActions',{get:function(){return MAX;}});
Object.defineProperty(window,'__myappsNotificationAction',{value:function(token,action){
var n=live[token];if(!n)return false;delete live[token];var e=new Event('click',{cancelable:true});
Object.defineProperty(e,'action',{value:action});n.dispatchEvent(e);return true;}});
window.Notification=W;})();"#;

/// In top documents, in our world: the offer and the frame's own origin to native code
/// as `"actions <percent-encoded JSON> <origin>"`.
pub const ACTIONS_FORWARDER: &str = "document.addEventListener('myapps-notification',function(){\
if(window!==window.top)return;var d=document.documentElement;\
var v=d.getAttribute('data-myapps-notification')||'';d.removeAttribute('data-myapps-notification');\
window.webkit.messageHandlers.myappsPlatform.postMessage('actions '+encodeURIComponent(v)+' '+\
String(location.origin));},true);";

/// An offer not taken within this long is dropped (the page's constructor threw, or the
/// permission was refused): it cannot attach to a later notification.
const OFFER_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// Origin, title, body and tag: how [`show`] finds the offer of WebKit's notification.
type OfferKey = (String, String, String, String);

/// A notification's actions, offered by the page before WebKit shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Offer {
    /// The page's handle for it (`__myappsNotificationAction`), unique per page load.
    token: String,
    /// See [`OfferKey`].
    key: OfferKey,
    /// When it came.
    at: std::time::Instant,
    /// (name, label) of each action, at most [`MAX_ACTIONS`].
    actions: Vec<(String, String)>,
}

impl Offer {
    /// From the forwarder's value and the frame's origin; `None` (logged by the caller)
    /// when it is not ours.
    fn parse(value: &str, origin: &str) -> Option<Offer> {
        let json = percent_encoding::percent_decode_str(value)
            .decode_utf8()
            .ok()?;
        let v: serde_json::Value = serde_json::from_str(&json).ok()?;
        let text = |v: &serde_json::Value| v.as_str().map(|s| s.chars().take(MAX_TEXT).collect());
        let actions: Vec<(String, String)> = v["actions"]
            .as_array()?
            .iter()
            .take(MAX_ACTIONS)
            .filter_map(|a| Some((text(&a["action"])?, text(&a["title"])?)))
            .collect();
        let whole = |k: &str| v[k].as_str().map(str::to_owned);
        Some(Offer {
            token: text(&v["token"])?,
            key: (
                origin.to_owned(),
                whole("title")?,
                whole("body")?,
                whole("tag")?,
            ),
            at: std::time::Instant::now(),
            actions,
        })
        .filter(|o| !o.actions.is_empty())
    }
}

/// The OS notifications of pages, shown and not yet clicked or closed.
struct Shown {
    notifier: Arc<dyn desktop::notify::Notifier>,
    notes: HashMap<String, (Notification, WebView, Option<Offer>)>,
}

thread_local! {
    /// Opened at the first notification; `None` inside when the OS has no service (or
    /// `NOTIFICATIONS` is off), which is logged once.
    static SHOWN: RefCell<Option<Option<Shown>>> = const { RefCell::new(None) };
    /// Offers waiting for their notification.
    static PENDING: RefCell<VecDeque<Offer>> = const { RefCell::new(VecDeque::new()) };
}

/// A trusted top document of `origin` offers the actions of the notification it creates
/// next.
pub fn offered(value: &str, origin: &str) {
    let Some(offer) = Offer::parse(value, origin) else {
        tracing::warn!(len = value.len(), "unexpected notification actions");
        return;
    };
    PENDING.with_borrow_mut(|p| {
        if p.len() == MAX_PENDING {
            p.pop_front();
        }
        p.push_back(offer);
    });
}

/// The offer for a notification with this origin, title, body and tag, taken (offers
/// older than [`OFFER_TTL`] are dropped first).
fn take_offer(key: &OfferKey) -> Option<Offer> {
    PENDING.with_borrow_mut(|p| {
        p.retain(|o| o.at.elapsed() < OFFER_TTL);
        let i = p.iter().position(|o| &o.key == key)?;
        p.remove(i)
    })
}

/// `show-notification` of a webview of a trusted page: shows `n` on the OS. Returns
/// whether it was handled (always: WebKit's own display would bypass the setting).
pub fn show(wv: &WebView, n: &Notification) -> bool {
    let id = format!("web-{}", n.id());
    let text = |s: Option<glib::GString>| s.map(|t| t.to_string()).unwrap_or_default();
    let (title, body) = (text(n.title()), text(n.body()));
    let origin = wv
        .uri()
        .and_then(|u| super::policy::origin_of(&u))
        .unwrap_or_default();
    let offer = take_offer(&(origin, title.clone(), body.clone(), text(n.tag())));
    let buttons = offer
        .iter()
        .flat_map(|o| o.actions.iter().enumerate())
        .map(|(i, (_, label))| desktop::notify::Button {
            key: button_key(i),
            label: label.clone(),
        })
        .collect();
    let note = desktop::notify::Note {
        id: id.clone(),
        kind: desktop::notify::Kind::Default,
        title,
        body,
        icon: None,
        buttons,
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
                tracing::info!(%id, title = %note.title, actions = note.buttons.len(), "page notification shown");
                let closed_id = id.clone();
                // The page's `close()` (or a replacement by tag): off the OS too.
                n.connect_closed(move |_| closed(&closed_id));
                shown.notes.insert(id, (n.clone(), wv.clone(), offer));
            }
            Err(e) => tracing::warn!(%id, "page notification not shown: {e}"),
        }
    });
    true
}

/// The OS button key of action `i` (never the freedesktop spec's reserved `default`,
/// whatever the page names its actions).
fn button_key(i: usize) -> String {
    format!("action-{i}")
}

/// The notification service, with clicks routed back to the main thread.
fn open() -> Option<Shown> {
    if !crate::headless::user_settings().notifications {
        tracing::info!("page notifications off (NOTIFICATIONS)");
        return None;
    }
    let handler: desktop::notify::Handler = Arc::new(|e: desktop::notify::Event| {
        if let desktop::notify::Event::Clicked { id, button } = e {
            glib::MainContext::default().invoke(move || clicked(&id, button.as_deref()));
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

/// The OS's click, on the notification or one of its buttons: the page's window comes to
/// the front and the page hears `click` (with `action` for a button).
fn clicked(id: &str, button: Option<&str>) {
    let Some((n, wv, offer)) = SHOWN.with_borrow_mut(|slot| {
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
    let action = offer.as_ref().and_then(|o| {
        let i = (0..o.actions.len()).find(|&i| button == Some(button_key(i).as_str()))?;
        Some((o.token.as_str(), o.actions[i].0.as_str()))
    });
    let Some((token, action)) = action else {
        n.clicked();
        tracing::info!(%id, "page notification clicked: window raised, click sent to the page");
        return;
    };
    // Strings into JavaScript as JSON literals: no page text is ever code.
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    let script = format!(
        "window.__myappsNotificationAction&&window.__myappsNotificationAction({},{})",
        quote(token),
        quote(action)
    );
    // A page that navigated away since has no such notification: then a plain click.
    let fallback = n.clone();
    wv.evaluate_javascript(&script, None, None, None::<&gio::Cancellable>, move |r| {
        use javascriptcore::ValueExt;
        let fired = r.is_ok_and(|v| v.to_boolean());
        if !fired {
            fallback.clicked();
        }
        // Gone from the OS (the backend closes a clicked note); the page hears `close` too.
        fallback.close();
    });
    tracing::info!(%id, %action, "page notification action: window raised, click sent to the page");
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

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(json: &str) -> String {
        percent_encoding::utf8_percent_encode(json, percent_encoding::NON_ALPHANUMERIC).to_string()
    }

    #[test]
    fn an_offer_is_read_bounded_and_matched_by_origin_title_body_and_tag() {
        let long = "x".repeat(500);
        let json = serde_json::json!({"token": "n1", "title": "Call from Bob", "body": "4711",
            "tag": "call-1", "actions": [{"action": "accept", "title": "Accept"},
            {"action": long, "title": "Reject"}, {"action": "third", "title": "Third"}]});
        let o = Offer::parse(&encoded(&json.to_string()), "https://pbx").unwrap();
        assert_eq!(o.token, "n1");
        assert_eq!(o.actions.len(), MAX_ACTIONS);
        assert_eq!(o.actions[0], ("accept".into(), "Accept".into()));
        assert_eq!(o.actions[1].0.chars().count(), MAX_TEXT);
        offered(&encoded(&json.to_string()), "https://pbx");
        let key = |origin: &str, tag: &str| {
            let t = |s: &str| s.to_owned();
            (t(origin), t("Call from Bob"), t("4711"), t(tag))
        };
        assert!(take_offer(&key("https://pbx", "")).is_none());
        assert!(
            take_offer(&key("https://other", "call-1")).is_none(),
            "another page's"
        );
        assert_eq!(
            take_offer(&key("https://pbx", "call-1")).unwrap().token,
            "n1"
        );
        assert!(
            take_offer(&key("https://pbx", "call-1")).is_none(),
            "taken once"
        );
    }

    #[test]
    fn the_page_script_allows_as_many_actions_as_native_code_keeps() {
        assert!(NOTIFICATION_ACTIONS.contains(&format!("var MAX={MAX_ACTIONS},")));
    }

    #[test]
    fn offers_without_actions_or_not_json_are_refused_and_pending_is_bounded() {
        let parse = |json: &str| Offer::parse(&encoded(json), "o");
        assert!(Offer::parse("%7B", "o").is_none());
        assert!(parse(r#"{"token":"n1","title":"t","body":"","tag":"","actions":[]}"#).is_none());
        assert!(
            parse(r#"{"token":"n1","title":"t","actions":[{"action":"a","title":"A"}]}"#).is_none()
        );
        for i in 0..MAX_PENDING + 5 {
            let json = format!(
                r#"{{"token":"n{i}","title":"t{i}","body":"","tag":"","actions":[{{"action":"a","title":"A"}}]}}"#
            );
            offered(&encoded(&json), "o");
        }
        assert_eq!(PENDING.with_borrow(VecDeque::len), MAX_PENDING);
        let key = |t: &str| ("o".to_owned(), t.to_owned(), String::new(), String::new());
        assert!(take_offer(&key("t0")).is_none(), "oldest dropped");
        assert!(take_offer(&key("t20")).is_some());
    }
}
