//! RTP sending and receiving statistics and RTCP reports (RFC 3550).
//!
//! Packet syntax comes from `rtc-rtp` and `rtc-rtcp`; what is ours is the bookkeeping the
//! RFC leaves to the application: sequence numbering and extended sequence numbers
//! (§A.1), loss and interarrival jitter (§6.4.1, §A.3, §A.8), the sender and receiver
//! reports built from them, and the round-trip time from LSR/DLSR (§6.4.1). Time is
//! passed in; wall-clock NTP time comes from a [`Clock`] fixed when the channel is made.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rtc_rtcp::packet::Packet as RtcpPacket;
use rtc_rtcp::receiver_report::ReceiverReport;
use rtc_rtcp::reception_report::ReceptionReport;
use rtc_rtcp::sender_report::SenderReport;
use rtc_rtcp::source_description::{
    SdesType, SourceDescription, SourceDescriptionChunk, SourceDescriptionItem,
};
use rtc_rtp::header::Header;
use rtc_shared::marshal::{Marshal, MarshalSize, Unmarshal};

/// Seconds from 1900 (NTP epoch) to 1970 (Unix epoch).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// Maps the monotonic `Instant`s the state machine runs on to NTP wall-clock time for
/// sender reports. Fixed at channel creation so the state machine stays deterministic.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    base: Instant,
    base_wall: SystemTime,
}

impl Clock {
    /// A clock where `base` corresponds to `base_wall`.
    pub fn new(base: Instant, base_wall: SystemTime) -> Clock {
        Clock { base, base_wall }
    }

    /// 64-bit NTP timestamp (RFC 3550 §4) of `now`.
    pub fn ntp(&self, now: Instant) -> u64 {
        let since_unix = self
            .base_wall
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            + now.saturating_duration_since(self.base);
        let secs = since_unix.as_secs() + NTP_UNIX_OFFSET;
        let frac = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
        (secs << 32) | frac
    }
}

/// The middle 32 bits of an NTP timestamp, the unit of LSR and DLSR (RFC 3550 §6.4.1).
fn ntp_mid(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// Duration in 1/65536 s units, saturating.
fn to_ntp_short(d: Duration) -> u32 {
    u32::try_from(d.as_micros() * 65536 / 1_000_000).unwrap_or(u32::MAX)
}

/// The sending half of one RTP stream: numbering and counters for sender reports.
#[derive(Debug)]
pub struct RtpSender {
    /// Our SSRC.
    pub ssrc: u32,
    seq: u16,
    packets: u32,
    octets: u32,
    /// RTP timestamp and time of the last packet sent, to extrapolate the SR's RTP time.
    last: Option<(u32, Instant)>,
    clock_rate: u32,
}

impl RtpSender {
    /// A sender with a random SSRC and initial sequence number (RFC 3550 §5.1: both
    /// random, to make known-plaintext attacks on SRTP harder).
    pub fn new(ssrc: u32, first_seq: u16, clock_rate: u32) -> RtpSender {
        RtpSender {
            ssrc,
            seq: first_seq,
            packets: 0,
            octets: 0,
            last: None,
            clock_rate,
        }
    }

    /// Builds the next RTP packet.
    pub fn packet(
        &mut self,
        now: Instant,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload: &[u8],
    ) -> Vec<u8> {
        let header = Header {
            version: 2,
            marker,
            payload_type,
            sequence_number: self.seq,
            timestamp,
            ssrc: self.ssrc,
            ..Default::default()
        };
        self.seq = self.seq.wrapping_add(1);
        self.packets = self.packets.wrapping_add(1);
        self.octets = self
            .octets
            .wrapping_add(u32::try_from(payload.len()).unwrap_or(u32::MAX));
        self.last = Some((timestamp, now));
        let mut out = vec![0u8; header.marshal_size() + payload.len()];
        // A plain header without CSRCs or extensions always fits the buffer sized for it.
        let n = header.marshal_to(&mut out).unwrap_or(0);
        out[n..n + payload.len()].copy_from_slice(payload);
        out.truncate(n + payload.len());
        out
    }

    /// Packets sent so far.
    pub fn packets(&self) -> u32 {
        self.packets
    }

    /// Payload octets sent so far.
    pub fn octets(&self) -> u32 {
        self.octets
    }

    /// A sender report for `now`, or `None` before the first packet (RFC 3550 §6.4: only
    /// active senders send SRs).
    pub fn sender_report(
        &self,
        now: Instant,
        clock: &Clock,
        reports: Vec<ReceptionReport>,
    ) -> Option<SenderReport> {
        let (ts, at) = self.last?;
        // The SR's RTP time corresponds to the same instant as its NTP time (§6.4.1).
        let elapsed = now.saturating_duration_since(at);
        let advance = (elapsed.as_micros() * u128::from(self.clock_rate) / 1_000_000) as u32;
        Some(SenderReport {
            ssrc: self.ssrc,
            ntp_time: clock.ntp(now),
            rtp_time: ts.wrapping_add(advance),
            packet_count: self.packets,
            octet_count: self.octets,
            reports,
            profile_extensions: Bytes::new(),
        })
    }
}

/// What the receiver made of an incoming packet's header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrival {
    /// In sequence (possibly after a gap or reordered within the window).
    Accepted,
    /// First packet of a new SSRC; statistics restarted.
    NewSource,
    /// Same sequence number as one just received.
    Duplicate,
    /// Too far out of sequence (RFC 3550 §A.1 MAX_DROPOUT/MAX_MISORDER); dropped.
    OutOfWindow,
}

