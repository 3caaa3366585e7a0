//! The settings window (`myapps --settings`): every known setting (the wiki's "Advanced
//! settings" and "Platform specific settings") in a form, stored the OS way through
//! [`desktop::settings::open`] (XDG file, `HKCU\Software\innovaphone\myApps`, user
//! defaults). What the page shows and what a save writes is
//! [`desktop::settings::form`]; this module is only the window and its IPC.
//!
//! The page (`assets/shell/settings.html`) posts `{"mt":"Ready"}`, then
//! `{"mt":"Save","values":{NAME: value}}` with the fields the user changed, and
//! `{"mt":"Shown","what"}` once a result is painted (logged: tests take screenshots then).
//! Saving `AUTOSTART` also turns the login entry on or off. Most settings are read at
//! start; the page says so.

use std::process::ExitCode;

use desktop::settings::{SettingsStore, form};
use serde_json::{Map, Value, json};
use tao::event::{Event, WindowEvent};
use tao::event_loop::{ControlFlow, EventLoopBuilder};
use tao::window::WindowBuilder;
use wry::WebViewBuilder;

use super::bridge;
use super::os::{build, display_available};
use crate::headless;

const SETTINGS_HTML: &str = include_str!("../../../../assets/shell/settings.html");

/// What the page asked for.
enum FromPage {
    Ready,
    Save(Map<String, Value>),
}

/// Runs the settings window until it is closed.
pub fn run() -> ExitCode {
    headless::init_logging();
    if let Err(e) = display_available() {
        eprintln!(
            "myapps --settings: cannot open a window: {e}. `myapps settings list|set` works without one."
        );
        return ExitCode::FAILURE;
    }
    let mut store = match desktop::settings::open() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("myapps --settings: {e}");
            return ExitCode::FAILURE;
        }
    };
    let event_loop = EventLoopBuilder::<FromPage>::with_user_event().build();
    let proxy = event_loop.create_proxy();
    let window = match WindowBuilder::new()
        .with_title("myApps settings")
        .with_inner_size(tao::dpi::LogicalSize::new(820.0, 760.0))
        .build(&event_loop)
    {
        Ok(w) => w,
        Err(e) => {
            eprintln!("myapps --settings: window: {e}");
            return ExitCode::FAILURE;
        }
    };
    let builder = WebViewBuilder::new()
        .with_html(SETTINGS_HTML)
        .with_user_agent(bridge::default_user_agent())
        .with_ipc_handler(move |req| {
            let msg: Value = serde_json::from_str(req.body()).unwrap_or_default();
            match msg["mt"].as_str() {
                Some("Ready") => {
                    let _ = proxy.send_event(FromPage::Ready);
                }
                Some("Save") => {
                    let values = msg["values"].as_object().cloned().unwrap_or_default();
                    let _ = proxy.send_event(FromPage::Save(values));
                }
                Some("Shown") => {
                    tracing::info!(
                        "settings window shows {}",
                        msg["what"].as_str().unwrap_or("?")
                    );
                }
                _ => tracing::warn!("settings window: unexpected message {:?}", req.body()),
            }
        });
    let webview = match build(builder, &window) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("myapps --settings: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(location = %store.location(), "settings window open");
    event_loop.run(move |event, _, control_flow| {
        *control_flow = ControlFlow::Wait;
        let reply = match event {
            Event::WindowEvent {
                event: WindowEvent::CloseRequested,
                ..
            } => {
                *control_flow = ControlFlow::Exit;
                return;
            }
            Event::UserEvent(FromPage::Ready) => match form::model(store.as_ref()) {
                Ok(mut model) => {
                    model["notes"] = notes();
                    tracing::info!(notes = %model["notes"], "settings window notes");
                    format!("window.myAppsSettings.show({model})")
                }
                Err(e) => {
                    tracing::error!("settings: {e}");
                    let none = json!({"ok": false, "written": [], "errors": {"": e.to_string()}});
                    format!("window.myAppsSettings.saved({none})")
                }
            },
            Event::UserEvent(FromPage::Save(values)) => {
                let result = save(store.as_mut(), &values);
                tracing::info!(%result, "settings saved");
                format!("window.myAppsSettings.saved({result})")
            }
            _ => return,
        };
        if let Err(e) = webview.evaluate_script(&reply) {
            tracing::warn!("settings window: {e}");
        }
    })
}

