//! Received datagrams: the gatherer, the RFC 7983 demux, ICE's and the latch's source
//! checks, SRTP, then RTP to the receiver statistics, the DTMF detector, the recording tap
//! and the jitter buffer.

use std::net::SocketAddr;
use std::time::Instant;

use codecs::dtmf::TelephoneEvent;

use super::latch::Verdict;
use super::transport::{Keys, Route};
use super::{Channel, ChannelState, Event, Output, RecordedPacket};
use crate::Fault;
use crate::demux::{self, Datagram};
use crate::gather::Input;
use crate::rtp::{self, Arrival};

/// Most the recording tap holds until its packets are taken: payload bytes plus a fixed
/// cost per packet. 16 MiB is over 13 minutes of G.711 at 20 ms; past it packets are
/// dropped, counted and reported once, so a recorder that stops taking cannot grow the
/// process without bound.
pub const MAX_RECORDING_BYTES: usize = 16 << 20;
/// What a kept packet costs besides its payload (the struct and the allocation).
const RECORDED_PACKET_COST: usize = 64;

/// The recording tap: received audio packets until taken, within [`MAX_RECORDING_BYTES`].
#[derive(Default)]
pub(super) struct Recorder {
    packets: Vec<RecordedPacket>,
    bytes: usize,
    /// The overflow was reported since the last take.
    full_reported: bool,
}

impl Channel {
    /// Recording tap on or off: received audio packets are kept until taken.
    pub fn set_recording(&mut self, on: bool) {
        match (on, self.recording.is_some()) {
            (true, false) => self.recording = Some(Recorder::default()),
            (false, true) => self.recording = None,
            _ => {}
        }
    }

    /// The packets recorded since the last call.
    pub fn take_recording(&mut self) -> Vec<RecordedPacket> {
        match self.recording.as_mut() {
            Some(r) => {
                r.bytes = 0;
                r.full_reported = false;
                std::mem::take(&mut r.packets)
            }
            None => Vec::new(),
        }
    }

    /// Keeps a received audio packet when recording, if there is room.
    fn record(&mut self, packet: RecordedPacket) {
        let Some(r) = self.recording.as_mut() else {
            return;
        };
        let cost = packet.payload.len() + RECORDED_PACKET_COST;
        if r.bytes + cost <= MAX_RECORDING_BYTES {
            r.bytes += cost;
            r.packets.push(packet);
            return;
        }
        self.stats.recording_dropped += 1;
        if !r.full_reported {
            r.full_reported = true;
            self.outputs.push_back(Output::Event(Event::Error {
                fault: Fault::RecordingFailed,
                text: format!(
                    "the recording tap is full ({MAX_RECORDING_BYTES} bytes): received \
                     packets are not recorded until the recording is taken"
                ),
            }));
        }
    }

