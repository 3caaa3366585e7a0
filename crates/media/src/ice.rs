//! ICE (RFC 8445) for one channel: a sans-IO wrapper over `rtc_ice::Agent` that speaks
//! our types ([`protocol::media::Candidate`], [`IceCredentials`], [`Transmit`]).
//!
//! What the wrapper adds to the agent, and why:
//!
//! * **The first valid pair, at once.** The agent reports a pair only when it is
//!   *selected*, which on the controlling side waits for nomination (a triggered check, or
//!   the next 200 ms check tick against an ICE-lite peer). RFC 8445 §12.1 lets data flow on
//!   any valid pair before selection, so after every input we look for the first pair in
//!   the `Succeeded` state and emit [`IceEvent::Writable`] in the same call: the channel
//!   starts DTLS one check round trip after the first check, not a tick later.
//!   [`IceEvent::Selected`] follows when nomination completes (an `rtc-ice` gap:
//!   docs/upstream.md, `ice-writable`).
//! * **Component 1 only.** We use rtcp-mux with ICE, and the agent pairs candidates
//!   without looking at the component, so only RTP (component 1) candidates go into it.
//!   [`candidates_from_protocol`] still converts both components for callers that need them.
//! * **Server-reflexive candidates are signalled, not checked.** A check for an srflx
//!   candidate is sent from its base (RFC 8445 §6.1.2.4 prunes such pairs as redundant with
//!   the host pair), so [`IceAgent::add_local_srflx`] only records it for the description.
//! * **Relay candidates** are added to the agent with the relayed address as their base:
//!   a [`Transmit`] whose `local` is a relayed address must go through
//!   [`crate::gather::Gatherer::send`], and data the gatherer unwraps from the TURN server
//!   is fed back here with the relayed address as `local` and the peer as `remote`.
//! * **Restart bookkeeping.** The agent drops every candidate when it fails (consent lost,
//!   RFC 7675 §5.1), so the wrapper keeps its local candidates and re-adds them on
//!   [`IceAgent::restart`] (RFC 8445 §9).
//! * **Roles.** Controlling when we offer (RFC 8445 §6.1.1: the offerer controls), and
//!   always controlling against an ICE-lite peer (same section). Role conflicts (§7.3.1.1)
//!   are repaired by the agent and reported as [`IceEvent::RoleChanged`].
//!
//! Timing (all in [`IceConfig`], defaults from the agent): checks every 200 ms while
//! checking, each pair given up after 7 unanswered checks; consent checks every 2 s once
//! connected; [`IceState::Disconnected`] after 5 s without an answer and
//! [`IceState::Failed`] 25 s later, i.e. consent expires after 30 s (RFC 7675 §5.1).
//!
//! mDNS (`.local` host candidates from browsers) is off: such a peer's checks reach us
//! anyway and become peer-reflexive candidates (RFC 8445 §7.3.1.3). There is no ICE-TCP.

use crate::transmit::{Transmit, Transport};
use bytes::BytesMut;
use protocol::media::{Candidate, CandidateType, ComponentPort, IceCredentials};
use rtc_ice::candidate::candidate_host::CandidateHostConfig;
use rtc_ice::candidate::candidate_pair::CandidatePairState;
use rtc_ice::candidate::candidate_peer_reflexive::CandidatePeerReflexiveConfig;
use rtc_ice::candidate::candidate_relay::CandidateRelayConfig;
use rtc_ice::candidate::candidate_server_reflexive::CandidateServerReflexiveConfig;
use rtc_ice::candidate::{Candidate as RtcCandidate, CandidateConfig, CandidateType as RtcType};
use rtc_ice::mdns::MulticastDnsMode;
use rtc_ice::state::ConnectionState;
use rtc_ice::tcp_type::TcpType;
use rtc_ice::{Agent, AgentConfig, Event as AgentEvent};
use rtc_shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use sansio::Protocol;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// ICE component id of RTP (RFC 8445 §4).
pub const COMPONENT_RTP: u16 = 1;
/// ICE component id of RTCP without rtcp-mux.
pub const COMPONENT_RTCP: u16 = 2;

