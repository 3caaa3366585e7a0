//! macOS: Carbon hot-key events are dispatched by the main run loop, so hot keys run only
//! on the shell's main thread ([`super::HotKeys::on_this_thread`]); the selected text is
//! the clipboard's (no simulated Cmd+C, which needs the accessibility permission).

use arboard::Clipboard;

use super::Error;

/// Nothing to check beyond the main-loop rule (see `HotKeys::spawn`).
pub(super) fn check() -> Result<Vec<String>, Error> {
    Ok(Vec::new())
}

/// Reads the clipboard.
pub(super) struct Selection {
    clipboard: Option<Clipboard>,
}

impl Selection {
    pub(super) fn new() -> Self {
        Selection { clipboard: None }
    }

    pub(super) fn text(&mut self) -> Option<String> {
        if self.clipboard.is_none() {
            self.clipboard = Clipboard::new()
                .map_err(|e| tracing::warn!("hot keys: cannot open the clipboard: {e}"))
                .ok();
        }
        self.clipboard.as_mut()?.get_text().ok()
    }
}