/// RFC 3550 §A.1: how far ahead a sequence number may jump and still count as in order.
const MAX_DROPOUT: u16 = 3000;
/// RFC 3550 §A.1: how far back a reordered packet may be.
const MAX_MISORDER: u16 = 100;

/// The receiving half of one RTP stream: RFC 3550 §A.1/§A.3/§A.8 statistics.
#[derive(Debug, Default)]
pub struct RtpReceiver {
    ssrc: Option<u32>,
    base_seq: u32,
    max_seq: u16,
    cycles: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// Relative transit time of the previous packet, in RTP units (§A.8).
    transit: Option<i64>,
    /// Interarrival jitter estimate in RTP units, as the RFC's fixed-point ×16 value.
    jitter_q4: u64,
    /// LSR: middle 32 bits of the last SR's NTP time, and when it arrived.
    last_sr: Option<(u32, Instant)>,
    duplicates: u64,
    ssrc_changes: u64,
    base: Option<Instant>,
    /// The last few sequence numbers, to spot duplicates among reordered packets.
    recent: [Option<u16>; 8],
}

/// Counters of one received stream, for stats events.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReceiveStats {
    /// The sender's SSRC, once known.
    pub ssrc: Option<u32>,
    /// Packets received (duplicates not counted).
    pub packets: u32,
    /// Cumulative packets lost (expected − received, RFC 3550 §6.4.1; may be negative
    /// with duplicates, clamped at 0 here).
    pub lost: u32,
    /// Interarrival jitter in milliseconds.
    pub jitter_ms: f64,
    /// Duplicate packets dropped.
    pub duplicates: u64,
    /// Times the sender's SSRC changed.
    pub ssrc_changes: u64,
}

impl RtpReceiver {
    /// Accounts for one packet arriving at `now`, with the stream's RTP clock rate; `None`
    /// for a packet that counts in the sequence but not in the jitter: a telephone-event
    /// carries its event's start timestamp in every packet (RFC 4733 §2.5.1.2), so its
    /// transit time says nothing about the network.
    pub fn on_packet(&mut self, now: Instant, header: &Header, clock_rate: Option<u32>) -> Arrival {
        let seq = header.sequence_number;
        let mut arrival = Arrival::Accepted;
        if self.ssrc != Some(header.ssrc) {
            if self.ssrc.is_some() {
                self.ssrc_changes += 1;
            }
            self.restart(header.ssrc, seq);
            arrival = Arrival::NewSource;
        } else if self.recent.contains(&Some(seq)) {
            self.duplicates += 1;
            return Arrival::Duplicate;
        }
        let delta = seq.wrapping_sub(self.max_seq);
        if arrival == Arrival::NewSource {
            // First packet of the source (RFC 3550 §A.1 init_seq): nothing to compare.
        } else if delta == 0 {
            self.duplicates += 1;
            return Arrival::Duplicate;
        } else if delta < MAX_DROPOUT {
            if seq < self.max_seq {
                // Sequence number wrapped (§A.1).
                self.cycles = self.cycles.wrapping_add(1 << 16);
            }
            self.max_seq = seq;
        } else if delta <= u16::MAX - MAX_MISORDER {
            // A big jump: the RFC restarts after two sequential packets; we simply restart.
            self.restart(header.ssrc, seq);
            arrival = Arrival::OutOfWindow;
        }
        // else: reordered within MAX_MISORDER, counted below.
        self.recent[usize::from(seq % 8)] = Some(seq);
        self.received = self.received.wrapping_add(1);

        let Some(clock_rate) = clock_rate else {
            return arrival;
        };
        // Interarrival jitter (§A.8): transit = arrival − timestamp in RTP units.
        let base = *self.base.get_or_insert(now);
        let arrival_units = (now.saturating_duration_since(base).as_micros()
            * u128::from(clock_rate)
            / 1_000_000) as i64;
        let transit = arrival_units - i64::from(header.timestamp);
        if let Some(prev) = self.transit {
            let d = (transit - prev).unsigned_abs() & 0xffff_ffff;
            // J += (|D| − J) / 16, in ×16 fixed point.
            self.jitter_q4 = (self.jitter_q4 + d).saturating_sub((self.jitter_q4 + 8) >> 4);
        }
        self.transit = Some(transit);
        arrival
    }