    /// A datagram arrived on `local` from `source`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        source: SocketAddr,
        data: &[u8],
    ) {
        if self.state == ChannelState::Closed {
            return;
        }
        // Our STUN/TURN servers first: their responses look like ICE checks (STUN).
        match self
            .gathering
            .gatherer
            .handle_input(now, local, source, data)
        {
            Input::NotMine => self.handle_media_datagram(now, local, source, data),
            Input::Consumed => {}
            Input::Relayed(r) => self.handle_media_datagram(now, r.relay, r.peer, &r.data),
        }
        self.drive(now);
    }

    /// A datagram for ICE, DTLS or RTP/RTCP, arrived on `local` (a socket or a relayed
    /// address) from `source`.
    pub(super) fn handle_media_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        source: SocketAddr,
        data: &[u8],
    ) {
        match demux::classify(data) {
            Datagram::Stun => match self.route.ice_mut() {
                Some(ice) => {
                    if let Err(e) = ice.handle_stun(now, local, source, data) {
                        tracing::debug!(%source, "STUN: {e}");
                    }
                }
                None => self.stats.garbage += 1,
            },
            Datagram::Dtls => {
                if !self.checked(now, local, source) {
                    return;
                }
                match self.protection.dtls_mut() {
                    Some(dtls) => dtls.handle_datagram(now, data),
                    None => self.stats.garbage += 1,
                }
            }
            kind @ (Datagram::Rtp | Datagram::Rtcp) => {
                if !self.checked(now, local, source) {
                    return;
                }
                let rtcp = kind == Datagram::Rtcp;
                let plain = match self.protection.keys() {
                    Keys::Srtp(srtp) => {
                        let r = if rtcp {
                            srtp.unprotect_rtcp(data)
                        } else {
                            srtp.unprotect_rtp(data)
                        };
                        // Replays and bad tags are counted by the SRTP session.
                        match r {
                            Ok(p) => p,
                            Err(_) => return,
                        }
                    }
                    // Keys not there yet (DTLS still running).
                    Keys::Waiting => return,
                    Keys::Plain => data.to_vec(),
                };
                if rtcp {
                    self.handle_rtcp(now, local, source, &plain);
                } else {
                    self.handle_rtp(now, source, &plain);
                }
            }
            Datagram::TurnChannel | Datagram::Unknown => self.stats.garbage += 1,
        }
    }

    /// Without ICE, whether an RTP packet's source is the peer's (the `latch` rule);
    /// a new latch is reported.
    fn rtp_source_ok(&mut self, now: Instant, source: SocketAddr, ssrc: u32, seq: u16) -> bool {
        let Route::Direct { rtp, .. } = &mut self.route else {
            return true;
        };
        match rtp.check(now, source, ssrc, Some(seq), None) {
            Verdict::Accept => true,
            Verdict::Latched(to) => {
                self.outputs
                    .push_back(Output::Event(Event::Latched { rtp: to }));
                true
            }
            Verdict::Drop => {
                self.stats.unchecked_source += 1;
                false
            }
        }
    }

    fn handle_rtp(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        let Some((header, header_len)) = rtp::parse_header(data) else {
            self.stats.garbage += 1;
            return;
        };
        let Some(payload) = rtp::payload(data, &header, header_len) else {
            self.stats.garbage += 1;
            return;
        };
        let Some(s) = self.session.as_ref() else {
            return;
        };
        let pt = header.payload_type;
        let is_audio = pt == s.neg.pt;
        // Any telephone-event the descriptions agree on, at its own clock: Chromium sends
        // `telephone-event/8000` alongside Opus when both were negotiated.
        let dtmf_clock = s.neg.dtmf_in.iter().find(|d| d.0 == pt).map(|d| d.1);
        let is_dtmf = dtmf_clock.is_some();
        if !is_audio && !is_dtmf {
            if Some(pt) != s.neg.cn_pt {
                if self.stats.wrong_pt == 0 {
                    tracing::debug!(
                        pt,
                        audio = s.neg.pt,
                        dtmf = ?s.neg.dtmf_pt,
                        "RTP of a payload type not negotiated: dropped (counted in wrongPt)"
                    );
                }
                self.stats.wrong_pt += 1;
            }
            return;
        }
        if !self.rtp_source_ok(now, source, header.ssrc, header.sequence_number) {
            return;
        }
        let Some(s) = self.session.as_mut() else {
            return;
        };
        s.last_media = Some(now);
        s.no_media_reported = false;
        let clock = s.neg.codec.rtp_clock_rate();
        let timed = (!is_dtmf).then_some(clock);
        match self.receiver.on_packet(now, &header, timed) {
            Arrival::Duplicate => return,
            Arrival::Accepted | Arrival::NewSource | Arrival::OutOfWindow => {}
        }
        if let Some(dtmf_clock) = dtmf_clock {
            if let Ok(ev) = TelephoneEvent::decode(payload)
                && ev.end
                && s.dtmf_in_reported != Some(header.timestamp)
            {
                s.dtmf_in_reported = Some(header.timestamp);
                if let Some(digit) = codecs::dtmf::event_to_char(ev.event) {
                    self.stats.dtmf_received += 1;
                    let duration_ms = u32::from(ev.duration) * 1000 / dtmf_clock.max(1);
                    self.outputs
                        .push_back(Output::Event(Event::Dtmf { digit, duration_ms }));
                }
            }
            return;
        }
        s.jitter.push(
            now,
            jitter::Packet {
                seq: header.sequence_number,
                timestamp: header.timestamp,
                ssrc: header.ssrc,
                marker: header.marker,
                payload: payload.to_vec(),
            },
        );
        if self.recording.is_some() {
            self.record(RecordedPacket {
                at: now,
                seq: header.sequence_number,
                timestamp: header.timestamp,
                payload: payload.to_vec(),
            });
        }
    }
}
