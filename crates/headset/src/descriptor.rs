//! HID report descriptors (HID 1.11 §6.2.2) read into the fields of the input and output
//! reports: where each field's bits are, its usages and its flags.
//!
//! Ours, not a crate's: a descriptor comes from whatever is plugged in, and the parser we
//! tried first (`hidreport` 0.5) panics on some malformed ones (a Usage before any Usage
//! Page hits an `expect`), which with `panic = "abort"` would end the app when such a
//! device is plugged in. This one returns an error for anything it cannot read, bounds
//! every count, and is property-tested with random bytes. It reads what a headset needs
//! and skips the rest (feature reports, units, designators, strings, delimiters).

use std::collections::HashMap;
use std::ops::Range;

/// The longest descriptor read (the kernel's `HID_MAX_DESCRIPTOR_SIZE`).
pub const MAX_DESCRIPTOR: usize = 4096;
/// The largest report, in bits: more is refused (HID reports are at most a few hundred
/// bytes; the kernel's limit is 16 KiB).
const MAX_REPORT_BITS: u64 = 16 * 1024 * 8;
/// Push items nested at most this deep.
const MAX_PUSH: usize = 16;

/// Input or output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Device to host.
    Input,
    /// Host to device.
    Output,
}

/// A run of usages: `min..=max` on `page`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsageSpan {
    /// Usage page.
    pub page: u16,
    /// First usage id.
    pub min: u16,
    /// Last usage id.
    pub max: u16,
}

/// One main item's data field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Input or output.
    pub direction: Direction,
    /// The report it is in (`None`: the device numbers no reports).
    pub report_id: Option<u8>,
    /// Its first bit in the report as read or written (the report ID byte included).
    pub start: usize,
    /// Bits per element (Report Size).
    pub size: usize,
    /// Elements (Report Count).
    pub count: usize,
    /// The usages in order; element `i` has the `i`-th (the last one for the rest), an
    /// array element's value picks one (minus `logical_min`).
    pub usages: Vec<UsageSpan>,
    /// Logical Minimum.
    pub logical_min: i32,
    /// Constant (padding).
    pub constant: bool,
    /// Variable (one element per control) rather than array.
    pub variable: bool,
    /// Relative (a change, e.g. a press) rather than absolute (a state).
    pub relative: bool,
}

impl Field {
    /// Bits of element `i`.
    pub fn element(&self, i: usize) -> Range<usize> {
        let s = self.start + i * self.size;
        s..s + self.size
    }

    /// The usage (page, id) at position `i` of the usage list, if there is one.
    pub fn usage_at(&self, i: usize) -> Option<(u16, u16)> {
        let mut i = i;
        for s in &self.usages {
            let len = usize::from(s.max - s.min) + 1;
            if i < len {
                // `i < len ≤ 0x10000`, so it fits a u16 added to `min` without passing `max`.
                return Some((s.page, s.min + u16::try_from(i).ok()?));
            }
            i -= len;
        }
        None
    }

    /// The usage of variable element `i`: the `i`-th, or the last one for the rest (HID
    /// 1.11 §6.2.2.8, "Usage").
    pub fn variable_usage(&self, i: usize) -> Option<(u16, u16)> {
        self.usage_at(i)
            .or_else(|| self.usages.last().map(|s| (s.page, s.max)))
    }

    /// Whether `(page, id)` is in the usage list.
    pub fn contains(&self, (page, id): (u16, u16)) -> bool {
        self.usages
            .iter()
            .any(|s| s.page == page && (s.min..=s.max).contains(&id))
    }
}

/// A report's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    /// Input or output.
    pub direction: Direction,
    /// Its ID.
    pub id: Option<u8>,
    /// Its length in bytes, the ID byte included.
    pub len: usize,
}

/// What a descriptor says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Descriptor {
    /// The input and output fields, in descriptor order.
    pub fields: Vec<Field>,
    /// The input and output reports.
    pub reports: Vec<Report>,
}

/// Why a descriptor could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("HID report descriptor, byte {offset}: {what}")]
pub struct ParseError {
    /// Where.
    pub offset: usize,
    /// What is wrong.
    pub what: &'static str,
}

#[derive(Clone, Copy, Debug, Default)]
struct Globals {
    page: Option<u16>,
    logical_min: i32,
    report_size: u32,
    report_count: u32,
    report_id: Option<u8>,
}