    /// Restarts the sequence statistics at `seq` of `ssrc` (RFC 3550 §A.1 init_seq),
    /// keeping the lifetime counters and the last SR.
    fn restart(&mut self, ssrc: u32, seq: u16) {
        *self = RtpReceiver {
            ssrc: Some(ssrc),
            base_seq: u32::from(seq),
            max_seq: seq,
            duplicates: self.duplicates,
            ssrc_changes: self.ssrc_changes,
            last_sr: self.last_sr,
            ..RtpReceiver::default()
        };
    }

    /// Records a sender report from the peer (for LSR/DLSR in our reports).
    /// The SSRC of the stream received (the first one, or the one that took over).
    pub fn source_ssrc(&self) -> Option<u32> {
        self.ssrc
    }

    /// Records a sender report's time for the next reception report's LSR/DLSR.
    pub fn on_sender_report(&mut self, now: Instant, sr: &SenderReport) {
        self.last_sr = Some((ntp_mid(sr.ntp_time), now));
    }

    fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    fn expected(&self) -> u32 {
        self.extended_max()
            .wrapping_sub(self.base_seq)
            .wrapping_add(1)
    }

    /// Current statistics.
    pub fn stats(&self, clock_rate: u32) -> ReceiveStats {
        let lost = if self.received == 0 {
            0
        } else {
            self.expected().saturating_sub(self.received)
        };
        ReceiveStats {
            ssrc: self.ssrc,
            packets: self.received,
            lost,
            jitter_ms: (self.jitter_q4 >> 4) as f64 * 1000.0 / f64::from(clock_rate.max(1)),
            duplicates: self.duplicates,
            ssrc_changes: self.ssrc_changes,
        }
    }

    /// A reception report block (§6.4.1) for `now`, resetting the interval counters; `None`
    /// before anything was received.
    pub fn reception_report(&mut self, now: Instant) -> Option<ReceptionReport> {
        let ssrc = self.ssrc?;
        if self.received == 0 {
            return None;
        }
        let expected = self.expected();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        // Cumulative loss is a 24-bit signed field; clamp.
        let total_lost =
            (i64::from(expected) - i64::from(self.received)).clamp(0, 0x7f_ffff) as u32;
        let (lsr, delay) = match self.last_sr {
            Some((lsr, at)) => (lsr, to_ntp_short(now.saturating_duration_since(at))),
            None => (0, 0),
        };
        Some(ReceptionReport {
            ssrc,
            fraction_lost,
            total_lost,
            last_sequence_number: self.extended_max(),
            jitter: (self.jitter_q4 >> 4) as u32,
            last_sender_report: lsr,
            delay,
        })
    }
}

