//! The tray icon (wiki, "UI elements: tray-icon"): terminate myApps, toggle autostart,
//! toggle "show in taskbar", open the trace folder; we add "Show myApps" (also a left
//! click on the icon), because with the taskbar entry off, or the window closed to the
//! tray, the tray is the way back to the window, and "Settings…", the settings window.
//!
//! Built on `tray-icon` (tauri-apps, the tao/wry family): the notification area on
//! Windows, the menu bar on macOS and, on Linux, a StatusNotifierItem on the session bus
//! through its `ksni` backend. That backend needs neither GTK nor libappindicator (the
//! default backend dlopens libayatana-appindicator, which many systems lack) and shows on
//! KDE, Xfce, LXQt, Cinnamon and GNOME with the AppIndicator extension, the same hosts
//! libappindicator reaches. Menu clicks arrive on tray-icon's threads and are forwarded to
//! the event loop as [`UserEvent::Tray`]; the event loop acts and sets the check marks
//! from what it did, so a mark never shows a state the OS does not have.

use std::sync::{Mutex, PoisonError};

use tao::event_loop::EventLoopProxy;
use tray_icon::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tray_icon::{Icon, MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};

use super::UserEvent;

/// What a tray menu entry asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Show and raise the main window.
    Show,
    /// Open the settings window.
    Settings,
    /// Toggle the login entry (`AUTOSTART`).
    Autostart,
    /// Toggle the taskbar entry (`SHOWINTASKBAR`).
    Taskbar,
    /// Open the trace folder in the file manager.
    TraceFolder,
    /// End myApps.
    Quit,
}

impl Action {
    const ALL: [Action; 6] = [
        Action::Show,
        Action::Settings,
        Action::Autostart,
        Action::Taskbar,
        Action::TraceFolder,
        Action::Quit,
    ];

    /// The menu item's id.
    fn id(self) -> &'static str {
        match self {
            Action::Show => "show",
            Action::Settings => "settings",
            Action::Autostart => "autostart",
            Action::Taskbar => "taskbar",
            Action::TraceFolder => "trace-folder",
            Action::Quit => "quit",
        }
    }

    fn from_id(id: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.id() == id)
    }
}

/// The check marks' first state, and whether the user may change them (a value the PBX's
/// `adminSettings` force is shown but greyed out).
pub struct State {
    pub autostart: bool,
    pub autostart_forced: bool,
    pub taskbar: bool,
    pub taskbar_forced: bool,
}

/// The tray icon with its menu; removed on drop.
pub struct Tray {
    /// Held: dropping it removes the icon (read only for the badge, on Linux).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    icon: TrayIcon,
    autostart: CheckMenuItem,
    taskbar: CheckMenuItem,
}

impl Tray {
    /// Shows the icon. On macOS this must run once the event loop runs (tray-icon's rule),
    /// so the shell calls it on `StartCause::Init` everywhere.
    pub fn new(proxy: EventLoopProxy<UserEvent>, state: &State) -> Result<Tray, String> {
        let ui = crate::l10n::ui();
        let show = MenuItem::with_id(Action::Show.id(), ui.get("tray-show"), true, None);
        let settings =
            MenuItem::with_id(Action::Settings.id(), ui.get("tray-settings"), true, None);
        // A forced value is shown greyed out, with the reason in its label.
        let check = |a: Action, id: &str, on: bool, forced: bool| {
            let label = if forced {
                ui.format("tray-forced", &[("label", ui.get(id).into())])
            } else {
                ui.get(id)
            };
            CheckMenuItem::with_id(a.id(), label, !forced, on, None)
        };
        let autostart = check(
            Action::Autostart,
            "tray-autostart",
            state.autostart,
            state.autostart_forced,
        );
        let taskbar = check(
            Action::Taskbar,
            "tray-taskbar",
            state.taskbar,
            state.taskbar_forced,
        );
        let trace = MenuItem::with_id(
            Action::TraceFolder.id(),
            ui.get("tray-trace-folder"),
            true,
            None,
        );
        let quit = MenuItem::with_id(Action::Quit.id(), ui.get("tray-quit"), true, None);
        let menu = Menu::new();
        menu.append_items(&[
            &show,
            &settings,
            &autostart,
            &taskbar,
            &trace,
            &PredefinedMenuItem::separator(),
            &quit,
        ])
        .map_err(|e| format!("tray menu: {e}"))?;
        // The handlers must be Sync; the proxy is only Send.
        let menu_proxy = Mutex::new(proxy.clone());
        MenuEvent::set_event_handler(Some(move |e: MenuEvent| {
            let Some(action) = Action::from_id(e.id.as_ref()) else {
                return;
            };
            let proxy = menu_proxy.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = proxy.send_event(UserEvent::Tray(action));
        }));
        let icon_proxy = Mutex::new(proxy);
        TrayIconEvent::set_event_handler(Some(move |e: TrayIconEvent| {
            let left = matches!(
                e,
                TrayIconEvent::Click {
                    button: MouseButton::Left,
                    button_state: MouseButtonState::Up,
                    ..
                } | TrayIconEvent::DoubleClick {
                    button: MouseButton::Left,
                    ..
                }
            );
            if left {
                let proxy = icon_proxy.lock().unwrap_or_else(PoisonError::into_inner);
                let _ = proxy.send_event(UserEvent::Tray(Action::Show));
            }
        }));
        let icon = TrayIconBuilder::new()
            .with_id("myapps")
            .with_title("myApps")
            .with_tooltip("myApps")
            .with_icon(icon()?)
            .with_menu(Box::new(menu))
            .with_menu_on_left_click(false)
            .build()
            .map_err(|e| format!("tray icon: {e}"))?;
        Ok(Tray {
            icon,
            autostart,
            taskbar,
        })
    }

