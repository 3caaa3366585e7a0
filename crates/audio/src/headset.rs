//! Headset buttons and lights: the trait a headset backend implements,
//! and the pure mapping from USB HID telephony usages to our events. A HID backend (USB
//! telephony usage page 0x0B, e.g. through `hidapi`) comes later; the service and the
//! desktop code only see [`Headset`].
//!
//! Events carry the native key codes of innovaphone's `audio.h` (docs/public-protocols.md §9.4)
//! so they can be passed to apps the way the native client names them.

/// A button pressed (or the hook switch moved) on a headset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadsetEvent {
    /// Hook switch: `true` off hook (answer / start), `false` on hook (hang up).
    Hook(bool),
    /// Flash (switch calls).
    Flash,
    /// Redial.
    Redial,
    /// Microphone mute button.
    Mute,
    /// Volume up.
    VolumeUp,
    /// Volume down.
    VolumeDown,
}

impl HeadsetEvent {
    /// The native key code (`audio.h`): OFFHOOK 0x93, ONHOOK 0x94, FLASH 0x82, REDIAL
    /// 0x83, MIC 0x8F; volume keys have no native code.
    pub fn native_code(self) -> Option<u8> {
        match self {
            HeadsetEvent::Hook(true) => Some(0x93),
            HeadsetEvent::Hook(false) => Some(0x94),
            HeadsetEvent::Flash => Some(0x82),
            HeadsetEvent::Redial => Some(0x83),
            HeadsetEvent::Mute => Some(0x8F),
            HeadsetEvent::VolumeUp | HeadsetEvent::VolumeDown => None,
        }
    }
}

/// A light on a headset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Indicator {
    /// A call is active.
    OffHook(bool),
    /// The microphone is muted.
    Mute(bool),
    /// A call is ringing.
    Ring(bool),
    /// A call is on hold.
    Hold(bool),
}

/// One headset with buttons.
pub trait Headset: Send {
    /// Stable id (the same as the audio device's where the backend can tell).
    fn id(&self) -> &str;
    /// What the user sees.
    fn name(&self) -> &str;
    /// The next button event, if one is waiting (never blocks).
    fn poll_event(&mut self) -> Option<HeadsetEvent>;
    /// Sets a light; headsets without it ignore the call.
    fn set_indicator(&mut self, indicator: Indicator) -> Result<(), crate::AudioError>;
}

/// HID usage pages (USB HID Usage Tables 1.4).
pub mod hid {
    /// Telephony Device page.
    pub const TELEPHONY: u16 = 0x0B;
    /// Consumer page (volume keys).
    pub const CONSUMER: u16 = 0x0C;
    /// LED page.
    pub const LED: u16 = 0x08;
}

/// Tracks one headset's HID input state and turns usage changes into events. The hook
/// switch is an on/off control (HUT 1.4 §14: Hook Switch 0x20 is OOC): its value is the
/// state, so only changes are events; the other telephony buttons and the consumer volume
/// keys are one-shot controls: a press (0 → 1) is the event.
#[derive(Debug, Default)]
pub struct HidDecoder {
    off_hook: bool,
    pressed: std::collections::HashSet<(u16, u16)>,
}

impl HidDecoder {
    /// A decoder for a headset that starts on hook with nothing pressed.
    pub fn new() -> HidDecoder {
        HidDecoder::default()
    }

    /// One input usage with its current value (1 pressed/on, 0 released/off).
    pub fn usage(&mut self, page: u16, usage: u16, value: i32) -> Option<HeadsetEvent> {
        let on = value != 0;
        if (page, usage) == (hid::TELEPHONY, 0x20) {
            if on == self.off_hook {
                return None;
            }
            self.off_hook = on;
            return Some(HeadsetEvent::Hook(on));
        }
        let event = match (page, usage) {
            (hid::TELEPHONY, 0x21) => HeadsetEvent::Flash,
            (hid::TELEPHONY, 0x24) => HeadsetEvent::Redial,
            (hid::TELEPHONY, 0x2F) => HeadsetEvent::Mute,
            (hid::CONSUMER, 0xE9) => HeadsetEvent::VolumeUp,
            (hid::CONSUMER, 0xEA) => HeadsetEvent::VolumeDown,
            _ => return None,
        };
        // Edge-triggered: a report repeating a held button is not a second press.
        if on {
            self.pressed.insert((page, usage)).then_some(event)
        } else {
            self.pressed.remove(&(page, usage));
            None
        }
    }

    /// The LED usage (page [`hid::LED`]) and value for an indicator: Off-Hook 0x17, Mute
    /// 0x09, Ring 0x18, Hold 0x20.
    pub fn led(indicator: Indicator) -> (u16, u16, i32) {
        let (usage, on) = match indicator {
            Indicator::OffHook(on) => (0x17, on),
            Indicator::Mute(on) => (0x09, on),
            Indicator::Ring(on) => (0x18, on),
            Indicator::Hold(on) => (0x20, on),
        };
        (hid::LED, usage, i32::from(on))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_switch_is_a_state_and_buttons_are_edges() {
        let mut d = HidDecoder::new();
        // On hook at rest: reports of 0 are no events.
        assert_eq!(d.usage(hid::TELEPHONY, 0x20, 0), None);
        assert_eq!(
            d.usage(hid::TELEPHONY, 0x20, 1),
            Some(HeadsetEvent::Hook(true))
        );
        assert_eq!(d.usage(hid::TELEPHONY, 0x20, 1), None, "still off hook");
        assert_eq!(d.usage(hid::TELEPHONY, 0x2F, 1), Some(HeadsetEvent::Mute));
        assert_eq!(
            d.usage(hid::TELEPHONY, 0x2F, 1),
            None,
            "held, not pressed again"
        );
        assert_eq!(d.usage(hid::TELEPHONY, 0x2F, 0), None);
        assert_eq!(d.usage(hid::TELEPHONY, 0x2F, 1), Some(HeadsetEvent::Mute));
        assert_eq!(
            d.usage(hid::CONSUMER, 0xE9, 1),
            Some(HeadsetEvent::VolumeUp)
        );
        assert_eq!(
            d.usage(hid::CONSUMER, 0xEA, 1),
            Some(HeadsetEvent::VolumeDown)
        );
        assert_eq!(d.usage(hid::TELEPHONY, 0x21, 1), Some(HeadsetEvent::Flash));
        assert_eq!(d.usage(hid::TELEPHONY, 0x24, 1), Some(HeadsetEvent::Redial));
        assert_eq!(d.usage(hid::TELEPHONY, 0x99, 1), None, "unknown usage");
        assert_eq!(
            d.usage(hid::TELEPHONY, 0x20, 0),
            Some(HeadsetEvent::Hook(false))
        );
        assert_eq!(HeadsetEvent::Hook(true).native_code(), Some(0x93));
        assert_eq!(HeadsetEvent::Hook(false).native_code(), Some(0x94));
        assert_eq!(HeadsetEvent::Mute.native_code(), Some(0x8F));
        assert_eq!(HidDecoder::led(Indicator::Ring(true)), (hid::LED, 0x18, 1));
        assert_eq!(HidDecoder::led(Indicator::Mute(false)), (hid::LED, 0x09, 0));
    }
}
