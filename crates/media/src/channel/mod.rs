//! One audio channel: the sans-IO state machine behind an `AllocChannel`.
//!
//! The caller (the tokio [`driver`](crate::driver) in the product, a test loop in the unit
//! tests) owns the sockets and the clock:
//!
//! * datagrams in: [`Channel::handle_datagram`]; timers: [`Channel::poll_timeout`] /
//!   [`Channel::handle_timeout`];
//! * datagrams and events out: [`Channel::poll_output`];
//! * audio in and out in 10 ms blocks at the codec's PCM rate: [`Channel::send_audio`],
//!   [`Channel::pull_audio`].
//!
//! Every random value (ICE credentials, SDES keys, CNAME, RTCP interval) comes from the
//! [`Seed`] in the config, so a test repeats exactly.
//!
//! | file | concern |
//! |---|---|
//! | `mod.rs` | the types, construction, timers, the state and what drives ICE and DTLS |
//! | `offer_answer.rs` | our descriptions, the peer's, and starting the session |
//! | `transport.rs` | the route (ICE or direct), protection (SRTP), candidate gathering |
//! | `latch.rs` | where plain RTP and RTCP may come from (symmetric RTP without RTP Bleed) |
//! | `rtp_in.rs` | received datagrams: demux, SRTP, RTP receiver, recording tap, jitter buffer |
//! | `audio.rs` | audio in and out: encoding and packetising, playout |
//! | `rtcp.rs` | RTCP reports out and in, the no-media fault |
//! | `dtmf.rs` | RFC 4733 events out: the digit queue |
//!
//! The path a received datagram takes is chosen by its first byte (RFC 7983) and the mode
//! negotiated in [`negotiate`](crate::negotiate): STUN to ICE, DTLS records to the DTLS
//! endpoint, RTP/RTCP through SRTP (when keyed) to the RTP receiver, the jitter buffer and
//! the DTMF detector.
//!
//! Server-reflexive and relay candidates (RFC 8445 §5.1.1.2) come from the STUN/TURN
//! servers of `AllocChannel.iceServers`, resolved by the caller into
//! [`ChannelConfig::ice_servers`]; the gatherer starts in [`Channel::new`]. A datagram
//! from one of those servers goes to the gatherer before the demux above: TURN control is
//! consumed there, and data relayed from a peer comes back unwrapped and takes the normal
//! path as if it had arrived on the relayed address. Everything we send from a relayed
//! address (ICE checks, DTLS, SRTP) is wrapped for its server (Send indication or
//! ChannelData, RFC 5766 §10–11). New candidates are trickled as [`Event::LocalCandidate`]
//! (RFC 8838) and [`Event::GatheringComplete`] follows when every server has answered or
//! failed. TURN over TCP needs a connection the owner opens on [`Output::Connect`].

mod audio;
mod dtmf;
mod latch;
mod offer_answer;
mod rtcp;
mod rtp_in;
mod transport;

#[cfg(test)]
mod hardening_tests;
#[cfg(test)]
mod reoffer_tests;
#[cfg(test)]
mod robustness;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use protocol::media::{Candidate, Direction, SdesKey};
use rand::rngs::StdRng;

use crate::dtls::{Certificate, DtlsEvent};
use crate::gather::IceServers;
use crate::ice::{IceAgent, IceConfig, IceEvent, IceState};
use crate::negotiate::{Negotiated, Settings};
use crate::rtp::{Clock, ReceiveStats, RtpReceiver, RtpSender};
use crate::seed::{self, Seed};
use crate::srtp::{self, SrtpProfile, SrtpStats};
use crate::transmit::Transport;
use crate::{Fault, MediaError};

pub use dtmf::{DEFAULT_DTMF_GAP_MS, MAX_QUEUED_DIGITS};
pub use rtp_in::MAX_RECORDING_BYTES;
pub use transport::MAX_REMOTE_CANDIDATES;

use audio::Send;
use dtmf::DtmfQueue;
use rtcp::Rtcp;
use rtp_in::Recorder;
use transport::{Gathering, Protection, Route};

