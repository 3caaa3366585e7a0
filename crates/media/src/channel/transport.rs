//! How media reaches the peer: the route (ICE, or the peer's own addresses), the
//! protection (SRTP keyed by SDES or DTLS), and the srflx/relay candidates with their
//! TURN relays.

use std::net::SocketAddr;
use std::time::Instant;

use protocol::media::Candidate;

use super::latch::Latch;
use super::{Channel, ChannelState, Event, Output, Transmit};
use crate::dtls::Dtls;
use crate::gather::{GatherError, GatherEvent, Gatherer, ServerSpec};
use crate::ice::IceAgent;
use crate::srtp::{SrtpSession, SrtpStats};
use crate::transmit::Transport;
use crate::{Fault, MediaError};

/// Most remote candidates a channel takes (signalled and trickled together, per ICE
/// generation). Each one costs check pairs and, with TURN, a permission on every relay; a
/// browser signals a handful, so more is a peer flooding us.
pub const MAX_REMOTE_CANDIDATES: usize = 64;

/// How media reaches the peer.
// One per channel, made once and never moved in a hot path: the agent's size costs nothing.
#[allow(clippy::large_enum_variant)]
pub(super) enum Route {
    /// ICE (RFC 8445): media only on checked pairs. Also the route before the remote
    /// description: the agent's credentials and host candidates go into our description.
    Ice(IceAgent),
    /// The peer does no ICE: its signalled addresses, with the latching rule.
    Direct {
        /// Where RTP goes and may come from.
        rtp: Latch,
        /// The same for RTCP when it is not muxed.
        rtcp: Latch,
    },
}

impl Route {
    pub(super) fn ice(&self) -> Option<&IceAgent> {
        match self {
            Route::Ice(ice) => Some(ice),
            Route::Direct { .. } => None,
        }
    }

    pub(super) fn ice_mut(&mut self) -> Option<&mut IceAgent> {
        match self {
            Route::Ice(ice) => Some(ice),
            Route::Direct { .. } => None,
        }
    }

    /// Where RTP (and DTLS) goes now: the ICE pair, or our RTP socket to the peer's.
    pub(super) fn media_pair(&self, rtp_socket: SocketAddr) -> Option<(SocketAddr, SocketAddr)> {
        match self {
            Route::Ice(ice) => ice.data_pair(),
            Route::Direct { rtp, .. } => rtp.destination().map(|to| (rtp_socket, to)),
        }
    }
}

/// SRTP and what keys it.
pub(super) enum Protection {
    /// Plain RTP, or no session yet.
    Plain,
    /// SDES-SRTP (RFC 4568): keyed from the descriptions.
    Sdes(Box<SrtpSession>),
    /// DTLS-SRTP (RFC 5764): keyed when the handshake completes.
    Dtls {
        dtls: Box<Dtls>,
        srtp: Option<Box<SrtpSession>>,
    },
}

/// What a packet may be sent or taken with now.
pub(super) enum Keys<'a> {
    /// Plain RTP.
    Plain,
    /// Protect or unprotect with this session.
    Srtp(&'a mut SrtpSession),
    /// DTLS has not keyed SRTP yet: nothing goes or comes.
    Waiting,
}

impl Protection {
    pub(super) fn dtls_mut(&mut self) -> Option<&mut Dtls> {
        match self {
            Protection::Dtls { dtls, .. } => Some(dtls),
            _ => None,
        }
    }

    /// The handshake gave the keys.
    pub(super) fn keyed(&mut self, session: SrtpSession) {
        if let Protection::Dtls { srtp, .. } = self {
            *srtp = Some(Box::new(session));
        }
    }

    pub(super) fn keys(&mut self) -> Keys<'_> {
        match self {
            Protection::Plain => Keys::Plain,
            Protection::Sdes(s) => Keys::Srtp(s),
            Protection::Dtls { srtp: Some(s), .. } => Keys::Srtp(s),
            Protection::Dtls { srtp: None, .. } => Keys::Waiting,
        }
    }

    pub(super) fn is_keyed(&self) -> bool {
        !matches!(self, Protection::Dtls { srtp: None, .. })
    }

    pub(super) fn srtp_stats(&self) -> Option<SrtpStats> {
        match self {
            Protection::Sdes(s) | Protection::Dtls { srtp: Some(s), .. } => Some(s.stats()),
            _ => None,
        }
    }
}

/// srflx and relay candidates, and the TURN relays (RFC 8656).
#[derive(Default)]
pub(super) struct Gathering {
    pub(super) gatherer: Gatherer,
    /// TURN-over-TCP servers waiting for the owner's connection.
    pub(super) connecting: Vec<(ServerSpec, SocketAddr)>,
    /// `GatheringComplete` was reported.
    gathered: bool,
    /// Remote candidate addresses: each relay permits them (RFC 5766 §8).
    remote_addrs: Vec<SocketAddr>,
}

impl Channel {
    pub(super) fn rtp_socket(&self) -> SocketAddr {
        self.config
            .sockets
            .iter()
            .find(|s| !s.rtcp)
            .map(|s| s.addr)
            // Checked in `new`: there is an RTP socket.
            .unwrap_or_else(|| self.config.sockets[0].addr)
    }

    pub(super) fn rtcp_socket(&self) -> SocketAddr {
        self.config
            .sockets
            .iter()
            .find(|s| s.rtcp)
            .map(|s| s.addr)
            .unwrap_or_else(|| self.rtp_socket())
    }

