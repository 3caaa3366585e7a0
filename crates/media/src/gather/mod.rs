//! Server-reflexive and relay candidates from the `iceServers` of `AllocChannel`
//! (RFC 8445 §5.1.1.2), and data relayed through TURN afterwards. Sans-IO: time is passed
//! in, datagrams come in through [`Gatherer::handle_input`] and go out through
//! [`Gatherer::poll_transmit`].
//!
//! Each server gets one `rtc_turn::client::Client` per local socket: it sends the STUN
//! Binding (srflx) and the TURN Allocate, retransmits on its RTO schedule (200 ms doubling
//! to 1.6 s, 7 tries: a silent server fails after about 8 s), answers the 401 challenge
//! with the long-term credential (RFC 5389 §10.2: realm and nonce from the 401), refreshes
//! the allocation (at half its lifetime, at least every 2 minutes here so a stale nonce
//! (438) cannot let it lapse) and the permissions (every 2 minutes, RFC 5766 §8), binds a
//! channel for each peer on first use and then sends ChannelData instead of Send
//! indications (RFC 5766 §11). What this module adds:
//!
//! * **One clear error per server** ([`GatherError`]): unreachable, wrong credentials
//!   (the second 401), other refusals with their STUN code, lost allocations. The client
//!   only reports error text, so responses are peeked at to keep their code.
//! * **Permissions before data** (RFC 5766 §9): [`Gatherer::permit`] installs one per
//!   remote candidate; data for a peer whose permission is still pending is queued and sent
//!   when it is granted, so the first ICE checks through the relay are not lost.
//! * **Routing**: a [`Transmit`] from ICE whose `local` is a relayed address is wrapped
//!   here ([`Gatherer::route`]); data arriving from a TURN server comes out as
//!   [`Relayed`] with the relayed address as `local`, ready for ICE or DTLS.
//! * **TURN over TCP** (`turn:…?transport=tcp`, RFC 5766 §2.1): the driver connects, and
//!   passes the stream's bytes to [`Gatherer::handle_stream`], which splits them with
//!   rtc-shared's `TurnStreamDecoder` (STUN messages by their length field, ChannelData
//!   padded to 4 bytes, RFC 5766 §11.5). There is no 2-byte framing here; that is RFC 4571
//!   for ICE-TCP. The relayed transport is always UDP (RFC 6062 TCP allocations are not
//!   supported by rtc-turn, nor needed). `stuns:`/`turns:` (TLS) are not supported.
//!
//! Name resolution is IO and so lives outside the state machine, in the driver
//! ([`crate::driver::resolve_servers`] for a whole `iceServers` list), whose
//! [`IceServers`] a [`crate::channel::Channel`] gathers from. The URLs and their errors
//! are in `servers.rs`.

mod servers;
#[cfg(test)]
mod tests;

pub use servers::{GatherError, IceServers, ResolvedServer, ServerSpec, server_specs};

use crate::transmit::{Transmit, Transport};
use bytes::{Bytes, BytesMut};
use rtc_shared::turn_framing::TurnStreamDecoder;
use rtc_shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use rtc_stun::error_code::ErrorCodeAttribute;
use rtc_stun::message::{
    CLASS_ERROR_RESPONSE, Getter, METHOD_REFRESH, Message, Method, TRANSACTION_ID_SIZE,
    TransactionId, is_stun_message,
};
use rtc_turn::client::{Client, ClientConfig, Event as TurnEvent};
use sansio::Protocol;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// STUN 401 Unauthorized (RFC 5389 §15.6).
const UNAUTHORIZED: u16 = 401;
/// STUN 438 Stale Nonce.
const STALE_NONCE: u16 = 438;
/// Datagrams kept per peer while its permission is pending.
const PERMISSION_QUEUE: usize = 16;
/// CreatePermission retries after a stale nonce.
const PERMISSION_RETRIES: u8 = 3;
/// Handle of one server (one URL on one local socket).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServerId(pub u32);

