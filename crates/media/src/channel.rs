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
//! The path a received datagram takes is chosen by its first byte (RFC 7983) and the mode
//! negotiated in [`negotiate`]: STUN to ICE, DTLS records to the DTLS
//! endpoint, RTP/RTCP through SRTP (when keyed) to the RTP receiver, the jitter buffer and
//! the DTMF detector.
//!
//! Server-reflexive and relay candidates (RFC 8445 §5.1.1.2) come from the STUN/TURN
//! servers of `AllocChannel.iceServers`, resolved by the caller into
//! [`ChannelConfig::ice_servers`]; the [`Gatherer`] starts in [`Channel::new`]. A datagram
//! from one of those servers goes to the gatherer before the demux above: TURN control is
//! consumed there, and data relayed from a peer comes back unwrapped and takes the normal
//! path as if it had arrived on the relayed address. Everything we send from a relayed
//! address (ICE checks, DTLS, SRTP) is wrapped for its server (Send indication or
//! ChannelData, RFC 5766 §10–11). New candidates are trickled as [`Event::LocalCandidate`]
//! (RFC 8838) and [`Event::GatheringComplete`] follows when every server has answered or
//! failed. TURN over TCP needs a connection the owner opens on [`Output::Connect`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use codecs::dtmf::{EventPacket, Sender as DtmfSender, TelephoneEvent};
use codecs::{CodecKind, Decoder, Encoder};
use protocol::media::{
    Candidate, Codec, Coder, Direction, Media, MediaKind, SdesKey, SessionDesc, SetupRole,
};
use rtc_rtcp::receiver_report::ReceiverReport;
use rtc_rtcp::sender_report::SenderReport;

use crate::demux::{self, Datagram};
use crate::dtls::{Certificate, Dtls, DtlsEvent, DtlsRole};
use crate::gather::{GatherError, GatherEvent, Gatherer, IceServers, Input, ServerSpec};
use crate::ice::{IceAgent, IceConfig, IceEvent, IceState};
use crate::negotiate::{self, Negotiated, Security, Settings};
use crate::rtp::{self, Arrival, Clock, ReceiveStats, RtpReceiver, RtpSender};
use crate::srtp::{self, SrtpProfile, SrtpSession, SrtpStats};
use crate::transmit::Transport;
use crate::{Fault, MediaError};

/// Silence from a peer that should send, after which the no-media fault is reported
/// (once per silence; the call goes on: the peer may be on a mute-by-silence device).
const NO_MEDIA_AFTER: Duration = Duration::from_secs(10);
/// RFC 3550 §6.2: minimum RTCP interval.
const RTCP_INTERVAL: Duration = Duration::from_secs(5);
/// How long a latched source must be silent before another one may take over (symmetric
/// RTP, RFC 4961): protects against a stray packet hijacking the stream.
const RELATCH_AFTER: Duration = Duration::from_millis(500);
/// Default dynamic payload types of the native client (public-protocols.md §9.2).
const DEFAULT_OPUS_PT: u8 = 111;
const DEFAULT_DTMF_PT: u8 = 101;
const DEFAULT_DTMF_48K_PT: u8 = 110;
/// DTMF digit length and update interval we send (RFC 4733 §2.5.1.2 suggests 50 ms updates).
const DTMF_INTERVAL_MS: u32 = 50;
/// DTMF volume, −dBm0 (RFC 4733 §2.3.4).
const DTMF_VOLUME: u8 = 10;

/// One local socket the driver bound for this channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalSocket {
    /// Its address.
    pub addr: SocketAddr,
    /// It is the RTCP socket of a non-muxed pair (port+1).
    pub rtcp: bool,
}

/// Everything a channel is made from. Random values are passed in so tests repeat.
#[derive(Clone, Debug)]
pub struct ChannelConfig {
    /// What we allow and prefer.
    pub settings: Settings,
    /// Bound sockets; the first RTP socket is the default address.
    pub sockets: Vec<LocalSocket>,
    /// RTCP CNAME (RFC 7022: random per channel is fine).
    pub cname: String,
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
    /// ICE timers and credentials.
    pub ice: IceConfig,
    /// STUN/TURN servers for srflx and relay candidates, already resolved (see
    /// [`crate::gather::resolve_servers`]); empty: host candidates only.
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
    /// Plain RTP: we now send to where the peer's packets come from (symmetric RTP).
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
    /// with the other candidates.
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
    /// Media packets dropped because they came from an address ICE has not checked.
    pub unchecked_source: u64,
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

/// Sending half of the audio path.
struct Send {
    encoder: Box<dyn Encoder>,
    /// PCM waiting for a full packet.
    pending: Vec<i16>,
    samples_per_packet: usize,
    /// RTP timestamp units per packet.
    ts_per_packet: u32,
    /// RTP timestamp of the next packet.
    timestamp: u32,
    /// Next packet starts a talk spurt (marker bit, RFC 3551 §4.1).
    marker: bool,
    payload: Vec<u8>,
}

/// A DTMF digit being sent: its packets, and the RTP timestamp and start time.
struct DtmfOut {
    packets: VecDeque<EventPacket>,
    timestamp: u32,
    start: Instant,
    clock_rate: u32,
}

/// The negotiated, running media session.
struct Session {
    neg: Negotiated,
    send: Send,
    jitter: jitter::JitterBuffer,
    /// The current RTP (and RTCP) destination for direct (non-ICE) transport.
    rtp_to: Option<SocketAddr>,
    rtcp_to: Option<SocketAddr>,
    /// When the latched source last sent.
    last_from_peer: Option<Instant>,
    dtmf_out: Option<DtmfOut>,
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
    sender: RtpSender,
    receiver: RtpReceiver,
    next_rtcp: Option<Instant>,
    rtt: Option<Duration>,
    remote_fraction_lost: Option<u8>,
    outputs: VecDeque<Output>,
    stats: ChannelStats,
    /// ICE agent; dropped when the peer does no ICE.
    ice: Option<IceAgent>,
    /// DTLS endpoint in DTLS-SRTP mode.
    dtls: Option<Dtls>,
    /// SRTP, once keyed (SDES at once, DTLS after the handshake).
    srtp: Option<SrtpSession>,
    /// Our SDES key (offered, or made to match the peer's suite when answering).
    local_sdes: Option<SdesKey>,
    /// Received audio packets while recording is on.
    recording: Option<Vec<RecordedPacket>>,
    /// srflx and relay candidates, and the TURN relays.
    gatherer: Gatherer,
    /// TURN-over-TCP servers waiting for the owner's connection.
    connecting: Vec<(ServerSpec, SocketAddr)>,
    /// `GatheringComplete` was reported.
    gathered: bool,
    /// Remote candidate addresses: each relay permits them (RFC 5766 §8).
    remote_addrs: Vec<SocketAddr>,
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
        // The agent exists from the start: its credentials and host candidates go into
        // our offer, and an answer to a peer that does ICE needs them too. ICE runs on the
        // RTP sockets only (rtcp-mux, RFC 8843 §9.3 as WebRTC requires).
        let mut ice = IceAgent::new(now, config.ice.clone())
            .map_err(|e| MediaError::Network(format!("ICE agent: {e}")))?;
        for s in config.sockets.iter().filter(|s| !s.rtcp) {
            ice.add_local_host(s.addr)
                .map_err(|e| MediaError::Network(format!("host candidate {}: {e}", s.addr)))?;
        }
        let local_sdes = if config.settings.sdes {
            Some(
                srtp::generate_sdes_key(SrtpProfile::Aes128CmSha1_80, 1)
                    .map_err(|e| MediaError::State(format!("SDES key: {e}")))?,
            )
        } else {
            None
        };
        let mut channel = Channel {
            gatherer: Gatherer::default(),
            connecting: Vec::new(),
            gathered: false,
            remote_addrs: Vec::new(),
            ice: Some(ice),
            dtls: None,
            srtp: None,
            local_sdes,
            recording: None,
            sender: RtpSender::new(config.ssrc, config.first_seq, 8000),
            config,
            state: ChannelState::New,
            session: None,
            offered: false,
            direction: Direction::SendRecv,
            muted: false,
            receiver: RtpReceiver::default(),
            next_rtcp: None,
            rtt: None,
            remote_fraction_lost: None,
            outputs: VecDeque::new(),
            stats: ChannelStats::default(),
        };
        channel.start_gathering(now);
        Ok(channel)
    }

