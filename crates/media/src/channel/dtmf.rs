//! RFC 4733 telephone events out: a queue of digits, sent one after the other.
//!
//! Each digit is one event (§2.5.1): a start packet with the marker bit, updates every
//! audio packet interval (ptime, within [`MIN_INTERVAL_MS`]..=[`MAX_INTERVAL_MS`]), and the
//! end packet three times. Its RTP timestamp is the media
//! clock at its start, so consecutive digits are distinct events. The next digit starts
//! `gap` after the previous one's duration, and never before that one's last end packet
//! went out, so no two events overlap on the wire.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use codecs::dtmf::{EventPacket, Sender as DtmfSender};

use super::Channel;
use crate::MediaError;

/// Most digits waiting to be sent; more is refused (the Media protocol's `SendDtmf` takes
/// 1–64 per request, and a request must not wait behind an unbounded queue).
pub const MAX_QUEUED_DIGITS: usize = 64;
/// Pause between digits when the caller gives none: the default `interToneGap` of
/// `RTCDTMFSender.insertDTMF` (W3C webrtc-pc §7.2).
pub const DEFAULT_DTMF_GAP_MS: u32 = 70;
/// The shortest pause taken (W3C webrtc-pc §7.2 clamps `interToneGap` to 30 ms).
const MIN_GAP_MS: u32 = 30;
/// Update interval bounds. We update once per audio packet interval, as audio would arrive:
/// a receiver that plays events from its jitter buffer (Chromium's NetEq) has nothing to
/// play between sparser updates, and 50 ms updates made it cut our tones in two. RFC 4733
/// §2.5.1.2 leaves the rate to the sender; 50 ms is the longest we use.
const MIN_INTERVAL_MS: u32 = 10;
const MAX_INTERVAL_MS: u32 = 50;
/// Volume of the events, −dBm0 (RFC 4733 §2.3.4).
const DTMF_VOLUME: u8 = 10;

/// A digit waiting: its packets, made (and so checked) when it was queued.
struct Digit {
    packets: VecDeque<EventPacket>,
    duration_ms: u32,
    gap_ms: u32,
}

/// The digit being sent.
struct Tone {
    packets: VecDeque<EventPacket>,
    timestamp: u32,
    start: Instant,
    clock_rate: u32,
    /// When the next digit may start: duration and gap after the start.
    next_start: Instant,
}

impl Tone {
    fn due(&self, p: &EventPacket) -> Instant {
        self.start
            + Duration::from_micros(u64::from(p.send_at) * 1_000_000 / u64::from(self.clock_rate))
    }
}

/// One event packet to send now.
pub(super) struct DtmfPacket {
    pub(super) marker: bool,
    pub(super) timestamp: u32,
    pub(super) payload: [u8; 4],
}

/// The digits of a channel: waiting, and the one on the wire.
#[derive(Default)]
pub(super) struct DtmfQueue {
    waiting: VecDeque<Digit>,
    tone: Option<Tone>,
    /// The previous digit of this burst: its start, timestamp and the earliest next start.
    previous: Option<(Instant, u32, Instant)>,
}

impl DtmfQueue {
    /// A digit's packets are going out (audio is suppressed meanwhile).
    pub(super) fn sending(&self) -> bool {
        self.tone.is_some()
    }

    /// Queues `digits`, all or none: each must be a DTMF key whose duration fits an event
    /// at `clock_rate`, and the queue must have room.
    fn push(
        &mut self,
        digits: &str,
        duration_ms: u32,
        gap_ms: u32,
        interval_ms: u32,
        clock_rate: u32,
    ) -> Result<(), MediaError> {
        let interval_ms = interval_ms.clamp(MIN_INTERVAL_MS, MAX_INTERVAL_MS);
        let count = digits.chars().count();
        if self.waiting.len() + count > MAX_QUEUED_DIGITS {
            return Err(MediaError::State(format!(
                "{} DTMF digits are waiting; at most {MAX_QUEUED_DIGITS} may be queued",
                self.waiting.len() + count
            )));
        }
        // Made here, all before any is queued: a bad key or a duration that does not fit
        // a 16-bit event duration refuses the whole request.
        let made = digits
            .chars()
            .map(|d| DtmfSender::new(d, duration_ms, interval_ms, clock_rate, DTMF_VOLUME))
            .collect::<Result<Vec<_>, _>>()?;
        self.waiting.extend(made.into_iter().map(|sender| Digit {
            packets: sender.collect(),
            duration_ms,
            gap_ms: gap_ms.max(MIN_GAP_MS),
        }));
        Ok(())
    }

