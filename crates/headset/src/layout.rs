//! Where a headset's buttons and lights are: its HID report descriptor read once
//! ([`Layout::parse`], with [`crate::descriptor`]), then each input report decoded
//! ([`Layout::decode`]) and the lights written as the output reports the descriptor
//! defines ([`Layout::light_reports`]).
//!
//! Buttons are variable fields (one bit per control, most headsets) or array fields
//! (the usage of each pressed control listed, HID 1.11 §6.2.2.5); lights are variable
//! output fields. Everything read from a device is checked against the descriptor's sizes
//! first: a short report or one of another ID is dropped, never indexed past its end.

use std::ops::Range;

use crate::decoder::{HidDecoder, hid};
use crate::descriptor::{self, Direction, Field};
use crate::{Error, HeadsetEvent, Lights};

/// Telephony inputs we act on (HUT 1.4 §14): Hook Switch, Flash, Redial, Phone Mute,
/// Line Busy Tone.
const TELEPHONY_INPUTS: [u16; 5] = [0x20, 0x21, 0x24, 0x2F, 0x97];
/// Consumer inputs we act on (HUT 1.4 §15): Volume Increment, Volume Decrement.
const CONSUMER_INPUTS: [u16; 2] = [0xE9, 0xEA];

/// A light of [`Lights`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Light {
    /// LED Off-Hook 0x17.
    OffHook,
    /// LED Mute 0x09.
    Mute,
    /// LED Ring 0x18, or Telephony Ringer 0x9E.
    Ring,
    /// LED Hold 0x20.
    Hold,
}

impl Light {
    fn of(page: u16, usage: u16) -> Option<Light> {
        match (page, usage) {
            (hid::LED, 0x17) => Some(Light::OffHook),
            (hid::LED, 0x09) => Some(Light::Mute),
            (hid::LED, 0x18) | (hid::TELEPHONY, 0x9E) => Some(Light::Ring),
            (hid::LED, 0x20) => Some(Light::Hold),
            _ => None,
        }
    }

    fn on(self, l: &Lights) -> bool {
        match self {
            Light::OffHook => l.off_hook,
            Light::Mute => l.mute,
            Light::Ring => l.ring,
            Light::Hold => l.hold,
        }
    }
}

/// Every input usage we act on.
fn our_usages() -> impl Iterator<Item = (u16, u16)> {
    let telephony = TELEPHONY_INPUTS.iter().map(|&u| (hid::TELEPHONY, u));
    telephony.chain(CONSUMER_INPUTS.iter().map(|&u| (hid::CONSUMER, u)))
}

fn ours(u: (u16, u16)) -> bool {
    our_usages().any(|o| o == u)
}

/// One button of a variable field.
#[derive(Debug)]
struct Button {
    bits: Range<usize>,
    usage: (u16, u16),
    relative: bool,
}

/// An input report: its length and controls.
#[derive(Debug)]
struct Input {
    id: Option<u8>,
    len: usize,
    buttons: Vec<Button>,
    /// Array fields that list any of our usages.
    arrays: Vec<Field>,
}

/// An output report with lights.
#[derive(Debug)]
struct Output {
    id: Option<u8>,
    len: usize,
    lights: Vec<(Range<usize>, Light)>,
}

/// A headset's buttons and lights.
#[derive(Debug)]
pub struct Layout {
    inputs: Vec<Input>,
    outputs: Vec<Output>,
}

impl Layout {
    /// Reads a report descriptor. `Ok(None)`: a HID device without telephony buttons
    /// (a keyboard's volume keys alone do not make it a headset).
    pub fn parse(bytes: &[u8]) -> Result<Option<Layout>, Error> {
        let d = descriptor::parse(bytes).map_err(|e| Error::Descriptor(e.to_string()))?;
        let mut inputs: Vec<Input> = d
            .reports
            .iter()
            .filter(|r| r.direction == Direction::Input)
            .map(|r| Input {
                id: r.id,
                len: r.len,
                buttons: Vec::new(),
                arrays: Vec::new(),
            })
            .collect();
        let mut outputs: Vec<Output> = d
            .reports
            .iter()
            .filter(|r| r.direction == Direction::Output)
            .map(|r| Output {
                id: r.id,
                len: r.len,
                lights: Vec::new(),
            })
            .collect();
        for f in d.fields.iter().filter(|f| !f.constant && f.size <= 32) {
            match f.direction {
                Direction::Input => {
                    let Some(input) = inputs.iter_mut().find(|i| i.id == f.report_id) else {
                        continue;
                    };
                    if f.variable {
                        for i in 0..f.count {
                            match f.variable_usage(i) {
                                Some(u) if ours(u) => input.buttons.push(Button {
                                    bits: f.element(i),
                                    usage: u,
                                    relative: f.relative,
                                }),
                                _ => {}
                            }
                        }
                    } else if our_usages().any(|u| f.contains(u)) {
                        input.arrays.push(f.clone());
                    }
                }
                Direction::Output if f.variable => {
                    let Some(output) = outputs.iter_mut().find(|o| o.id == f.report_id) else {
                        continue;
                    };
                    for i in 0..f.count {
                        if let Some(light) = f.variable_usage(i).and_then(|(p, u)| Light::of(p, u))
                        {
                            output.lights.push((f.element(i), light));
                        }
                    }
                }
                Direction::Output => {}
            }
        }
        let telephony = inputs.iter().any(|i| {
            i.buttons.iter().any(|b| b.usage.0 == hid::TELEPHONY)
                || i.arrays
                    .iter()
                    .any(|a| our_usages().any(|u| u.0 == hid::TELEPHONY && a.contains(u)))
        });
        if !telephony {
            return Ok(None);
        }
        inputs.retain(|i| !i.buttons.is_empty() || !i.arrays.is_empty());
        outputs.retain(|o| !o.lights.is_empty());
        Ok(Some(Layout { inputs, outputs }))
    }

