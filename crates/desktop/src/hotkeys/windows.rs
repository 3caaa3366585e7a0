//! Windows: `RegisterHotKey` on global-hotkey's hidden window; `WM_HOTKEY` arrives through
//! the message loop of the thread that created the window, so [`Pump`] is a thread that
//! creates the manager and runs a message loop until told to quit.

use std::collections::HashMap;
use std::sync::mpsc;
use std::thread::JoinHandle;

use arboard::Clipboard;
use global_hotkey::GlobalHotKeyManager;

use super::{Error, Function};
use crate::settings::typed::HotKey;

/// Nothing to check: every Windows session can register hot keys.
pub(super) fn check() -> Result<Vec<String>, Error> {
    Ok(Vec::new())
}

/// The hot-key thread: its id (for `WM_QUIT`) and handle.
pub(super) struct Pump {
    thread_id: u32,
    join: Option<JoinHandle<()>>,
}

/// What starting gives: `T` (the thread id inside the thread, the [`Pump`] outside), the
/// functions by hot-key id and the keys that could not be registered.
type Started<T> = (T, HashMap<u32, Function>, Vec<String>);

impl Pump {
    /// Starts the thread, registers `keys` there and waits for the outcome.
    pub(super) fn start(keys: Vec<(Function, HotKey)>) -> Result<Started<Pump>, Error> {
        let (tx, rx) = mpsc::channel::<Result<Started<u32>, Error>>();
        let join = std::thread::Builder::new()
            .name("hotkeys-win32".into())
            .spawn(move || {
                let m = match GlobalHotKeyManager::new() {
                    Ok(m) => m,
                    Err(e) => {
                        let _ = tx.send(Err(Error::Os(e.to_string())));
                        return;
                    }
                };
                let (ids, done, problems) = super::register(&m, &keys);
                // The manager's window exists, so this thread has a message queue and
                // WM_QUIT posted to it from now on is not lost.
                let _ = tx.send(Ok((current_thread_id(), ids, problems)));
                message_loop();
                let _ = m.unregister_all(&done);
            })
            .map_err(|e| Error::Os(format!("cannot start the hot-key thread: {e}")))?;
        let (thread_id, ids, problems) = rx
            .recv()
            .map_err(|_| Error::Os("the hot-key thread ended at start".into()))??;
        Ok((
            Pump {
                thread_id,
                join: Some(join),
            },
            ids,
            problems,
        ))
    }

    /// Ends the message loop and waits for the thread.
    pub(super) fn stop(mut self) {
        post_quit(self.thread_id);
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

#[allow(unsafe_code)]
fn current_thread_id() -> u32 {
    // SAFETY: GetCurrentThreadId takes nothing and cannot fail.
    unsafe { windows_sys::Win32::System::Threading::GetCurrentThreadId() }
}

/// A plain Win32 message loop until `WM_QUIT`.
#[allow(unsafe_code)]
fn message_loop() {
    use windows_sys::Win32::UI::WindowsAndMessaging::{
        DispatchMessageW, GetMessageW, MSG, TranslateMessage,
    };
    // SAFETY: MSG is a plain C struct for which all-zero is a valid value; GetMessageW
    // writes into the one we own and returns 0 on WM_QUIT, -1 on error (both end the
    // loop); Translate/DispatchMessageW read the message GetMessageW filled in.
    unsafe {
        let mut msg: MSG = std::mem::zeroed();
        while GetMessageW(&mut msg, std::ptr::null_mut(), 0, 0) > 0 {
            TranslateMessage(&msg);
            DispatchMessageW(&msg);
        }
    }
}

#[allow(unsafe_code)]
fn post_quit(thread_id: u32) {
    use windows_sys::Win32::UI::WindowsAndMessaging::{PostThreadMessageW, WM_QUIT};
    // SAFETY: posting a message to a thread id takes no pointers; a thread that has
    // ended makes the call fail, which is harmless.
    unsafe {
        PostThreadMessageW(thread_id, WM_QUIT, 0, 0);
    }
}

/// Reads the clipboard (see the module docs of `hotkeys`: no simulated copy).
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
