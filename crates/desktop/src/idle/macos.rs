//! Idle time on macOS: `CGEventSourceSecondsSinceLastEventType` for any input event in
//! the combined session state (what the user did at keyboard, mouse or trackpad).

use std::time::Duration;

use objc2_core_graphics::{CGEventSource, CGEventSourceStateID, CGEventType};

use super::{Error, IdleSource};

/// `kCGAnyInputEventType` (~0).
const ANY_INPUT: CGEventType = CGEventType(u32::MAX);

/// The combined session event source.
pub(super) struct EventSource;

impl IdleSource for EventSource {
    fn idle(&mut self) -> Result<Duration, Error> {
        let secs = CGEventSource::seconds_since_last_event_type(
            CGEventSourceStateID::CombinedSessionState,
            ANY_INPUT,
        );
        Duration::try_from_secs_f64(secs).map_err(|e| {
            Error::Query(format!(
                "CGEventSourceSecondsSinceLastEventType gave {secs}: {e}"
            ))
        })
    }

    fn describe(&self) -> String {
        "macOS CGEventSource".into()
    }
}