/// Round-trip time from a report block about our stream (RFC 3550 §6.4.1: A − LSR − DLSR),
/// or `None` when the peer has not seen an SR of ours yet.
pub fn round_trip(now: Instant, clock: &Clock, report: &ReceptionReport) -> Option<Duration> {
    if report.last_sender_report == 0 {
        return None;
    }
    let a = ntp_mid(clock.ntp(now));
    let rtt = a
        .wrapping_sub(report.last_sender_report)
        .wrapping_sub(report.delay);
    // A negative result (clock skew, bogus report) wraps to a huge value: reject it.
    (rtt < 0x8000_0000).then(|| Duration::from_micros(u64::from(rtt) * 1_000_000 / 65536))
}

/// Builds a compound RTCP packet (RFC 3550 §6.1: a report first, then SDES with CNAME).
pub fn compound(report: Box<dyn RtcpPacket>, ssrc: u32, cname: &str) -> Vec<u8> {
    let sdes = SourceDescription {
        chunks: vec![SourceDescriptionChunk {
            source: ssrc,
            items: vec![SourceDescriptionItem {
                sdes_type: SdesType::SdesCname,
                text: Bytes::copy_from_slice(cname.as_bytes()),
            }],
        }],
    };
    let packets: Vec<Box<dyn RtcpPacket>> = vec![report, Box::new(sdes)];
    rtc_rtcp::packet::marshal(&packets)
        .map(|b| b.to_vec())
        .unwrap_or_default()
}

/// A receiver report (for when we have not sent anything yet, or are on hold).
pub fn receiver_report(ssrc: u32, reports: Vec<ReceptionReport>) -> ReceiverReport {
    ReceiverReport {
        ssrc,
        reports,
        profile_extensions: Bytes::new(),
    }
}

/// Parses the RTP header of a datagram already classified as RTP; `None` when malformed.
pub fn parse_header(datagram: &[u8]) -> Option<(Header, usize)> {
    let mut buf = datagram;
    let header = Header::unmarshal(&mut buf).ok()?;
    let header_len = datagram.len() - buf.len();
    Some((header, header_len))
}

/// The payload of an RTP datagram after its header, without padding (RFC 3550 §5.1).
pub fn payload<'a>(datagram: &'a [u8], header: &Header, header_len: usize) -> Option<&'a [u8]> {
    let body = datagram.get(header_len..)?;
    if header.padding {
        let pad = usize::from(*body.last()?);
        if pad == 0 || pad > body.len() {
            return None;
        }
        Some(&body[..body.len() - pad])
    } else {
        Some(body)
    }
}

