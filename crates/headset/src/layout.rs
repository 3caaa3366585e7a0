//! Where a headset's buttons and lights are: its HID report descriptor read once
//! ([`Layout::parse`]), then each input report decoded ([`Layout::decode`]) and the
//! lights written as the output reports the descriptor defines ([`Layout::light_reports`]).
//!
//! Buttons are variable fields (one bit per control, most headsets) or array fields
//! (the usage of each pressed control listed, HID 1.11 §6.2.2.5); lights are variable
//! output fields. Everything read from a device is checked against the descriptor's sizes
//! first: a short or unknown report is dropped, never indexed past its end.

use std::ops::Range;

use hidreport::{ArrayField, Field, Report, ReportDescriptor, VariableField};

use crate::decoder::{HidDecoder, hid};
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

fn ours(page: u16, usage: u16) -> bool {
    (page == hid::TELEPHONY && TELEPHONY_INPUTS.contains(&usage))
        || (page == hid::CONSUMER && CONSUMER_INPUTS.contains(&usage))
}

fn page_usage(u: &hidreport::Usage) -> (u16, u16) {
    (u16::from(u.usage_page), u16::from(u.usage_id))
}

/// One input report: its buttons.
#[derive(Debug)]
struct Input {
    id: Option<u8>,
    len: usize,
    buttons: Vec<VariableField>,
    arrays: Vec<ArrayField>,
}

/// One output report: its lights, by bit range.
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

/// A field we may extract from a report of `len` bytes: 1 to 32 bits (what
/// `hidreport` extracts) inside the report.
fn fits(bits: &Range<usize>, len: usize) -> bool {
    (1..=32).contains(&bits.len()) && bits.end <= len * 8
}

impl Layout {
    /// Reads a report descriptor. `Ok(None)`: a HID device without telephony buttons
    /// (a keyboard's volume keys alone do not make it a headset).
    pub fn parse(descriptor: &[u8]) -> Result<Option<Layout>, Error> {
        let rd = ReportDescriptor::try_from(descriptor)
            .map_err(|e| Error::Descriptor(format!("{e:?}")))?;
        let mut inputs = Vec::new();
        for r in rd.input_reports() {
            let len = r.size_in_bytes();
            let mut input = Input {
                id: (*r.report_id()).map(u8::from),
                len,
                buttons: Vec::new(),
                arrays: Vec::new(),
            };
            for f in r.fields() {
                match f {
                    Field::Variable(v)
                        if ours(page_usage(&v.usage).0, page_usage(&v.usage).1)
                            && fits(&v.bits, len) =>
                    {
                        input.buttons.push(v.clone());
                    }
                    Field::Array(a)
                        if a.usages().iter().any(|u| {
                            let (p, u) = page_usage(u);
                            ours(p, u)
                        }) && fits(&a.bits, len) =>
                    {
                        input.arrays.push(a.clone());
                    }
                    _ => {}
                }
            }
            if !input.buttons.is_empty() || !input.arrays.is_empty() {
                inputs.push(input);
            }
        }
        let telephony = inputs.iter().any(|i| {
            i.buttons
                .iter()
                .any(|v| page_usage(&v.usage).0 == hid::TELEPHONY)
                || i.arrays
                    .iter()
                    .any(|a| a.usages().iter().any(|u| page_usage(u).0 == hid::TELEPHONY))
        });
        if !telephony {
            return Ok(None);
        }
        let mut outputs = Vec::new();
        for r in rd.output_reports() {
            let len = r.size_in_bytes();
            let lights: Vec<(Range<usize>, Light)> = r
                .fields()
                .iter()
                .filter_map(|f| match f {
                    Field::Variable(v) if fits(&v.bits, len) => {
                        let (p, u) = page_usage(&v.usage);
                        Light::of(p, u).map(|l| (v.bits.clone(), l))
                    }
                    _ => None,
                })
                .collect();
            if !lights.is_empty() {
                outputs.push(Output {
                    id: (*r.report_id()).map(u8::from),
                    len,
                    lights,
                });
            }
        }
        Ok(Some(Layout { inputs, outputs }))
    }

    /// The length of the input report `bytes` begins with, if it is one of ours: with
    /// report IDs the first byte says which. `None`: not a report we read (skip it).
    pub fn input_len(&self, first: u8) -> Option<usize> {
        self.input_for(first).map(|i| i.len)
    }

    fn input_for(&self, first: u8) -> Option<&Input> {
        self.inputs
            .iter()
            .find(|i| i.id.is_none_or(|id| id == first))
    }

    /// Whether reports carry an ID byte (then reports we do not read can be told apart).
    pub fn numbered(&self) -> bool {
        self.inputs.iter().any(|i| i.id.is_some())
    }

    /// The events in one input report (nothing for a report that is not ours or is
    /// shorter than the descriptor says).
    pub fn decode(&self, decoder: &mut HidDecoder, report: &[u8]) -> Vec<HeadsetEvent> {
        let Some(&first) = report.first() else {
            return Vec::new();
        };
        let Some(input) = self.input_for(first) else {
            return Vec::new();
        };
        if report.len() < input.len {
            return Vec::new();
        }
        let mut events = Vec::new();
        for v in &input.buttons {
            if let Ok(value) = v.extract(report) {
                let (p, u) = page_usage(&v.usage);
                events.extend(decoder.usage(p, u, i32::from(value)));
            }
        }
        for a in &input.arrays {
            let Ok(values) = a.extract(report) else {
                continue;
            };
            let min = i64::from(i32::from(a.logical_minimum));
            let usages = a.usages();
            let pressed: Vec<(u16, u16)> = values
                .iter()
                .filter_map(|v| {
                    let i = i64::from(u32::from(v)) - min;
                    usize::try_from(i)
                        .ok()
                        .and_then(|i| usages.get(i))
                        .map(page_usage)
                })
                .collect();
            for u in usages {
                let (p, u) = page_usage(u);
                if ours(p, u) {
                    events.extend(decoder.usage(p, u, i32::from(pressed.contains(&(p, u)))));
                }
            }
        }
        events
    }

    /// The output reports that set `lights`: one per report that holds any of them, the
    /// report ID first where reports have IDs, every other bit 0.
    pub fn light_reports(&self, lights: &Lights) -> Vec<Vec<u8>> {
        self.outputs
            .iter()
            .map(|o| {
                let mut report = vec![0u8; o.len];
                if let (Some(id), Some(b)) = (o.id, report.first_mut()) {
                    *b = id;
                }
                for (bits, light) in &o.lights {
                    if light.on(lights) {
                        // The field's lowest bit: 1 in a field of any width.
                        if let Some(b) = report.get_mut(bits.start / 8) {
                            *b |= 1 << (bits.start % 8);
                        }
                    }
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