/// How an [`IceAgent`] starts.
#[derive(Clone, Debug)]
pub struct IceConfig {
    /// Controlling role: true when we send the offer (RFC 8445 §6.1.1).
    pub controlling: bool,
    /// Our ufrag and password; generated when `None` (RFC 8445 §5.3: ≥ 24 and ≥ 128 bits).
    pub credentials: Option<IceCredentials>,
    /// Interval between check rounds while checking (the agent's Ta).
    pub check_interval: Duration,
    /// Unanswered checks after which a pair fails.
    pub max_checks: u16,
    /// Interval of consent checks on the selected pair (RFC 7675 §5.1).
    pub consent_interval: Duration,
    /// Silence after which the state becomes [`IceState::Disconnected`].
    pub disconnected_timeout: Duration,
    /// Further silence after which consent is lost: [`IceState::Failed`].
    pub failed_timeout: Duration,
}

impl Default for IceConfig {
    fn default() -> Self {
        IceConfig {
            controlling: false,
            credentials: None,
            check_interval: Duration::from_millis(200),
            max_checks: 7,
            consent_interval: Duration::from_secs(2),
            disconnected_timeout: Duration::from_secs(5),
            failed_timeout: Duration::from_secs(25),
        }
    }
}

/// Connection state (RFC 8445 §6.1.3; `Completed` is folded into `Connected`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IceState {
    /// No remote credentials yet.
    New,
    /// Checks running.
    Checking,
    /// A pair is selected.
    Connected,
    /// The selected pair is silent (consent in doubt); may recover.
    Disconnected,
    /// Checks failed or consent expired; only a restart helps.
    Failed,
    /// Closed.
    Closed,
}

/// What [`IceAgent::poll_event`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IceEvent {
    /// The state changed.
    State(IceState),
    /// The first pair of this ICE generation passed its check: data (DTLS) may be sent on
    /// it now (RFC 8445 §12.1), before selection. `local` is the candidate's base.
    Writable {
        /// Local base address (a relayed address for a relay candidate).
        local: SocketAddr,
        /// Remote candidate address.
        remote: SocketAddr,
    },
    /// Nomination completed: send only on this pair from now on (RFC 8445 §12.1).
    Selected {
        /// Local base address.
        local: SocketAddr,
        /// Remote candidate address.
        remote: SocketAddr,
    },
    /// A role conflict (RFC 8445 §7.3.1.1) switched our role.
    RoleChanged {
        /// The new role.
        controlling: bool,
    },
}

/// What [`IceAgent::set_remote_credentials`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoteUpdate {
    /// Checks started with these credentials.
    Started,
    /// Same credentials as before: nothing to do.
    Unchanged,
    /// New credentials: the peer restarted ICE, so we restarted too (RFC 8445 §9) and the
    /// answer must carry our new [`IceAgent::local_credentials`] and candidates again.
    Restarted,
}

/// ICE failures the caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum IceError {
    /// The agent refused an operation (its own message).
    #[error("ICE agent: {0}")]
    Agent(String),
    /// A candidate that cannot be used.
    #[error("ICE candidate {addr}: {reason}")]
    Candidate {
        /// The candidate's address text.
        addr: String,
        /// Why.
        reason: String,
    },
}

fn agent_err(e: impl std::fmt::Display) -> IceError {
    IceError::Agent(e.to_string())
}

/// The ICE agent of one channel. See the module docs.
pub struct IceAgent {
    agent: Agent,
    controlling: bool,
    local_credentials: IceCredentials,
    remote_credentials: Option<IceCredentials>,
    /// Host and relay candidates given to the agent, re-added after a failure wiped them.
    agent_locals: Vec<RtcCandidate>,
    /// Every local candidate to signal, in the order added.
    signalled: Vec<Candidate>,
    host_count: u16,
    srflx_count: u16,
    relay_count: u16,
    writable: Option<(SocketAddr, SocketAddr)>,
    selected: Option<(SocketAddr, SocketAddr)>,
    state: IceState,
    events: VecDeque<IceEvent>,
    /// Remote candidates of this generation that the agent took (address, port), to bound
    /// them (the channel refuses more than `MAX_REMOTE_CANDIDATES`).
    remote: Vec<(String, u16)>,
}

