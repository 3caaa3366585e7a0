//! Global hot keys (platform-services wiki, "Hot keys"): F1–F11 with up to two of
//! alt/ctrl/shift/win per function, stored as `HOTKEYDIAL`, `HOTKEYACCEPT`,
//! `HOTKEYREJECT` (see [`crate::settings::typed`]; the PBX's adminSettings `hotkeyDial`,
//! `hotkeyAccept`, `hotkeyReject`).
//!
//! | function | request to `com.innovaphone.phone` |
//! |---|---|
//! | dial selection | `PrepareCall {text:<selected text>, adjust:true}`; pressed again within [`DOUBLE_PRESS`]: `StartCall {num|sip, adjust:true}` of the same text |
//! | accept | `ConnectCall` |
//! | reject/disconnect | `DisconnectCall` |
//!
//! The requests go to a callback ([`Sink`]); the binary hands them to the ApiRelay
//! (`service::relay::Relay::attach`), which passes them to the web client over `/api`.
//!
//! # Event loops
//! Keys are registered with `global-hotkey`, whose backends need different drivers:
//! * **X11**: a thread of the crate's own with its own X connection (it polls every 50 ms,
//!   which bounds the key-to-message latency). No event loop needed; [`HotKeys::spawn`]
//!   works anywhere. Under **Wayland** without `DISPLAY` nothing can grab keys: a clear
//!   [`Error::Wayland`] (the GlobalShortcuts portal is not implemented). With XWayland
//!   (`DISPLAY` and `WAYLAND_DISPLAY`), keys arrive only while an X11 window has the
//!   focus, which [`HotKeys::problems`] says.
//! * **Windows**: `RegisterHotKey` on a hidden window; `WM_HOTKEY` reaches it only through
//!   the message loop of the thread that made it. [`HotKeys::spawn`] starts a thread with a
//!   message loop of its own; [`HotKeys::on_this_thread`] is for a thread that already
//!   pumps messages (the shell's tao loop).
//! * **macOS**: Carbon `RegisterEventHotKey` events are dispatched by the main run loop.
//!   Only [`HotKeys::on_this_thread`] on the main thread with a running event loop (the
//!   shell's tao loop) works; [`HotKeys::spawn`] (used by `--headless`) returns
//!   [`Error::NeedsMainLoop`].
//!
//! `global-hotkey` has one process-wide event handler that can be set only once; this
//! module sets it and routes events to the [`HotKeys`] alive at the moment. Other code must
//! not call `GlobalHotKeyEvent::set_event_handler`.
//!
//! # The selected text
//! * Linux/X11: the PRIMARY selection (what is highlighted anywhere, no copy needed), else
//!   the CLIPBOARD.
//! * Windows and macOS: the clipboard. The original client simulates a copy (Ctrl+C/Cmd+C)
//!   first; we do not (it needs input injection and, on macOS, the accessibility
//!   permission): the user copies the number, then presses the key.

mod dial;

#[cfg(not(any(windows, target_os = "macos")))]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(windows)]
mod windows;

#[cfg(not(any(windows, target_os = "macos")))]
use linux as os;
#[cfg(target_os = "macos")]
use macos as os;
#[cfg(windows)]
use windows as os;

pub use dial::{Dialer, call_target, clean_text};

use std::collections::HashMap;
use std::sync::{Mutex, Once, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use global_hotkey::hotkey::{Code, HotKey as GhHotKey, Modifiers};
use global_hotkey::{GlobalHotKeyEvent, GlobalHotKeyManager, HotKeyState};
use protocol::api::Request;

use crate::settings::typed::{HotKey, HotKeys as Bindings};

/// Two presses of the dial key closer than this dial at once (the Windows default
/// double-click time; the wiki gives no figure).
pub const DOUBLE_PRESS: Duration = Duration::from_millis(500);

/// A hot-key function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Function {
    /// Dial the selected text (`HOTKEYDIAL`).
    Dial,
    /// Accept the alerting call (`HOTKEYACCEPT`).
    Accept,
    /// Reject or end the call (`HOTKEYREJECT`).
    Reject,
}

impl Function {
    /// The setting's name.
    pub fn setting(self) -> &'static str {
        match self {
            Function::Dial => "HOTKEYDIAL",
            Function::Accept => "HOTKEYACCEPT",
            Function::Reject => "HOTKEYREJECT",
        }
    }
}

/// Where the requests go (the relay endpoint). Called on the hot-key worker thread.
pub type Sink = Box<dyn Fn(Request) + Send>;

