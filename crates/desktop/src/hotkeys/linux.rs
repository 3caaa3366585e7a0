//! Linux (and other X11 systems): global-hotkey's XGrabKey thread needs no loop of ours;
//! the display is checked first because that thread hides a failed connect.

use arboard::{Clipboard, GetExtLinux, LinuxClipboardKind};

use super::Error;

/// The session can grab keys: X11 answers. `Ok` carries caveats for the user.
pub(super) fn check() -> Result<Vec<String>, Error> {
    let set = |v: &str| std::env::var_os(v).is_some_and(|s| !s.is_empty());
    let wayland = set("WAYLAND_DISPLAY");
    if !set("DISPLAY") {
        return Err(if wayland {
            Error::Wayland
        } else {
            Error::NoDisplay
        });
    }
    let display = std::env::var("DISPLAY").unwrap_or_default();
    x11rb::connect(None).map_err(|e| Error::Display {
        display,
        detail: e.to_string(),
    })?;
    let mut caveats = Vec::new();
    if wayland {
        caveats.push(
            "Wayland session with XWayland: hot keys work only while an X11 window has the focus (the GlobalShortcuts portal is not supported yet)"
                .to_owned(),
        );
    }
    Ok(caveats)
}

/// Reads the selected text: PRIMARY, else CLIPBOARD.
pub(super) struct Selection {
    clipboard: Option<Clipboard>,
}

impl Selection {
    pub(super) fn new() -> Self {
        Selection { clipboard: None }
    }

    pub(super) fn text(&mut self) -> Option<String> {
        if self.clipboard.is_none() {
            match Clipboard::new() {
                Ok(c) => self.clipboard = Some(c),
                Err(e) => {
                    tracing::warn!("hot keys: cannot read the selection: {e}");
                    return None;
                }
            }
        }
        let c = self.clipboard.as_mut()?;
        for kind in [LinuxClipboardKind::Primary, LinuxClipboardKind::Clipboard] {
            match c.get().clipboard(kind).text() {
                Ok(t) if !t.trim().is_empty() => return Some(t),
                Ok(_) => {}
                Err(e) => tracing::debug!(?kind, "hot keys: no selection: {e}"),
            }
        }
        None
    }
}