impl IceAgent {
    /// A new agent; its clock starts at `now`.
    pub fn new(now: Instant, config: IceConfig) -> Result<IceAgent, IceError> {
        let (ufrag, pwd) = config
            .credentials
            .map(|c| (c.ufrag, c.pwd))
            .unwrap_or_default();
        let agent_config = AgentConfig {
            local_ufrag: ufrag,
            local_pwd: pwd,
            multicast_dns_mode: MulticastDnsMode::Disabled,
            is_controlling: config.controlling,
            check_interval: config.check_interval,
            max_binding_requests: Some(config.max_checks),
            keepalive_interval: Some(config.consent_interval),
            disconnected_timeout: Some(config.disconnected_timeout),
            failed_timeout: Some(config.failed_timeout),
            ..AgentConfig::default()
        };
        let crypto = rtc_ice::crypto::default_provider().map_err(agent_err)?;
        let agent = Agent::new(now, Arc::new(agent_config), crypto).map_err(agent_err)?;
        let c = agent.get_local_credentials();
        let local_credentials = IceCredentials {
            ufrag: c.ufrag.clone(),
            pwd: c.pwd.clone(),
        };
        Ok(IceAgent {
            agent,
            controlling: config.controlling,
            local_credentials,
            remote_credentials: None,
            agent_locals: Vec::new(),
            signalled: Vec::new(),
            host_count: 0,
            srflx_count: 0,
            relay_count: 0,
            writable: None,
            selected: None,
            state: IceState::New,
            events: VecDeque::new(),
            remote: Vec::new(),
        })
    }

    /// Our ufrag and password, to signal.
    pub fn local_credentials(&self) -> &IceCredentials {
        &self.local_credentials
    }

    /// The remote ufrag and password in use.
    pub fn remote_credentials(&self) -> Option<&IceCredentials> {
        self.remote_credentials.as_ref()
    }

    /// Whether we are the controlling agent.
    pub fn controlling(&self) -> bool {
        self.controlling
    }

    /// Sets the role (before checks start; the offerer controls).
    pub fn set_controlling(&mut self, controlling: bool) {
        self.controlling = controlling;
        self.agent.set_role(controlling);
    }

    /// The current state.
    pub fn state(&self) -> IceState {
        self.state
    }

    /// Every local candidate to signal, RTP component only (rtcp-mux).
    pub fn local_candidates(&self) -> &[Candidate] {
        &self.signalled
    }

    /// A host candidate for a socket bound to `addr` (RFC 8445 §5.1.1.1). Add the
    /// preferred interface first: it gets the highest local preference (§5.1.2.1).
    pub fn add_local_host(&mut self, addr: SocketAddr) -> Result<Candidate, IceError> {
        let priority = priority(RtcType::Host, local_pref(65535, self.host_count));
        let c = CandidateHostConfig {
            base_config: base_config("udp", addr, COMPONENT_RTP, priority),
            tcp_type: TcpType::Unspecified,
        }
        .new_candidate_host()
        .map_err(|e| candidate_err(&addr.to_string(), e))?;
        self.host_count = self.host_count.saturating_add(1);
        self.add_agent_local(c)
    }

    /// A server-reflexive candidate `mapped` learnt for the socket at `base` (from
    /// [`crate::gather`]). Signalled only: checks for it go from its base anyway.
    pub fn add_local_srflx(&mut self, mapped: SocketAddr, base: SocketAddr) -> Candidate {
        let priority = priority(
            RtcType::ServerReflexive,
            local_pref(65535, self.srflx_count),
        );
        self.srflx_count = self.srflx_count.saturating_add(1);
        let c = Candidate {
            foundation: foundation("srflx", mapped, base),
            transport: "udp".into(),
            addr: mapped.ip().to_string(),
            typ: CandidateType::Srflx,
            rtp: Some(ComponentPort {
                port: mapped.port(),
                priority,
            }),
            rtcp: None,
            related_addr: Some(base.ip().to_string()),
            related_rtp: Some(base.port()),
            related_rtcp: None,
            tcptype: None,
            extensions: Vec::new(),
        };
        self.signalled.push(c.clone());
        c
    }