    /// Sets the "Start on login" check mark.
    pub fn show_autostart(&self, on: bool) {
        self.autostart.set_checked(on);
    }

    /// Sets the "Show in taskbar" check mark.
    pub fn show_taskbar(&self, on: bool) {
        self.taskbar.set_checked(on);
    }

    /// Shows a page's app badge (unread chats, missed calls) in the item's title and
    /// tooltip: `myApps (3)`, `myApps (•)` for a flag. StatusNotifierItem has no badge
    /// of its own; panels show the title or the tooltip.
    #[cfg(target_os = "linux")]
    pub fn set_badge(&self, badge: super::web_platform::Badge) {
        use super::web_platform::Badge;
        let title = match badge {
            Badge::Nothing => "myApps".to_owned(),
            Badge::Flag => "myApps (•)".to_owned(),
            Badge::Count(n) => format!("myApps ({n})"),
        };
        self.icon.set_title(Some(&title));
        if let Err(e) = self.icon.set_tooltip(Some(&title)) {
            tracing::warn!("tray: badge not in the tooltip: {e}");
        }
    }
}

/// The icon, drawn here (no image file to ship and decode): a blue disc with a white ring,
/// 32 × 32 RGBA, which every tray host scales.
fn icon() -> Result<Icon, String> {
    const N: i32 = 32;
    // Squared distances from the centre (15.5, 15.5), in quarter pixels to stay integral:
    // (2x + 1 - N)² + (2y + 1 - N)² = 4 d².
    let mut rgba = Vec::with_capacity((N * N * 4) as usize);
    for y in 0..N {
        for x in 0..N {
            let d2 = (2 * x + 1 - N).pow(2) + (2 * y + 1 - N).pow(2);
            let px: [u8; 4] = match d2 {
                d if d > 4 * 16 * 16 => [0, 0, 0, 0],
                d if d > 4 * 9 * 9 && d <= 4 * 11 * 11 => [255, 255, 255, 255],
                _ => [0x1f, 0x6f, 0xb5, 255],
            };
            rgba.extend_from_slice(&px);
        }
    }
    Icon::from_rgba(rgba, N as u32, N as u32).map_err(|e| format!("tray icon image: {e}"))
}

/// Opens the settings window: `myapps --settings`, a process of its own as the settings
/// window has always been (it needs no service and survives the app's restarts).
pub fn open_settings() -> Result<(), String> {
    let exe = desktop::register::current_exe().map_err(|e| e.to_string())?;
    super::policy::spawn_detached(std::process::Command::new(exe), "--settings".as_ref())
}

/// Opens `dir` in the file manager (creating it first: before the first trace line it may
/// not exist). The opener runs detached; a thread reaps it.
pub fn open_folder(dir: &std::path::Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    super::policy::spawn_detached(super::policy::system_opener(), dir.as_os_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::from_id(a.id()), Some(a));
        }
        assert_eq!(Action::from_id("nope"), None);
    }
}