    /// Asks every configured server for candidates: STUN and TURN over UDP from each RTP
    /// socket of the server's IP family, TURN over TCP once the owner has connected.
    pub(super) fn start_gathering(&mut self, now: Instant) {
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
                self.gathering.connecting.push((s.spec.clone(), server));
                self.outputs.push_back(Output::Connect { server });
                continue;
            }
            let mut error = None;
            let mut started = false;
            for local in &locals {
                let Some(server) = server_for(local) else {
                    continue;
                };
                match self
                    .gathering
                    .gatherer
                    .add_server(now, &s.spec, server, *local)
                {
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
    pub(super) fn poll_gatherer(&mut self, now: Instant) {
        while let Some(e) = self.gathering.gatherer.poll_event() {
            match e {
                GatherEvent::Srflx { mapped, base, .. } => {
                    if let Some(ice) = self.route.ice_mut() {
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
                    let Some(ice) = self.route.ice_mut() else {
                        continue;
                    };
                    match ice.add_local_relay(relayed, mapped.unwrap_or(local), transport) {
                        Ok(c) => self
                            .outputs
                            .push_back(Output::Event(Event::LocalCandidate(c))),
                        Err(e) => tracing::warn!(%relayed, error = %e, "relay candidate"),
                    }
                    // Peers known before the allocation: checks may pass at once.
                    for peer in &self.gathering.remote_addrs {
                        self.gathering.gatherer.permit(now, *peer);
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
        let g = &self.gathering;
        if !g.gathered && g.connecting.is_empty() && !g.gatherer.is_gathering() {
            self.gathering.gathered = true;
            self.outputs
                .push_back(Output::Event(Event::GatheringComplete));
        }
    }

    /// Moves the gatherer's messages for its servers into the outputs.
    pub(super) fn flush_gatherer(&mut self) {
        while let Some(t) = self.gathering.gatherer.poll_transmit() {
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
    pub(super) fn send_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        data: Vec<u8>,
    ) {
        if self.gathering.gatherer.relays().any(|r| r == from) {
            if let Err(e) = self.gathering.gatherer.send(now, from, to, &data) {
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

    /// Refuses a description or trickled candidate that would take the channel over
    /// [`MAX_REMOTE_CANDIDATES`].
    pub(super) fn check_candidate_room(&self, adding: usize) -> Result<(), MediaError> {
        let have = self
            .route
            .ice()
            .map_or(0, |ice| ice.remote_candidate_count());
        if have + adding > MAX_REMOTE_CANDIDATES {
            return Err(MediaError::Negotiation(format!(
                "too many remote candidates: {} (at most {MAX_REMOTE_CANDIDATES})",
                have + adding
            )));
        }
        Ok(())
    }

    /// Remembers remote candidates and permits them on every relay (RFC 5766 §8: a relay
    /// drops what comes from a peer without a permission).
    pub(super) fn permit_remote<'a>(
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
            let known = &mut self.gathering.remote_addrs;
            // Bounded like the candidates themselves (a restart adds a generation).
            if !known.contains(&peer) && known.len() < 2 * MAX_REMOTE_CANDIDATES {
                known.push(peer);
                self.gathering.gatherer.permit(now, peer);
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
        let connecting = &mut self.gathering.connecting;
        let Some(i) = connecting.iter().position(|(_, s)| *s == server) else {
            return false;
        };
        let (spec, _) = connecting.remove(i);
        let used = match self
            .gathering
            .gatherer
            .add_server(now, &spec, server, local)
        {
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
        let connecting = &mut self.gathering.connecting;
        let Some(i) = connecting.iter().position(|(_, s)| *s == server) else {
            return;
        };
        let (spec, _) = connecting.remove(i);
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
            .gathering
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
        self.gathering.gatherer.connection_lost(local, server);
        if self.state != ChannelState::Closed {
            self.drive(now);
        }
    }

    /// Whether media can flow: a path (ICE writable or a direct address) and keys.
    pub(super) fn media_ready(&self) -> bool {
        let path = match &self.route {
            Route::Ice(ice) => ice.data_pair().is_some(),
            Route::Direct { .. } => true,
        };
        path && self.protection.is_keyed()
    }

    /// Sends an RTP or RTCP packet: protected when SRTP is on, on the ICE pair or to the
    /// direct address. Dropped while not ready (before DTLS keys, ICE).
    pub(super) fn emit(&mut self, now: Instant, packet: &[u8], rtcp: bool) {
        if self.state != ChannelState::Connected {
            return;
        }
        let data = match self.protection.keys() {
            Keys::Srtp(srtp) => {
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
            Keys::Waiting => return,
            Keys::Plain => packet.to_vec(),
        };
        let muxed = self.session.as_ref().is_some_and(|s| s.neg.rtcp_mux);
        let route = match &self.route {
            Route::Ice(ice) => ice.data_pair(),
            // Muxed RTCP goes where RTP goes (RFC 5761).
            Route::Direct { rtp, .. } if !rtcp || muxed => {
                rtp.destination().map(|to| (self.rtp_socket(), to))
            }
            Route::Direct { rtcp: latch, .. } => {
                latch.destination().map(|to| (self.rtcp_socket(), to))
            }
        };
        if let Some((from, to)) = route {
            self.send_datagram(now, from, to, data);
        }
    }

    /// With ICE, only media from a checked pair is taken (RFC 8445 §11).
    pub(super) fn checked(&mut self, now: Instant, local: SocketAddr, source: SocketAddr) -> bool {
        let negotiated_ice = self.session.as_ref().is_some_and(|s| s.neg.ice.is_some());
        match self.route.ice_mut() {
            Some(ice) if negotiated_ice => {
                let ok = ice.accepts_data(now, local, source);
                if !ok {
                    self.stats.unchecked_source += 1;
                }
                ok
            }
            _ => true,
        }
    }
}
