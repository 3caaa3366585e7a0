//! RTCP (RFC 3550 §6): compound SR or RR + SDES CNAME out at a randomised interval,
//! reports in for the round-trip time and the peer's loss, and the no-media fault.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::Rng;
use rand::rngs::StdRng;
use rtc_rtcp::receiver_report::ReceiverReport;
use rtc_rtcp::sender_report::SenderReport;

use super::latch::Verdict;
use super::transport::Route;
use super::{Channel, ChannelState, Event, Output};
use crate::Fault;
use crate::rtp;

/// Silence from a peer that should send, after which the no-media fault is reported
/// (once per silence; the call goes on: the peer may be on a mute-by-silence device).
const NO_MEDIA_AFTER: Duration = Duration::from_secs(10);
/// RFC 3550 §6.2: minimum RTCP interval.
const RTCP_INTERVAL: Duration = Duration::from_secs(5);

/// The RTCP side of a channel.
pub(super) struct Rtcp {
    /// Our CNAME (random per channel, RFC 7022).
    pub(super) cname: String,
    /// When the next report goes out.
    next: Option<Instant>,
    /// Round-trip time from the last report about our stream.
    pub(super) rtt: Option<Duration>,
    /// The peer's fraction lost of our stream, in its last report (/256).
    pub(super) remote_fraction_lost: Option<u8>,
}

impl Rtcp {
    pub(super) fn new(cname: String) -> Rtcp {
        Rtcp {
            cname,
            next: None,
            rtt: None,
            remote_fraction_lost: None,
        }
    }

    /// The session started: the first report after half an interval (RFC 3550 §6.2), at
    /// a random point of it.
    pub(super) fn start(&mut self, now: Instant, rng: &mut StdRng) {
        self.next = Some(now + interval(RTCP_INTERVAL / 2, rng));
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.next
    }
}

/// RFC 3550 §6.3.1: the interval times a random factor in [0.5, 1.5], so that the
/// participants of a session do not synchronise their reports.
fn interval(base: Duration, rng: &mut StdRng) -> Duration {
    base.mul_f64(rng.random_range(0.5..1.5))
}

impl Channel {
    /// Sends the report that is due and schedules the next.
    pub(super) fn handle_rtcp_timeout(&mut self, now: Instant) {
        if self.rtcp.next.is_some_and(|t| t <= now) {
            self.check_no_media(now);
            self.send_rtcp(now);
            self.rtcp.next = Some(now + interval(RTCP_INTERVAL, &mut self.rng));
        }
    }

    /// Without ICE, whether an RTCP packet's source is the peer's: muxed RTCP comes from
    /// where RTP comes from; on its own port, the RTCP latch decides.
    fn rtcp_source_ok(&mut self, now: Instant, source: SocketAddr, ssrc: Option<u32>) -> bool {
        let muxed = self.session.as_ref().is_some_and(|s| s.neg.rtcp_mux);
        let expected = self.receiver.source_ssrc();
        let Route::Direct { rtp, rtcp } = &mut self.route else {
            return true;
        };
        let ok = if muxed {
            rtp.destination() == Some(source)
        } else {
            match ssrc {
                Some(ssrc) => rtcp.check(now, source, ssrc, None, expected) != Verdict::Drop,
                None => rtcp.destination() == Some(source),
            }
        };
        if !ok {
            self.stats.unchecked_source += 1;
        }
        ok
    }

    pub(super) fn handle_rtcp(
        &mut self,
        now: Instant,
        _local: SocketAddr,
        source: SocketAddr,
        data: &[u8],
    ) {
        let Some(packets) = rtp::parse_rtcp(data) else {
            self.stats.garbage += 1;
            return;
        };
        // The compound's first packet is the report (RFC 3550 §6.1); its SSRC is the
        // sender's.
        let sender = packets.first().and_then(|p| {
            let any = p.as_any();
            any.downcast_ref::<SenderReport>()
                .map(|sr| sr.ssrc)
                .or_else(|| any.downcast_ref::<ReceiverReport>().map(|rr| rr.ssrc))
        });
        if !self.rtcp_source_ok(now, source, sender) {
            return;
        }
        for p in packets {
            let any = p.as_any();
            let reports = if let Some(sr) = any.downcast_ref::<SenderReport>() {
                self.receiver.on_sender_report(now, sr);
                &sr.reports
            } else if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
                &rr.reports
            } else {
                continue;
            };
            for r in reports.iter().filter(|r| r.ssrc == self.config.ssrc) {
                self.rtcp.remote_fraction_lost = Some(r.fraction_lost);
                // The peer's loss steers the encoder's redundancy (Opus FEC).
                if let Some(s) = self.session.as_mut() {
                    let percent = (u32::from(r.fraction_lost) * 100).div_ceil(256);
                    s.send.set_reported_loss(percent.min(100) as u8);
                }
                if let Some(rtt) = rtp::round_trip(now, &self.config.clock, r) {
                    self.rtcp.rtt = Some(rtt);
                }
            }
        }
    }

    /// Reports the native `no media` fault when a peer that should send stays silent.
    fn check_no_media(&mut self, now: Instant) {
        let connected = self.state == ChannelState::Connected;
        let Some(s) = self.session.as_mut() else {
            return;
        };
        if !connected || !s.neg.recv {
            s.last_media = None;
            return;
        }
        let since = *s.last_media.get_or_insert(now);
        if !s.no_media_reported && now.saturating_duration_since(since) >= NO_MEDIA_AFTER {
            s.no_media_reported = true;
            self.outputs.push_back(Output::Event(Event::Error {
                fault: Fault::NoMedia,
                text: format!(
                    "no media from the peer for {} s",
                    now.saturating_duration_since(since).as_secs()
                ),
            }));
        }
    }

    fn send_rtcp(&mut self, now: Instant) {
        if self.session.is_none() {
            return;
        }
        let reports: Vec<_> = self.receiver.reception_report(now).into_iter().collect();
        let report: Box<dyn rtc_rtcp::packet::Packet> =
            match self
                .sender
                .sender_report(now, &self.config.clock, reports.clone())
            {
                Some(sr) => Box::new(sr),
                None => Box::new(rtp::receiver_report(self.config.ssrc, reports)),
            };
        let data = rtp::compound(report, self.config.ssrc, &self.rtcp.cname);
        self.emit(now, &data, true);
    }
}