/// What the gatherer reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatherEvent {
    /// A server-reflexive candidate: `server` sees the socket at `base` as `mapped`.
    Srflx {
        /// Which server.
        server: ServerId,
        /// The mapped address: the candidate.
        mapped: SocketAddr,
        /// The local socket.
        base: SocketAddr,
    },
    /// An allocation: peers reach `relayed`. Add it to ICE as a relay candidate.
    Relay {
        /// Which server.
        server: ServerId,
        /// The relayed address: the candidate, and its base.
        relayed: SocketAddr,
        /// The client's address as the server saw it, if learnt (the candidate's `raddr`).
        mapped: Option<SocketAddr>,
        /// The local socket or TCP connection used to reach the server.
        local: SocketAddr,
        /// How the server is reached.
        transport: Transport,
    },
    /// The server gave nothing, or its allocation is gone.
    Failed {
        /// Which server.
        server: ServerId,
        /// Why.
        error: GatherError,
    },
    /// A peer cannot be reached through a relay.
    PermissionFailed {
        /// Which server.
        server: ServerId,
        /// Why.
        error: GatherError,
    },
}

/// Data a peer sent to one of our relayed addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relayed {
    /// The relayed address (the `local` for ICE).
    pub relay: SocketAddr,
    /// The peer.
    pub peer: SocketAddr,
    /// The payload.
    pub data: Bytes,
}

/// What became of a datagram given to [`Gatherer::handle_input`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Not from one of our servers: for ICE or the media path.
    NotMine,
    /// STUN/TURN control traffic, handled.
    Consumed,
    /// Data from a peer through one of our relays.
    Relayed(Relayed),
}

/// Tunables.
#[derive(Clone, Debug)]
pub struct GatherConfig {
    /// First retransmission timeout of a request over UDP.
    pub rto: Duration,
    /// Refresh allocations at least this often.
    pub refresh_cap: Duration,
    /// `SOFTWARE` attribute (empty: none).
    pub software: String,
}