    /// A relay candidate: `relayed` on the TURN server, reached by UDP or TCP; `related`
    /// is the mapped (or host) address (RFC 8839 §5.1 `raddr`). Relays over TCP get the
    /// lower local preference: UDP to the server is better for media.
    pub fn add_local_relay(
        &mut self,
        relayed: SocketAddr,
        related: SocketAddr,
        server_transport: Transport,
    ) -> Result<Candidate, IceError> {
        let top = match server_transport {
            Transport::Udp => 65535,
            Transport::Tcp => 32767,
        };
        let priority = priority(RtcType::Relay, local_pref(top, self.relay_count));
        let c = CandidateRelayConfig {
            base_config: base_config("udp", relayed, COMPONENT_RTP, priority),
            rel_addr: related.ip().to_string(),
            rel_port: related.port(),
            url: None,
        }
        .new_candidate_relay()
        .map_err(|e| candidate_err(&relayed.to_string(), e))?;
        self.relay_count = self.relay_count.saturating_add(1);
        self.add_agent_local(c)
    }

    fn add_agent_local(&mut self, c: RtcCandidate) -> Result<Candidate, IceError> {
        self.agent
            .add_local_candidate(c.clone())
            .map_err(|e| candidate_err(c.address(), e))?;
        let ours = candidate_to_protocol(&c);
        self.agent_locals.push(c);
        self.signalled.push(ours.clone());
        Ok(ours)
    }

    /// Starts checks with the peer's credentials. `ice_lite`: the peer is a lite
    /// implementation, so we must control (RFC 8445 §6.1.1). Call this before adding the
    /// remote candidates of a new generation: a peer's restart restarts us and clears them.
    pub fn set_remote_credentials(
        &mut self,
        now: Instant,
        remote: &IceCredentials,
        ice_lite: bool,
    ) -> Result<RemoteUpdate, IceError> {
        if ice_lite && !self.controlling {
            self.set_controlling(true);
        }
        let update = match &self.remote_credentials {
            Some(c) if c == remote => return Ok(RemoteUpdate::Unchanged),
            Some(_) => {
                self.restart(now, None)?;
                RemoteUpdate::Restarted
            }
            None => RemoteUpdate::Started,
        };
        self.agent
            .start_connectivity_checks(
                now,
                self.controlling,
                remote.ufrag.clone(),
                remote.pwd.clone(),
            )
            .map_err(agent_err)?;
        self.remote_credentials = Some(remote.clone());
        self.collect(now);
        Ok(update)
    }

    /// Adds a remote candidate (at once or trickled). Returns whether it was taken: TCP
    /// candidates (no ICE-TCP here), mDNS names and candidates without an RTP component
    /// are skipped. A candidate must be added after the credentials of its generation.
    pub fn add_remote_candidate(&mut self, c: &Candidate) -> Result<bool, IceError> {
        if !c.transport.eq_ignore_ascii_case("udp") || c.addr.ends_with(".local") {
            tracing::debug!(addr = %c.addr, transport = %c.transport, "remote candidate skipped");
            return Ok(false);
        }
        let Some(rtp) = c.rtp else {
            return Ok(false);
        };
        let rc = to_rtc(c, COMPONENT_RTP, rtp, c.related_rtp)?;
        let taken = self
            .agent
            .add_remote_candidate(rc)
            .map_err(|e| candidate_err(&c.addr, e))?;
        let key = (c.addr.clone(), rtp.port);
        if taken && !self.remote.contains(&key) {
            self.remote.push(key);
        }
        Ok(taken)
    }

    /// Whether this remote candidate (address and RTP port) was taken already.
    pub fn knows_remote(&self, c: &Candidate) -> bool {
        c.rtp.is_some_and(|rtp| {
            self.remote
                .iter()
                .any(|(a, p)| *a == c.addr && *p == rtp.port)
        })
    }

    /// How many remote candidates of this generation were taken.
    pub fn remote_candidate_count(&self) -> usize {
        self.remote.len()
    }