/// One local socket the driver bound for this channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalSocket {
    /// Its address.
    pub addr: SocketAddr,
    /// It is the RTCP socket of a non-muxed pair (port+1).
    pub rtcp: bool,
}

/// Everything a channel is made from. Random values come from `seed`, so tests repeat.
#[derive(Clone, Debug)]
pub struct ChannelConfig {
    /// What we allow and prefer.
    pub settings: Settings,
    /// Bound sockets; the first RTP socket is the default address.
    pub sockets: Vec<LocalSocket>,
    /// Seeds the channel's random values: ICE credentials, SDES keys, the RTCP CNAME
    /// (random per channel, RFC 7022) and the RTCP interval.
    pub seed: Seed,
    /// Our SSRC.
    pub ssrc: u32,
    /// First sequence number.
    pub first_seq: u16,
    /// First RTP timestamp.
    pub first_timestamp: u32,
    /// Wall-clock mapping for sender reports.
    pub clock: Clock,
    /// Opus encoder settings.
    pub opus: codecs::opus::Settings,
    /// Jitter buffer settings.
    pub jitter: jitter::Config,
    /// Our DTLS certificate; required when `settings.dtls` (one per app run is fine).
    pub certificate: Option<Certificate>,
    /// ICE timers; credentials left `None` are drawn from the seed.
    pub ice: IceConfig,
    /// STUN/TURN servers for srflx and relay candidates, already resolved (see
    /// [`crate::driver::resolve_servers`]); empty: host candidates only.
    pub ice_servers: IceServers,
}

/// Where a channel is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelState {
    /// Local description made, no remote one yet.
    New,
    /// Remote description applied; connectivity (ICE/DTLS) in progress.
    Connecting,
    /// Media may flow.
    Connected,
    /// Failed for good (an error event says why).
    Failed,
    /// Closed by the owner.
    Closed,
}

/// Something the owner should know.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// The state changed.
    State(ChannelState),
    /// A DTMF digit ended (RFC 4733), with its duration.
    Dtmf {
        /// `0`–`9`, `*`, `#`, `A`–`D`.
        digit: char,
        /// How long it was pressed.
        duration_ms: u32,
    },
    /// Plain RTP: we now send to where the peer's packets come from (symmetric RTP), once,
    /// early in the call (see the `latch` rule).
    Latched {
        /// The new RTP destination.
        rtp: SocketAddr,
    },
    /// A local candidate learnt after the channel was made (srflx from a STUN server,
    /// relay from a TURN server): trickle it to the peer (RFC 8838). Descriptions made from
    /// now on carry it too.
    LocalCandidate(Candidate),
    /// Every STUN/TURN server has answered or failed (at once without servers): an owner
    /// that does not trickle makes its description after this.
    GatheringComplete,
    /// Something went wrong; fatal faults also move the state to `Failed`. A STUN/TURN
    /// server that gives nothing (`StunFailed`, `StunDns`) is not fatal: the call goes on
    /// with the other candidates; nor is a full recording tap (`RecordingFailed`).
    Error {
        /// Native fault code.
        fault: Fault,
        /// What happened.
        text: String,
    },
}

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// `Udp`: from the socket bound to `from`. `Tcp`: one framed TURN message on the
    /// connection `from` → `to` opened for [`Output::Connect`].
    pub transport: Transport,
    /// The local socket to send from.
    pub from: SocketAddr,
    /// The destination.
    pub to: SocketAddr,
    /// The bytes.
    pub data: Vec<u8>,
}

/// What [`Channel::poll_output`] gives.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Send a datagram.
    Transmit(Transmit),
    /// Open a TCP connection to this TURN server (`turn:…?transport=tcp`), then report it
    /// with [`Channel::handle_connected`] or [`Channel::handle_connect_failed`].
    Connect {
        /// The server's address.
        server: SocketAddr,
    },
    /// Tell the owner.
    Event(Event),
}

