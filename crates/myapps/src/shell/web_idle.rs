//! The Idle Detection API (WICG "Idle Detection", `IdleDetector`) for trusted pages, on
//! Linux, answered by our idle watcher (`desktop::idle`: X11 MIT-SCREEN-SAVER, Mutter's
//! IdleMonitor), which sees the whole session's input, not just the page's.
//!
//! WebKitGTK has no `IdleDetector`. A page-world script in every frame defines it
//! ([`IDLE_DETECTOR`]); `start({threshold})` (at least 60 s, as the spec says) tells our
//! isolated world, which posts `idle <threshold-ms> <origin>` with the frame's own origin
//! ([`super::web_platform::platform_message`]). For a trusted origin a watcher runs for
//! that threshold, and each transition is sent to the top documents of the trusted
//! pages of every window as `__myappsIdle(threshold, idle)`, which updates the detectors
//! of that threshold and fires their `change` event. A frame of another origin gets
//! `requestPermission()` = `denied` and hears nothing. `screenState` is `unlocked`: no
//! screen-lock signal is read yet.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use webkit2gtk::{WebView, WebViewExt};
use webkit2gtk::{gio, glib};

/// The shortest threshold the spec allows (§"start()": "If threshold is less than 60
/// seconds, reject with a TypeError").
pub const MIN_THRESHOLD_MS: u64 = 60_000;

/// In every frame, in the page's world: `IdleDetector` where the webview lacks it.
pub const IDLE_DETECTOR: &str = r#"(function(){if(window.IdleDetector)return;
var byThreshold={};
function tell(t){document.documentElement.setAttribute('data-myapps-idle',String(t));
document.dispatchEvent(new Event('myapps-idle'));}
Object.defineProperty(window,'__myappsIdle',{value:function(t,idle){
(byThreshold[t]||[]).slice().forEach(function(d){d._set(idle?'idle':'active');});}});
class IdleDetector extends EventTarget{
constructor(){super();this._user=null;this._screen=null;this.onchange=null;}
get userState(){return this._user;}
get screenState(){return this._screen;}
_set(u){if(this._user===u)return;this._user=u;this._screen='unlocked';var ev=new Event('change');
if(typeof this.onchange==='function')this.onchange(ev);this.dispatchEvent(ev);}
static requestPermission(){return Promise.resolve(window===window.top?'granted':'denied');}
start(o){o=o||{};var self=this;var t=o.threshold===undefined?60000:Number(o.threshold);
if(!isFinite(t)||t<60000)return Promise.reject(new TypeError('Minimum threshold is 1 minute.'));
if(window!==window.top)return Promise.reject(new DOMException('Idle detection permission denied','NotAllowedError'));
if(o.signal&&o.signal.aborted)return Promise.reject(o.signal.reason||new DOMException('Aborted','AbortError'));
t=Math.floor(t);(byThreshold[t]=byThreshold[t]||[]).push(self);
if(o.signal)o.signal.addEventListener('abort',function(){var l=byThreshold[t]||[];var i=l.indexOf(self);if(i>=0)l.splice(i,1);});
tell(t);self._set('active');return Promise.resolve();}}
window.IdleDetector=IdleDetector;})();"#;

/// In every frame, in our world: a started detector's threshold and the frame's own
/// origin to native code as `"idle <ms> <origin>"`.
pub const IDLE_FORWARDER: &str = "document.addEventListener('myapps-idle',function(){\
window.webkit.messageHandlers.myappsPlatform.postMessage('idle '+\
document.documentElement.getAttribute('data-myapps-idle')+' '+String(location.origin));},true);";

thread_local! {
    /// One watcher per threshold a trusted page started a detector with.
    static WATCHERS: RefCell<BTreeMap<u64, desktop::idle::Watcher>> = const { RefCell::new(BTreeMap::new()) };
    /// Every webview, to tell the trusted ones (weak: closing a window drops it).
    static VIEWS: RefCell<Vec<glib::WeakRef<WebView>>> = const { RefCell::new(Vec::new()) };
}

/// A webview that may hear idle transitions (when its page is trusted).
pub fn register(wv: &WebView) {
    use webkit2gtk::glib::prelude::ObjectExt;
    VIEWS.with_borrow_mut(|v| {
        v.retain(|w| w.upgrade().is_some());
        v.push(wv.downgrade());
    });
}

/// At most this many thresholds are watched (each is a thread): a page cannot start
/// watchers without bound.
pub const MAX_THRESHOLDS: usize = 8;

/// A trusted frame started a detector with `threshold_ms`: a watcher for it, if none
/// runs yet.
pub fn start(threshold_ms: u64) {
    let threshold_ms = threshold_ms.max(MIN_THRESHOLD_MS);
    let (running, count) = WATCHERS.with_borrow(|w| (w.contains_key(&threshold_ms), w.len()));
    if running {
        return;
    }
    if count >= MAX_THRESHOLDS {
        tracing::warn!(
            threshold_ms,
            "IdleDetector: {MAX_THRESHOLDS} thresholds watched already; not this one"
        );
        return;
    }
    let source = match desktop::idle::open(None) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("IdleDetector: {e}; pages stay `active`");
            return;
        }
    };
    let threshold = Duration::from_millis(threshold_ms);
    let on_change = move |idle: bool| {
        glib::MainContext::default().invoke(move || tell(threshold_ms, idle));
    };
    match desktop::idle::Watcher::start(source, threshold, desktop::idle::POLL, on_change) {
        Ok(w) => {
            tracing::info!(threshold_ms, "IdleDetector: watching");
            WATCHERS.with_borrow_mut(|m| m.insert(threshold_ms, w));
        }
        Err(e) => tracing::warn!("IdleDetector: {e}"),
    }
}

/// A transition: to the top documents of trusted pages.
fn tell(threshold_ms: u64, idle: bool) {
    let trusted = |uri: &str| {
        super::policy::origin_of(uri).is_some_and(|o| super::web_platform::is_trusted(&o))
    };
    let script = format!("window.__myappsIdle&&window.__myappsIdle({threshold_ms},{idle})");
    let mut told = 0;
    VIEWS.with_borrow(|views| {
        for wv in views.iter().filter_map(glib::WeakRef::upgrade) {
            if wv.uri().is_some_and(|u| trusted(&u)) {
                wv.evaluate_javascript(&script, None, None, None::<&gio::Cancellable>, |_| {});
                told += 1;
            }
        }
    });
    tracing::info!(
        threshold_ms,
        idle,
        pages = told,
        "IdleDetector: user state changed"
    );
}