    /// When a packet is due or the next digit may start.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        match &self.tone {
            Some(t) => t.packets.front().map(|p| t.due(p)),
            // Digits wait only behind a previous one: a burst's first starts when queued.
            None if !self.waiting.is_empty() => self.previous.map(|(_, _, next)| next),
            None => None,
        }
    }

    /// The packets due at `now`, starting digits as they become due; `media_ts` is the RTP
    /// timestamp of the audio now (for a digit that starts a burst). The flag says that a
    /// digit ended, so the next audio packet starts a talk spurt.
    fn poll(&mut self, now: Instant, media_ts: u32, clock_rate: u32) -> (Vec<DtmfPacket>, bool) {
        let mut out = Vec::new();
        let mut ended = false;
        loop {
            if self.tone.is_none() {
                if self.previous.is_some_and(|(_, _, next)| next > now) {
                    break;
                }
                let Some(d) = self.waiting.pop_front() else {
                    self.previous = None;
                    break;
                };
                self.start(d, now, media_ts, clock_rate);
            }
            let Some(tone) = self.tone.as_mut() else {
                break;
            };
            while let Some(p) = tone.packets.front().copied() {
                if tone.due(&p) > now {
                    break;
                }
                tone.packets.pop_front();
                out.push(DtmfPacket {
                    marker: p.marker,
                    timestamp: tone.timestamp,
                    payload: p.event.encode(),
                });
            }
            if !tone.packets.is_empty() {
                break;
            }
            self.previous = Some((tone.start, tone.timestamp, tone.next_start.max(now)));
            self.tone = None;
            ended = true;
        }
        (out, ended)
    }

    /// Puts `d` on the wire: its timestamp follows the previous digit of the burst by the
    /// time between their starts, or is the audio's.
    fn start(&mut self, d: Digit, now: Instant, media_ts: u32, clock_rate: u32) {
        let timestamp = match self.previous {
            Some((start, ts, _)) => {
                let units = now.saturating_duration_since(start).as_micros()
                    * u128::from(clock_rate)
                    / 1_000_000;
                ts.wrapping_add(units as u32)
            }
            None => media_ts,
        };
        self.tone = Some(Tone {
            packets: d.packets,
            timestamp,
            start: now,
            clock_rate,
            next_start: now + Duration::from_millis(u64::from(d.duration_ms) + u64::from(d.gap_ms)),
        });
    }
}

impl Channel {
    /// Queues DTMF digits (RFC 4733), sent one after the other: each `duration_ms` long
    /// with `gap_ms` of pause between them (at least 30 ms). Fails, queueing nothing, for
    /// a key that is not `0-9*#A-D`, a duration the event cannot carry, a full queue, or a
    /// peer that did not negotiate telephone-event.
    pub fn send_dtmf(
        &mut self,
        now: Instant,
        digits: &str,
        duration_ms: u32,
        gap_ms: u32,
    ) -> Result<(), MediaError> {
        let s = self
            .session
            .as_mut()
            .ok_or_else(|| MediaError::State("DTMF before the call is connected".into()))?;
        if s.neg.dtmf_pt.is_none() {
            return Err(MediaError::State(
                "the peer did not negotiate telephone-event (RFC 4733)".into(),
            ));
        }
        let clock_rate = s.neg.codec.rtp_clock_rate();
        s.dtmf
            .push(digits, duration_ms, gap_ms, s.neg.ptime_ms, clock_rate)?;
        self.flush_dtmf(now);
        Ok(())
    }