/// Statistics for stats events.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChannelStats {
    /// Our SSRC.
    pub local_ssrc: u32,
    /// RTP packets sent.
    pub packets_sent: u32,
    /// RTP payload octets sent.
    pub octets_sent: u32,
    /// RFC 3550 receive statistics.
    pub received: ReceiveStats,
    /// Round-trip time from the last report about our stream.
    pub rtt_ms: Option<f64>,
    /// The peer's view of our stream: fraction lost (0–1) in its last report.
    pub remote_fraction_lost: Option<f64>,
    /// Jitter buffer state.
    pub jitter: Option<jitter::Stats>,
    /// Datagrams that were not RTP/RTCP/STUN/DTLS, or did not parse.
    pub garbage: u64,
    /// RTP packets with a payload type we did not negotiate.
    pub wrong_pt: u64,
    /// DTMF digits received.
    pub dtmf_received: u64,
    /// Decoded 10 ms blocks that carried packets (not concealment or silence).
    pub blocks_played: u64,
    /// SRTP counters, including replayed and unauthenticated packets dropped.
    pub srtp: Option<SrtpStats>,
    /// ICE state, when the peer does ICE.
    pub ice: Option<IceState>,
    /// Media packets dropped because they came from an address ICE has not checked, or,
    /// without ICE, from an address other than the peer's (see the `latch` rule).
    pub unchecked_source: u64,
    /// Received packets the recording tap had no room for.
    pub recording_dropped: u64,
    /// The selected ICE pair or the direct destination: (local, remote).
    pub path: Option<(SocketAddr, SocketAddr)>,
}

/// A received audio packet, as the recording tap keeps it (after SRTP, before the jitter
/// buffer): for recording calls, and for judging a decoder against the same packets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedPacket {
    /// Arrival time.
    pub at: Instant,
    /// RTP sequence number.
    pub seq: u16,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Codec payload.
    pub payload: Vec<u8>,
}

/// The negotiated, running media session.
struct Session {
    neg: Negotiated,
    send: Send,
    jitter: jitter::JitterBuffer,
    dtmf: DtmfQueue,
    /// RTP timestamp of the last DTMF event reported, to report each digit once.
    dtmf_in_reported: Option<u32>,
    /// Last accepted media packet (or when media became possible), for the no-media fault.
    last_media: Option<Instant>,
    /// The no-media fault was reported for the current silence.
    no_media_reported: bool,
}

/// One audio channel.
pub struct Channel {
    config: ChannelConfig,
    state: ChannelState,
    session: Option<Session>,
    /// Offer we made, kept to interpret the answer.
    offered: bool,
    direction: Direction,
    muted: bool,
    /// The microphone is replaced by silence, which is still sent ([`Channel::set_silent`]).
    silent: bool,
    sender: RtpSender,
    receiver: RtpReceiver,
    rtcp: Rtcp,
    outputs: VecDeque<Output>,
    stats: ChannelStats,
    /// ICE, or the peer's addresses when it does no ICE.
    route: Route,
    /// SRTP, and the DTLS endpoint that keys it.
    protection: Protection,
    /// Our SDES key (offered, or made to match the peer's suite when answering).
    local_sdes: Option<SdesKey>,
    /// Received audio packets while recording is on.
    recording: Option<Recorder>,
    /// srflx and relay candidates, and the TURN relays.
    gathering: Gathering,
    /// Every random value after construction.
    rng: StdRng,
    /// What later descriptions of ours must repeat or raise (mid, BUNDLE, o= version).
    local: offer_answer::LocalDesc,
}

