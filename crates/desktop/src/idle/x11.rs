//! Idle time on Linux/BSD: X11's MIT-SCREEN-SAVER extension (`ScreenSaverQueryInfo`'s
//! `ms_since_user_input`), else GNOME's Mutter IdleMonitor on the session bus (Wayland
//! sessions have no X idle time for native Wayland input).

use std::time::Duration;

use x11rb::connection::{Connection as _, RequestConnection as _};
use x11rb::protocol::screensaver;
use x11rb::rust_connection::RustConnection;

use super::{Error, IdleSource};

/// X11 MIT-SCREEN-SAVER.
pub(super) struct ScreenSaver {
    conn: RustConnection,
    root: u32,
    display: String,
}

impl ScreenSaver {
    /// Connects to `display` (default `$DISPLAY`) and checks the extension.
    pub(super) fn open(display: Option<&str>) -> Result<Self, Error> {
        let name = display
            .map(str::to_owned)
            .or_else(|| std::env::var("DISPLAY").ok())
            .filter(|d| !d.is_empty())
            .ok_or_else(|| Error::Unavailable("no X display (DISPLAY is not set)".into()))?;
        let (conn, screen) = RustConnection::connect(Some(&name))
            .map_err(|e| Error::Unavailable(format!("cannot open X display {name}: {e}")))?;
        let root = conn
            .setup()
            .roots
            .get(screen)
            .map(|s| s.root)
            .ok_or_else(|| {
                Error::Unavailable(format!("X display {name} has no screen {screen}"))
            })?;
        let present = conn
            .extension_information(screensaver::X11_EXTENSION_NAME)
            .map_err(|e| Error::Unavailable(format!("X display {name}: {e}")))?
            .is_some();
        if !present {
            return Err(Error::Unavailable(format!(
                "X display {name} lacks the MIT-SCREEN-SAVER extension"
            )));
        }
        let mut s = ScreenSaver {
            conn,
            root,
            display: name,
        };
        s.idle().map_err(|e| Error::Unavailable(e.to_string()))?;
        Ok(s)
    }
}

impl IdleSource for ScreenSaver {
    fn idle(&mut self) -> Result<Duration, Error> {
        let info = screensaver::query_info(&self.conn, self.root)
            .map_err(|e| Error::Query(format!("X display {}: {e}", self.display)))?
            .reply()
            .map_err(|e| Error::Query(format!("X display {}: {e}", self.display)))?;
        Ok(Duration::from_millis(info.ms_since_user_input.into()))
    }

    fn describe(&self) -> String {
        format!("X11 MIT-SCREEN-SAVER on {}", self.display)
    }
}

const MUTTER: &str = "org.gnome.Mutter.IdleMonitor";
const MUTTER_PATH: &str = "/org/gnome/Mutter/IdleMonitor/Core";

/// GNOME's idle monitor (`GetIdletime`, milliseconds), for Wayland sessions.
pub(super) struct MutterIdleMonitor {
    conn: zbus::blocking::Connection,
}

impl MutterIdleMonitor {
    pub(super) fn open() -> Result<Self, Error> {
        if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
            return Err(Error::Unavailable(
                "no session bus for Mutter's IdleMonitor".into(),
            ));
        }
        let conn = zbus::blocking::Connection::session()
            .map_err(|e| Error::Unavailable(format!("session bus: {e}")))?;
        let mut m = MutterIdleMonitor { conn };
        m.idle()
            .map_err(|e| Error::Unavailable(format!("no Mutter IdleMonitor: {e}")))?;
        Ok(m)
    }
}

impl IdleSource for MutterIdleMonitor {
    fn idle(&mut self) -> Result<Duration, Error> {
        let ms: u64 = self
            .conn
            .call_method(Some(MUTTER), MUTTER_PATH, Some(MUTTER), "GetIdletime", &())
            .and_then(|m| m.body().deserialize())
            .map_err(|e| Error::Query(format!("{MUTTER}.GetIdletime: {e}")))?;
        Ok(Duration::from_millis(ms))
    }

    fn describe(&self) -> String {
        "GNOME Mutter IdleMonitor".into()
    }
}