    /// Sends the event packets that are due.
    pub(super) fn flush_dtmf(&mut self, now: Instant) {
        let may_send = self.may_send();
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let Some(pt) = s.neg.dtmf_pt else {
            return;
        };
        let clock_rate = s.neg.codec.rtp_clock_rate();
        let (due, ended) = s.dtmf.poll(now, s.send.timestamp, clock_rate);
        if ended {
            s.send.marker = true;
        }
        let packets: Vec<Vec<u8>> = due
            .iter()
            .map(|p| {
                self.sender
                    .packet(now, pt, p.marker, p.timestamp, &p.payload)
            })
            .collect();
        if may_send {
            for p in packets {
                self.emit(now, &p, false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use codecs::dtmf::TelephoneEvent;

    /// Runs the queue in 1 ms steps; returns (ms, timestamp, event) of every packet.
    fn run(q: &mut DtmfQueue, t0: Instant, ms: u64) -> Vec<(u64, u32, TelephoneEvent)> {
        let mut seen = Vec::new();
        for i in 0..ms {
            let now = t0 + Duration::from_millis(i);
            for p in q.poll(now, 1000, 8000).0 {
                let ev = TelephoneEvent::decode(&p.payload).expect("event");
                seen.push((i, p.timestamp, ev));
            }
        }
        seen
    }

    #[test]
    fn four_digits_go_out_in_order_with_their_durations_and_gaps() {
        let t0 = Instant::now();
        let mut q = DtmfQueue::default();
        q.push("123#", 120, 70, 20, 8000).expect("valid");
        let seen = run(&mut q, t0, 2000);
        // One update per 20 ms audio interval while a digit lasts.
        let first: Vec<u64> = seen
            .iter()
            .take_while(|(_, _, e)| !e.end)
            .map(|(ms, _, _)| *ms)
            .collect();
        assert_eq!(first, [20, 40, 60, 80, 100], "{seen:?}");
        let ends: Vec<(u64, u32, TelephoneEvent)> =
            seen.iter().filter(|(_, _, e)| e.end).copied().collect();
        // Three end packets per digit (§2.5.1.4), all with the full duration.
        assert_eq!(ends.len(), 12);
        let events: Vec<u8> = ends.iter().step_by(3).map(|(_, _, e)| e.event).collect();
        assert_eq!(events, [1, 2, 3, 11]);
        assert!(ends.iter().all(|(_, _, e)| e.duration == 960));
        // Distinct timestamps, 120 ms + 70 ms gap apart.
        let starts: Vec<(u64, u32)> = seen
            .iter()
            .filter(|(_, _, e)| !e.end && e.duration == 160)
            .map(|(ms, ts, _)| (*ms, *ts))
            .collect();
        assert_eq!(starts.len(), 4, "{seen:?}");
        for w in starts.windows(2) {
            let gap_ms = w[1].0 - w[0].0;
            assert!((190..=260).contains(&gap_ms), "{starts:?}");
            assert_eq!(
                w[1].1.wrapping_sub(w[0].1),
                (gap_ms * 8) as u32,
                "{starts:?}"
            );
        }
        assert!(!q.sending() && q.poll_timeout().is_none());
    }

    #[test]
    fn bad_digits_and_overflow_queue_nothing() {
        let mut q = DtmfQueue::default();
        assert!(q.push("12x", 100, 70, 20, 8000).is_err());
        assert!(q.waiting.is_empty());
        // 5 s does not fit a 16-bit duration at 48 kHz.
        assert!(q.push("1", 5000, 70, 20, 48_000).is_err());
        q.push(&"1".repeat(60), 100, 70, 20, 8000).expect("room");
        let e = q.push("12345", 100, 70, 20, 8000).expect_err("full");
        assert!(e.to_string().contains("at most 64"), "{e}");
        assert_eq!(q.waiting.len(), 60);
    }
}