    /// Feeds a STUN message that arrived on `local` (a host socket, or a relayed address
    /// for data unwrapped by the gatherer) from `remote`. Errors are per message (bad
    /// integrity, unknown sender, …): log and go on.
    pub fn handle_stun(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) -> Result<(), IceError> {
        let result = self.agent.handle_read(TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: local,
                peer_addr: remote,
                transport_protocol: TransportProtocol::UDP,
                ecn: None,
            },
            message: BytesMut::from(data),
        });
        self.collect(now);
        result.map_err(agent_err)
    }

    /// Whether non-STUN data from `remote` on `local` comes from a checked peer (media from
    /// elsewhere is dropped, RFC 8445 §11). Counts as a sign of life of that candidate.
    pub fn accepts_data(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr) -> bool {
        self.agent.is_valid_non_stun_traffic(
            now,
            TransportContext {
                local_addr: local,
                peer_addr: remote,
                transport_protocol: TransportProtocol::UDP,
                ecn: None,
            },
        )
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.agent.poll_write().map(|t| Transmit {
            transport: Transport::Udp,
            local: t.transport.local_addr,
            remote: t.transport.peer_addr,
            data: t.message.freeze(),
        })
    }

    /// When [`Self::handle_timeout`] wants to run next (`None`: no timer).
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.agent.poll_timeout()
    }

    /// Runs timers: checks, retransmissions, consent checks and their expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Err(e) = self.agent.handle_timeout(now) {
            tracing::debug!(error = %e, "ICE timer");
        }
        self.collect(now);
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<IceEvent> {
        self.events.pop_front()
    }

    /// The selected pair (local base, remote).
    pub fn selected_pair(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.selected
    }

    /// Where to send data now: the selected pair, else the first valid one (RFC 8445 §12.1).
    pub fn data_pair(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.selected.or(self.writable)
    }

    /// ICE restart (RFC 8445 §9): new local credentials (`None`: generated), checks and
    /// remote candidates dropped, local candidates kept. Signal the returned credentials
    /// and candidates, then give the peer's new credentials and candidates.
    pub fn restart(
        &mut self,
        now: Instant,
        credentials: Option<IceCredentials>,
    ) -> Result<IceCredentials, IceError> {
        let (ufrag, pwd) = credentials.map(|c| (c.ufrag, c.pwd)).unwrap_or_default();
        self.agent
            .restart(now, ufrag, pwd, true)
            .map_err(agent_err)?;
        for c in &self.agent_locals {
            // Already there unless a failure dropped it; duplicates are refused quietly.
            self.agent
                .add_local_candidate(c.clone())
                .map_err(|e| candidate_err(c.address(), e))?;
        }
        let c = self.agent.get_local_credentials();
        self.local_credentials = IceCredentials {
            ufrag: c.ufrag.clone(),
            pwd: c.pwd.clone(),
        };
        self.remote_credentials = None;
        self.remote.clear();
        self.writable = None;
        self.selected = None;
        self.collect(now);
        Ok(self.local_credentials.clone())
    }

    /// Closes the agent: no more checks.
    pub fn close(&mut self) {
        if let Err(e) = self.agent.close() {
            tracing::debug!(error = %e, "ICE close");
        }
        self.writable = None;
        self.selected = None;
        self.set_state(IceState::Closed);
    }

    fn set_state(&mut self, s: IceState) {
        if self.state != s {
            self.state = s;
            self.events.push_back(IceEvent::State(s));
        }
    }

    /// Turns the agent's news into our events; see the module docs for `Writable`.
    fn collect(&mut self, now: Instant) {
        if self.writable.is_none()
            && let Some(pair) = self.best_valid_pair(now)
        {
            self.writable = Some(pair);
            self.events.push_back(IceEvent::Writable {
                local: pair.0,
                remote: pair.1,
            });
        }
        while let Some(e) = self.agent.poll_event() {
            match e.event {
                AgentEvent::ConnectionStateChange(s) => {
                    let s = match s {
                        ConnectionState::New | ConnectionState::Unspecified => IceState::New,
                        ConnectionState::Checking => IceState::Checking,
                        ConnectionState::Connected | ConnectionState::Completed => {
                            IceState::Connected
                        }
                        ConnectionState::Disconnected => IceState::Disconnected,
                        ConnectionState::Failed => IceState::Failed,
                        ConnectionState::Closed => IceState::Closed,
                        _ => continue,
                    };
                    if s == IceState::Failed {
                        self.writable = None;
                        self.selected = None;
                    }
                    self.set_state(s);
                }
                AgentEvent::SelectedCandidatePairChange(local, remote) => {
                    let pair = (local.base_addr(), remote.addr());
                    self.selected = Some(pair);
                    self.events.push_back(IceEvent::Selected {
                        local: pair.0,
                        remote: pair.1,
                    });
                }
                AgentEvent::RoleChange(controlling) => {
                    self.controlling = controlling;
                    self.events.push_back(IceEvent::RoleChanged { controlling });
                }
                _ => {}
            }
        }
    }

    /// The highest-priority pair in the `Succeeded` state (RFC 8445 §6.1.2.3 priority).
    fn best_valid_pair(&self, now: Instant) -> Option<(SocketAddr, SocketAddr)> {
        let locals = self.agent.get_local_candidates();
        let remotes = self.agent.get_remote_candidates();
        self.agent
            .get_candidate_pairs_stats(now)
            .iter()
            .filter(|s| s.state == CandidatePairState::Succeeded)
            .filter_map(|s| {
                let l = locals.iter().find(|c| c.id() == s.local_candidate_id)?;
                let r = remotes.iter().find(|c| c.id() == s.remote_candidate_id)?;
                let (g, d) = if self.controlling {
                    (l.priority(), r.priority())
                } else {
                    (r.priority(), l.priority())
                };
                let prio =
                    (1u64 << 32) * u64::from(g.min(d)) + 2 * u64::from(g.max(d)) + u64::from(g > d);
                Some((prio, (l.base_addr(), r.addr())))
            })
            .max_by_key(|(prio, _)| *prio)
            .map(|(_, pair)| pair)
    }
}

