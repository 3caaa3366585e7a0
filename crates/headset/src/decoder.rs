//! The pure mapping from USB HID telephony usages to our events and from our lights to
//! LED usages (HID Usage Tables 1.4: Telephony Device page 0x0B, Consumer page 0x0C,
//! LED page 0x08).

use crate::HeadsetEvent;

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
            (hid::TELEPHONY, 0x97) => HeadsetEvent::LineBusy,
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
        assert_eq!(
            d.usage(hid::TELEPHONY, 0x97, 1),
            Some(HeadsetEvent::LineBusy)
        );
        assert_eq!(d.usage(hid::TELEPHONY, 0x99, 1), None, "unknown usage");
        assert_eq!(
            d.usage(hid::TELEPHONY, 0x20, 0),
            Some(HeadsetEvent::Hook(false))
        );
        assert_eq!(HeadsetEvent::Hook(true).native_code(), Some(0x93));
        assert_eq!(HeadsetEvent::Hook(false).native_code(), Some(0x94));
        assert_eq!(HeadsetEvent::Mute.native_code(), Some(0x8F));
    }
}
