//! Offer/answer (RFC 3264): our media section, the peer's, and the session they start.

use std::time::Instant;

use codecs::{CodecKind, Decoder, Encoder};
use protocol::media::{Codec, Coder, Direction, Media, MediaKind, SessionDesc, SetupRole};

use super::audio::Send;
use super::dtmf::DtmfQueue;
use super::latch::Latch;
use super::transport::{Protection, Route};
use super::{Channel, ChannelState, Session};
use crate::dtls::{Dtls, DtlsRole};
use crate::negotiate::{self, Negotiated, Security};
use crate::rtp::RtpSender;
use crate::srtp::{self, SrtpSession};
use crate::{Fault, MediaError};

/// Default dynamic payload types of the native client (`docs/protocol.md`, payload types).
const DEFAULT_OPUS_PT: u8 = 111;
const DEFAULT_DTMF_PT: u8 = 101;
const DEFAULT_DTMF_48K_PT: u8 = 110;

/// What our descriptions after the first must repeat or raise.
#[derive(Debug, Default)]
pub(super) struct LocalDesc {
    /// The mid of our media section: the offer's when we answered, `0` when we offered
    /// first; kept in every later description (a WebRTC peer matches sections by it).
    mid: Option<String>,
    /// Our section is in a BUNDLE group (the peer's offer had its mid in one).
    bundled: bool,
    /// `o=` version of our last description (RFC 3264 §8: +1 for each new one).
    version: u64,
    /// Our offer while no answer came: asked for again, it is repeated unchanged.
    pending_offer: Option<SessionDesc>,
}

impl Channel {
    /// A description of ours around `media`: our mid, our BUNDLE group (our own section
    /// only: the offer's other sections are rejected, and a rejected section is bundled
    /// with nothing), the next `o=` version.
    fn describe(&mut self, mut media: Media, offer: bool) -> SessionDesc {
        media.mid = self.local.mid.clone();
        self.local.version += 1;
        let desc = SessionDesc {
            bundle: match (&self.local.mid, self.local.bundled) {
                (Some(mid), true) => vec![mid.clone()],
                _ => Vec::new(),
            },
            media: vec![media],
            version: Some(self.local.version),
            ..SessionDesc::default()
        };
        self.local.pending_offer = offer.then(|| desc.clone());
        desc
    }

    /// Our media section: codecs (with payload types answered or our defaults), address,
    /// and what the security and transport mode need.
    fn local_media(&self, answer: Option<&Negotiated>) -> Media {
        let mut m = Media::new(MediaKind::Audio);
        let rtp = self.rtp_socket();
        m.addr = Some(rtp.ip().to_string());
        m.port = rtp.port();
        m.direction = self.direction;
        match answer {
            Some(n) => self.answer_media(&mut m, n),
            None => self.offer_media(&mut m),
        }
        m
    }

    fn with_rate(&self, mut c: Codec) -> Codec {
        let ptime = self.config.settings.ptime_ms;
        c.xmit = Some(ptime);
        c.rate = Some(ptime);
        c
    }

    /// The answer's section, or a new offer on a running session: what was negotiated.
    fn answer_media(&self, m: &mut Media, n: &Negotiated) {
        // RFC 3264 §6.1: an answer's direction is ours limited by the offer's
        // (sendonly → recvonly, inactive → inactive).
        let (ours_send, ours_recv) = match self.direction {
            Direction::SendRecv => (true, true),
            Direction::SendOnly => (true, false),
            Direction::RecvOnly => (false, true),
            Direction::Inactive => (false, false),
        };
        m.direction = match (ours_send && n.send, ours_recv && n.recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        };
        match &n.security {
            Security::Dtls { client, .. } => {
                m.fingerprint = self.config.certificate.as_ref().map(|c| c.fingerprint());
                m.setup = Some(if *client {
                    SetupRole::Active
                } else {
                    SetupRole::Passive
                });
            }
            Security::Sdes { .. } => m.crypto = self.local_sdes.iter().cloned().collect(),
            Security::Plain => {}
        }
        if n.ice.is_some() {
            self.add_local_ice(m);
        }
        m.codecs
            .push(self.with_rate(Codec::new(negotiate::coder(n.codec), n.pt)));
        if let Some(pt) = n.dtmf_pt {
            let mut c = Codec::new(Coder::Dtmf, pt);
            c.clock_rate = n.codec.rtp_clock_rate();
            m.codecs.push(c);
        }
        m.rtcp_mux = n.rtcp_mux;
        m.proto = match n.security {
            Security::Plain => "RTP/AVP".into(),
            Security::Sdes { .. } => "RTP/SAVP".into(),
            Security::Dtls { .. } => "UDP/TLS/RTP/SAVPF".into(),
        };
    }

