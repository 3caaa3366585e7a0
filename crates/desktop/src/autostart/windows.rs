//! Windows: the per-user `Run` key. (Task Manager's "Startup apps" switch lives in
//! `…\Explorer\StartupApproved\Run`; a user who turned myApps off there stays off even
//! with our value present, which `is_enabled` does not see.)

use std::path::Path;

use windows_registry::CURRENT_USER;

use super::{Autostart, Error};

const RUN: &str = r"Software\Microsoft\Windows\CurrentVersion\Run";
const VALUE: &str = "myApps";
/// `HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)`.
const NOT_FOUND: i32 = 0x8007_0002_u32 as i32;

/// The `Run` key of the current user.
pub(super) struct RunKey;

fn err(what: &str, e: &windows_result::Error) -> Error {
    Error(format!(
        r"{what} HKCU\{RUN}\{VALUE}: {} (0x{:08X})",
        e.message(),
        e.code().0
    ))
}

impl Autostart for RunKey {
    fn enable(&self, exe: &Path) -> Result<(), Error> {
        let k = CURRENT_USER
            .create(RUN)
            .map_err(|e| err("cannot open", &e))?;
        k.set_string(VALUE, format!("\"{}\"", exe.display()))
            .map_err(|e| err("cannot write", &e))
    }

    fn disable(&self) -> Result<(), Error> {
        let k = CURRENT_USER
            .create(RUN)
            .map_err(|e| err("cannot open", &e))?;
        match k.remove_value(VALUE) {
            Ok(()) => Ok(()),
            Err(e) if e.code().0 == NOT_FOUND => Ok(()),
            Err(e) => Err(err("cannot remove", &e)),
        }
    }

    fn is_enabled(&self) -> Result<bool, Error> {
        let k = match CURRENT_USER.options().read().open(RUN) {
            Ok(k) => k,
            Err(e) if e.code().0 == NOT_FOUND => return Ok(false),
            Err(e) => return Err(err("cannot open", &e)),
        };
        match k.get_string(VALUE) {
            Ok(s) => Ok(!s.trim().is_empty()),
            Err(e) if e.code().0 == NOT_FOUND => Ok(false),
            Err(e) => Err(err("cannot read", &e)),
        }
    }

    fn location(&self) -> String {
        format!(r"HKCU\{RUN}\{VALUE}")
    }
}
