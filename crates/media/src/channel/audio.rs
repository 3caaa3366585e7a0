//! Audio in and out: microphone PCM to RTP packets, the jitter buffer to speaker PCM.

use std::time::Instant;

use codecs::{CodecKind, Encoder};
use protocol::media::Direction;

use super::{Channel, ChannelState};
use crate::MediaError;
use crate::negotiate::Negotiated;

/// Sending half of the audio path.
pub(super) struct Send {
    encoder: Box<dyn Encoder>,
    /// PCM waiting for a full packet.
    pending: Vec<i16>,
    samples_per_packet: usize,
    /// RTP timestamp units per packet.
    ts_per_packet: u32,
    /// RTP timestamp of the next packet.
    pub(super) timestamp: u32,
    /// Next packet starts a talk spurt (marker bit, RFC 3551 §4.1).
    pub(super) marker: bool,
    payload: Vec<u8>,
}

impl Send {
    pub(super) fn new(
        encoder: Box<dyn Encoder>,
        kind: CodecKind,
        ptime_ms: u32,
        first_timestamp: u32,
    ) -> Send {
        let samples_per_packet = kind.samples_per_frame(ptime_ms);
        Send {
            encoder,
            pending: Vec::with_capacity(samples_per_packet),
            samples_per_packet,
            ts_per_packet: kind.rtp_clock_rate() / 1000 * ptime_ms,
            timestamp: first_timestamp,
            marker: true,
            payload: Vec::with_capacity(1500),
        }
    }

    /// The peer reported this loss (percent): the encoder adapts its redundancy.
    pub(super) fn set_reported_loss(&mut self, percent: u8) {
        self.encoder.set_reported_loss(percent);
    }
}

impl Channel {
    pub(super) fn may_send(&self) -> bool {
        let ours = matches!(self.direction, Direction::SendRecv | Direction::SendOnly);
        ours && self.session.as_ref().is_some_and(|s| s.neg.send)
    }

    /// Gives the channel 10 ms of microphone PCM at the codec's rate (see
    /// [`Channel::pcm_rate`]). Before negotiation the audio is discarded.
    pub fn send_audio(&mut self, now: Instant, pcm: &[i16]) -> Result<(), MediaError> {
        let may_send = self.may_send() && !self.muted && self.state == ChannelState::Connected;
        let silent = self.silent;
        let Some(s) = self.session.as_mut() else {
            return Ok(());
        };
        let mut packets = Vec::new();
        let send = &mut s.send;
        send.pending.extend_from_slice(pcm);
        while send.pending.len() >= send.samples_per_packet {
            let mut frame: Vec<i16> = send.pending.drain(..send.samples_per_packet).collect();
            if silent {
                frame.fill(0);
            }
            let ts = send.timestamp;
            send.timestamp = ts.wrapping_add(send.ts_per_packet);
            // While a digit is sent, audio packets are suppressed (RFC 4733 §2.5.1.3
            // allows both; suppressing keeps receivers from playing the tone twice).
            if !may_send || s.dtmf.sending() {
                send.marker = true;
                continue;
            }
            send.payload.clear();
            send.encoder.encode(&frame, &mut send.payload)?;
            let marker = std::mem::take(&mut send.marker);
            packets.push(self.sender.packet(now, s.neg.pt, marker, ts, &send.payload));
        }
        for p in packets {
            self.emit(now, &p, false);
        }
        Ok(())
    }

    /// The PCM rate of the negotiated codec (what `send_audio` takes and `pull_audio`
    /// gives), `None` before negotiation.
    pub fn pcm_rate(&self) -> Option<u32> {
        self.session.as_ref().map(|s| s.neg.codec.sample_rate())
    }

    /// The negotiated result, once there is one.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.session.as_ref().map(|s| &s.neg)
    }

    /// Appends 10 ms of received audio (decoded, concealed or silence) at the codec's
    /// PCM rate.
    pub fn pull_audio(&mut self, now: Instant, out: &mut Vec<i16>) {
        match self.session.as_mut() {
            Some(s) => {
                let before = s.jitter.stats().concealed;
                s.jitter.pull(now, out);
                if s.jitter.stats().concealed == before {
                    self.stats.blocks_played += 1;
                }
            }
            None => out.extend(std::iter::repeat_n(0, 160)),
        }
    }
}