/// Why hot keys cannot run. The message is for the user (settings window, log).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Wayland session without X11.
    #[error(
        "global hot keys are not available under Wayland: they need the desktop's GlobalShortcuts portal (not supported yet) or an X11 session"
    )]
    Wayland,
    /// No display at all.
    #[error("global hot keys need a graphical session: DISPLAY is not set")]
    NoDisplay,
    /// The X display does not answer.
    #[error("global hot keys: cannot open the X display {display:?}: {detail}")]
    Display {
        /// `$DISPLAY`.
        display: String,
        /// The connection error.
        detail: String,
    },
    /// macOS without the app's main run loop.
    #[error(
        "global hot keys on macOS need the app's main event loop; they are not available with --headless"
    )]
    NeedsMainLoop,
    /// The OS refused to set up hot keys.
    #[error("global hot keys: {0}")]
    Os(String),
}

/// One event from global-hotkey: which key, when.
type Event = (u32, Instant);

/// Where the process-wide handler sends events: the live [`HotKeys`]' worker.
static ROUTE: Mutex<Option<mpsc::Sender<Event>>> = Mutex::new(None);
static HANDLER: Once = Once::new();

fn route(tx: Option<mpsc::Sender<Event>>) {
    HANDLER.call_once(|| {
        GlobalHotKeyEvent::set_event_handler(Some(|e: GlobalHotKeyEvent| {
            if e.state == HotKeyState::Pressed {
                let now = Instant::now();
                if let Some(tx) = ROUTE
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .as_ref()
                {
                    let _ = tx.send((e.id, now));
                }
            }
        }));
    });
    *ROUTE.lock().unwrap_or_else(PoisonError::into_inner) = tx;
}

/// The global-hotkey key for one of ours.
fn to_global(k: HotKey) -> GhHotKey {
    let mut mods = Modifiers::empty();
    for (on, m) in [
        (k.alt, Modifiers::ALT),
        (k.ctrl, Modifiers::CONTROL),
        (k.shift, Modifiers::SHIFT),
        (k.win, Modifiers::META),
    ] {
        if on {
            mods |= m;
        }
    }
    let code = match k.f {
        1 => Code::F1,
        2 => Code::F2,
        3 => Code::F3,
        4 => Code::F4,
        5 => Code::F5,
        6 => Code::F6,
        7 => Code::F7,
        8 => Code::F8,
        9 => Code::F9,
        10 => Code::F10,
        // HotKey::parse admits F1..=F11 only.
        _ => Code::F11,
    };
    GhHotKey::new(Some(mods), code)
}

/// The configured keys, in function order.
fn wanted(b: &Bindings) -> Vec<(Function, HotKey)> {
    [
        (Function::Dial, b.dial),
        (Function::Accept, b.accept),
        (Function::Reject, b.reject),
    ]
    .into_iter()
    .filter_map(|(f, k)| k.map(|k| (f, k)))
    .collect()
}

/// Registers the keys with `m`; returns the registered ones by id, and problems.
pub(crate) fn register(
    m: &GlobalHotKeyManager,
    keys: &[(Function, HotKey)],
) -> (HashMap<u32, Function>, Vec<GhHotKey>, Vec<String>) {
    let mut ids = HashMap::new();
    let mut done = Vec::new();
    let mut problems = Vec::new();
    for &(f, k) in keys {
        let g = to_global(k);
        if ids.contains_key(&g.id()) {
            problems.push(format!("{} {k}: same key as another function", f.setting()));
            continue;
        }
        match m.register(g) {
            Ok(()) => {
                ids.insert(g.id(), f);
                done.push(g);
            }
            Err(global_hotkey::Error::AlreadyRegistered(_)) => problems.push(format!(
                "{} {k}: the key is taken by another application",
                f.setting()
            )),
            Err(e) => problems.push(format!("{} {k}: {e}", f.setting())),
        }
    }
    (ids, done, problems)
}

/// What keeps the registration alive.
enum Holder {
    /// The manager, on the thread that made it.
    Here(GlobalHotKeyManager, Vec<GhHotKey>),
    /// A thread of ours that owns the manager (Windows message loop).
    #[cfg(windows)]
    Thread(os::Pump),
}

/// Registered hot keys. Dropping it unregisters them.
pub struct HotKeys {
    holder: Option<Holder>,
    worker: Option<JoinHandle<()>>,
    registered: Vec<(Function, HotKey)>,
    problems: Vec<String>,
}

/// Whether this session can have global hot keys at all, before any is registered: `Ok`
/// with caveats for the user (e.g. XWayland), or why not (e.g. Wayland without X11). The
/// settings window shows it next to the hot key fields.
pub fn availability() -> Result<Vec<String>, Error> {
    os::check()
}

