//! Idle time on Windows: `GetLastInputInfo` (tick of the session's last input) against
//! `GetTickCount` (both wrap after 49.7 days; the difference in wrapping arithmetic does not).

use std::time::Duration;

use windows::Win32::System::SystemInformation::GetTickCount;
use windows::Win32::UI::Input::KeyboardAndMouse::{GetLastInputInfo, LASTINPUTINFO};

use super::{Error, IdleSource};

/// `GetLastInputInfo`.
pub(super) struct LastInput;

impl IdleSource for LastInput {
    fn idle(&mut self) -> Result<Duration, Error> {
        let mut info = LASTINPUTINFO {
            cbSize: size_of::<LASTINPUTINFO>() as u32,
            dwTime: 0,
        };
        // SAFETY: both calls take no pointers but `info`, a valid LASTINPUTINFO with its
        // cbSize set, that lives across the call.
        #[allow(unsafe_code)]
        let (ok, now) = unsafe { (GetLastInputInfo(&mut info).as_bool(), GetTickCount()) };
        if !ok {
            return Err(Error::Query(format!(
                "GetLastInputInfo: {}",
                windows::core::Error::from_thread()
            )));
        }
        Ok(Duration::from_millis(now.wrapping_sub(info.dwTime).into()))
    }

    fn describe(&self) -> String {
        "Windows GetLastInputInfo".into()
    }
}
