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
        .with_title(crate::l10n::ui().get("settings-title"))
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
        .with_html(SETTINGS_HTML.replace(
            "<html lang=\"en\">",
            &format!("<html lang=\"{}\">", crate::l10n::ui().lang()),
        ))
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
            Event::UserEvent(FromPage::Ready) => {
                match form::model(store.as_ref(), kept_admin().as_ref()) {
                    Ok(mut model) => {
                        localize(&mut model);
                        model["notes"] = notes();
                        tracing::info!(notes = %model["notes"], "settings window notes");
                        let forced: Vec<&str> = model["settings"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter(|s| s["forced"] == true)
                            .filter_map(|s| s["name"].as_str())
                            .collect();
                        tracing::info!(?forced, "settings window: forced by the PBX");
                        format!("window.myAppsSettings.show({model})")
                    }
                    Err(e) => {
                        tracing::error!("settings: {e}");
                        let none =
                            json!({"ok": false, "written": [], "errors": {"": e.to_string()}});
                        format!("window.myAppsSettings.saved({none})")
                    }
                }
            }
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
    match form::apply(store, values, kept_admin().as_ref()) {
        Ok(written) => {
            let mut errors = Map::new();
            if written.contains(&"AUTOSTART")
                && let Err(e) = apply_autostart(store)
            {
                errors.insert("AUTOSTART".into(), json!(e));
            }
            if !written.is_empty() {
                tell_the_app();
            }
            let ui = crate::l10n::ui();
            let status = if !errors.is_empty() {
                ui.format("settings-not-saved", &[("count", errors.len().into())])
            } else if written.is_empty() {
                ui.get("settings-nothing-changed")
            } else {
                let names: Vec<String> = written.iter().map(|n| label(n)).collect();
                ui.format("settings-saved", &[("names", names.join(", ").into())])
            };
            json!({"ok": errors.is_empty(), "written": written, "errors": errors, "status": status})
        }
        Err(errors) => {
            let status =
                crate::l10n::ui().format("settings-not-saved", &[("count", errors.len().into())]);
            json!({"ok": false, "written": [], "errors": errors, "status": status})
        }
    }
}

/// A setting's label in the UI language.
fn label(name: &str) -> String {
    crate::l10n::ui().get(&format!("setting-{name}"))
}

/// Puts the UI language's words into the model: each setting's `label` and `help`, the
/// page's own strings, where the settings are stored, and which the PBX forces.
fn localize(model: &mut Value) {
    let ui = crate::l10n::ui();
    let mut forced = Vec::new();
    for s in model["settings"].as_array_mut().into_iter().flatten() {
        let name = s["name"].as_str().unwrap_or_default().to_owned();
        let help_id = format!("setting-{name}-help");
        let help = ui.get(&help_id);
        // No translation in either language: the built-in English help stays.
        if help != help_id {
            s["help"] = json!(help);
        }
        s["label"] = json!(label(&name));
        if s["forced"] == true {
            forced.push(label(&name));
        }
    }
    model["lang"] = json!(ui.lang());
    model["strings"] = ui.table(&["settings-", "group-"]);
    let location = model["location"].as_str().unwrap_or_default().to_owned();
    model["where"] = json!(ui.format("settings-stored-in", &[("location", location.into())]));
    if !forced.is_empty() {
        model["summary"] = json!(ui.format(
            "settings-forced-summary",
            &[("names", forced.join(", ").into())]
        ));
    }
}

/// Tells the running app (if any) that its settings changed: hot keys, the appear-offline
/// time and the log flags follow at once.
fn tell_the_app() {
    match desktop::instance::tell("myapps", &[super::SETTINGS_CHANGED.to_owned()]) {
        Ok(true) => tracing::info!("the running app was told the settings changed"),
        Ok(false) => tracing::info!("no running app to tell"),
        Err(e) => tracing::warn!("the running app was not told the settings changed: {e}"),
    }
}

/// The PBX's kept `adminSettings` (a file that cannot be read is logged and ignored).
fn kept_admin() -> Option<Value> {
    desktop::settings::admin::load()
        .inspect_err(|e| tracing::warn!("adminSettings: {e}"))
        .ok()
        .flatten()
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

/// The tray's "Start on login": stores `AUTOSTART` and switches the login entry.
pub(super) fn set_autostart(on: bool) -> Result<(), String> {
    let store = desktop::settings::store_bool("AUTOSTART", on).map_err(|e| e.to_string())?;
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