impl Default for GatherConfig {
    fn default() -> Self {
        GatherConfig {
            rto: Duration::from_millis(200),
            refresh_cap: Duration::from_secs(120),
            software: String::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Gathering,
    /// STUN only: got (or gave up on) the mapped address.
    Done,
    Allocated,
    Closing,
    Failed,
}

#[derive(Default)]
struct Permission {
    tid: Option<TransactionId>,
    granted: bool,
    queue: VecDeque<Vec<u8>>,
    retries: u8,
}

struct Job {
    id: ServerId,
    url: String,
    user: String,
    turn: bool,
    transport: Transport,
    local: SocketAddr,
    server: SocketAddr,
    client: Client,
    phase: Phase,
    binding: Option<TransactionId>,
    /// The unauthenticated Allocate and its authenticated retry (rtc-turn numbers them so).
    allocate: [TransactionId; 2],
    mapped: Option<SocketAddr>,
    relayed: Option<SocketAddr>,
    /// Code and reason of the last error response seen from the server.
    last_error: Option<(u16, String)>,
    decoder: TurnStreamDecoder,
    permissions: HashMap<SocketAddr, Permission>,
}

impl Job {
    /// The allocation at `relay` is gone (RFC 5766 §7.3): the job fails, and this is the
    /// event that says why.
    fn relay_lost(&mut self, relay: SocketAddr, reason: String) -> GatherEvent {
        self.phase = Phase::Failed;
        GatherEvent::Failed {
            server: self.id,
            error: GatherError::RelayLost {
                url: self.url.clone(),
                server: self.server,
                relay,
                reason,
            },
        }
    }
}

/// The srflx/relay gatherer and TURN relay of one channel. See the module docs.
pub struct Gatherer {
    config: GatherConfig,
    jobs: Vec<Job>,
    next_id: u32,
    events: VecDeque<GatherEvent>,
    reported_srflx: HashSet<(SocketAddr, SocketAddr)>,
}

impl Default for Gatherer {
    fn default() -> Self {
        Gatherer::new(GatherConfig::default())
    }
}

impl Gatherer {
    /// An empty gatherer.
    pub fn new(config: GatherConfig) -> Gatherer {
        Gatherer {
            config,
            jobs: Vec::new(),
            next_id: 0,
            events: VecDeque::new(),
            reported_srflx: HashSet::new(),
        }
    }

    /// Starts gathering from the server at `server` (resolved from `spec`) for the UDP
    /// socket at `local` (for TURN over TCP: the local address of the connection the driver
    /// opened to `server`).
    pub fn add_server(
        &mut self,
        now: Instant,
        spec: &ServerSpec,
        server: SocketAddr,
        local: SocketAddr,
    ) -> Result<ServerId, GatherError> {
        let url = spec.url.clone();
        if server.is_ipv4() != local.is_ipv4() {
            return Err(GatherError::Family { url, server, local });
        }
        let turn = spec.is_turn();
        let transport = spec.transport();
        let (user, password) = match (&spec.username, &spec.credential) {
            (Some(u), Some(p)) if turn && !u.is_empty() => (u.clone(), p.clone()),
            _ if turn => return Err(GatherError::NoCredentials { url }),
            _ => (String::new(), String::new()),
        };
        // A srflx address is only useful for UDP; over TCP the allocation is what counts.
        let binding = transport == Transport::Udp;
        let client_err = |e: rtc_shared::error::Error| GatherError::Client {
            url: spec.url.clone(),
            reason: e.to_string(),
        };
        let mut client = Client::new(
            ClientConfig {
                stun_serv_addr: if binding {
                    server.to_string()
                } else {
                    String::new()
                },
                turn_serv_addr: if turn {
                    server.to_string()
                } else {
                    String::new()
                },
                local_addr: local,
                transport_protocol: match transport {
                    Transport::Udp => TransportProtocol::UDP,
                    Transport::Tcp => TransportProtocol::TCP,
                },
                username: user.clone(),
                password,
                realm: String::new(),
                software: self.config.software.clone(),
                rto_in_ms: u64::try_from(self.config.rto.as_millis()).unwrap_or(u64::MAX),
                allocation_refresh_interval_cap: Some(self.config.refresh_cap),
            },
            rtc_turn::crypto::default_provider().map_err(|e| GatherError::Client {
                url: spec.url.clone(),
                reason: e.to_string(),
            })?,
        )
        .map_err(client_err)?;
        let binding = if binding {
            Some(client.send_binding_request(now).map_err(client_err)?)
        } else {
            None
        };
        let mut allocate = [TransactionId::default(); 2];
        if turn {
            // `allocate` returns the id of the authenticated retry: the first request's id
            // with its last byte one less (rtc-turn's numbering).
            let retry = client.allocate(now).map_err(client_err)?;
            let mut first = retry;
            first.0[TRANSACTION_ID_SIZE - 1] = first.0[TRANSACTION_ID_SIZE - 1].wrapping_sub(1);
            allocate = [first, retry];
        }
        let id = ServerId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        self.jobs.push(Job {
            id,
            url,
            user,
            turn,
            transport,
            local,
            server,
            client,
            phase: Phase::Gathering,
            binding,
            allocate,
            mapped: None,
            relayed: None,
            last_error: None,
            decoder: TurnStreamDecoder::new(),
            permissions: HashMap::new(),
        });
        Ok(id)
    }

    /// Whether a server is still working on its candidates.
    pub fn is_gathering(&self) -> bool {
        self.jobs.iter().any(|j| j.phase == Phase::Gathering)
    }

    /// The live relayed addresses.
    pub fn relays(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.jobs
            .iter()
            .filter(|j| j.phase == Phase::Allocated)
            .filter_map(|j| j.relayed)
    }

    /// A UDP datagram that arrived on the socket at `local` from `remote`.
    pub fn handle_input(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        data: &[u8],
    ) -> Input {
        let from_server: Vec<usize> = (0..self.jobs.len())
            .filter(|&i| {
                let j = &self.jobs[i];
                j.transport == Transport::Udp && j.local == local && j.server == remote
            })
            .collect();
        if from_server.is_empty() {
            return Input::NotMine;
        }
        let live: Vec<usize> = from_server
            .into_iter()
            .filter(|&i| self.jobs[i].phase != Phase::Failed)
            .collect();
        let peek = peek(data);
        // Two URLs for one server (stun: and turn:): a response goes to whoever asked,
        // anything else to the TURN client. Traffic of a failed server is dropped.
        let idx = match live.as_slice() {
            [] => return Input::Consumed,
            [only] => *only,
            several @ [first, ..] => several
                .iter()
                .copied()
                .find(|&i| {
                    peek.as_ref()
                        .is_some_and(|p| self.jobs[i].client.has_transaction(&p.tid))
                })
                .or_else(|| several.iter().copied().find(|&i| self.jobs[i].turn))
                .unwrap_or(*first),
        };
        match self.feed(now, idx, data, peek).into_iter().next() {
            Some(r) => Input::Relayed(r),
            None => Input::Consumed,
        }
    }

    /// Bytes read from the TCP connection `local` → `remote` of a TURN-over-TCP server.
    /// Returns the peer data they completed; `None` when no server uses that connection.
    pub fn handle_stream(
        &mut self,
        now: Instant,
        local: SocketAddr,
        remote: SocketAddr,
        bytes: &[u8],
    ) -> Option<Vec<Relayed>> {
        let idx = self.jobs.iter().position(|j| {
            j.transport == Transport::Tcp
                && j.local == local
                && j.server == remote
                && j.phase != Phase::Failed
        })?;
        self.jobs[idx].decoder.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            match self.jobs[idx].decoder.next_message() {
                Ok(Some(msg)) => {
                    let p = peek(&msg);
                    out.extend(self.feed(now, idx, &msg, p));
                    if self.jobs[idx].phase == Phase::Failed {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let j = &mut self.jobs[idx];
                    j.phase = Phase::Failed;
                    self.events.push_back(GatherEvent::Failed {
                        server: j.id,
                        error: GatherError::Stream {
                            url: j.url.clone(),
                            server: j.server,
                            reason: e.to_string(),
                        },
                    });
                    break;
                }
            }
        }
        Some(out)
    }

    /// The driver lost the TCP connection `local` → `remote`.
    pub fn connection_lost(&mut self, local: SocketAddr, remote: SocketAddr) {
        for j in &mut self.jobs {
            if j.transport == Transport::Tcp
                && j.local == local
                && j.server == remote
                && !matches!(j.phase, Phase::Failed | Phase::Closing)
            {
                let reason = "TCP connection to the server closed".to_owned();
                let error = match j.relayed {
                    Some(relay) => GatherError::RelayLost {
                        url: j.url.clone(),
                        server: j.server,
                        relay,
                        reason,
                    },
                    None => GatherError::Rejected {
                        url: j.url.clone(),
                        server: j.server,
                        code: None,
                        reason,
                    },
                };
                j.phase = Phase::Failed;
                self.events.push_back(GatherEvent::Failed {
                    server: j.id,
                    error,
                });
            }
        }
    }

    /// Passes one whole STUN/TURN message to job `idx` and handles what it produced.
    fn feed(&mut self, now: Instant, idx: usize, data: &[u8], peek: Option<Peek>) -> Vec<Relayed> {
        let job = &mut self.jobs[idx];
        if let Some(p) = &peek
            && let Some(code) = &p.error
        {
            job.last_error = Some(code.clone());
        }
        let result = job.client.handle_read(TaggedBytesMut {
            now,
            transport: TransportContext {
                local_addr: job.local,
                peer_addr: job.server,
                transport_protocol: match job.transport {
                    Transport::Udp => TransportProtocol::UDP,
                    Transport::Tcp => TransportProtocol::TCP,
                },
                ecn: None,
            },
            message: BytesMut::from(data),
        });
        if let Err(e) = result {
            tracing::debug!(url = %job.url, error = %e, "TURN client refused a message");
            // An answer to our Allocate that the client could not use (no relayed address,
            // no lifetime): it has dropped the transaction, so nothing else would end this.
            if let Some(p) = &peek
                && job.allocate.contains(&p.tid)
                && job.phase == Phase::Gathering
            {
                job.phase = Phase::Failed;
                let error = GatherError::Rejected {
                    url: job.url.clone(),
                    server: job.server,
                    code: p.error.as_ref().map(|(c, _)| *c),
                    reason: format!("unusable Allocate response: {e}"),
                };
                self.events.push_back(GatherEvent::Failed {
                    server: job.id,
                    error,
                });
            }
            // A rejected Refresh (other than a stale nonce, which the client retries) means
            // the allocation is gone (RFC 5766 §7.3).
            if let Some(p) = &peek
                && p.method == METHOD_REFRESH
                && p.error.as_ref().is_some_and(|(c, _)| *c != STALE_NONCE)
                && job.phase == Phase::Allocated
                && let Some(relay) = job.relayed
            {
                let reason = format!(
                    "refresh refused: {}",
                    p.error
                        .as_ref()
                        .map(|(c, r)| format!("{c} {r}"))
                        .unwrap_or_default()
                );
                self.events.push_back(job.relay_lost(relay, reason));
            }
        }
        self.drain(now, idx)
    }

    /// Handles the client's events for job `idx`.
    fn drain(&mut self, now: Instant, idx: usize) -> Vec<Relayed> {
        let mut relayed = Vec::new();
        let job = &mut self.jobs[idx];
        while let Some(event) = job.client.poll_event() {
            match event {
                TurnEvent::BindingResponse(tid, mapped) if job.binding == Some(tid) => {
                    job.binding = None;
                    job.mapped = Some(mapped);
                    if !job.turn {
                        job.phase = Phase::Done;
                    }
                    // A mapped address equal to the base is no candidate (RFC 8445 §5.1.3).
                    if mapped != job.local && self.reported_srflx.insert((mapped, job.local)) {
                        self.events.push_back(GatherEvent::Srflx {
                            server: job.id,
                            mapped,
                            base: job.local,
                        });
                    }
                }
                TurnEvent::BindingError(tid, e) if job.binding == Some(tid) => {
                    job.binding = None;
                    if !job.turn {
                        job.phase = Phase::Failed;
                        let error = job.rejected(e.to_string());
                        self.events.push_back(GatherEvent::Failed {
                            server: job.id,
                            error,
                        });
                    }
                }
                TurnEvent::TransactionTimeout(tid) => {
                    if job.binding == Some(tid) {
                        job.binding = None;
                        if !job.turn {
                            job.phase = Phase::Failed;
                            self.events.push_back(GatherEvent::Failed {
                                server: job.id,
                                error: GatherError::Timeout {
                                    url: job.url.clone(),
                                    server: job.server,
                                },
                            });
                        }
                    } else if job.turn && job.allocate.contains(&tid) {
                        if job.phase == Phase::Gathering {
                            job.phase = Phase::Failed;
                            self.events.push_back(GatherEvent::Failed {
                                server: job.id,
                                error: GatherError::Timeout {
                                    url: job.url.clone(),
                                    server: job.server,
                                },
                            });
                        }
                    } else if let Some((&peer, _)) =
                        job.permissions.iter().find(|(_, p)| p.tid == Some(tid))
                    {
                        job.permissions.remove(&peer);
                        if let Some(relay) = job.relayed {
                            self.events.push_back(GatherEvent::PermissionFailed {
                                server: job.id,
                                error: GatherError::Permission {
                                    relay,
                                    peer,
                                    reason: "no answer from the server".into(),
                                },
                            });
                        }
                    } else if job.phase == Phase::Allocated
                        && let Some(relay) = job.relayed
                    {
                        // A refresh or channel bind went unanswered: the server is gone.
                        self.events.push_back(
                            job.relay_lost(relay, "the server stopped answering".into()),
                        );
                    } else if job.phase == Phase::Closing {
                        job.phase = Phase::Failed;
                    }
                }
                TurnEvent::AllocateResponse(_, relay) if job.phase == Phase::Gathering => {
                    job.phase = Phase::Allocated;
                    job.relayed = Some(relay);
                    self.events.push_back(GatherEvent::Relay {
                        server: job.id,
                        relayed: relay,
                        mapped: job.mapped,
                        local: job.local,
                        transport: job.transport,
                    });
                }
                TurnEvent::AllocateError(_, e) if job.phase == Phase::Gathering => {
                    job.phase = Phase::Failed;
                    let error = match &job.last_error {
                        Some((UNAUTHORIZED, _)) => GatherError::Unauthorized {
                            url: job.url.clone(),
                            server: job.server,
                            user: job.user.clone(),
                        },
                        _ => job.rejected(e.to_string()),
                    };
                    self.events.push_back(GatherEvent::Failed {
                        server: job.id,
                        error,
                    });
                }
                TurnEvent::CreatePermissionResponse(_, peer) => {
                    if let (Some(relay), Some(p)) = (job.relayed, job.permissions.get_mut(&peer)) {
                        p.granted = true;
                        p.tid = None;
                        let queued: Vec<Vec<u8>> = p.queue.drain(..).collect();
                        for data in queued {
                            if let Err(e) = job
                                .client
                                .relay(relay)
                                .and_then(|mut r| r.send_to(now, &data, peer))
                            {
                                tracing::debug!(%peer, error = %e, "queued relay data dropped");
                            }
                        }
                    }
                }
                TurnEvent::CreatePermissionError(tid, e) => {
                    let Some(relay) = job.relayed else { continue };
                    let Some((&peer, p)) =
                        job.permissions.iter_mut().find(|(_, p)| p.tid == Some(tid))
                    else {
                        continue;
                    };
                    let stale = matches!(job.last_error, Some((STALE_NONCE, _)));
                    if stale && p.retries < PERMISSION_RETRIES {
                        p.retries += 1;
                        // The client took the new nonce from the 438 and forgot the
                        // permission, so asking again sends a fresh request.
                        match job
                            .client
                            .relay(relay)
                            .and_then(|mut r| r.create_permission(now, peer))
                        {
                            Ok(tid) => {
                                p.tid = tid;
                                continue;
                            }
                            Err(e) => tracing::debug!(%peer, error = %e, "permission retry"),
                        }
                    }
                    job.permissions.remove(&peer);
                    let reason = job
                        .last_error
                        .as_ref()
                        .map(|(c, r)| format!("{c} {r}"))
                        .unwrap_or_else(|| e.to_string());
                    self.events.push_back(GatherEvent::PermissionFailed {
                        server: job.id,
                        error: GatherError::Permission {
                            relay,
                            peer,
                            reason,
                        },
                    });
                }
                TurnEvent::DataIndicationOrChannelData(_, peer, data) => {
                    if let Some(relay) = job.relayed {
                        relayed.push(Relayed {
                            relay,
                            peer,
                            data: data.freeze(),
                        });
                    }
                }
                _ => {}
            }
        }
        relayed
    }

    /// Installs a permission for `peer` (a remote candidate) on every relay, so its checks
    /// and data pass the servers (RFC 5766 §8). Idempotent.
    pub fn permit(&mut self, now: Instant, peer: SocketAddr) {
        for j in self.jobs.iter_mut().filter(|j| j.phase == Phase::Allocated) {
            if peer.is_ipv4() == j.relayed.is_some_and(|r| r.is_ipv4()) {
                j.ensure_permission(now, peer);
            }
        }
    }

    /// Sends `data` from the relayed address `relay` to `peer` (Send indication, or
    /// ChannelData once the channel is bound), after the permission if it is pending.
    pub fn send(
        &mut self,
        now: Instant,
        relay: SocketAddr,
        peer: SocketAddr,
        data: &[u8],
    ) -> Result<(), GatherError> {
        let job = self
            .jobs
            .iter_mut()
            .find(|j| j.phase == Phase::Allocated && j.relayed == Some(relay))
            .ok_or(GatherError::NotARelay { addr: relay })?;
        let granted = job.ensure_permission(now, peer);
        let permission_err = |reason: String| GatherError::Permission {
            relay,
            peer,
            reason,
        };
        if granted {
            job.client
                .relay(relay)
                .and_then(|mut r| r.send_to(now, data, peer))
                .map_err(|e| permission_err(e.to_string()))
        } else if let Some(p) = job.permissions.get_mut(&peer) {
            if p.queue.len() == PERMISSION_QUEUE {
                p.queue.pop_front();
            }
            p.queue.push_back(data.to_vec());
            Ok(())
        } else {
            Err(permission_err("cannot request a permission".into()))
        }
    }

    /// Routes a transmit of ICE or the channel: one from a relayed address is wrapped for
    /// its TURN server (and comes out of [`Self::poll_transmit`]); others are returned.
    pub fn route(&mut self, now: Instant, t: Transmit) -> Result<Option<Transmit>, GatherError> {
        if self.relays().any(|r| r == t.local) {
            self.send(now, t.local, t.remote, &t.data)?;
            Ok(None)
        } else {
            Ok(Some(t))
        }
    }

    /// The next message to send to a server.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        for j in &mut self.jobs {
            if j.phase == Phase::Failed {
                // Drop what a failed job still had queued.
                while j.client.poll_write().is_some() {}
                continue;
            }
            if let Some(t) = j.client.poll_write() {
                return Some(Transmit {
                    transport: j.transport,
                    local: t.transport.local_addr,
                    remote: t.transport.peer_addr,
                    data: t.message.freeze(),
                });
            }
        }
        None
    }