/// RFC 8445 §5.1.2.1 with component 1.
fn priority(typ: RtcType, local_pref: u16) -> u32 {
    (1 << 24) * u32::from(typ.preference())
        + (1 << 8) * u32::from(local_pref)
        + (256 - u32::from(COMPONENT_RTP))
}

/// Unique local preferences per type, counting down from `top`.
fn local_pref(top: u16, n: u16) -> u16 {
    top.saturating_sub(n)
}

/// A foundation for candidates the agent does not build (RFC 8445 §5.1.1.3: same type,
/// base and server give the same foundation).
fn foundation(typ: &str, addr: SocketAddr, base: SocketAddr) -> String {
    // FNV-1a: stable across runs and platforms, unlike `DefaultHasher`.
    let mut h: u32 = 0x811c_9dc5;
    for b in format!("{typ}{}{}", addr.ip(), base.ip()).bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h.to_string()
}

fn base_config(network: &str, addr: SocketAddr, component: u16, priority: u32) -> CandidateConfig {
    CandidateConfig {
        candidate_id: String::new(),
        network: network.into(),
        address: addr.ip().to_string(),
        port: addr.port(),
        component,
        priority,
        foundation: String::new(),
    }
}

fn candidate_err(addr: &str, e: impl std::fmt::Display) -> IceError {
    IceError::Candidate {
        addr: addr.into(),
        reason: e.to_string(),
    }
}

fn to_rtc(
    c: &Candidate,
    component: u16,
    port: ComponentPort,
    related_port: Option<u16>,
) -> Result<RtcCandidate, IceError> {
    let base_config = CandidateConfig {
        candidate_id: String::new(),
        network: c.transport.to_ascii_lowercase(),
        address: c.addr.clone(),
        port: port.port,
        component,
        priority: port.priority,
        foundation: c.foundation.clone(),
    };
    let rel_addr = c.related_addr.clone().unwrap_or_default();
    let rel_port = related_port.unwrap_or(0);
    let result = match c.typ {
        CandidateType::Host => CandidateHostConfig {
            base_config,
            tcp_type: c
                .tcptype
                .as_deref()
                .map_or(TcpType::Unspecified, TcpType::from),
        }
        .new_candidate_host(),
        CandidateType::Srflx => CandidateServerReflexiveConfig {
            base_config,
            rel_addr,
            rel_port,
            url: None,
        }
        .new_candidate_server_reflexive(),
        CandidateType::Prflx => CandidatePeerReflexiveConfig {
            base_config,
            rel_addr,
            rel_port,
        }
        .new_candidate_peer_reflexive(),
        CandidateType::Relay => CandidateRelayConfig {
            base_config,
            rel_addr,
            rel_port,
            url: None,
        }
        .new_candidate_relay(),
    };
    result.map_err(|e| candidate_err(&c.addr, e))
}

