//! DTMF as RTP telephone-events (RFC 4733): the 4-byte payload of §2.3, the DTMF event
//! codes of §3.2 and the packet sequence a sender emits for one digit (§2.5.1).

use crate::CodecError;

/// One telephone-event payload (RFC 4733 §2.3).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// |     event     |E|R| volume    |          duration             |
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TelephoneEvent {
    /// Event code (§3.2: 0–9, 10 = `*`, 11 = `#`, 12–15 = A–D).
    pub event: u8,
    /// End of the event (E bit).
    pub end: bool,
    /// Power level as -dBm0, 0–63 (§2.3.4).
    pub volume: u8,
    /// Duration so far in RTP timestamp units (§2.3.5).
    pub duration: u16,
}

impl TelephoneEvent {
    /// The 4 payload bytes; the reserved R bit is sent as 0 (§2.3.3).
    pub fn encode(&self) -> [u8; 4] {
        let [d0, d1] = self.duration.to_be_bytes();
        [
            self.event,
            u8::from(self.end) << 7 | (self.volume & 0x3F),
            d0,
            d1,
        ]
    }

    /// Parses a payload of at least 4 bytes (more may follow in a redundant packet);
    /// the R bit is ignored on receipt (§2.3.3).
    pub fn decode(payload: &[u8]) -> Result<Self, CodecError> {
        let &[event, flags, d0, d1, ..] = payload else {
            return Err(CodecError::BadPayload(format!(
                "telephone-event payload of {} bytes, need 4",
                payload.len()
            )));
        };
        Ok(TelephoneEvent {
            event,
            end: flags & 0x80 != 0,
            // Six bits can hold at most 63, so the §2.3.4 range is always met here.
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([d0, d1]),
        })
    }

    /// Checks the field ranges (volume ≤ 63), naming the bad field.
    pub fn validate(&self) -> Result<(), CodecError> {
        if self.volume > 63 {
            return Err(CodecError::Setting(format!(
                "volume {} above 63 (-dBm0)",
                self.volume
            )));
        }
        Ok(())
    }
}

/// The DTMF event code of a key (RFC 4733 §3.2, Table 7).
pub fn event_from_char(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        'A'..='D' => Some(c as u8 - b'A' + 12),
        'a'..='d' => Some(c as u8 - b'a' + 12),
        _ => None,
    }
}

/// The key of a DTMF event code, `None` for other events.
pub fn event_to_char(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

/// One packet of a digit's sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventPacket {
    /// RTP marker bit: set on the first packet of the event (§2.5.1.1).
    pub marker: bool,
    /// When to send it, in RTP timestamp units after the event started. The RTP timestamp
    /// itself stays the event's start for all packets (§2.5.1.1).
    pub send_at: u32,
    /// The payload.
    pub event: TelephoneEvent,
}

/// How many times the final packet is sent (§2.5.1.4).
const END_PACKETS: u32 = 3;

/// The packets for one digit (RFC 4733 §2.5.1): a start packet with the marker bit, an
/// update every interval with the growing duration, and the final packet with the E bit
/// sent three times with the same total duration.
#[derive(Clone, Debug)]
pub struct Sender {
    event: u8,
    volume: u8,
    total: u16,
    interval: u32,
    /// Packets emitted so far.
    sent: u32,
    /// Packets until (and including) the first end packet.
    updates: u32,
}