/// A usage as declared: its page if it had one (4-byte usage) or the page in effect.
#[derive(Clone, Copy, Debug)]
struct Declared {
    page: Option<u16>,
    min: u16,
    max: u16,
}

fn unsigned(data: &[u8]) -> u32 {
    data.iter()
        .rev()
        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b))
}

fn signed(data: &[u8]) -> i32 {
    let u = unsigned(data);
    match data.len() {
        1 => i32::from(u as u8 as i8),
        2 => i32::from(u as u16 as i16),
        _ => u as i32,
    }
}

/// Reads `bytes` (at most [`MAX_DESCRIPTOR`] are looked at).
pub fn parse(bytes: &[u8]) -> Result<Descriptor, ParseError> {
    let bytes = &bytes[..bytes.len().min(MAX_DESCRIPTOR)];
    let mut out = Descriptor::default();
    let mut g = Globals::default();
    let mut stack: Vec<Globals> = Vec::new();
    let mut usages: Vec<Declared> = Vec::new();
    let mut usage_min: Option<(Option<u16>, u16)> = None;
    // Bits so far per (direction, report ID).
    let mut bits: HashMap<(Direction, Option<u8>), u64> = HashMap::new();
    let mut at = 0;
    while at < bytes.len() {
        let err = |what| ParseError { offset: at, what };
        let prefix = bytes[at];
        if prefix == 0xFE {
            // Long item (§6.2.2.3): size, tag, data; none is defined, skip it.
            let size = *bytes.get(at + 1).ok_or(err("truncated long item"))?;
            at += 3 + usize::from(size);
            continue;
        }
        let size = match prefix & 3 {
            3 => 4,
            n => usize::from(n),
        };
        let data = bytes
            .get(at + 1..at + 1 + size)
            .ok_or(err("truncated item"))?;
        let (kind, tag) = ((prefix >> 2) & 3, prefix >> 4);
        match (kind, tag) {
            // Main items.
            (0, 8 | 9) => {
                let direction = if tag == 8 {
                    Direction::Input
                } else {
                    Direction::Output
                };
                let flags = unsigned(data);
                let count = g.report_count as usize;
                let esize = g.report_size as usize;
                let so_far = bits
                    .entry((direction, g.report_id))
                    .or_insert(if g.report_id.is_some() { 8 } else { 0 });
                let start_bits = *so_far;
                // Elements wider than 32 bits are kept (vendor blobs) but never read.
                *so_far = u64::from(g.report_count)
                    .checked_mul(u64::from(g.report_size))
                    .map(|b| b + start_bits)
                    .filter(|&t| t <= MAX_REPORT_BITS)
                    .ok_or(err("report too large"))?;
                let resolved = usages
                    .drain(..)
                    .map(|d| UsageSpan {
                        page: d.page.or(g.page).unwrap_or(0),
                        min: d.min,
                        max: d.max,
                    })
                    .collect();
                if count > 0 && esize > 0 {
                    out.fields.push(Field {
                        direction,
                        report_id: g.report_id,
                        start: start_bits as usize,
                        size: esize,
                        count,
                        usages: resolved,
                        logical_min: g.logical_min,
                        constant: flags & 1 != 0,
                        variable: flags & 2 != 0,
                        relative: flags & 4 != 0,
                    });
                }
                usage_min = None;
            }
            // Feature, Collection, End Collection: locals end there too.
            (0, _) => {
                usages.clear();
                usage_min = None;
            }
            // Global items.
            (1, 0) => g.page = Some(unsigned(data) as u16),
            (1, 1) => g.logical_min = signed(data),
            (1, 7) => g.report_size = unsigned(data),
            (1, 8) => {
                let id = unsigned(data);
                if id == 0 || id > 255 {
                    return Err(err("report ID 0 or above 255"));
                }
                g.report_id = Some(id as u8);
            }
            (1, 9) => g.report_count = unsigned(data),
            (1, 10) => {
                if stack.len() == MAX_PUSH {
                    return Err(err("Push nested too deep"));
                }
                stack.push(g);
            }
            (1, 11) => g = stack.pop().ok_or(err("Pop without Push"))?,
            // Local items: Usage, Usage Minimum, Usage Maximum.
            (2, 0..=2) => {
                let v = unsigned(data);
                let page = (size == 4).then_some((v >> 16) as u16);
                let id = v as u16;
                match tag {
                    0 => usages.push(Declared {
                        page,
                        min: id,
                        max: id,
                    }),
                    1 => usage_min = Some((page, id)),
                    _ => {
                        if let Some((p, min)) = usage_min.take()
                            && min <= id
                        {
                            usages.push(Declared {
                                page: p.or(page),
                                min,
                                max: id,
                            });
                        }
                    }
                }
                if usages.len() > 4096 {
                    return Err(err("too many usages"));
                }
            }
            _ => {}
        }
        at += 1 + size;
    }
    for ((direction, id), b) in bits {
        out.reports.push(Report {
            direction,
            id,
            len: b.div_ceil(8) as usize,
        });
    }
    out.reports
        .sort_by_key(|r| (r.direction == Direction::Output, r.id));
    Ok(out)
}