    /// A first offer: everything we allow.
    fn offer_media(&self, m: &mut Media) {
        let settings = &self.config.settings;
        for kind in &settings.codecs {
            let coder = negotiate::coder(*kind);
            let pt = coder.default_pt().unwrap_or(DEFAULT_OPUS_PT);
            m.codecs.push(self.with_rate(Codec::new(coder, pt)));
        }
        if settings.dtmf {
            let mut clocks: Vec<u32> = settings.codecs.iter().map(|k| k.rtp_clock_rate()).collect();
            clocks.sort_unstable();
            clocks.dedup();
            for clock in clocks {
                let pt = if clock == 8000 {
                    DEFAULT_DTMF_PT
                } else {
                    DEFAULT_DTMF_48K_PT
                };
                let mut c = Codec::new(Coder::Dtmf, pt);
                c.clock_rate = clock;
                m.codecs.push(c);
            }
        }
        m.rtcp_mux = false;
        if settings.ice {
            self.add_local_ice(m);
        }
        if settings.dtls {
            m.fingerprint = self.config.certificate.as_ref().map(|c| c.fingerprint());
            m.setup = Some(crate::dtls::OFFER_SETUP);
        }
        if settings.sdes {
            m.crypto = self.local_sdes.iter().cloned().collect();
        }
        m.proto = protocol::media::default_proto(
            MediaKind::Audio,
            m.fingerprint.is_some(),
            !m.crypto.is_empty(),
        )
        .into();
    }

    /// ICE credentials and candidates, with rtcp-mux (ICE here always muxes).
    fn add_local_ice(&self, m: &mut Media) {
        if let Some(ice) = self.route.ice() {
            m.ice = Some(ice.local_credentials().clone());
            m.candidates = ice.local_candidates().to_vec();
            m.rtcp_mux = true;
        }
    }

    /// Makes an offer (we are the offerer; the answer goes to [`Channel::apply_answer`]).
    pub fn create_offer(&mut self) -> SessionDesc {
        self.offered = true;
        let media = self.local_media(None);
        // WebRTC peers key transceivers by mid (RFC 8843 §9.1, JSEP §5.2.1); a later
        // offer (hold) keeps the one the session has.
        if self.local.mid.is_none() {
            self.local.mid = Some("0".into());
        }
        self.describe(media, true)
    }

    /// Takes the peer's offer and returns our answer.
    pub fn accept_offer(
        &mut self,
        now: Instant,
        offer: &SessionDesc,
    ) -> Result<SessionDesc, MediaError> {
        let remote = offer
            .media(MediaKind::Audio)
            .ok_or_else(|| MediaError::Negotiation("the offer has no audio section".into()))?;
        // Our answer has the audio section only (video and data sections of the offer
        // are for the app to reject); it copies the offer's mid.
        let mid = remote.mid.clone();
        let bundled = mid.as_ref().is_some_and(|m| offer.bundle.contains(m));
        if self.session.is_some() {
            self.update_remote(now, remote)?;
            let neg = self.session.as_ref().map(|s| s.neg.clone());
            let media = self.local_media(neg.as_ref());
            (self.local.mid, self.local.bundled) = (mid, bundled);
            return Ok(self.describe(media, false));
        }
        let neg = negotiate::negotiate(&self.config.settings, remote, true)?;
        if let Security::Sdes { remote: key } = &neg.security {
            // Answer with the suite and tag of the key we accepted (RFC 4568 §7.1.2).
            let profile = srtp::check_sdes_key(key)
                .map_err(|e| MediaError::Negotiation(format!("SDES key: {e}")))?;
            self.local_sdes = Some(srtp::generate_sdes_key(profile, key.tag, &mut self.rng));
        }
        let media = self.local_media(Some(&neg));
        self.start(now, neg)?;
        (self.local.mid, self.local.bundled) = (mid, bundled);
        Ok(self.describe(media, false))
    }

    /// Takes the peer's answer to our offer.
    pub fn apply_answer(&mut self, now: Instant, answer: &SessionDesc) -> Result<(), MediaError> {
        if !self.offered {
            return Err(MediaError::State(
                "no offer was made on this channel".into(),
            ));
        }
        let remote = answer
            .media(MediaKind::Audio)
            .ok_or_else(|| MediaError::Negotiation("the answer has no audio section".into()))?;
        if self.session.is_some() {
            self.update_remote(now, remote)?;
        } else {
            let neg = negotiate::negotiate(&self.config.settings, remote, false)?;
            self.start(now, neg)?;
        }
        self.local.pending_offer = None;
        Ok(())
    }