    /// When [`Self::handle_timeout`] wants to run.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.jobs
            .iter_mut()
            .filter(|j| j.phase != Phase::Failed)
            .filter_map(|j| j.client.poll_timeout())
            .min()
    }

    /// Runs retransmissions and refreshes.
    pub fn handle_timeout(&mut self, now: Instant) {
        for idx in 0..self.jobs.len() {
            if self.jobs[idx].phase == Phase::Failed {
                continue;
            }
            if let Err(e) = self.jobs[idx].client.handle_timeout(now) {
                tracing::debug!(url = %self.jobs[idx].url, error = %e, "TURN timer");
            }
            // Timers never produce peer data.
            let _ = self.drain(now, idx);
        }
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<GatherEvent> {
        self.events.pop_front()
    }

    /// Releases every allocation (Refresh with lifetime 0, RFC 5766 §7); send what
    /// [`Self::poll_transmit`] returns before dropping the gatherer.
    pub fn close(&mut self, now: Instant) {
        for j in &mut self.jobs {
            if j.phase == Phase::Allocated
                && let Some(relay) = j.relayed
            {
                if let Err(e) = j.client.relay(relay).and_then(|mut r| r.close(now)) {
                    tracing::debug!(url = %j.url, error = %e, "TURN deallocation");
                }
                j.phase = Phase::Closing;
            } else if j.phase == Phase::Gathering {
                j.phase = Phase::Failed;
            }
        }
    }
}