/// One rtc-ice candidate per component of `c` (RTP as component 1, RTCP as 2).
pub fn candidates_from_protocol(c: &Candidate) -> Result<Vec<RtcCandidate>, IceError> {
    let mut out = Vec::with_capacity(2);
    if let Some(p) = c.rtp {
        out.push(to_rtc(c, COMPONENT_RTP, p, c.related_rtp)?);
    }
    if let Some(p) = c.rtcp {
        out.push(to_rtc(c, COMPONENT_RTCP, p, c.related_rtcp)?);
    }
    Ok(out)
}

/// One rtc-ice candidate (one component) as ours.
pub fn candidate_to_protocol(c: &RtcCandidate) -> Candidate {
    let port = ComponentPort {
        port: c.port(),
        priority: c.priority(),
    };
    let related = c.related_address().filter(|r| !r.address.is_empty());
    let rtcp = c.component() == COMPONENT_RTCP;
    Candidate {
        foundation: c.foundation(),
        transport: c.network_type().network_short(),
        addr: c.address().to_owned(),
        typ: match c.candidate_type() {
            RtcType::ServerReflexive => CandidateType::Srflx,
            RtcType::PeerReflexive => CandidateType::Prflx,
            RtcType::Relay => CandidateType::Relay,
            _ => CandidateType::Host,
        },
        rtp: (!rtcp).then_some(port),
        rtcp: rtcp.then_some(port),
        related_addr: related.as_ref().map(|r| r.address.clone()),
        related_rtp: related.as_ref().filter(|_| !rtcp).map(|r| r.port),
        related_rtcp: related.as_ref().filter(|_| rtcp).map(|r| r.port),
        tcptype: (c.tcp_type() != TcpType::Unspecified).then(|| c.tcp_type().to_string()),
        extensions: Vec::new(),
    }
}

/// rtc-ice candidates as ours, the RTCP component joined to its RTP candidate (same
/// foundation, address, type and transport) the way a Channels candidate carries both.
pub fn candidates_to_protocol(cs: &[RtcCandidate]) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    for c in cs {
        let mut ours = candidate_to_protocol(c);
        let twin = out.iter_mut().find(|o| {
            o.foundation == ours.foundation
                && o.addr == ours.addr
                && o.typ == ours.typ
                && o.transport == ours.transport
                && (o.rtp.is_none() != ours.rtp.is_none())
        });
        match twin {
            Some(o) => {
                o.rtp = o.rtp.or(ours.rtp);
                o.rtcp = o.rtcp.or(ours.rtcp);
                o.related_rtp = o.related_rtp.or(ours.related_rtp);
                o.related_rtcp = o.related_rtcp.or(ours.related_rtcp);
                o.related_addr = o.related_addr.take().or(ours.related_addr.take());
            }
            None => out.push(ours),
        }
    }
    out
}