    /// Refuses a description with more candidates than a channel takes.
    fn check_description_candidates(neg: &Negotiated) -> Result<(), MediaError> {
        let n = neg.ice.as_ref().map_or(0, |ri| ri.candidates.len());
        if n > super::MAX_REMOTE_CANDIDATES {
            return Err(MediaError::Negotiation(format!(
                "the description has {n} candidates (at most {})",
                super::MAX_REMOTE_CANDIDATES
            )));
        }
        Ok(())
    }

    /// A new remote description for a running channel (re-INVITE: hold/resume, ICE
    /// restart, new candidates). The codec and keys stay; a changed codec is refused.
    fn update_remote(&mut self, now: Instant, remote: &Media) -> Result<(), MediaError> {
        let answering = !self.offered;
        let neg = negotiate::negotiate(&self.config.settings, remote, answering)?;
        Self::check_description_candidates(&neg)?;
        let Some(s) = self.session.as_mut() else {
            return Err(MediaError::State("no running session".into()));
        };
        if (neg.codec, neg.pt) != (s.neg.codec, s.neg.pt) {
            return Err(MediaError::Negotiation(format!(
                "changing the codec of a running channel ({:?} → {:?}) is not supported",
                s.neg.codec, neg.codec
            )));
        }
        s.neg.send = neg.send;
        s.neg.recv = neg.recv;
        match &mut self.route {
            Route::Direct { rtp, rtcp } => {
                rtp.resignal(neg.remote_rtp, now);
                rtcp.resignal(neg.remote_rtcp, now);
            }
            Route::Ice(ice) => {
                if let Some(ri) = &neg.ice {
                    ice.set_remote_credentials(now, &ri.credentials, ri.lite)
                        .map_err(|e| MediaError::Negotiation(format!("ICE: {e}")))?;
                    add_remote_candidates(ice, &ri.candidates);
                }
            }
        }
        if let Some(ri) = &neg.ice {
            self.permit_remote(now, &ri.candidates);
        }
        if let Some(s) = self.session.as_mut() {
            s.neg.ice = neg.ice;
        }
        self.drive(now);
        Ok(())
    }

    /// ICE restart (RFC 8445 §9): new local credentials; returns the new offer to signal.
    pub fn restart_ice(&mut self, now: Instant) -> Result<SessionDesc, MediaError> {
        let credentials = crate::seed::ice_credentials(&mut self.rng);
        let ice = self
            .route
            .ice_mut()
            .ok_or_else(|| MediaError::State("the peer does no ICE".into()))?;
        ice.restart(now, Some(credentials))
            .map_err(|e| MediaError::State(format!("ICE restart: {e}")))?;
        self.offered = true;
        let media = self.running_offer_media();
        self.drive(now);
        Ok(self.describe(media, true))
    }

    /// A new offer for the session as it is (RFC 3264 §8): the same ICE credentials,
    /// fingerprint, codec and direction, only the `o=` version raised; for renegotiation
    /// without hold or ICE restart. The peer's answer goes to [`Channel::apply_answer`].
    /// While an offer of ours waits for its answer, that offer again, unchanged (same
    /// version: RFC 3264 §8 makes an unchanged version mean the identical description).
    pub fn reoffer(&mut self) -> Result<SessionDesc, MediaError> {
        if let Some(pending) = &self.local.pending_offer {
            return Ok(pending.clone());
        }
        if self.session.is_none() {
            return Err(MediaError::State(
                "no offer or answer was made on this channel".into(),
            ));
        }
        self.offered = true;
        let media = self.running_offer_media();
        Ok(self.describe(media, true))
    }

    /// Our section in an offer on a running session: what was negotiated, our own
    /// direction (an offer states ours, not the answer's), and for DTLS the same fingerprint
    /// with `actpass` (RFC 8842 §5.5: the association is kept).
    fn running_offer_media(&self) -> Media {
        let neg = self.session.as_ref().map(|s| s.neg.clone());
        let mut media = self.local_media(neg.as_ref());
        if neg.is_some() {
            media.direction = self.direction;
            if media.fingerprint.is_some() {
                media.setup = Some(crate::dtls::OFFER_SETUP);
            }
        }
        media
    }

    /// A trickled remote candidate (RFC 8838); at most [`super::MAX_REMOTE_CANDIDATES`].
    pub fn add_remote_candidate(
        &mut self,
        now: Instant,
        c: &protocol::media::Candidate,
    ) -> Result<(), MediaError> {
        let Some(ice) = self.route.ice() else {
            return Err(MediaError::State("the peer does no ICE".into()));
        };
        if !ice.knows_remote(c) {
            self.check_candidate_room(1)?;
        }
        if let Some(ice) = self.route.ice_mut() {
            ice.add_remote_candidate(c)
                .map_err(|e| MediaError::Negotiation(format!("candidate {}: {e}", c.addr)))?;
        }
        self.permit_remote(now, [c]);
        self.drive(now);
        Ok(())
    }