impl Job {
    fn rejected(&self, fallback: String) -> GatherError {
        let (code, reason) = match &self.last_error {
            Some((c, r)) => (Some(*c), format!("{c} {r}")),
            None => (None, fallback),
        };
        GatherError::Rejected {
            url: self.url.clone(),
            server: self.server,
            code,
            reason,
        }
    }

    /// Asks for a permission for `peer` unless there is one; true when it is granted.
    fn ensure_permission(&mut self, now: Instant, peer: SocketAddr) -> bool {
        let Some(relay) = self.relayed else {
            return false;
        };
        if let Some(p) = self.permissions.get(&peer) {
            return p.granted;
        }
        match self
            .client
            .relay(relay)
            .and_then(|mut r| r.create_permission(now, peer))
        {
            Ok(tid) => {
                self.permissions.insert(
                    peer,
                    Permission {
                        tid,
                        // `None`: the client already holds a permission for that peer.
                        granted: tid.is_none(),
                        ..Permission::default()
                    },
                );
                tid.is_none()
            }
            Err(e) => {
                tracing::debug!(%peer, error = %e, "CreatePermission");
                false
            }
        }
    }
}

/// What a STUN message is, before the client sees it.
struct Peek {
    tid: TransactionId,
    method: Method,
    /// Error code and reason of an error response.
    error: Option<(u16, String)>,
}

fn peek(data: &[u8]) -> Option<Peek> {
    if !is_stun_message(data) {
        return None;
    }
    let mut m = Message::new();
    m.raw = data.to_vec();
    m.decode().ok()?;
    let error = (m.typ.class == CLASS_ERROR_RESPONSE)
        .then(|| {
            let mut e = ErrorCodeAttribute::default();
            e.get_from(&m)
                .ok()
                .map(|()| (e.code.0, String::from_utf8_lossy(&e.reason).into_owned()))
        })
        .flatten();
    Some(Peek {
        tid: m.transaction_id,
        method: m.typ.method,
        error,
    })
}