impl HotKeys {
    /// Registers the configured keys so that they work without an event loop of the
    /// caller's: Linux/X11 on global-hotkey's own thread, Windows on a thread with a
    /// message loop of its own. macOS: [`Error::NeedsMainLoop`].
    pub fn spawn(keys: &Bindings, sink: Sink) -> Result<HotKeys, Error> {
        let keys = wanted(keys);
        let problems = os::check()?;
        #[cfg(windows)]
        {
            let (pump, ids, problems2) = os::Pump::start(keys.clone())?;
            Ok(Self::finish(
                Holder::Thread(pump),
                ids,
                keys,
                [problems, problems2].concat(),
                sink,
            ))
        }
        #[cfg(target_os = "macos")]
        {
            let _ = (keys, problems, sink);
            Err(Error::NeedsMainLoop)
        }
        #[cfg(not(any(windows, target_os = "macos")))]
        Self::here(keys, problems, sink)
    }

    /// Registers the keys on this thread. Windows: the thread must pump messages; macOS:
    /// it must be the main thread with a running event loop (both true of a tao loop's
    /// thread). Linux: any thread.
    pub fn on_this_thread(keys: &Bindings, sink: Sink) -> Result<HotKeys, Error> {
        let problems = os::check()?;
        Self::here(wanted(keys), problems, sink)
    }

    fn here(
        keys: Vec<(Function, HotKey)>,
        problems: Vec<String>,
        sink: Sink,
    ) -> Result<HotKeys, Error> {
        let m = GlobalHotKeyManager::new().map_err(|e| Error::Os(e.to_string()))?;
        let (ids, done, problems2) = register(&m, &keys);
        Ok(Self::finish(
            Holder::Here(m, done),
            ids,
            keys,
            [problems, problems2].concat(),
            sink,
        ))
    }

    fn finish(
        holder: Holder,
        ids: HashMap<u32, Function>,
        keys: Vec<(Function, HotKey)>,
        problems: Vec<String>,
        sink: Sink,
    ) -> HotKeys {
        let registered = keys
            .into_iter()
            .filter(|(f, _)| ids.values().any(|g| g == f))
            .collect();
        let (tx, rx) = mpsc::channel::<Event>();
        route(Some(tx));
        let worker = std::thread::Builder::new()
            .name("hotkeys".into())
            .spawn(move || work(&rx, &ids, &sink))
            .map_err(|e| tracing::error!("hot keys: cannot start the worker thread: {e}"))
            .ok();
        HotKeys {
            holder: Some(holder),
            worker,
            registered,
            problems,
        }
    }

    /// The keys that are registered.
    pub fn registered(&self) -> &[(Function, HotKey)] {
        &self.registered
    }

    /// Keys that could not be registered and other caveats, for the user.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl Drop for HotKeys {
    fn drop(&mut self) {
        match self.holder.take() {
            Some(Holder::Here(m, keys)) => {
                let _ = m.unregister_all(&keys);
            }
            #[cfg(windows)]
            Some(Holder::Thread(p)) => p.stop(),
            None => {}
        }
        // Dropping the route's sender ends the worker.
        route(None);
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

/// The worker: one event at a time, the selection read here (not on the key thread).
fn work(rx: &mpsc::Receiver<Event>, ids: &HashMap<u32, Function>, sink: &Sink) {
    let mut dialer = Dialer::new(DOUBLE_PRESS);
    let mut selection = os::Selection::new();
    while let Ok((id, at)) = rx.recv() {
        let Some(&f) = ids.get(&id) else { continue };
        let msg = dialer.press(f, at, || selection.text());
        tracing::debug!(function = ?f, ?msg, "hot key");
        if let Some(m) = msg {
            sink(m.request());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_distinct_global_keys() {
        let a = HotKey::parse("CTRL + ALT + F9").unwrap();
        let b = HotKey::parse("ctrl+f9").unwrap();
        let c = HotKey::parse("WIN + SHIFT + F11").unwrap();
        assert_ne!(to_global(a).id(), to_global(b).id());
        let g = to_global(c);
        assert_eq!(g.key, Code::F11);
        assert_eq!(g.mods, Modifiers::META | Modifiers::SHIFT);
        let all = Bindings {
            dial: Some(a),
            accept: None,
            reject: Some(c),
        };
        assert_eq!(
            wanted(&all),
            vec![(Function::Dial, a), (Function::Reject, c)]
        );
    }
}