/// Reads bits `r` (at most 32) of `report`, least significant first (HID 1.11 §6.2.2.7:
/// little-endian); `None` when the report is too short.
pub fn extract(report: &[u8], r: &Range<usize>) -> Option<u32> {
    if r.is_empty() || r.len() > 32 || r.end > report.len() * 8 {
        return None;
    }
    let mut v: u64 = 0;
    for (n, bit) in r.clone().enumerate() {
        let b = (report[bit / 8] >> (bit % 8)) & 1;
        v |= u64::from(b) << n;
    }
    Some(v as u32)
}

/// Sets bits `r` of `report` to `value` (only the bits that fit).
pub fn insert(report: &mut [u8], r: &Range<usize>, value: u32) {
    for (n, bit) in r.clone().enumerate().take(32) {
        if let Some(byte) = report.get_mut(bit / 8) {
            if (value >> n) & 1 == 1 {
                *byte |= 1 << (bit % 8);
            } else {
                *byte &= !(1 << (bit % 8));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usage_before_any_usage_page_is_no_panic() {
        // What made hidreport panic: Usage, Collection, End Collection, an Input.
        let d = parse(&[
            0x09, 0x01, 0xA1, 0x01, 0x75, 0x01, 0x95, 0x01, 0x09, 0x20, 0x81, 0x02, 0xC0,
        ])
        .unwrap();
        assert_eq!(d.fields.len(), 1);
        assert_eq!(d.fields[0].usages[0].page, 0);
    }

    #[test]
    fn bits_count_from_the_report_id_and_flags_are_read() {
        // Report ID 2: Hook Switch (abs), Phone Mute (rel), 6 bits padding.
        let d = parse(&[
            0x05, 0x0B, 0x85, 0x02, 0x75, 0x01, 0x95, 0x01, 0x09, 0x20, 0x81, 0x22, 0x09, 0x2F,
            0x81, 0x06, 0x95, 0x06, 0x81, 0x01,
        ])
        .unwrap();
        assert_eq!(d.fields[0].start, 8);
        assert!(!d.fields[0].relative && d.fields[0].variable);
        assert_eq!(d.fields[1].start, 9);
        assert!(d.fields[1].relative);
        assert!(d.fields[2].constant);
        assert_eq!(
            d.reports,
            [Report {
                direction: Direction::Input,
                id: Some(2),
                len: 2
            }]
        );
        assert_eq!(extract(&[0x02, 0b10], &d.fields[1].element(0)), Some(1));
        assert_eq!(extract(&[0x02], &d.fields[1].element(0)), None, "too short");
    }

    #[test]
    fn bad_descriptors_are_errors() {
        assert!(parse(&[0xB4]).is_err(), "Pop without Push");
        assert!(parse(&[0x85, 0x00]).is_err(), "report ID 0");
        assert!(parse(&[0x05]).is_err(), "truncated");
        assert!(
            parse(&[0x75, 0x08, 0x97, 0xFF, 0xFF, 0xFF, 0x00, 0x81, 0x02]).is_err(),
            "huge count"
        );
    }

    proptest::proptest! {
        /// Any bytes: an answer, never a panic; fields stay inside their reports.
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            if let Ok(d) = parse(&bytes) {
                for f in &d.fields {
                    let r = d.reports.iter().find(|r| r.direction == f.direction && r.id == f.report_id).unwrap();
                    proptest::prop_assert!(f.element(f.count - 1).end <= r.len * 8);
                    let _ = f.variable_usage(f.count);
                }
            }
        }
    }
}