impl Sender {
    /// A sequence for `digit` lasting `duration_ms`, one packet every `interval_ms`, at
    /// RTP `clock_rate` (8000 for the usual `telephone-event/8000`) and `volume` -dBm0.
    pub fn new(
        digit: char,
        duration_ms: u32,
        interval_ms: u32,
        clock_rate: u32,
        volume: u8,
    ) -> Result<Self, CodecError> {
        let event = event_from_char(digit)
            .ok_or_else(|| CodecError::Setting(format!("digit {digit:?} is not a DTMF key")))?;
        if volume > 63 {
            return Err(CodecError::Setting(format!("volume {volume} above 63")));
        }
        if interval_ms == 0 || duration_ms == 0 {
            return Err(CodecError::Setting(
                "duration_ms and interval_ms must be above 0".into(),
            ));
        }
        let units = |ms: u32| u64::from(ms) * u64::from(clock_rate) / 1000;
        // Longer events need segmenting (§2.5.2.1), which this helper does not do.
        let total = u16::try_from(units(duration_ms)).map_err(|_| {
            CodecError::Setting(format!(
                "duration_ms {duration_ms} exceeds 65535 timestamp units at {clock_rate} Hz"
            ))
        })?;
        let interval = u32::try_from(units(interval_ms))
            .ok()
            .filter(|&i| i > 0)
            .ok_or_else(|| CodecError::Setting(format!("interval_ms {interval_ms} invalid")))?;
        Ok(Sender {
            event,
            volume,
            total,
            interval,
            sent: 0,
            updates: u32::from(total).div_ceil(interval),
        })
    }
}

impl Iterator for Sender {
    type Item = EventPacket;

    fn next(&mut self) -> Option<EventPacket> {
        if self.sent >= self.updates + END_PACKETS - 1 {
            return None;
        }
        let k = self.sent + 1;
        self.sent += 1;
        let end = k >= self.updates;
        let duration = if end {
            self.total
        } else {
            // k * interval < total here, so it fits in u16.
            u16::try_from(k * self.interval).unwrap_or(self.total)
        };
        Some(EventPacket {
            marker: k == 1,
            send_at: k * self.interval,
            event: TelephoneEvent {
                event: self.event,
                end,
                volume: self.volume,
                duration,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip() {
        let ev = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 0x1234,
        };
        assert_eq!(ev.encode(), [11, 0x8A, 0x12, 0x34]);
        assert_eq!(TelephoneEvent::decode(&ev.encode()).unwrap(), ev);
        // R bit set by a peer is ignored.
        let mut b = ev.encode();
        b[1] |= 0x40;
        assert_eq!(TelephoneEvent::decode(&b).unwrap(), ev);
        assert!(matches!(
            TelephoneEvent::decode(&[1, 2, 3]),
            Err(CodecError::BadPayload(_))
        ));
        let loud = TelephoneEvent { volume: 64, ..ev };
        assert!(matches!(loud.validate(), Err(CodecError::Setting(m)) if m.contains("volume")));
    }

    #[test]
    fn keys_map_both_ways() {
        for (c, e) in "0123456789*#ABCD".chars().zip(0u8..) {
            assert_eq!(event_from_char(c), Some(e));
            assert_eq!(event_to_char(e), Some(c));
        }
        assert_eq!(event_from_char('x'), None);
        assert_eq!(event_to_char(16), None);
    }

    #[test]
    fn sender_sequence() {
        // 100 ms digit, 20 ms packets, 8 kHz: durations 160..800, end sent 3 times.
        let pkts: Vec<_> = Sender::new('5', 100, 20, 8000, 10).unwrap().collect();
        assert_eq!(pkts.len(), 5 + 2);
        assert!(pkts[0].marker && pkts[1..].iter().all(|p| !p.marker));
        let durs: Vec<u16> = pkts.iter().map(|p| p.event.duration).collect();
        assert_eq!(durs, [160, 320, 480, 640, 800, 800, 800]);
        let ends: Vec<bool> = pkts.iter().map(|p| p.event.end).collect();
        assert_eq!(ends, [false, false, false, false, true, true, true]);
        assert!(
            pkts.iter()
                .all(|p| p.event.event == 5 && p.event.volume == 10)
        );
        assert_eq!(pkts[6].send_at, 7 * 160);

        // Duration not a multiple of the interval: the last update carries the total.
        let pkts: Vec<_> = Sender::new('#', 50, 20, 8000, 0).unwrap().collect();
        let durs: Vec<u16> = pkts.iter().map(|p| p.event.duration).collect();
        assert_eq!(durs, [160, 320, 400, 400, 400]);

        assert!(Sender::new('x', 100, 20, 8000, 10).is_err());
        assert!(Sender::new('1', 100, 20, 8000, 64).is_err());
        assert!(Sender::new('1', 10_000, 20, 8000, 10).is_err());
    }
}