/// Parses an RTCP compound packet; `None` when malformed.
pub fn parse_rtcp(datagram: &[u8]) -> Option<Vec<Box<dyn RtcpPacket>>> {
    let mut buf = datagram;
    rtc_rtcp::packet::unmarshal(&mut buf).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(seq: u16, ts: u32, ssrc: u32) -> Header {
        Header {
            version: 2,
            sequence_number: seq,
            timestamp: ts,
            ssrc,
            payload_type: 0,
            ..Default::default()
        }
    }

    #[test]
    fn packets_roundtrip_through_the_parser() {
        let t0 = Instant::now();
        let mut s = RtpSender::new(0x1234_5678, 65535, 8000);
        let a = s.packet(t0, 0, true, 160, &[1, 2, 3]);
        let b = s.packet(t0, 0, false, 320, &[4]);
        let (h, n) = parse_header(&a).expect("valid header");
        assert_eq!(
            (h.sequence_number, h.timestamp, h.ssrc, h.marker),
            (65535, 160, 0x1234_5678, true)
        );
        assert_eq!(payload(&a, &h, n), Some(&[1u8, 2, 3][..]));
        let (h, _) = parse_header(&b).expect("valid header");
        assert_eq!(h.sequence_number, 0, "sequence numbers wrap");
        assert_eq!((s.packets(), s.octets()), (2, 4));
    }

    #[test]
    fn loss_jitter_and_wrap_are_counted() {
        let t0 = Instant::now();
        let mut r = RtpReceiver::default();
        // 20 ms packets at 8 kHz across the sequence wrap; every 10th lost; arrival
        // alternates 0 / +4 ms late, so |D| alternates 32 RTP units.
        let mut sent = 0;
        for i in 0..200u32 {
            let seq = 65500u16.wrapping_add(i as u16);
            if i % 10 == 5 {
                continue;
            }
            sent += 1;
            let late = if i % 2 == 0 { 0 } else { 4 };
            let now = t0 + Duration::from_millis(u64::from(i) * 20 + late);
            let arrival = r.on_packet(now, &header(seq, i * 160, 7), Some(8000));
            assert_ne!(arrival, Arrival::Duplicate);
        }
        let st = r.stats(8000);
        assert_eq!(st.packets, sent);
        assert_eq!(st.lost, 20);
        // |D| is 32 units (4 ms) between neighbours, 0 across the lost packets (both
        // neighbours on time): the estimate converges to the mean, 4 ms · 8/9.
        assert!(
            (st.jitter_ms - 4.0 * 8.0 / 9.0).abs() < 0.3,
            "jitter {}",
            st.jitter_ms
        );
        let rr = r.reception_report(t0).expect("report after packets");
        assert_eq!(rr.total_lost, 20);
        assert_eq!(rr.fraction_lost, (20 * 256 / 200) as u8);
        assert_eq!(
            rr.last_sequence_number,
            (1 << 16) + u32::from(65500u16.wrapping_add(199))
        );
    }

    #[test]
    fn first_packet_at_sequence_zero_is_no_wrap() {
        let t0 = Instant::now();
        let mut r = RtpReceiver::default();
        for seq in 0..10u16 {
            r.on_packet(t0, &header(seq, u32::from(seq) * 160, 5), Some(8000));
        }
        let st = r.stats(8000);
        assert_eq!((st.packets, st.lost), (10, 0));
        let rr = r.reception_report(t0).expect("received");
        assert_eq!(rr.last_sequence_number, 9);
    }

    #[test]
    fn duplicates_and_ssrc_change() {
        let t0 = Instant::now();
        let mut r = RtpReceiver::default();
        assert_eq!(
            r.on_packet(t0, &header(10, 0, 1), Some(8000)),
            Arrival::NewSource
        );
        assert_eq!(
            r.on_packet(t0, &header(11, 160, 1), Some(8000)),
            Arrival::Accepted
        );
        assert_eq!(
            r.on_packet(t0, &header(11, 160, 1), Some(8000)),
            Arrival::Duplicate
        );
        assert_eq!(
            r.on_packet(t0, &header(10, 0, 1), Some(8000)),
            Arrival::Duplicate
        );
        assert_eq!(
            r.on_packet(t0, &header(500, 0, 2), Some(8000)),
            Arrival::NewSource
        );
        let st = r.stats(8000);
        assert_eq!(
            (st.packets, st.duplicates, st.ssrc_changes, st.ssrc),
            (1, 2, 1, Some(2))
        );
    }

    #[test]
    fn round_trip_from_lsr_and_dlsr() {
        let t0 = Instant::now();
        let clock = Clock::new(t0, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let mut sender = RtpSender::new(1, 0, 8000);
        sender.packet(t0, 0, false, 0, &[0; 160]);
        let sr = sender
            .sender_report(t0, &clock, vec![])
            .expect("sent a packet");
        // Peer receives the SR 30 ms later, answers 100 ms after that; we get it 30 ms later.
        let mut peer = RtpReceiver::default();
        peer.on_packet(t0, &header(0, 0, 1), Some(8000));
        peer.on_sender_report(t0 + Duration::from_millis(30), &sr);
        let rr = peer
            .reception_report(t0 + Duration::from_millis(130))
            .expect("peer has received");
        let rtt = round_trip(t0 + Duration::from_millis(160), &clock, &rr).expect("lsr set");
        assert!((rtt.as_secs_f64() - 0.060).abs() < 0.001, "rtt {rtt:?}");
    }

    #[test]
    fn compound_rtcp_parses_back() {
        let t0 = Instant::now();
        let clock = Clock::new(t0, SystemTime::now());
        let mut s = RtpSender::new(42, 0, 48000);
        s.packet(t0, 111, false, 960, &[0; 80]);
        let sr = s
            .sender_report(t0 + Duration::from_millis(20), &clock, vec![])
            .expect("sent");
        assert_eq!(
            sr.rtp_time,
            960 + 960,
            "RTP time extrapolated to the report's instant"
        );
        let bytes = compound(Box::new(sr), 42, "me@host");
        let packets = parse_rtcp(&bytes).expect("valid compound");
        assert_eq!(packets.len(), 2);
        assert!(packets[0].as_any().downcast_ref::<SenderReport>().is_some());
        assert!(parse_rtcp(&bytes[..7]).is_none());
    }
}
