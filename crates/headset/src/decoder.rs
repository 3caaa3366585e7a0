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

/// Tracks one headset's HID input state and turns reports into events, by how the
/// descriptor declares each control (HID 1.11 §6.2.2.5, Input item: Absolute or
/// Relative):
///
/// * Hook Switch (0x20, an on/off control, HUT 1.4 §14): absolute, its value is the state
///   and a change is the event; relative, each report with it set toggles the state.
/// * Phone Mute (0x2F): relative, each report with it set is a press; absolute, its value
///   is the device's mute state and each change (either way) is one press, so an
///   absolute mute can be switched off again.
/// * The other buttons: relative, each report with it set; absolute, a press (0 → 1),
///   so a report repeating a held button is not a second press.
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

    /// One input usage with its current value (`on`: non-zero) and how it is declared.
    pub fn usage(
        &mut self,
        page: u16,
        usage: u16,
        on: bool,
        relative: bool,
    ) -> Option<HeadsetEvent> {
        if (page, usage) == (hid::TELEPHONY, 0x20) {
            let now = if relative { self.off_hook ^ on } else { on };
            if now == self.off_hook {
                return None;
            }
            self.off_hook = now;
            return Some(HeadsetEvent::Hook(now));
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
        if relative {
            return on.then_some(event);
        }
        let was = self.pressed.contains(&(page, usage));
        if on {
            self.pressed.insert((page, usage));
        } else {
            self.pressed.remove(&(page, usage));
        }
        let mute_state = event == HeadsetEvent::Mute;
        ((on && !was) || (mute_state && was && !on)).then_some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_switch_is_a_state_and_buttons_are_edges() {
        let mut d = HidDecoder::new();
        // On hook at rest: reports of 0 are no events.
        assert_eq!(d.usage(hid::TELEPHONY, 0x20, false, false), None);
        assert_eq!(
            d.usage(hid::TELEPHONY, 0x20, true, false),
            Some(HeadsetEvent::Hook(true))
        );
        assert_eq!(
            d.usage(hid::TELEPHONY, 0x20, true, false),
            None,
            "still off hook"
        );
        assert_eq!(
            d.usage(hid::TELEPHONY, 0x2F, true, false),
            Some(HeadsetEvent::Mute)
        );
        assert_eq!(
            d.usage(hid::TELEPHONY, 0x2F, true, false),
            None,
            "held, not pressed again"
        );
        // An absolute mute is the device's state: off again is a press too.
        assert_eq!(
            d.usage(hid::TELEPHONY, 0x2F, false, false),
            Some(HeadsetEvent::Mute)
        );
        assert_eq!(
            d.usage(hid::TELEPHONY, 0x2F, true, false),
            Some(HeadsetEvent::Mute)
        );
        assert_eq!(
            d.usage(hid::CONSUMER, 0xE9, true, false),
            Some(HeadsetEvent::VolumeUp)
        );
        assert_eq!(
            d.usage(hid::CONSUMER, 0xEA, true, false),
            Some(HeadsetEvent::VolumeDown)
        );
        assert_eq!(
            d.usage(hid::TELEPHONY, 0x21, true, false),
            Some(HeadsetEvent::Flash)
        );
        assert_eq!(
            d.usage(hid::TELEPHONY, 0x24, true, false),
            Some(HeadsetEvent::Redial)
        );
        assert_eq!(
            d.usage(hid::TELEPHONY, 0x97, true, false),
            Some(HeadsetEvent::LineBusy)
        );
        assert_eq!(
            d.usage(hid::TELEPHONY, 0x99, true, false),
            None,
            "unknown usage"
        );
        assert_eq!(
            d.usage(hid::TELEPHONY, 0x20, false, false),
            Some(HeadsetEvent::Hook(false))
        );
        assert_eq!(
            d.usage(hid::TELEPHONY, 0x21, true, false),
            None,
            "Flash held"
        );

        // Relative controls: each report with the bit set counts; a relative hook toggles.
        let mut d = HidDecoder::new();
        assert_eq!(
            d.usage(hid::TELEPHONY, 0x2F, true, true),
            Some(HeadsetEvent::Mute)
        );
        assert_eq!(
            d.usage(hid::TELEPHONY, 0x2F, true, true),
            Some(HeadsetEvent::Mute)
        );
        assert_eq!(d.usage(hid::TELEPHONY, 0x2F, false, true), None);
        assert_eq!(
            d.usage(hid::TELEPHONY, 0x20, true, true),
            Some(HeadsetEvent::Hook(true))
        );
        assert_eq!(d.usage(hid::TELEPHONY, 0x20, false, true), None);
        assert_eq!(
            d.usage(hid::TELEPHONY, 0x20, true, true),
            Some(HeadsetEvent::Hook(false))
        );

        assert_eq!(HeadsetEvent::Hook(true).native_code(), Some(0x93));
        assert_eq!(HeadsetEvent::Hook(false).native_code(), Some(0x94));
        assert_eq!(HeadsetEvent::Mute.native_code(), Some(0x8F));
    }
}