    fn input_for(&self, report: &[u8]) -> Option<&Input> {
        let first = *report.first()?;
        self.inputs
            .iter()
            .find(|i| i.id.is_none_or(|id| id == first))
    }

    /// The events in one input report (as one `read` of the node gives it): nothing for a
    /// report we do not read or one shorter than the descriptor says.
    pub fn decode(&self, decoder: &mut HidDecoder, report: &[u8]) -> Vec<HeadsetEvent> {
        let Some(input) = self.input_for(report) else {
            return Vec::new();
        };
        let Some(report) = report.get(..input.len) else {
            return Vec::new();
        };
        let mut events = Vec::new();
        for b in &input.buttons {
            if let Some(v) = descriptor::extract(report, &b.bits) {
                let (p, u) = b.usage;
                events.extend(decoder.usage(p, u, v != 0, b.relative));
            }
        }
        for a in &input.arrays {
            let pressed: Vec<(u16, u16)> = (0..a.count)
                .filter_map(|i| descriptor::extract(report, &a.element(i)))
                .filter_map(|v| {
                    let index = i64::from(v) - i64::from(a.logical_min);
                    a.usage_at(usize::try_from(index).ok()?)
                })
                .collect();
            for u in our_usages().filter(|&u| a.contains(u)) {
                events.extend(decoder.usage(u.0, u.1, pressed.contains(&u), a.relative));
            }
        }
        events
    }

    /// The output reports that set `lights`, as written to a hidraw node: one per report
    /// that holds any of them, every other bit 0. The first byte is the report ID, or 0
    /// where the device numbers no reports (hidraw's `write` takes the report number
    /// first either way: the kernel's Documentation/hid/hidraw.rst).
    pub fn light_reports(&self, lights: &Lights) -> Vec<Vec<u8>> {
        self.outputs
            .iter()
            .map(|o| {
                let offset = usize::from(o.id.is_none());
                let mut report = vec![0u8; o.len + offset];
                if let (Some(id), Some(b)) = (o.id, report.first_mut()) {
                    *b = id;
                }
                for (bits, light) in &o.lights {
                    let bits = bits.start + 8 * offset..bits.end + 8 * offset;
                    descriptor::insert(&mut report, &bits, u32::from(light.on(lights)));
                }
                report
            })
            .collect()
    }

    /// Which lights the device has, for the log.
    pub fn lights(&self) -> Vec<Light> {
        let mut l: Vec<Light> = self
            .outputs
            .iter()
            .flat_map(|o| o.lights.iter().map(|(_, l)| *l))
            .collect();
        l.dedup();
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No report IDs: a Hook Switch bit, a relative Phone Mute bit, padding; one output
    /// report with the Off-Hook LED.
    const UNNUMBERED: &[u8] = &[
        0x05, 0x0B, 0x09, 0x05, 0xA1, 0x01, 0x15, 0x00, 0x25, 0x01, 0x75, 0x01, 0x95, 0x01, 0x09,
        0x20, 0x81, 0x22, 0x09, 0x2F, 0x81, 0x06, 0x95, 0x06, 0x81, 0x01, 0x05, 0x08, 0x95, 0x01,
        0x09, 0x17, 0x91, 0x22, 0x95, 0x07, 0x91, 0x01, 0xC0,
    ];

    #[test]
    fn unnumbered_reports_are_written_with_report_number_zero() {
        let l = Layout::parse(UNNUMBERED).unwrap().unwrap();
        let on = Lights {
            off_hook: true,
            ..Lights::default()
        };
        assert_eq!(l.light_reports(&on), [vec![0x00, 0x01]]);
        let mut d = HidDecoder::new();
        assert_eq!(l.decode(&mut d, &[0x01]), [HeadsetEvent::Hook(true)]);
        // A relative mute: each report with it set is one press.
        assert_eq!(l.decode(&mut d, &[0x03]), [HeadsetEvent::Mute]);
        assert_eq!(l.decode(&mut d, &[0x03]), [HeadsetEvent::Mute]);
        assert_eq!(l.decode(&mut d, &[]), []);
    }

    #[test]
    fn a_keyboard_is_no_headset() {
        let kb = [
            0x05, 0x01, 0x09, 0x06, 0xA1, 0x01, 0x05, 0x0C, 0x75, 0x01, 0x95, 0x02, 0x09, 0xE9,
            0x09, 0xEA, 0x81, 0x02, 0xC0,
        ];
        assert!(Layout::parse(&kb).unwrap().is_none());
    }
}