/// Writes the page's changes; turns the login entry on or off with `AUTOSTART`.
fn save(store: &mut dyn SettingsStore, values: &Map<String, Value>) -> Value {
    match form::apply(store, values) {
        Ok(written) => {
            let mut errors = Map::new();
            if written.contains(&"AUTOSTART")
                && let Err(e) = apply_autostart(store)
            {
                errors.insert("AUTOSTART".into(), json!(e));
            }
            json!({"ok": errors.is_empty(), "written": written, "errors": errors})
        }
        Err(errors) => json!({"ok": false, "written": [], "errors": errors}),
    }
}

/// What this session does not allow, shown under the fields it concerns
/// (`{NAME: text}`): hot keys without a way to grab keys (Wayland without X11, where the
/// desktop portal's GlobalShortcuts is not supported yet) and, on Linux, "show in
/// taskbar" without a tray host to come back by.
fn notes() -> Value {
    let mut notes = Map::new();
    let hot_keys = match desktop::hotkeys::availability() {
        Ok(caveats) => caveats.join(" "),
        Err(e) => format!("Hot keys do not work in this session: {e}."),
    };
    if !hot_keys.is_empty() {
        for name in ["HOTKEYDIAL", "HOTKEYACCEPT", "HOTKEYREJECT"] {
            notes.insert(name.into(), json!(hot_keys));
        }
    }
    if !super::os::tray_host() {
        notes.insert(
            "SHOWINTASKBAR".into(),
            json!("This desktop shows no tray icons (no StatusNotifierItem host on the session bus), so myApps stays in the taskbar."),
        );
    }
    Value::Object(notes)
}

/// Stores a yes/no setting (the tray's toggles); returns the store it wrote to.
pub(super) fn store_bool(name: &str, on: bool) -> Result<Box<dyn SettingsStore>, String> {
    let mut store = desktop::settings::open().map_err(|e| e.to_string())?;
    let (def, value) = desktop::settings::typed::parse_input(name, if on { "1" } else { "0" })
        .map_err(|e| e.to_string())?;
    store.set(def.name, value).map_err(|e| e.to_string())?;
    Ok(store)
}

/// The tray's "Start on login": stores `AUTOSTART` and switches the login entry.
pub(super) fn set_autostart(on: bool) -> Result<(), String> {
    let store = store_bool("AUTOSTART", on)?;
    apply_autostart(store.as_ref())
}

/// Makes the login entry follow `AUTOSTART` (the user's value, else the installer's, else
/// on) at every start, so that the tray's check mark, `settings get AUTOSTART` and the OS
/// agree from the first start. An entry that is already there is left as it is (it may
/// start another program, `myapps autostart on --exec`). Returns whether it is there.
pub(super) fn sync_autostart() -> Result<bool, String> {
    let store = desktop::settings::open().map_err(|e| e.to_string())?;
    let want = store.get_u32("AUTOSTART").map_err(|e| e.to_string())? != Some(0);
    let a = desktop::autostart::system().map_err(|e| e.to_string())?;
    if a.is_enabled().map_err(|e| e.to_string())? != want {
        apply_autostart(store.as_ref())?;
        tracing::info!(on = want, "login entry made to follow AUTOSTART");
    }
    a.is_enabled().map_err(|e| e.to_string())
}

fn apply_autostart(store: &dyn SettingsStore) -> Result<(), String> {
    let on = store.get_u32("AUTOSTART").map_err(|e| e.to_string())? != Some(0);
    let a = desktop::autostart::system().map_err(|e| e.to_string())?;
    let r = if on {
        let exe = desktop::register::current_exe().map_err(|e| e.to_string())?;
        a.enable(&exe)
    } else {
        a.disable()
    };
    r.map_err(|e| format!("saved, but the login entry could not be changed: {e}"))
}