impl Channel {
    /// A channel over the given sockets.
    pub fn new(config: ChannelConfig, now: Instant) -> Result<Channel, MediaError> {
        if !config.sockets.iter().any(|s| !s.rtcp) {
            return Err(MediaError::Network("a channel needs an RTP socket".into()));
        }
        if config.settings.codecs.is_empty() {
            return Err(MediaError::Negotiation("no codec enabled".into()));
        }
        if config.settings.dtls && config.certificate.is_none() {
            return Err(MediaError::State(
                "DTLS-SRTP is enabled but no certificate was given".into(),
            ));
        }
        let mut rng = config.seed.rng();
        let cname = seed::cname(&mut rng);
        // The agent exists from the start: its credentials and host candidates go into
        // our offer, and an answer to a peer that does ICE needs them too. ICE runs on the
        // RTP sockets only (rtcp-mux, RFC 8843 §9.3 as WebRTC requires).
        let mut ice_config = config.ice.clone();
        if ice_config.credentials.is_none() {
            ice_config.credentials = Some(seed::ice_credentials(&mut rng));
        }
        let mut ice = IceAgent::new(now, ice_config)
            .map_err(|e| MediaError::Network(format!("ICE agent: {e}")))?;
        for s in config.sockets.iter().filter(|s| !s.rtcp) {
            ice.add_local_host(s.addr)
                .map_err(|e| MediaError::Network(format!("host candidate {}: {e}", s.addr)))?;
        }
        let local_sdes = if config.settings.sdes {
            Some(srtp::generate_sdes_key(
                SrtpProfile::Aes128CmSha1_80,
                1,
                &mut rng,
            ))
        } else {
            None
        };
        let mut channel = Channel {
            gathering: Gathering::default(),
            route: Route::Ice(ice),
            protection: Protection::Plain,
            local_sdes,
            recording: None,
            sender: RtpSender::new(config.ssrc, config.first_seq, 8000),
            rtcp: Rtcp::new(cname),
            config,
            state: ChannelState::New,
            session: None,
            offered: false,
            local: offer_answer::LocalDesc::default(),
            direction: Direction::SendRecv,
            muted: false,
            silent: false,
            receiver: RtpReceiver::default(),
            outputs: VecDeque::new(),
            stats: ChannelStats::default(),
            rng,
        };
        channel.start_gathering(now);
        Ok(channel)
    }

    /// The state.
    pub fn state(&self) -> ChannelState {
        self.state
    }

    fn set_state(&mut self, state: ChannelState) {
        if self.state != state {
            self.state = state;
            self.outputs.push_back(Output::Event(Event::State(state)));
        }
    }

    /// Our direction (hold: `SendOnly`/`Inactive`); takes effect at once for sending. The
    /// new local description must still be signalled by the owner.
    pub fn set_direction(&mut self, direction: Direction) {
        self.direction = direction;
    }