    /// Starts the session the first description pair negotiated.
    pub(super) fn start(&mut self, now: Instant, neg: Negotiated) -> Result<(), MediaError> {
        if self.session.is_some() {
            return Err(MediaError::State(
                "the channel already has a remote description".into(),
            ));
        }
        tracing::debug!(
            codec = ?neg.codec,
            pt = neg.pt,
            dtmf_pt = ?neg.dtmf_pt,
            ptime = neg.ptime_ms,
            "negotiated"
        );
        Self::check_description_candidates(&neg)?;
        let kind = neg.codec;
        let encoder: Box<dyn Encoder> = match kind {
            CodecKind::OpusNb | CodecKind::OpusWb => {
                Box::new(codecs::opus::Encoder::new(kind, self.config.opus.clone())?)
            }
            _ => codecs::encoder(kind)?,
        };
        // Until the peer's first report the encoder keeps its configured redundancy (Opus:
        // FEC for 10 % loss): a call that starts lossy is protected at once, and a clean
        // one sheds it after the first RTCP report.
        let decoder: Box<dyn Decoder> = codecs::decoder(kind)?;
        self.sender = RtpSender::new(
            self.config.ssrc,
            self.config.first_seq,
            kind.rtp_clock_rate(),
        );
        let jitter =
            jitter::JitterBuffer::new(decoder, kind.rtp_clock_rate(), self.config.jitter.clone());
        let protection = self.protection_for(now, &neg)?;
        self.start_route(now, &neg)?;
        self.protection = protection;
        self.session = Some(Session {
            send: Send::new(encoder, kind, neg.ptime_ms, self.config.first_timestamp),
            jitter,
            dtmf: DtmfQueue::default(),
            dtmf_in_reported: None,
            last_media: None,
            no_media_reported: false,
            neg,
        });
        self.rtcp.start(now, &mut self.rng);
        self.set_state(ChannelState::Connecting);
        self.drive(now);
        Ok(())
    }

    /// ICE with the peer's credentials and candidates, or the direct route.
    fn start_route(&mut self, now: Instant, neg: &Negotiated) -> Result<(), MediaError> {
        match (&neg.ice, &mut self.route) {
            (Some(ri), Route::Ice(ice)) => {
                // The offerer controls (RFC 8445 §6.1.1); a lite peer makes us control.
                ice.set_controlling(self.offered || ri.lite);
                ice.set_remote_credentials(now, &ri.credentials, ri.lite)
                    .map_err(|e| MediaError::Negotiation(format!("ICE: {e}")))?;
                add_remote_candidates(ice, &ri.candidates);
                self.permit_remote(now, &ri.candidates);
            }
            (_, route) => {
                if let Route::Ice(ice) = route {
                    ice.close();
                }
                *route = Route::Direct {
                    rtp: Latch::rtp(neg.remote_rtp, now),
                    rtcp: Latch::rtcp(neg.remote_rtcp, now),
                };
                // Candidates are of no use to a peer without ICE: free the allocations.
                self.gathering.gatherer.close(now);
            }
        }
        Ok(())
    }

    /// The protection the negotiation chose, with its keys or its DTLS endpoint.
    fn protection_for(&self, now: Instant, neg: &Negotiated) -> Result<Protection, MediaError> {
        Ok(match &neg.security {
            Security::Dtls {
                remote_fingerprint,
                client,
            } => {
                let cert = self.config.certificate.as_ref().ok_or_else(|| {
                    MediaError::State("DTLS-SRTP negotiated without a certificate".into())
                })?;
                let role = if *client {
                    DtlsRole::Client
                } else {
                    DtlsRole::Server
                };
                let dtls = Dtls::new(role, cert, remote_fingerprint.clone(), now).map_err(|e| {
                    MediaError::Fault {
                        fault: Fault::DtlsFailed,
                        text: e.to_string(),
                    }
                })?;
                Protection::Dtls {
                    dtls: Box::new(dtls),
                    srtp: None,
                }
            }
            Security::Sdes { remote } => {
                let local = self.local_sdes.as_ref().ok_or_else(|| {
                    MediaError::State("SDES negotiated without a local key".into())
                })?;
                Protection::Sdes(Box::new(
                    SrtpSession::from_sdes(local, remote)
                        .map_err(|e| MediaError::Negotiation(format!("SDES keys: {e}")))?,
                ))
            }
            Security::Plain => Protection::Plain,
        })
    }
}

/// Adds a description's candidates; one the agent cannot use is skipped.
fn add_remote_candidates(
    ice: &mut crate::ice::IceAgent,
    candidates: &[protocol::media::Candidate],
) {
    for c in candidates {
        if let Err(e) = ice.add_remote_candidate(c) {
            tracing::debug!("remote candidate {}: {e}", c.addr);
        }
    }
}