    /// Asks every configured server for candidates: STUN and TURN over UDP from each RTP
    /// socket of the server's IP family, TURN over TCP once the owner has connected.
    fn start_gathering(&mut self, now: Instant) {
        let servers = self.config.ice_servers.clone();
        for e in servers.errors {
            self.gather_error(e);
        }
        let locals: Vec<SocketAddr> = self
            .config
            .sockets
            .iter()
            .filter(|s| !s.rtcp)
            .map(|s| s.addr)
            .collect();
        for s in servers.servers {
            let url = s.spec.url.clone();
            let Some(&first) = s.addrs.first() else {
                self.gather_error(GatherError::Resolve {
                    url,
                    reason: "no address".into(),
                });
                continue;
            };
            // One address per family the sockets have; the first of the resolver's list.
            let server_for = |local: &SocketAddr| {
                s.addrs
                    .iter()
                    .copied()
                    .find(|a| a.is_ipv4() == local.is_ipv4())
            };
            if s.spec.transport() == Transport::Tcp {
                let has_credentials = s.spec.username.as_deref().is_some_and(|u| !u.is_empty())
                    && s.spec.credential.is_some();
                if !has_credentials {
                    self.gather_error(GatherError::NoCredentials { url });
                    continue;
                }
                let server = locals.iter().find_map(server_for).unwrap_or(first);
                self.connecting.push((s.spec.clone(), server));
                self.outputs.push_back(Output::Connect { server });
                continue;
            }
            let mut error = None;
            let mut started = false;
            for local in &locals {
                let Some(server) = server_for(local) else {
                    continue;
                };
                match self.gatherer.add_server(now, &s.spec, server, *local) {
                    Ok(_) => started = true,
                    Err(e) => error = Some(e),
                }
            }
            if !started {
                let local = locals.first().copied().unwrap_or(first);
                self.gather_error(error.unwrap_or(GatherError::Family {
                    url,
                    server: first,
                    local,
                }));
            }
        }
        self.poll_gatherer(now);
    }

    /// A gathering failure, reported but not fatal.
    fn gather_error(&mut self, e: GatherError) {
        let fault = match e {
            GatherError::Resolve { .. } => Fault::StunDns,
            _ => Fault::StunFailed,
        };
        self.outputs.push_back(Output::Event(Event::Error {
            fault,
            text: e.to_string(),
        }));
    }

    /// Turns the gatherer's news into candidates and events, and its messages into
    /// outputs.
    fn poll_gatherer(&mut self, now: Instant) {
        while let Some(e) = self.gatherer.poll_event() {
            match e {
                GatherEvent::Srflx { mapped, base, .. } => {
                    if let Some(ice) = self.ice.as_mut() {
                        let c = ice.add_local_srflx(mapped, base);
                        self.outputs
                            .push_back(Output::Event(Event::LocalCandidate(c)));
                    }
                }
                GatherEvent::Relay {
                    relayed,
                    mapped,
                    local,
                    transport,
                    ..
                } => {
                    let Some(ice) = self.ice.as_mut() else {
                        continue;
                    };
                    match ice.add_local_relay(relayed, mapped.unwrap_or(local), transport) {
                        Ok(c) => self
                            .outputs
                            .push_back(Output::Event(Event::LocalCandidate(c))),
                        Err(e) => tracing::warn!(%relayed, error = %e, "relay candidate"),
                    }
                    // Peers known before the allocation: checks may pass at once.
                    for peer in &self.remote_addrs {
                        self.gatherer.permit(now, *peer);
                    }
                }
                GatherEvent::Failed { error, .. } => self.gather_error(error),
                // Common and harmless: servers refuse private or loopback peers.
                GatherEvent::PermissionFailed { error, .. } => {
                    tracing::debug!(%error, "TURN permission");
                }
            }
        }
        self.flush_gatherer();
        if !self.gathered && self.connecting.is_empty() && !self.gatherer.is_gathering() {
            self.gathered = true;
            self.outputs
                .push_back(Output::Event(Event::GatheringComplete));
        }
    }

    /// Moves the gatherer's messages for its servers into the outputs.
    fn flush_gatherer(&mut self) {
        while let Some(t) = self.gatherer.poll_transmit() {
            self.outputs.push_back(Output::Transmit(Transmit {
                transport: t.transport,
                from: t.local,
                to: t.remote,
                data: t.data.to_vec(),
            }));
        }
    }

    /// Sends a datagram from one of our addresses; from a relayed address it goes through
    /// that relay's TURN server.
    fn send_datagram(&mut self, now: Instant, from: SocketAddr, to: SocketAddr, data: Vec<u8>) {
        if self.gatherer.relays().any(|r| r == from) {
            if let Err(e) = self.gatherer.send(now, from, to, &data) {
                tracing::debug!(error = %e, "relay send");
            }
            self.flush_gatherer();
        } else {
            self.outputs.push_back(Output::Transmit(Transmit {
                transport: Transport::Udp,
                from,
                to,
                data,
            }));
        }
    }