    /// Mute: keep the stream (timestamps advance, RTCP continues) but send no audio.
    pub fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
    }

    /// Silence instead of the microphone, still encoded and sent: what a disabled
    /// `MediaStreamTrack` gives a WebRTC sender (W3C mediacapture-main, `enabled`: a
    /// disabled audio track renders silence), so the peer's jitter buffer and its RFC 4733
    /// timing see an unbroken stream.
    pub fn set_silent(&mut self, silent: bool) {
        self.silent = silent;
    }

    /// Moves what ICE and DTLS want to send and report into the outputs, and updates the
    /// channel state. Called after every input.
    fn drive(&mut self, now: Instant) {
        // New local candidates first, so the checks they start go out below.
        self.poll_gatherer(now);
        if let Some(ice) = self.route.ice_mut() {
            let transmits: Vec<_> = std::iter::from_fn(|| ice.poll_transmit()).collect();
            let events: Vec<IceEvent> = std::iter::from_fn(|| ice.poll_event()).collect();
            for e in events {
                match e {
                    IceEvent::State(IceState::Failed) => {
                        self.outputs.push_back(Output::Event(Event::Error {
                            fault: Fault::IceFailed,
                            text: "ICE failed: no candidate pair works, or consent expired".into(),
                        }));
                        self.set_state(ChannelState::Failed);
                    }
                    IceEvent::Writable { local, remote } | IceEvent::Selected { local, remote } => {
                        self.stats.path = Some((local, remote));
                    }
                    IceEvent::State(_) | IceEvent::RoleChanged { .. } => {}
                }
            }
            for t in transmits {
                self.send_datagram(now, t.local, t.remote, t.data.to_vec());
            }
        }
        // DTLS goes out on the first writable ICE pair at once (no wait for the agent's
        // tick), or straight to the peer's address without ICE.
        let dtls_path = self.route.media_pair(self.rtp_socket());
        if let (Some(dtls), Some((from, to))) = (self.protection.dtls_mut(), dtls_path) {
            let records: Vec<Vec<u8>> = std::iter::from_fn(|| dtls.poll_transmit()).collect();
            for data in records {
                self.send_datagram(now, from, to, data);
            }
        }
        let dtls_events: Vec<DtlsEvent> = match self.protection.dtls_mut() {
            Some(dtls) => std::iter::from_fn(|| dtls.poll_event()).collect(),
            None => Vec::new(),
        };
        for e in dtls_events {
            match e {
                DtlsEvent::Connected { srtp } => self.protection.keyed(*srtp),
                DtlsEvent::Failed(err) => {
                    self.outputs.push_back(Output::Event(Event::Error {
                        fault: Fault::DtlsFailed,
                        text: format!("DTLS-SRTP failed: {err}"),
                    }));
                    self.set_state(ChannelState::Failed);
                }
                DtlsEvent::Closed => tracing::debug!("DTLS closed by the peer"),
            }
        }
        if self.state == ChannelState::Connecting && self.media_ready() {
            self.set_state(ChannelState::Connected);
        }
        self.poll_gatherer(now);
    }

    /// The next instant [`Channel::handle_timeout`] wants to be called.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let ice = self.route.ice_mut().and_then(|i| i.poll_timeout());
        let dtls = self.protection.dtls_mut().and_then(|d| d.poll_timeout());
        let dtmf = self.session.as_ref().and_then(|s| s.dtmf.poll_timeout());
        let gather = self.gathering.gatherer.poll_timeout();
        [self.rtcp.poll_timeout(), dtmf, ice, dtls, gather]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(ice) = self.route.ice_mut()
            && ice.poll_timeout().is_some_and(|t| t <= now)
        {
            ice.handle_timeout(now);
        }
        if let Some(dtls) = self.protection.dtls_mut()
            && dtls.poll_timeout().is_some_and(|t| t <= now)
        {
            dtls.handle_timeout(now);
        }
        if self
            .gathering
            .gatherer
            .poll_timeout()
            .is_some_and(|t| t <= now)
        {
            self.gathering.gatherer.handle_timeout(now);
        }
        self.drive(now);
        self.flush_dtmf(now);
        self.handle_rtcp_timeout(now);
    }

    /// Next datagram to send or event to report.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// Current statistics.
    pub fn stats(&self) -> ChannelStats {
        let clock = self
            .session
            .as_ref()
            .map_or(8000, |s| s.neg.codec.rtp_clock_rate());
        ChannelStats {
            local_ssrc: self.config.ssrc,
            packets_sent: self.sender.packets(),
            octets_sent: self.sender.octets(),
            received: self.receiver.stats(clock),
            rtt_ms: self.rtcp.rtt.map(|d| d.as_secs_f64() * 1000.0),
            remote_fraction_lost: self.rtcp.remote_fraction_lost.map(|f| f64::from(f) / 256.0),
            jitter: self.session.as_ref().map(|s| s.jitter.stats()),
            srtp: self.protection.srtp_stats(),
            ice: self.route.ice().map(|i| i.state()),
            path: self.route.media_pair(self.rtp_socket()),
            ..self.stats.clone()
        }
    }

    /// Closes the channel; nothing is sent after this.
    pub fn close(&mut self, now: Instant) {
        if let Some(dtls) = self.protection.dtls_mut() {
            // close_notify (RFC 6347 §4.2.7 via RFC 5246 §7.2.1), sent by `drive`.
            dtls.close(now);
        }
        self.drive(now);
        // Deallocations (RFC 5766 §7: Refresh with lifetime 0), after close_notify.
        self.gathering.gatherer.close(now);
        self.flush_gatherer();
        self.gathering.connecting.clear();
        if let Some(ice) = self.route.ice_mut() {
            ice.close();
        }
        self.session = None;
        self.set_state(ChannelState::Closed);
    }
}