/// Whether a datagram is STUN (RFC 7983 §7 demultiplexing: first byte 0–3 and the magic
/// cookie), so the channel can route it to [`IceAgent::handle_stun`].
pub fn is_stun(data: &[u8]) -> bool {
    rtc_stun::message::is_stun_message(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ours(typ: CandidateType, addr: &str, rtp: u16, rtcp: Option<u16>) -> Candidate {
        Candidate {
            foundation: "42".into(),
            transport: "udp".into(),
            addr: addr.into(),
            typ,
            rtp: Some(ComponentPort {
                port: rtp,
                priority: 2_130_706_431,
            }),
            rtcp: rtcp.map(|port| ComponentPort {
                port,
                priority: 2_130_706_430,
            }),
            related_addr: (typ != CandidateType::Host).then(|| "10.0.0.1".into()),
            related_rtp: (typ != CandidateType::Host).then_some(5000),
            related_rtcp: (typ != CandidateType::Host && rtcp.is_some()).then_some(5001),
            tcptype: None,
            extensions: Vec::new(),
        }
    }

    #[test]
    fn candidates_round_trip_both_components() {
        for typ in [
            CandidateType::Host,
            CandidateType::Srflx,
            CandidateType::Prflx,
            CandidateType::Relay,
        ] {
            for (addr, rtcp) in [("192.0.2.7", Some(40001)), ("2001:db8::7", None)] {
                let c = ours(typ, addr, 40000, rtcp);
                let rtc = candidates_from_protocol(&c).unwrap();
                assert_eq!(rtc.len(), 1 + usize::from(rtcp.is_some()));
                assert_eq!(rtc[0].component(), COMPONENT_RTP);
                assert_eq!(rtc[0].addr(), SocketAddr::new(addr.parse().unwrap(), 40000));
                assert_eq!(candidates_to_protocol(&rtc), [c], "{typ:?} {addr}");
            }
        }
    }

    #[test]
    fn tcp_host_candidate_keeps_its_tcptype() {
        let mut c = ours(CandidateType::Host, "192.0.2.7", 9, None);
        c.transport = "tcp".into();
        c.tcptype = Some("active".into());
        let rtc = candidates_from_protocol(&c).unwrap();
        assert_eq!(candidates_to_protocol(&rtc), [c]);
    }

    #[test]
    fn bad_candidates_are_errors_not_panics() {
        for (addr, transport) in [
            ("not an address", "udp"),
            ("192.0.2.1", "sctp"),
            ("", "udp"),
        ] {
            let mut c = ours(CandidateType::Srflx, addr, 1, None);
            c.transport = transport.into();
            let err = candidates_from_protocol(&c).unwrap_err();
            assert!(matches!(err, IceError::Candidate { .. }), "{err}");
        }
    }

    #[test]
    fn local_candidates_have_rfc_priorities() {
        let now = Instant::now();
        let mut a = IceAgent::new(now, IceConfig::default()).unwrap();
        let h1 = a
            .add_local_host("192.0.2.1:50000".parse().unwrap())
            .unwrap();
        let h2 = a
            .add_local_host("[2001:db8::1]:50002".parse().unwrap())
            .unwrap();
        let s = a.add_local_srflx(
            "203.0.113.5:61000".parse().unwrap(),
            "192.0.2.1:50000".parse().unwrap(),
        );
        let r = a
            .add_local_relay(
                "198.51.100.9:49152".parse().unwrap(),
                "203.0.113.5:61000".parse().unwrap(),
                Transport::Udp,
            )
            .unwrap();
        let prio = |c: &Candidate| c.rtp.map(|p| p.priority);
        // (2^24)·type + (2^8)·local + (256 − 1), RFC 8445 §5.1.2.1.
        assert_eq!(prio(&h1), Some((126 << 24) + (65535 << 8) + 255));
        assert_eq!(prio(&h2), Some((126 << 24) + (65534 << 8) + 255));
        assert_eq!(prio(&s), Some((100 << 24) + (65535 << 8) + 255));
        assert_eq!(prio(&r), Some((65535 << 8) + 255));
        assert_eq!(r.related_addr.as_deref(), Some("203.0.113.5"));
        assert_eq!(s.related_rtp, Some(50000));
        assert_eq!(a.local_candidates().len(), 4);
        // Generated credentials meet RFC 8445 §5.3's entropy minimum.
        assert!(a.local_credentials().ufrag.len() >= 4);
        assert!(a.local_credentials().pwd.len() >= 22);
    }

    #[test]
    fn stun_classification() {
        assert!(!is_stun(&[]));
        assert!(!is_stun(&[0x80, 0, 0, 0]));
        let mut binding = vec![0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42];
        binding.extend_from_slice(&[0; 12]);
        assert!(is_stun(&binding));
    }
}