    /// Remembers remote candidates and permits them on every relay (RFC 5766 §8: a relay
    /// drops what comes from a peer without a permission).
    fn permit_remote<'a>(
        &mut self,
        now: Instant,
        candidates: impl IntoIterator<Item = &'a Candidate>,
    ) {
        for c in candidates {
            let ip = c.addr.parse::<std::net::IpAddr>();
            let (Ok(ip), Some(rtp)) = (ip, c.rtp) else {
                continue;
            };
            let peer = SocketAddr::new(ip, rtp.port);
            if !self.remote_addrs.contains(&peer) {
                self.remote_addrs.push(peer);
                self.gatherer.permit(now, peer);
            }
        }
    }

    /// The TCP connection asked for by [`Output::Connect`] is up, from `local`. Returns
    /// false when it is not (or no longer) wanted: close it.
    pub fn handle_connected(
        &mut self,
        now: Instant,
        local: SocketAddr,
        server: SocketAddr,
    ) -> bool {
        if self.state == ChannelState::Closed {
            return false;
        }
        let Some(i) = self.connecting.iter().position(|(_, s)| *s == server) else {
            return false;
        };
        let (spec, _) = self.connecting.remove(i);
        let used = match self.gatherer.add_server(now, &spec, server, local) {
            Ok(_) => true,
            Err(e) => {
                self.gather_error(e);
                false
            }
        };
        self.poll_gatherer(now);
        used
    }

    /// The TCP connection asked for by [`Output::Connect`] could not be opened.
    pub fn handle_connect_failed(&mut self, now: Instant, server: SocketAddr, reason: &str) {
        let Some(i) = self.connecting.iter().position(|(_, s)| *s == server) else {
            return;
        };
        let (spec, _) = self.connecting.remove(i);
        self.gather_error(GatherError::Connect {
            url: spec.url,
            server,
            reason: reason.into(),
        });
        self.poll_gatherer(now);
    }

    /// Bytes read from the TCP connection `local` → `server` (any split: the gatherer
    /// reassembles STUN and ChannelData messages, RFC 5766 §11.5).
    pub fn handle_stream(
        &mut self,
        now: Instant,
        local: SocketAddr,
        server: SocketAddr,
        bytes: &[u8],
    ) {
        if self.state == ChannelState::Closed {
            return;
        }
        for r in self
            .gatherer
            .handle_stream(now, local, server, bytes)
            .unwrap_or_default()
        {
            self.handle_media_datagram(now, r.relay, r.peer, &r.data);
        }
        self.drive(now);
    }

    /// The TCP connection `local` → `server` was closed or broke.
    pub fn handle_stream_closed(&mut self, now: Instant, local: SocketAddr, server: SocketAddr) {
        self.gatherer.connection_lost(local, server);
        if self.state != ChannelState::Closed {
            self.drive(now);
        }
    }

    /// The state.
    pub fn state(&self) -> ChannelState {
        self.state
    }

    fn rtp_socket(&self) -> SocketAddr {
        self.config
            .sockets
            .iter()
            .find(|s| !s.rtcp)
            .map(|s| s.addr)
            // Checked in `new`: there is an RTP socket.
            .unwrap_or_else(|| self.config.sockets[0].addr)
    }

    fn rtcp_socket(&self) -> SocketAddr {
        self.config
            .sockets
            .iter()
            .find(|s| s.rtcp)
            .map(|s| s.addr)
            .unwrap_or_else(|| self.rtp_socket())
    }

    /// Our media section: codecs (with payload types answered or our defaults), address,
    /// and what the security and transport mode need.
    fn local_media(&self, answer: Option<&Negotiated>) -> Media {
        let mut m = Media::new(MediaKind::Audio);
        let rtp = self.rtp_socket();
        m.addr = Some(rtp.ip().to_string());
        m.port = rtp.port();
        m.direction = self.direction;
        let ptime = self.config.settings.ptime_ms;
        let with_rate = |mut c: Codec| {
            c.xmit = Some(ptime);
            c.rate = Some(ptime);
            c
        };
        match answer {
            Some(n) => {
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
                    self.add_local_ice(&mut m);
                }
                m.codecs
                    .push(with_rate(Codec::new(negotiate::coder(n.codec), n.pt)));
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
            None => {
                for kind in &self.config.settings.codecs {
                    let coder = negotiate::coder(*kind);
                    let pt = coder.default_pt().unwrap_or(DEFAULT_OPUS_PT);
                    m.codecs.push(with_rate(Codec::new(coder, pt)));
                }
                if self.config.settings.dtmf {
                    let clocks: Vec<u32> = {
                        let mut c: Vec<u32> = self
                            .config
                            .settings
                            .codecs
                            .iter()
                            .map(|k| k.rtp_clock_rate())
                            .collect();
                        c.dedup();
                        c.sort_unstable();
                        c.dedup();
                        c
                    };
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
                let settings = &self.config.settings;
                m.rtcp_mux = false;
                if settings.ice {
                    self.add_local_ice(&mut m);
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
        }
        m
    }

    /// ICE credentials and candidates, with rtcp-mux (ICE here always muxes).
    fn add_local_ice(&self, m: &mut Media) {
        if let Some(ice) = &self.ice {
            m.ice = Some(ice.local_credentials().clone());
            m.candidates = ice.local_candidates().to_vec();
            m.rtcp_mux = true;
        }
    }

    /// Makes an offer (we are the offerer; the answer goes to [`Channel::apply_answer`]).
    pub fn create_offer(&mut self) -> SessionDesc {
        self.offered = true;
        let mut media = self.local_media(None);
        // WebRTC peers key transceivers by mid (RFC 8843 §9.1, JSEP §5.2.1).
        media.mid = Some("0".into());
        SessionDesc {
            media: vec![media],
            ..SessionDesc::default()
        }
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
        if self.session.is_some() {
            self.update_remote(now, remote)?;
            let neg = self.session.as_ref().map(|s| s.neg.clone());
            let mut media = self.local_media(neg.as_ref());
            media.mid = remote.mid.clone();
            return Ok(SessionDesc {
                bundle: offer.bundle.clone(),
                media: vec![media],
                ..SessionDesc::default()
            });
        }
        let neg = negotiate::negotiate(&self.config.settings, remote, true)?;
        if let Security::Sdes { remote: key } = &neg.security {
            // Answer with the suite and tag of the key we accepted (RFC 4568 §7.1.2).
            let profile = srtp::check_sdes_key(key)
                .map_err(|e| MediaError::Negotiation(format!("SDES key: {e}")))?;
            self.local_sdes = Some(
                srtp::generate_sdes_key(profile, key.tag)
                    .map_err(|e| MediaError::State(format!("SDES key: {e}")))?,
            );
        }
        let mut media = self.local_media(Some(&neg));
        media.mid = remote.mid.clone();
        self.start(now, neg)?;
        Ok(SessionDesc {
            bundle: offer.bundle.clone(),
            media: vec![media],
            ..SessionDesc::default()
        })
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
            return self.update_remote(now, remote);
        }
        let neg = negotiate::negotiate(&self.config.settings, remote, false)?;
        self.start(now, neg)
    }

    /// A new remote description for a running channel (re-INVITE: hold/resume, ICE
    /// restart, new candidates). The codec and keys stay; a changed codec is refused.
    fn update_remote(&mut self, now: Instant, remote: &Media) -> Result<(), MediaError> {
        let answering = !self.offered;
        let neg = negotiate::negotiate(&self.config.settings, remote, answering)?;
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
        if s.neg.ice.is_none() {
            s.rtp_to = neg.remote_rtp;
            s.rtcp_to = neg.remote_rtcp;
        }
        if let (Some(ri), Some(ice)) = (&neg.ice, self.ice.as_mut()) {
            ice.set_remote_credentials(now, &ri.credentials, ri.lite)
                .map_err(|e| MediaError::Negotiation(format!("ICE: {e}")))?;
            for c in &ri.candidates {
                if let Err(e) = ice.add_remote_candidate(c) {
                    tracing::debug!("remote candidate {}: {e}", c.addr);
                }
            }
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
        let ice = self
            .ice
            .as_mut()
            .ok_or_else(|| MediaError::State("the peer does no ICE".into()))?;
        ice.restart(now, None)
            .map_err(|e| MediaError::State(format!("ICE restart: {e}")))?;
        self.offered = true;
        let neg = self.session.as_ref().map(|s| s.neg.clone());
        let mut media = self.local_media(neg.as_ref());
        if neg.is_some() {
            // An offer: DTLS keeps its association (RFC 8842 §5.5: same fingerprint,
            // `actpass` in offers).
            if media.fingerprint.is_some() {
                media.setup = Some(crate::dtls::OFFER_SETUP);
            }
        }
        self.drive(now);
        Ok(SessionDesc {
            media: vec![media],
            ..SessionDesc::default()
        })
    }

    /// A trickled remote candidate (RFC 8838).
    pub fn add_remote_candidate(
        &mut self,
        now: Instant,
        c: &protocol::media::Candidate,
    ) -> Result<(), MediaError> {
        let ice = self
            .ice
            .as_mut()
            .ok_or_else(|| MediaError::State("the peer does no ICE".into()))?;
        ice.add_remote_candidate(c)
            .map_err(|e| MediaError::Negotiation(format!("candidate {}: {e}", c.addr)))?;
        self.permit_remote(now, [c]);
        self.drive(now);
        Ok(())
    }

    fn start(&mut self, now: Instant, neg: Negotiated) -> Result<(), MediaError> {
        if self.session.is_some() {
            return Err(MediaError::State(
                "the channel already has a remote description".into(),
            ));
        }
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
        let samples_per_packet = kind.samples_per_frame(neg.ptime_ms);
        let ts_per_packet = kind.rtp_clock_rate() / 1000 * neg.ptime_ms;
        self.sender = RtpSender::new(
            self.config.ssrc,
            self.config.first_seq,
            kind.rtp_clock_rate(),
        );
        let jitter =
            jitter::JitterBuffer::new(decoder, kind.rtp_clock_rate(), self.config.jitter.clone());
        self.session = Some(Session {
            send: Send {
                encoder,
                pending: Vec::with_capacity(samples_per_packet),
                samples_per_packet,
                ts_per_packet,
                timestamp: self.config.first_timestamp,
                marker: true,
                payload: Vec::with_capacity(1500),
            },
            jitter,
            rtp_to: neg.remote_rtp,
            rtcp_to: neg.remote_rtcp,
            last_from_peer: None,
            dtmf_out: None,
            dtmf_in_reported: None,
            last_media: None,
            no_media_reported: false,
            neg,
        });
        let neg = match self.session.as_ref() {
            Some(s) => s.neg.clone(),
            None => return Err(MediaError::State("session vanished".into())),
        };
        match (&neg.ice, self.ice.as_mut()) {
            (Some(ri), Some(ice)) => {
                // The offerer controls (RFC 8445 §6.1.1); a lite peer makes us control.
                ice.set_controlling(self.offered || ri.lite);
                ice.set_remote_credentials(now, &ri.credentials, ri.lite)
                    .map_err(|e| MediaError::Negotiation(format!("ICE: {e}")))?;
                for c in &ri.candidates {
                    if let Err(e) = ice.add_remote_candidate(c) {
                        tracing::debug!("remote candidate {}: {e}", c.addr);
                    }
                }
                self.permit_remote(now, &ri.candidates);
            }
            (_, ice) => {
                if let Some(ice) = ice {
                    ice.close();
                }
                self.ice = None;
                // Candidates are of no use to a peer without ICE: free the allocations.
                self.gatherer.close(now);
            }
        }
        match &neg.security {
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
                self.dtls = Some(
                    Dtls::new(role, cert, remote_fingerprint.clone(), now).map_err(|e| {
                        MediaError::Fault {
                            fault: Fault::DtlsFailed,
                            text: e.to_string(),
                        }
                    })?,
                );
            }
            Security::Sdes { remote } => {
                let local = self.local_sdes.as_ref().ok_or_else(|| {
                    MediaError::State("SDES negotiated without a local key".into())
                })?;
                self.srtp = Some(
                    SrtpSession::from_sdes(local, remote)
                        .map_err(|e| MediaError::Negotiation(format!("SDES keys: {e}")))?,
                );
            }
            Security::Plain => {}
        }
        self.next_rtcp = Some(now + RTCP_INTERVAL / 2);
        self.set_state(ChannelState::Connecting);
        self.drive(now);
        Ok(())
    }

    /// Whether media can flow: a path (ICE writable or a direct address) and keys.
    fn media_ready(&self) -> bool {
        let path = match &self.ice {
            Some(ice) => ice.data_pair().is_some(),
            None => true,
        };
        let keyed = self.dtls.is_none() || self.srtp.is_some();
        path && keyed
    }

    /// Moves what ICE and DTLS want to send and report into the outputs, and updates the
    /// channel state. Called after every input.
    fn drive(&mut self, now: Instant) {
        // New local candidates first, so the checks they start go out below.
        self.poll_gatherer(now);
        if let Some(ice) = self.ice.as_mut() {
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
        // DTLS goes out on the first writable ICE pair at once (issue 3: no 200 ms tick),
        // or straight to the peer's address without ICE.
        let dtls_path = match &self.ice {
            Some(ice) => ice.data_pair(),
            None => self
                .session
                .as_ref()
                .and_then(|s| s.rtp_to)
                .map(|to| (self.rtp_socket(), to)),
        };
        if let (Some(dtls), Some((from, to))) = (self.dtls.as_mut(), dtls_path) {
            let records: Vec<Vec<u8>> = std::iter::from_fn(|| dtls.poll_transmit()).collect();
            for data in records {
                self.send_datagram(now, from, to, data);
            }
        }
        let dtls_events: Vec<DtlsEvent> = match self.dtls.as_mut() {
            Some(dtls) => std::iter::from_fn(|| dtls.poll_event()).collect(),
            None => Vec::new(),
        };
        {
            for e in dtls_events {
                match e {
                    DtlsEvent::Connected { srtp } => self.srtp = Some(*srtp),
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
        }
        if self.state == ChannelState::Connecting && self.media_ready() {
            self.set_state(ChannelState::Connected);
        }
        self.poll_gatherer(now);
    }

    /// Sends an RTP or RTCP packet: protected when SRTP is on, on the ICE pair or to the
    /// direct address. Dropped while not ready (before DTLS keys, ICE).
    fn emit(&mut self, now: Instant, packet: &[u8], rtcp: bool) {
        if self.state != ChannelState::Connected {
            return;
        }
        let needs_keys = self.dtls.is_some() || self.local_sdes_in_use();
        let data = match self.srtp.as_mut() {
            Some(srtp) => {
                let r = if rtcp {
                    srtp.protect_rtcp(packet)
                } else {
                    srtp.protect_rtp(packet)
                };
                match r {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::debug!("SRTP protect: {e}");
                        return;
                    }
                }
            }
            None if needs_keys => return,
            None => packet.to_vec(),
        };
        let route = match &self.ice {
            Some(ice) => ice.data_pair(),
            None => {
                let s = self.session.as_ref();
                if rtcp {
                    let from = if s.is_some_and(|s| s.neg.rtcp_mux) {
                        self.rtp_socket()
                    } else {
                        self.rtcp_socket()
                    };
                    s.and_then(|s| s.rtcp_to).map(|to| (from, to))
                } else {
                    s.and_then(|s| s.rtp_to).map(|to| (self.rtp_socket(), to))
                }
            }
        };
        if let Some((from, to)) = route {
            self.send_datagram(now, from, to, data);
        }
    }

    fn local_sdes_in_use(&self) -> bool {
        self.session
            .as_ref()
            .is_some_and(|s| matches!(s.neg.security, Security::Sdes { .. }))
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

    /// Recording tap on or off: received audio packets are kept until taken.
    pub fn set_recording(&mut self, on: bool) {
        match (on, self.recording.is_some()) {
            (true, false) => self.recording = Some(Vec::new()),
            (false, true) => self.recording = None,
            _ => {}
        }
    }

    /// The packets recorded since the last call.
    pub fn take_recording(&mut self) -> Vec<RecordedPacket> {
        self.recording
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Mute: keep the stream (timestamps advance, RTCP continues) but send no audio.
    pub fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
    }

    fn may_send(&self) -> bool {
        let ours = matches!(self.direction, Direction::SendRecv | Direction::SendOnly);
        ours && self.session.as_ref().is_some_and(|s| s.neg.send)
    }

    /// Gives the channel 10 ms of microphone PCM at the codec's rate (see
    /// [`Channel::pcm_rate`]). Before negotiation the audio is discarded.
    pub fn send_audio(&mut self, now: Instant, pcm: &[i16]) -> Result<(), MediaError> {
        let may_send = self.may_send() && !self.muted && self.state == ChannelState::Connected;
        let Some(s) = self.session.as_mut() else {
            return Ok(());
        };
        let mut packets = Vec::new();
        s.send.pending.extend_from_slice(pcm);
        while s.send.pending.len() >= s.send.samples_per_packet {
            let frame: Vec<i16> = s.send.pending.drain(..s.send.samples_per_packet).collect();
            let ts = s.send.timestamp;
            s.send.timestamp = ts.wrapping_add(s.send.ts_per_packet);
            // While a digit is sent, audio packets are suppressed (RFC 4733 §2.5.1.3
            // allows both; suppressing keeps receivers from playing the tone twice).
            if !may_send || s.dtmf_out.is_some() {
                s.send.marker = true;
                continue;
            }
            s.send.payload.clear();
            s.send.encoder.encode(&frame, &mut s.send.payload)?;
            let marker = std::mem::take(&mut s.send.marker);
            packets.push(
                self.sender
                    .packet(now, s.neg.pt, marker, ts, &s.send.payload),
            );
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

    /// Starts sending a DTMF digit (RFC 4733).
    pub fn send_dtmf(
        &mut self,
        now: Instant,
        digit: char,
        duration_ms: u32,
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
        if s.dtmf_out.is_some() {
            return Err(MediaError::State("a DTMF digit is still being sent".into()));
        }
        let clock_rate = s.neg.codec.rtp_clock_rate();
        let sender = DtmfSender::new(
            digit,
            duration_ms,
            DTMF_INTERVAL_MS,
            clock_rate,
            DTMF_VOLUME,
        )?;
        s.dtmf_out = Some(DtmfOut {
            packets: sender.collect(),
            timestamp: s.send.timestamp,
            start: now,
            clock_rate,
        });
        self.flush_dtmf(now);
        Ok(())
    }

    fn flush_dtmf(&mut self, now: Instant) {
        let may_send = self.may_send();
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let Some(d) = s.dtmf_out.as_mut() else {
            return;
        };
        let Some(pt) = s.neg.dtmf_pt else {
            s.dtmf_out = None;
            return;
        };
        let mut packets = Vec::new();
        while let Some(p) = d.packets.front() {
            let due = d.start
                + Duration::from_micros(u64::from(p.send_at) * 1_000_000 / u64::from(d.clock_rate));
            if due > now {
                break;
            }
            let p = *p;
            d.packets.pop_front();
            let packet = self
                .sender
                .packet(now, pt, p.marker, d.timestamp, &p.event.encode());
            if may_send {
                packets.push(packet);
            }
        }
        if d.packets.is_empty() {
            s.dtmf_out = None;
            // The next audio packet starts a new talk spurt.
            s.send.marker = true;
        }
        for p in packets {
            self.emit(now, &p, false);
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
        match self.gatherer.handle_input(now, local, source, data) {
            Input::NotMine => self.handle_media_datagram(now, local, source, data),
            Input::Consumed => {}
            Input::Relayed(r) => self.handle_media_datagram(now, r.relay, r.peer, &r.data),
        }
        self.drive(now);
    }

    /// A datagram for ICE, DTLS or RTP/RTCP, arrived on `local` (a socket or a relayed
    /// address) from `source`.
    fn handle_media_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        source: SocketAddr,
        data: &[u8],
    ) {
        match demux::classify(data) {
            Datagram::Stun => match self.ice.as_mut() {
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
                match self.dtls.as_mut() {
                    Some(dtls) => dtls.handle_datagram(now, data),
                    None => self.stats.garbage += 1,
                }
            }
            kind @ (Datagram::Rtp | Datagram::Rtcp) => {
                if !self.checked(now, local, source) {
                    return;
                }
                let rtcp = kind == Datagram::Rtcp;
                let needs_keys = self.dtls.is_some() || self.local_sdes_in_use();
                let plain = match self.srtp.as_mut() {
                    Some(srtp) => {
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
                    // Keys not there yet (DTLS still running), or SDES expected.
                    None if needs_keys => return,
                    None => data.to_vec(),
                };
                if rtcp {
                    self.handle_rtcp(now, local, source, &plain);
                } else {
                    self.handle_rtp(now, local, source, &plain);
                }
            }
            Datagram::TurnChannel | Datagram::Unknown => self.stats.garbage += 1,
        }
    }

    /// With ICE, only media from a checked pair is taken (RFC 8445 §11).
    fn checked(&mut self, now: Instant, local: SocketAddr, source: SocketAddr) -> bool {
        match self.ice.as_mut() {
            Some(ice) if self.session.as_ref().is_some_and(|s| s.neg.ice.is_some()) => {
                let ok = ice.accepts_data(now, local, source);
                if !ok {
                    self.stats.unchecked_source += 1;
                }
                ok
            }
            _ => true,
        }
    }

    fn handle_rtp(&mut self, now: Instant, _local: SocketAddr, source: SocketAddr, data: &[u8]) {
        let Some((header, header_len)) = rtp::parse_header(data) else {
            self.stats.garbage += 1;
            return;
        };
        let Some(payload) = rtp::payload(data, &header, header_len) else {
            self.stats.garbage += 1;
            return;
        };
        let Some(s) = self.session.as_mut() else {
            return;
        };
        let pt = header.payload_type;
        let is_audio = pt == s.neg.pt;
        let is_dtmf = Some(pt) == s.neg.dtmf_pt;
        if !is_audio && !is_dtmf {
            if Some(pt) != s.neg.cn_pt {
                self.stats.wrong_pt += 1;
            }
            return;
        }
        // Symmetric RTP (RFC 4961): send to where the peer's media comes from. Latch on
        // the first packet, and again only after the current source fell silent.
        if s.neg.ice.is_none() && s.rtp_to != Some(source) {
            let silent = s
                .last_from_peer
                .is_none_or(|t| now.saturating_duration_since(t) >= RELATCH_AFTER);
            if silent {
                s.rtp_to = Some(source);
                if s.neg.rtcp_mux {
                    s.rtcp_to = Some(source);
                }
                self.outputs
                    .push_back(Output::Event(Event::Latched { rtp: source }));
            }
        }
        if s.rtp_to == Some(source) || s.neg.ice.is_some() {
            s.last_from_peer = Some(now);
        }
        s.last_media = Some(now);
        s.no_media_reported = false;
        let clock = s.neg.codec.rtp_clock_rate();
        match self.receiver.on_packet(now, &header, clock) {
            Arrival::Duplicate => return,
            Arrival::Accepted | Arrival::NewSource | Arrival::OutOfWindow => {}
        }
        if is_dtmf {
            if let Ok(ev) = TelephoneEvent::decode(payload)
                && ev.end
                && s.dtmf_in_reported != Some(header.timestamp)
            {
                s.dtmf_in_reported = Some(header.timestamp);
                if let Some(digit) = codecs::dtmf::event_to_char(ev.event) {
                    self.stats.dtmf_received += 1;
                    let duration_ms = u32::from(ev.duration) * 1000 / clock;
                    self.outputs
                        .push_back(Output::Event(Event::Dtmf { digit, duration_ms }));
                }
            }
            return;
        }
        if let Some(r) = self.recording.as_mut() {
            r.push(RecordedPacket {
                at: now,
                seq: header.sequence_number,
                timestamp: header.timestamp,
                payload: payload.to_vec(),
            });
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
    }

    fn handle_rtcp(&mut self, now: Instant, local: SocketAddr, source: SocketAddr, data: &[u8]) {
        let Some(packets) = rtp::parse_rtcp(data) else {
            self.stats.garbage += 1;
            return;
        };
        let rtcp_socket = self.rtcp_socket();
        if let Some(s) = self.session.as_mut()
            && s.neg.ice.is_none()
            && !s.neg.rtcp_mux
            && local == rtcp_socket
        {
            s.rtcp_to = Some(source);
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
                self.remote_fraction_lost = Some(r.fraction_lost);
                // The peer's loss steers the encoder's redundancy (Opus FEC).
                if let Some(s) = self.session.as_mut() {
                    let percent = (u32::from(r.fraction_lost) * 100).div_ceil(256);
                    s.send.encoder.set_reported_loss(percent.min(100) as u8);
                }
                if let Some(rtt) = rtp::round_trip(now, &self.config.clock, r) {
                    self.rtt = Some(rtt);
                }
            }
        }
    }

    /// The next instant [`Channel::handle_timeout`] wants to be called.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let ice = self.ice.as_mut().and_then(|i| i.poll_timeout());
        let dtls = self.dtls.as_ref().and_then(|d| d.poll_timeout());
        let dtmf = self.session.as_ref().and_then(|s| {
            let d = s.dtmf_out.as_ref()?;
            let p = d.packets.front()?;
            Some(
                d.start
                    + Duration::from_micros(
                        u64::from(p.send_at) * 1_000_000 / u64::from(d.clock_rate),
                    ),
            )
        });
        let gather = self.gatherer.poll_timeout();
        [self.next_rtcp, dtmf, ice, dtls, gather]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(ice) = self.ice.as_mut()
            && ice.poll_timeout().is_some_and(|t| t <= now)
        {
            ice.handle_timeout(now);
        }
        if let Some(dtls) = self.dtls.as_mut()
            && dtls.poll_timeout().is_some_and(|t| t <= now)
        {
            dtls.handle_timeout(now);
        }
        if self.gatherer.poll_timeout().is_some_and(|t| t <= now) {
            self.gatherer.handle_timeout(now);
        }
        self.drive(now);
        self.flush_dtmf(now);
        if self.next_rtcp.is_some_and(|t| t <= now) {
            self.check_no_media(now);
            self.send_rtcp(now);
            // RFC 3550 §6.3.1: randomise the interval (0.5–1.5×) to avoid synchronisation;
            // derived from the SSRC so runs stay deterministic.
            let factor = 0.5 + f64::from(self.config.ssrc % 1000) / 1000.0;
            self.next_rtcp = Some(now + RTCP_INTERVAL.mul_f64(factor));
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
        let data = rtp::compound(report, self.config.ssrc, &self.config.cname);
        self.emit(now, &data, true);
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
            rtt_ms: self.rtt.map(|d| d.as_secs_f64() * 1000.0),
            remote_fraction_lost: self.remote_fraction_lost.map(|f| f64::from(f) / 256.0),
            jitter: self.session.as_ref().map(|s| s.jitter.stats()),
            srtp: self.srtp.as_ref().map(|s| s.stats()),
            ice: self.ice.as_ref().map(|i| i.state()),
            path: match &self.ice {
                Some(i) => i.data_pair(),
                None => self
                    .session
                    .as_ref()
                    .and_then(|s| s.rtp_to)
                    .map(|to| (self.rtp_socket(), to)),
            },
            ..self.stats.clone()
        }
    }

    /// Closes the channel; nothing is sent after this.
    pub fn close(&mut self, now: Instant) {
        if let Some(dtls) = self.dtls.as_mut() {
            // close_notify (RFC 6347 §4.2.7 via RFC 5246 §7.2.1), sent by `drive`.
            dtls.close(now);
        }
        self.drive(now);
        // Deallocations (RFC 5766 §7: Refresh with lifetime 0), after close_notify.
        self.gatherer.close(now);
        self.flush_gatherer();
        self.connecting.clear();
        if let Some(ice) = self.ice.as_mut() {
            ice.close();
        }
        self.session = None;
        self.set_state(ChannelState::Closed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn config(port: u16, codecs: Vec<CodecKind>, seed: u32) -> ChannelConfig {
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let rtcp: SocketAddr = format!("127.0.0.1:{}", port + 1).parse().expect("addr");
        ChannelConfig {
            settings: Settings {
                codecs,
                dtls: false,
                sdes: false,
                ice: false,
                ..Settings::default()
            },
            sockets: vec![
                LocalSocket { addr, rtcp: false },
                LocalSocket {
                    addr: rtcp,
                    rtcp: true,
                },
            ],
            cname: format!("c{seed}"),
            ssrc: 0x1000 + seed,
            first_seq: 65_000,
            first_timestamp: 4_000_000_000,
            clock: Clock::new(Instant::now(), SystemTime::now()),
            opus: codecs::opus::Settings::default_for(CodecKind::OpusWb),
            jitter: jitter::Config::default(),
            certificate: None,
            ice: IceConfig::default(),
            ice_servers: IceServers::default(),
        }
    }

    fn tone(rate: u32, n: usize, offset: usize) -> Vec<i16> {
        (offset..offset + n)
            .map(|i| {
                (8000.0 * (i as f64 * 440.0 * 2.0 * std::f64::consts::PI / f64::from(rate)).sin())
                    as i16
            })
            .collect()
    }

    /// Two channels wired back to back in simulated time: 2 s of tone each way, a DTMF
    /// digit, RTCP reports.
    fn back_to_back(codec: CodecKind) {
        let t0 = Instant::now();
        let mut a = Channel::new(config(4000, vec![codec], 1), t0).expect("valid config");
        let mut b =
            Channel::new(config(5000, vec![codec, CodecKind::Pcmu], 2), t0).expect("valid config");
        let offer = a.create_offer();
        let answer = b.accept_offer(t0, &offer).expect("answerable");
        a.apply_answer(t0, &answer).expect("applicable");
        assert_eq!(a.state(), ChannelState::Connected);
        let rate = a.pcm_rate().expect("negotiated");
        let block = (rate / 100) as usize;
        let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
        let mut events_a = Vec::new();
        for step in 0..700usize {
            let now = t0 + Duration::from_millis(step as u64 * 10);
            if step == 300 {
                b.send_dtmf(now, '7', 120).expect("dtmf negotiated");
            }
            a.send_audio(now, &tone(rate, block, step * block))
                .expect("encodes");
            b.send_audio(now, &tone(rate, block, step * block))
                .expect("encodes");
            for ch in [&mut a, &mut b] {
                if ch.poll_timeout().is_some_and(|t| t <= now) {
                    ch.handle_timeout(now);
                }
            }
            // Deliver everything instantly (the emulator tests add impairments).
            loop {
                let mut moved = false;
                while let Some(o) = a.poll_output() {
                    moved = true;
                    match o {
                        Output::Transmit(t) => b.handle_datagram(now, t.to, t.from, &t.data),
                        Output::Event(e) => events_a.push(e),
                        Output::Connect { .. } => unreachable!("no TURN server"),
                    }
                }
                while let Some(o) = b.poll_output() {
                    moved = true;
                    if let Output::Transmit(t) = o {
                        a.handle_datagram(now, t.to, t.from, &t.data);
                    }
                }
                if !moved {
                    break;
                }
            }
            a.pull_audio(now, &mut out_a);
            b.pull_audio(now, &mut out_b);
        }
        let sa = a.stats();
        let sb = b.stats();
        assert_eq!(sa.received.lost, 0);
        assert!(sa.received.packets >= 300, "{sa:?}");
        assert!(sb.received.packets >= 300, "{sb:?}");
        assert!(
            sa.rtt_ms.is_some(),
            "RTT from the RR answering our SR: {sa:?}"
        );
        assert!(
            events_a.contains(&Event::Dtmf {
                digit: '7',
                duration_ms: 120
            }),
            "{events_a:?}"
        );
        // The tone arrives: energy in the second half of the output.
        let tail = &out_a[out_a.len() / 2..];
        let rms =
            (tail.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / tail.len() as f64).sqrt();
        assert!(rms > 2000.0, "rms {rms}");
    }

    #[test]
    fn back_to_back_g722() {
        back_to_back(CodecKind::G722);
    }

    #[test]
    fn back_to_back_opus() {
        back_to_back(CodecKind::OpusWb);
    }

    #[test]
    fn back_to_back_pcma() {
        back_to_back(CodecKind::Pcma);
    }

    #[test]
    fn latches_to_the_real_source_and_ignores_garbage() {
        let t0 = Instant::now();
        let mut a = Channel::new(config(4000, vec![CodecKind::Pcmu], 1), t0).expect("valid");
        let mut offer = Channel::new(config(6000, vec![CodecKind::Pcmu], 3), t0)
            .expect("valid")
            .create_offer();
        // The peer's description says 6000, but it sends from 7000 (a NAT).
        offer.media[0].port = 6000;
        a.accept_offer(t0, &offer).expect("answerable");
        let mut peer = RtpSender::new(9, 1, 8000);
        let local: SocketAddr = "127.0.0.1:4000".parse().expect("addr");
        let nat: SocketAddr = "127.0.0.1:7000".parse().expect("addr");
        for garbage in [
            &[][..],
            &[0u8][..],
            &[0x80, 0][..],
            &[0xff; 40][..],
            &[0x80; 3][..],
        ] {
            a.handle_datagram(t0, local, nat, garbage);
        }
        let p = peer.packet(t0, 0, true, 0, &[0xff; 160]);
        a.handle_datagram(t0, local, nat, &p);
        assert!(a.stats().garbage >= 4);
        let mut latched = false;
        while let Some(o) = a.poll_output() {
            if o == Output::Event(Event::Latched { rtp: nat }) {
                latched = true;
            }
        }
        assert!(latched);
        a.send_audio(t0, &[0; 160]).expect("encodes");
        a.send_audio(t0, &[0; 160]).expect("encodes");
        let sent: Vec<Transmit> = std::iter::from_fn(|| a.poll_output())
            .filter_map(|o| match o {
                Output::Transmit(t) => Some(t),
                _ => None,
            })
            .collect();
        assert_eq!(sent.len(), 2, "two 20 ms packets");
        assert!(sent.iter().all(|t| t.to == nat));
        // A stray packet from elsewhere does not steal the stream while the peer talks.
        let stray: SocketAddr = "127.0.0.1:7777".parse().expect("addr");
        let p = peer.packet(t0, 0, false, 160, &[0xff; 160]);
        a.handle_datagram(t0 + Duration::from_millis(20), local, stray, &p);
        assert!(
            std::iter::from_fn(|| a.poll_output())
                .all(|o| !matches!(o, Output::Event(Event::Latched { .. })))
        );
    }

    fn events(ch: &mut Channel) -> Vec<Event> {
        std::iter::from_fn(|| ch.poll_output())
            .filter_map(|o| match o {
                Output::Event(e) => Some(e),
                _ => None,
            })
            .collect()
    }

    /// A STUN server inside the test loop answers Binding requests with `mapped` (what a
    /// NAT would show); a second server stays silent, a third name does not resolve. The
    /// srflx candidate is trickled at once and is in the offer; the failures are error
    /// events that end nothing; gathering completes when the silent server is given up.
    #[test]
    fn stun_server_gives_a_srflx_candidate() {
        use protocol::media_protocol::IceServer;
        use rtc_stun::message::{BINDING_REQUEST, BINDING_SUCCESS, Message};
        use rtc_stun::xoraddr::XorMappedAddress;
        let t0 = Instant::now();
        let stun: SocketAddr = "192.0.2.1:3478".parse().expect("addr");
        let silent: SocketAddr = "192.0.2.2:3478".parse().expect("addr");
        let mapped: SocketAddr = "203.0.113.9:40000".parse().expect("addr");
        let local: SocketAddr = "127.0.0.1:4000".parse().expect("addr");
        let mut cfg = config(4000, vec![CodecKind::Pcmu], 1);
        cfg.settings.ice = true;
        cfg.ice_servers = IceServers::from_addrs(&[IceServer {
            urls: vec![
                format!("stun:{stun}"),
                format!("stun:{silent}"),
                "stun:stun.invalid".into(),
            ],
            username: None,
            credential: None,
            credential_type: None,
        }]);
        let mut ch = Channel::new(cfg, t0).expect("valid");
        let mut now = t0;
        let mut seen = Vec::new();
        let mut to_silent = 0;
        let mut srflx_at = None;
        while !seen.contains(&Event::GatheringComplete) {
            assert!(now < t0 + Duration::from_secs(30), "{seen:?}");
            while let Some(o) = ch.poll_output() {
                match o {
                    Output::Transmit(t) if t.to == stun => {
                        assert_eq!((t.transport, t.from), (Transport::Udp, local));
                        let mut req = Message::new();
                        req.raw = t.data.clone();
                        req.decode().expect("STUN");
                        assert_eq!(req.typ, BINDING_REQUEST);
                        let mut resp = Message::new();
                        resp.build(&[
                            Box::new(req),
                            Box::new(BINDING_SUCCESS),
                            Box::new(XorMappedAddress {
                                ip: mapped.ip(),
                                port: mapped.port(),
                            }),
                        ])
                        .expect("response");
                        ch.handle_datagram(now, t.from, t.to, &resp.raw);
                    }
                    Output::Transmit(t) if t.to == silent => to_silent += 1,
                    Output::Transmit(t) => panic!("unexpected {t:?}"),
                    Output::Event(e) => {
                        if matches!(e, Event::LocalCandidate(_)) {
                            srflx_at = Some(now - t0);
                        }
                        seen.push(e);
                    }
                    Output::Connect { .. } => panic!("no TCP server"),
                }
            }
            if let Some(t) = ch.poll_timeout() {
                now = t.max(now);
                ch.handle_timeout(now);
            }
        }
        let srflx = Candidate {
            foundation: String::new(),
            transport: "udp".into(),
            addr: "203.0.113.9".into(),
            typ: protocol::media::CandidateType::Srflx,
            rtp: None,
            rtcp: None,
            related_addr: Some("127.0.0.1".into()),
            related_rtp: Some(4000),
            related_rtcp: None,
            tcptype: None,
            extensions: Vec::new(),
        };
        let same = |c: &Candidate| {
            c.typ == srflx.typ
                && c.addr == srflx.addr
                && c.rtp.map(|p| p.port) == Some(40000)
                && (&c.related_addr, c.related_rtp) == (&srflx.related_addr, srflx.related_rtp)
        };
        // The order of what was reported: the unresolvable name at once, the candidate
        // on the first answer, the silent server after its 7 requests (7.8 s), then done.
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert!(
            matches!(&seen[0], Event::Error { fault: Fault::StunDns, text }
            if text.starts_with("stun:stun.invalid")),
            "{seen:?}"
        );
        assert!(
            matches!(&seen[1], Event::LocalCandidate(c) if same(c)),
            "{seen:?}"
        );
        assert_eq!(srflx_at, Some(Duration::ZERO));
        assert!(
            matches!(&seen[2], Event::Error { fault: Fault::StunFailed, text }
            if text.starts_with(&format!("stun:{silent}: no answer"))),
            "{seen:?}"
        );
        assert_eq!(seen[3], Event::GatheringComplete);
        assert_eq!(to_silent, 7);
        assert_eq!(now - t0, Duration::from_millis(7800));
        assert_eq!(ch.state(), ChannelState::New);
        // The offer carries the host and the srflx candidate.
        let offer = ch.create_offer();
        let cands = &offer.media[0].candidates;
        assert_eq!(cands.len(), 2, "{cands:?}");
        assert_eq!(cands[0].typ, protocol::media::CandidateType::Host);
        assert!(same(&cands[1]), "{cands:?}");
        // Its STUN traffic is over: no timers left but RTCP's (none before a session).
        assert_eq!(ch.poll_timeout(), None);
    }

    /// Without servers, gathering is complete at once: an owner waiting for it goes on.
    #[test]
    fn no_servers_complete_at_once() {
        let mut ch =
            Channel::new(config(4000, vec![CodecKind::Pcmu], 1), Instant::now()).expect("valid");
        assert_eq!(events(&mut ch), [Event::GatheringComplete]);
    }

    /// TURN over TCP: the channel asks the owner for a connection; one that cannot be
    /// opened is an error naming the URL, and gathering completes. A TURN URL without
    /// credentials is refused before any connection.
    #[test]
    fn turn_tcp_asks_for_a_connection() {
        use protocol::media_protocol::IceServer;
        let t0 = Instant::now();
        let server: SocketAddr = "192.0.2.3:3478".parse().expect("addr");
        let mut cfg = config(4000, vec![CodecKind::Pcmu], 1);
        cfg.ice_servers = IceServers::from_addrs(&[
            IceServer {
                urls: vec![format!("turn:{server}?transport=tcp")],
                username: Some("u".into()),
                credential: Some("p".into()),
                credential_type: None,
            },
            IceServer {
                urls: vec![format!("turn:{server}?transport=tcp")],
                username: None,
                credential: None,
                credential_type: None,
            },
        ]);
        let mut ch = Channel::new(cfg, t0).expect("valid");
        let out: Vec<Output> = std::iter::from_fn(|| ch.poll_output()).collect();
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0], Output::Connect { server });
        assert!(
            matches!(&out[1], Output::Event(Event::Error { fault: Fault::StunFailed, text })
            if text.contains("needs a username")),
            "{out:?}"
        );
        // Unknown connections are refused, so the owner closes them.
        let other: SocketAddr = "192.0.2.4:3478".parse().expect("addr");
        assert!(!ch.handle_connected(t0, "127.0.0.1:40000".parse().expect("addr"), other));
        ch.handle_connect_failed(t0, server, "connection refused");
        let seen = events(&mut ch);
        assert_eq!(seen.len(), 2, "{seen:?}");
        let text = format!(
            "turn:{server}?transport=tcp: no TCP connection to {server}: connection refused"
        );
        assert_eq!(
            seen[0],
            Event::Error {
                fault: Fault::StunFailed,
                text
            }
        );
        assert_eq!(seen[1], Event::GatheringComplete);
    }

    /// A scripted TURN server (RFC 5766) for one client, enough for the relay path: 401
    /// then success for Allocate, Binding, permissions, channel binds, Send indications
    /// and ChannelData out, Data indications in. Its responses carry no
    /// MESSAGE-INTEGRITY (the client does not check them).
    struct FakeTurn {
        client: SocketAddr,
        relay: SocketAddr,
        permitted: Vec<std::net::IpAddr>,
        channels: std::collections::HashMap<u16, SocketAddr>,
        deallocated: bool,
    }

    impl FakeTurn {
        /// A message from the client: the server's reply, and data for a peer.
        #[allow(clippy::type_complexity)]
        fn client_sent(&mut self, data: &[u8]) -> (Option<Vec<u8>>, Option<(SocketAddr, Vec<u8>)>) {
            use rtc_stun::attributes::{ATTR_MESSAGE_INTEGRITY, ATTR_NONCE, ATTR_REALM};
            use rtc_stun::error_code::CODE_UNAUTHORIZED;
            use rtc_stun::message::*;
            use rtc_stun::textattrs::TextAttribute;
            use rtc_stun::xoraddr::XorMappedAddress;
            use rtc_turn::proto::{
                channum::ChannelNumber, data::Data, lifetime::Lifetime, peeraddr::PeerAddress,
                relayaddr::RelayedAddress,
            };
            // ChannelData (RFC 5766 §11.4): channel number, length, data.
            if let [c0 @ 0x40..=0x7f, c1, l0, l1, rest @ ..] = data {
                let len = usize::from(u16::from_be_bytes([*l0, *l1]));
                let peer = self.channels[&u16::from_be_bytes([*c0, *c1])];
                return (None, Some((peer, rest[..len].to_vec())));
            }
            let mut req = Message::new();
            req.raw = data.to_vec();
            req.decode().expect("STUN from the client");
            let mut peer = PeerAddress::default();
            let peer = peer
                .get_from(&req)
                .ok()
                .map(|()| SocketAddr::new(peer.ip, peer.port));
            let method = req.typ.method;
            let mut attrs: Vec<Box<dyn Setter>> = vec![
                Box::new(req.clone()),
                Box::new(MessageType::new(method, CLASS_SUCCESS_RESPONSE)),
            ];
            let mut forward = None;
            match method {
                METHOD_BINDING => attrs.push(Box::new(XorMappedAddress {
                    ip: self.client.ip(),
                    port: self.client.port(),
                })),
                METHOD_ALLOCATE if !req.contains(ATTR_MESSAGE_INTEGRITY) => {
                    attrs[1] = Box::new(MessageType::new(method, CLASS_ERROR_RESPONSE));
                    attrs.push(Box::new(CODE_UNAUTHORIZED));
                    attrs.push(Box::new(TextAttribute::new(ATTR_REALM, "test".into())));
                    attrs.push(Box::new(TextAttribute::new(ATTR_NONCE, "n0nce".into())));
                }
                METHOD_ALLOCATE => {
                    attrs.push(Box::new(RelayedAddress {
                        ip: self.relay.ip(),
                        port: self.relay.port(),
                    }));
                    attrs.push(Box::new(XorMappedAddress {
                        ip: self.client.ip(),
                        port: self.client.port(),
                    }));
                    attrs.push(Box::new(Lifetime(Duration::from_secs(600))));
                }
                METHOD_CREATE_PERMISSION => {
                    self.permitted.push(peer.expect("XOR-PEER-ADDRESS").ip());
                }
                METHOD_CHANNEL_BIND => {
                    let mut n = ChannelNumber::default();
                    n.get_from(&req).expect("CHANNEL-NUMBER");
                    self.channels.insert(n.0, peer.expect("XOR-PEER-ADDRESS"));
                }
                METHOD_SEND => {
                    let mut d = Data::default();
                    d.get_from(&req).expect("DATA");
                    forward = Some((peer.expect("XOR-PEER-ADDRESS"), d.0));
                }
                METHOD_REFRESH => {
                    let mut l = Lifetime::default();
                    self.deallocated |= l.get_from(&req).is_ok() && l.0.is_zero();
                    attrs.push(Box::new(l));
                }
                other => panic!("unexpected {other}"),
            }
            if req.typ.class == CLASS_INDICATION {
                return (None, forward);
            }
            let mut resp = Message::new();
            resp.build(&attrs).expect("response");
            (Some(resp.raw), forward)
        }

        /// A peer's datagram to the relayed address: a Data indication for the client, or
        /// nothing without a permission for the peer's IP (RFC 5766 §8).
        fn peer_sent(&self, peer: SocketAddr, data: &[u8]) -> Option<Vec<u8>> {
            use rtc_stun::message::*;
            use rtc_turn::proto::{data::Data, peeraddr::PeerAddress};
            if !self.permitted.contains(&peer.ip()) {
                return None;
            }
            let mut m = Message::new();
            m.build(&[
                Box::new(TransactionId::new()),
                Box::new(MessageType::new(METHOD_DATA, CLASS_INDICATION)),
                Box::new(PeerAddress {
                    ip: peer.ip(),
                    port: peer.port(),
                }),
                Box::new(Data(data.to_vec())),
            ])
            .expect("Data indication");
            Some(m.raw)
        }
    }

    /// `a` has a TURN server, and everything between the two host addresses is dropped
    /// (a firewall). `a`'s relay is allocated only after the remote description: its
    /// candidate is trickled to `b`, the remote host candidate known before is permitted
    /// on the relay, ICE connects relay ↔ host and RTP flows both ways through the server
    /// (ChannelData after the channel bind). Closing deallocates.
    #[test]
    fn relay_allocated_after_the_answer_carries_the_call() {
        use protocol::media_protocol::IceServer;
        let t0 = Instant::now();
        let server: SocketAddr = "192.0.2.5:3478".parse().expect("addr");
        let a_local: SocketAddr = "127.0.0.1:4000".parse().expect("addr");
        let b_local: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
        let mut turn = FakeTurn {
            client: a_local,
            relay: "192.0.2.5:50000".parse().expect("addr"),
            permitted: Vec::new(),
            channels: std::collections::HashMap::new(),
            deallocated: false,
        };
        let mut ca = config(4000, vec![CodecKind::Pcmu], 1);
        ca.settings.ice = true;
        ca.ice_servers = IceServers::from_addrs(&[IceServer {
            urls: vec![format!("turn:{server}")],
            username: Some("u".into()),
            credential: Some("p".into()),
            credential_type: None,
        }]);
        let mut cb = config(5000, vec![CodecKind::Pcmu], 2);
        cb.settings.ice = true;
        let mut a = Channel::new(ca, t0).expect("valid");
        let mut b = Channel::new(cb, t0).expect("valid");
        // The server has not answered yet: the answer has the host candidate only.
        let answer = a.accept_offer(t0, &b.create_offer()).expect("answerable");
        assert_eq!(answer.media[0].candidates.len(), 1);
        b.apply_answer(t0, &answer).expect("applicable");

        let (mut blocked, mut trickled) = (0, Vec::new());
        let (mut a_events, mut b_events) = (Vec::new(), Vec::new());
        let mut pcm = Vec::new();
        let mut now = t0;
        for step in 0..1000u64 {
            now = t0 + Duration::from_millis(step * 10);
            for ch in [&mut a, &mut b] {
                if ch.poll_timeout().is_some_and(|t| t <= now) {
                    ch.handle_timeout(now);
                }
                ch.send_audio(now, &[1000; 80]).expect("encodes");
            }
            loop {
                let mut moved = false;
                while let Some(o) = a.poll_output() {
                    moved = true;
                    match o {
                        Output::Transmit(t) if t.to == server => {
                            let (reply, forward) = turn.client_sent(&t.data);
                            if let Some(r) = reply {
                                a.handle_datagram(now, a_local, server, &r);
                            }
                            match forward {
                                Some((peer, d)) if peer == b_local => {
                                    b.handle_datagram(now, b_local, turn.relay, &d);
                                }
                                Some(other) => panic!("relayed to {other:?}"),
                                None => {}
                            }
                        }
                        Output::Transmit(_) => blocked += 1,
                        Output::Event(Event::LocalCandidate(c)) => {
                            b.add_remote_candidate(now, &c).expect("trickle");
                            trickled.push(c);
                        }
                        Output::Event(e) => a_events.push(e),
                        Output::Connect { .. } => panic!("no TCP"),
                    }
                }
                while let Some(o) = b.poll_output() {
                    moved = true;
                    match o {
                        Output::Transmit(t) if t.to == turn.relay => {
                            if let Some(ind) = turn.peer_sent(t.from, &t.data) {
                                a.handle_datagram(now, a_local, server, &ind);
                            }
                        }
                        Output::Transmit(_) => blocked += 1,
                        Output::Event(e) => b_events.push(e),
                        Output::Connect { .. } => panic!("no TCP"),
                    }
                }
                if !moved {
                    break;
                }
            }
            for ch in [&mut a, &mut b] {
                pcm.clear();
                ch.pull_audio(now, &mut pcm);
            }
            if a.stats().received.packets >= 50 && b.stats().received.packets >= 50 {
                break;
            }
        }
        assert!(
            now - t0 < Duration::from_secs(5),
            "{a_events:?} {b_events:?}"
        );
        assert_eq!(trickled.len(), 1, "{trickled:?}");
        let c = &trickled[0];
        assert_eq!(c.typ, protocol::media::CandidateType::Relay);
        assert_eq!(
            (c.addr.as_str(), c.rtp.map(|p| p.port)),
            ("192.0.2.5", Some(50000))
        );
        assert_eq!(
            (c.related_addr.as_deref(), c.related_rtp),
            (Some("127.0.0.1"), Some(4000))
        );
        assert!(a_events.contains(&Event::GatheringComplete), "{a_events:?}");
        assert!(a_events.contains(&Event::State(ChannelState::Connected)));
        // The remote host candidate was permitted as soon as the relay existed.
        assert_eq!(turn.permitted, [b_local.ip()]);
        assert!(!turn.channels.is_empty(), "no channel bind");
        assert!(blocked > 0, "the host pairs were tried");
        assert_eq!(a.stats().path, Some((turn.relay, b_local)));
        assert_eq!(b.stats().path, Some((b_local, turn.relay)));
        // Later descriptions carry the relay candidate.
        let offer = a.restart_ice(now).expect("ICE");
        assert!(offer.media[0].candidates.contains(c));
        a.close(now);
        while let Some(o) = a.poll_output() {
            if let Output::Transmit(t) = o
                && t.to == server
            {
                turn.client_sent(&t.data);
            }
        }
        assert!(turn.deallocated, "no Refresh with lifetime 0");
    }

    #[test]
    fn mute_and_hold_stop_audio_but_not_time() {
        let t0 = Instant::now();
        let mut a = Channel::new(config(4000, vec![CodecKind::Pcma], 1), t0).expect("valid");
        let mut b = Channel::new(config(5000, vec![CodecKind::Pcma], 2), t0).expect("valid");
        let answer = b.accept_offer(t0, &a.create_offer()).expect("ok");
        a.apply_answer(t0, &answer).expect("ok");
        let count = |a: &mut Channel| {
            std::iter::from_fn(|| a.poll_output())
                .filter(|o| matches!(o, Output::Transmit(_)))
                .count()
        };
        a.send_audio(t0, &[1; 160]).expect("ok");
        assert_eq!(count(&mut a), 1);
        a.set_muted(true);
        a.send_audio(t0, &[1; 160]).expect("ok");
        assert_eq!(count(&mut a), 0);
        a.set_muted(false);
        a.set_direction(Direction::Inactive);
        a.send_audio(t0, &[1; 160]).expect("ok");
        assert_eq!(count(&mut a), 0);
        a.set_direction(Direction::SendRecv);
        a.send_audio(t0, &[1; 160]).expect("ok");
        let Some(Output::Transmit(t)) = a.poll_output() else {
            panic!("a packet")
        };
        let (h, _) = rtp::parse_header(&t.data).expect("rtp");
        assert_eq!(
            h.timestamp,
            4_000_000_000u32.wrapping_add(3 * 160),
            "time ran on"
        );
        assert!(h.marker, "new talk spurt after silence");
    }
}

#[cfg(test)]
mod robustness {
    use super::*;
    use proptest::prelude::*;
    use std::time::SystemTime;

    fn connected_pair(dtls: bool) -> (Channel, Channel, Instant) {
        let t0 = Instant::now();
        let mk = |port: u16, seed: u32| {
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
            Channel::new(
                ChannelConfig {
                    settings: Settings {
                        codecs: vec![CodecKind::Pcmu],
                        dtls,
                        sdes: !dtls,
                        plain: false,
                        ice: dtls,
                        ..Settings::default()
                    },
                    sockets: vec![LocalSocket { addr, rtcp: false }],
                    cname: "r".into(),
                    ssrc: seed,
                    first_seq: 1,
                    first_timestamp: 1,
                    clock: Clock::new(t0, SystemTime::now()),
                    opus: codecs::opus::Settings::default_for(CodecKind::OpusWb),
                    jitter: jitter::Config::default(),
                    certificate: Some(Certificate::generate().expect("cert")),
                    ice: IceConfig::default(),
                    ice_servers: Default::default(),
                },
                t0,
            )
            .expect("valid")
        };
        let mut a = mk(4000, 1);
        let mut b = mk(5000, 2);
        let answer = b.accept_offer(t0, &a.create_offer()).expect("answer");
        a.apply_answer(t0, &answer).expect("apply");
        (a, b, t0)
    }

    #[test]
    fn silence_from_the_peer_is_reported_once() {
        let (mut a, _b, t0) = connected_pair(false);
        assert_eq!(a.state(), ChannelState::Connected);
        let mut faults = 0;
        for s in 0..40u64 {
            let now = t0 + Duration::from_millis(s * 500);
            if a.poll_timeout().is_some_and(|t| t <= now) {
                a.handle_timeout(now);
            }
            while let Some(o) = a.poll_output() {
                if let Output::Event(Event::Error {
                    fault: Fault::NoMedia,
                    ..
                }) = o
                {
                    faults += 1;
                }
            }
        }
        assert_eq!(faults, 1, "one no-media fault in 20 s of silence");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Random datagrams from anywhere never panic a connected channel, whatever the
        /// mode, and leave it connected.
        #[test]
        fn garbage_never_panics(
            first in prop_oneof![0u8..4, 20u8..64, 64u8..80, 128u8..192, any::<u8>()],
            rest in proptest::collection::vec(any::<u8>(), 0..300),
            dtls in any::<bool>(),
            port in 1u16..65535,
        ) {
            let (mut a, _b, t0) = connected_pair(dtls);
            let state = a.state();
            let mut data = vec![first];
            data.extend(rest);
            let local: SocketAddr = "127.0.0.1:4000".parse().expect("addr");
            let from: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
            a.handle_datagram(t0, local, from, &data);
            a.handle_timeout(t0 + Duration::from_secs(1));
            while a.poll_output().is_some() {}
            let mut out = Vec::new();
            a.pull_audio(t0, &mut out);
            prop_assert_eq!(a.state(), state);
            prop_assert_eq!(out.len(), 80);
        }
    }
}
