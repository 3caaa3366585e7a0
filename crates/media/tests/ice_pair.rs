//! Two ICE agents in memory, with virtual time: a tiny network that delivers each datagram
//! after a fixed latency, can drop chosen ones, or go silent. Nothing here reads the clock
//! except for the one base instant; every step is determined by the agents' timers and the
//! deliveries.
#![allow(clippy::unwrap_used)]

use bytes::BytesMut;
use media::ice::{IceAgent, IceConfig, IceEvent, IceState, RemoteUpdate};
use protocol::media::{Candidate, CandidateType, ComponentPort, IceCredentials};
use rtc_ice::candidate::CandidateConfig;
use rtc_ice::candidate::candidate_host::CandidateHostConfig;
use rtc_ice::mdns::MulticastDnsMode;
use rtc_ice::{Agent, AgentConfig};
use rtc_shared::{TaggedBytesMut, TransportContext, TransportProtocol};
use sansio::Protocol;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LATENCY: Duration = Duration::from_millis(10);

fn a_addr() -> SocketAddr {
    "10.0.0.1:50000".parse().unwrap()
}
fn b_addr() -> SocketAddr {
    "10.0.0.2:50002".parse().unwrap()
}

/// Either our agent or a raw rtc-ice ICE-lite agent as the far end.
enum Peer {
    Ours(Box<IceAgent>),
    Lite(Box<Agent>),
}

impl Peer {
    fn ours(&mut self) -> &mut IceAgent {
        match self {
            Peer::Ours(a) => a,
            Peer::Lite(_) => panic!("not our agent"),
        }
    }
    fn receive(&mut self, now: Instant, local: SocketAddr, remote: SocketAddr, data: &[u8]) {
        match self {
            // Per-message errors (stale transaction, …) are normal; the tests judge by events.
            Peer::Ours(a) => drop(a.handle_stun(now, local, remote, data)),
            Peer::Lite(a) => drop(a.handle_read(TaggedBytesMut {
                now,
                transport: TransportContext {
                    local_addr: local,
                    peer_addr: remote,
                    transport_protocol: TransportProtocol::UDP,
                    ecn: None,
                },
                message: BytesMut::from(data),
            })),
        }
    }
    fn transmits(&mut self) -> Vec<(SocketAddr, SocketAddr, Vec<u8>)> {
        let mut out = Vec::new();
        match self {
            Peer::Ours(a) => {
                while let Some(t) = a.poll_transmit() {
                    out.push((t.local, t.remote, t.data.to_vec()));
                }
            }
            Peer::Lite(a) => {
                while let Some(t) = a.poll_write() {
                    out.push((
                        t.transport.local_addr,
                        t.transport.peer_addr,
                        t.message.to_vec(),
                    ));
                }
            }
        }
        out
    }
    fn timeout(&mut self) -> Option<Instant> {
        match self {
            Peer::Ours(a) => a.poll_timeout(),
            Peer::Lite(a) => a.poll_timeout(),
        }
    }
    fn fire(&mut self, now: Instant) {
        match self {
            Peer::Ours(a) => a.handle_timeout(now),
            Peer::Lite(a) => drop(a.handle_timeout(now)),
        }
    }
    fn events(&mut self) -> Vec<IceEvent> {
        let mut out = Vec::new();
        if let Peer::Ours(a) = self {
            while let Some(e) = a.poll_event() {
                out.push(e);
            }
        }
        out
    }
}

/// Decides whether the `n`-th datagram (counted per direction from 0) from `from` is lost.
type Loss = Box<dyn FnMut(SocketAddr, u64) -> bool>;

struct Sim {
    t0: Instant,
    now: Instant,
    peers: [(SocketAddr, Peer); 2],
    in_flight: VecDeque<(Instant, SocketAddr, SocketAddr, Vec<u8>)>,
    sent: [u64; 2],
    loss: Loss,
    /// Every event of side 0 (`a`) and 1 (`b`) with its virtual time since `t0`.
    log: Vec<(Duration, usize, IceEvent)>,
}

impl Sim {
    fn new(t0: Instant, a: Peer, b: Peer) -> Sim {
        Sim {
            t0,
            now: t0,
            peers: [(a_addr(), a), (b_addr(), b)],
            in_flight: VecDeque::new(),
            sent: [0, 0],
            loss: Box::new(|_, _| false),
            log: Vec::new(),
        }
    }

    fn a(&mut self) -> &mut IceAgent {
        self.peers[0].1.ours()
    }
    fn b(&mut self) -> &mut IceAgent {
        self.peers[1].1.ours()
    }

    fn collect(&mut self) {
        for side in 0..2 {
            for (from, to, data) in self.peers[side].1.transmits() {
                let n = self.sent[side];
                self.sent[side] += 1;
                if !(self.loss)(from, n) {
                    self.in_flight
                        .push_back((self.now + LATENCY, from, to, data));
                }
            }
            for e in self.peers[side].1.events() {
                self.log.push((self.now - self.t0, side, e));
            }
        }
    }

    /// Runs until `until` holds or `limit` of virtual time has passed; true if it held.
    fn run(&mut self, limit: Duration, until: impl Fn(&Sim) -> bool) -> bool {
        let end = self.now + limit;
        for _ in 0..1_000_000 {
            self.collect();
            if until(self) {
                return true;
            }
            let next = [
                self.peers[0].1.timeout(),
                self.peers[1].1.timeout(),
                self.in_flight.front().map(|f| f.0),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next else { return false };
            if next > end {
                self.now = end;
                return false;
            }
            self.now = self.now.max(next);
            while self.in_flight.front().is_some_and(|f| f.0 <= self.now) {
                let (_, from, to, data) = self.in_flight.pop_front().unwrap();
                if let Some((_, peer)) = self.peers.iter_mut().find(|(addr, _)| *addr == to) {
                    peer.receive(self.now, to, from, &data);
                }
            }
            for (_, peer) in &mut self.peers {
                if peer.timeout().is_some_and(|t| t <= self.now) {
                    peer.fire(self.now);
                }
            }
        }
        panic!("simulation did not settle")
    }

    fn has(&self, side: usize, pred: impl Fn(&IceEvent) -> bool) -> bool {
        self.log.iter().any(|(_, s, e)| *s == side && pred(e))
    }

    fn first_time(&self, side: usize, pred: impl Fn(&IceEvent) -> bool) -> Option<Duration> {
        self.log
            .iter()
            .find(|(_, s, e)| *s == side && pred(e))
            .map(|(t, _, _)| *t)
    }

    fn both_selected(&self) -> bool {
        (0..2).all(|s| self.has(s, |e| matches!(e, IceEvent::Selected { .. })))
    }
}

fn host(addr: SocketAddr) -> Candidate {
    Candidate {
        foundation: "1".into(),
        transport: "udp".into(),
        addr: addr.ip().to_string(),
        typ: CandidateType::Host,
        rtp: Some(ComponentPort {
            port: addr.port(),
            priority: 2_130_706_431,
        }),
        rtcp: None,
        related_addr: None,
        related_rtp: None,
        related_rtcp: None,
        tcptype: None,
        extensions: Vec::new(),
    }
}

/// Offer/answer: `a` controls (it offered), both learn the other's credentials and host
/// candidate at `t0`.
fn connected_pair(t0: Instant) -> Sim {
    let mut a = IceAgent::new(
        t0,
        IceConfig {
            controlling: true,
            ..IceConfig::default()
        },
    )
    .unwrap();
    let mut b = IceAgent::new(t0, IceConfig::default()).unwrap();
    a.add_local_host(a_addr()).unwrap();
    b.add_local_host(b_addr()).unwrap();
    exchange(t0, &mut a, &mut b);
    Sim::new(t0, Peer::Ours(Box::new(a)), Peer::Ours(Box::new(b)))
}

fn exchange(now: Instant, a: &mut IceAgent, b: &mut IceAgent) {
    let (ca, cb) = (a.local_credentials().clone(), b.local_credentials().clone());
    a.set_remote_credentials(now, &cb, false).unwrap();
    b.set_remote_credentials(now, &ca, false).unwrap();
    assert!(a.add_remote_candidate(&host(b_addr())).unwrap());
    assert!(b.add_remote_candidate(&host(a_addr())).unwrap());
}

#[test]
fn controlling_and_controlled_connect() {
    let mut sim = connected_pair(Instant::now());
    assert!(sim.run(Duration::from_secs(5), Sim::both_selected));
    assert_eq!(sim.a().selected_pair(), Some((a_addr(), b_addr())));
    assert_eq!(sim.b().selected_pair(), Some((b_addr(), a_addr())));
    assert_eq!(sim.a().state(), IceState::Connected);
    assert_eq!(sim.b().state(), IceState::Connected);
    assert!(sim.a().controlling() && !sim.b().controlling());
    // Media from the checked peer is accepted, from anyone else not.
    let now = sim.now;
    assert!(sim.a().accepts_data(now, a_addr(), b_addr()));
    assert!(
        !sim.a()
            .accepts_data(now, a_addr(), "10.0.0.9:1".parse().unwrap())
    );
}

#[test]
fn first_valid_pair_is_reported_at_the_first_round_trip() {
    let mut sim = connected_pair(Instant::now());
    assert!(sim.run(Duration::from_secs(5), Sim::both_selected));
    let writable = |e: &IceEvent| matches!(e, IceEvent::Writable { .. });
    let selected = |e: &IceEvent| matches!(e, IceEvent::Selected { .. });
    // The first checks leave at t0; their answers are back one round trip later, and the
    // event comes out of that very input, not out of the next 200 ms check tick.
    assert_eq!(sim.first_time(0, writable), Some(2 * LATENCY));
    assert_eq!(sim.first_time(1, writable), Some(2 * LATENCY));
    assert!(sim.has(0, |e| *e
        == IceEvent::Writable {
            local: a_addr(),
            remote: b_addr()
        }));
    assert_eq!(sim.a().data_pair(), Some((a_addr(), b_addr())));
    // Nomination rides on the triggered checks: selected after two round trips, still
    // before the first tick.
    let sel_a = sim.first_time(0, selected).unwrap();
    let sel_b = sim.first_time(1, selected).unwrap();
    assert_eq!(sel_a, 4 * LATENCY);
    assert_eq!(sel_b, 3 * LATENCY);
    // Writable precedes Selected in each agent's event order.
    for side in 0..2 {
        let pos = |p: &dyn Fn(&IceEvent) -> bool| {
            sim.log
                .iter()
                .position(|(_, s, e)| *s == side && p(e))
                .unwrap()
        };
        assert!(pos(&writable) < pos(&selected));
    }
}

#[test]
fn lost_checks_are_retransmitted() {
    let mut sim = connected_pair(Instant::now());
    // The first three datagrams from a and the first two from b vanish.
    sim.loss = Box::new(|from, n| if from == a_addr() { n < 3 } else { n < 2 });
    assert!(sim.run(Duration::from_secs(5), Sim::both_selected));
    let t = sim
        .first_time(0, |e| matches!(e, IceEvent::Selected { .. }))
        .unwrap();
    // Two check rounds lost: connected on a later 200 ms round, not at the first one.
    assert!(t >= Duration::from_millis(400), "{t:?}");
    assert_eq!(sim.a().selected_pair(), Some((a_addr(), b_addr())));
}

#[test]
fn consent_expires_when_the_peer_goes_silent() {
    let t0 = Instant::now();
    let mut sim = connected_pair(t0);
    assert!(sim.run(Duration::from_secs(5), Sim::both_selected));
    // b vanishes: nothing of its reaches a any more.
    let cut = sim.now - t0;
    let b_sent = sim.sent[1];
    sim.loss = Box::new(move |from, n| from == b_addr() && n >= b_sent);
    let state = |s: IceState| move |e: &IceEvent| *e == IceEvent::State(s);
    assert!(sim.run(Duration::from_secs(60), |sim| {
        sim.has(0, state(IceState::Failed))
    }));
    let disconnected = sim.first_time(0, state(IceState::Disconnected)).unwrap() - cut;
    let failed = sim.first_time(0, state(IceState::Failed)).unwrap() - cut;
    // Disconnected after 5 s without an answer, noticed on the next 2 s consent round;
    // consent lost after 30 s (RFC 7675 §5.1), on the round after.
    assert!(
        (Duration::from_secs(5)..=Duration::from_secs(7)).contains(&disconnected),
        "{disconnected:?}"
    );
    assert!(
        (Duration::from_secs(30)..=Duration::from_secs(32)).contains(&failed),
        "{failed:?}"
    );
    assert_eq!(sim.a().state(), IceState::Failed);
    assert_eq!(sim.a().selected_pair(), None);
    assert_eq!(sim.a().data_pair(), None);
}

#[test]
fn ice_restart_reconnects_with_new_credentials() {
    let t0 = Instant::now();
    let mut sim = connected_pair(t0);
    assert!(sim.run(Duration::from_secs(5), Sim::both_selected));
    let old_a = sim.a().local_credentials().clone();
    let old_b = sim.b().local_credentials().clone();
    sim.collect();
    let before = sim.log.len();

    // a restarts (new offer); b sees new credentials and restarts too (its answer).
    let now = sim.now;
    let new_a = sim.a().restart(now, None).unwrap();
    assert_ne!(new_a, old_a);
    assert_eq!(
        sim.b().set_remote_credentials(now, &new_a, false).unwrap(),
        RemoteUpdate::Restarted
    );
    let new_b = sim.b().local_credentials().clone();
    assert_ne!(new_b, old_b);
    assert_eq!(
        sim.a().set_remote_credentials(now, &new_b, false).unwrap(),
        RemoteUpdate::Started
    );
    assert!(sim.a().add_remote_candidate(&host(b_addr())).unwrap());
    assert!(sim.b().add_remote_candidate(&host(a_addr())).unwrap());
    assert_eq!(sim.a().selected_pair(), None);

    let reselected = |sim: &Sim| {
        (0..2).all(|s| {
            sim.log[before..]
                .iter()
                .any(|(_, side, e)| *side == s && matches!(e, IceEvent::Selected { .. }))
        })
    };
    assert!(sim.run(Duration::from_secs(5), reselected));
    assert_eq!(sim.a().selected_pair(), Some((a_addr(), b_addr())));
    assert_eq!(sim.b().selected_pair(), Some((b_addr(), a_addr())));
    // Same credentials again are no restart.
    let now = sim.now;
    assert_eq!(
        sim.a().set_remote_credentials(now, &new_b, false).unwrap(),
        RemoteUpdate::Unchanged
    );
}

#[test]
fn restart_after_consent_failure_reconnects() {
    let t0 = Instant::now();
    let mut sim = connected_pair(t0);
    assert!(sim.run(Duration::from_secs(5), Sim::both_selected));
    let b_sent = sim.sent[1];
    sim.loss = Box::new(move |from, n| from == b_addr() && n >= b_sent);
    let failed = |e: &IceEvent| *e == IceEvent::State(IceState::Failed);
    assert!(sim.run(Duration::from_secs(60), |sim| sim.has(0, failed)));

    // The network heals; both sides restart (the agent dropped its candidates on failure,
    // the wrapper gives them back).
    sim.loss = Box::new(|_, _| false);
    sim.collect();
    let before = sim.log.len();
    let now = sim.now;
    sim.a().restart(now, None).unwrap();
    sim.b().restart(now, None).unwrap();
    let (a, b) = {
        let [(_, a), (_, b)] = &mut sim.peers;
        (a.ours(), b.ours())
    };
    exchange(now, a, b);
    let reconnected = |sim: &Sim| {
        sim.log[before..]
            .iter()
            .any(|(_, side, e)| *side == 0 && *e == IceEvent::State(IceState::Connected))
    };
    assert!(sim.run(Duration::from_secs(5), reconnected));
    assert_eq!(sim.a().selected_pair(), Some((a_addr(), b_addr())));
}

#[test]
fn controlling_against_an_ice_lite_peer() {
    let t0 = Instant::now();
    // The far end: rtc-ice in lite mode, host candidate only (RFC 8445 §2.5).
    let lite_creds = IceCredentials {
        ufrag: "liteufrag".into(),
        pwd: "litepasswordlitepassword".into(),
    };
    let mut lite = Agent::new(
        t0,
        Arc::new(AgentConfig {
            lite: true,
            candidate_types: vec![rtc_ice::candidate::CandidateType::Host],
            multicast_dns_mode: MulticastDnsMode::Disabled,
            local_ufrag: lite_creds.ufrag.clone(),
            local_pwd: lite_creds.pwd.clone(),
            ..AgentConfig::default()
        }),
        rtc_ice::crypto::default_provider().unwrap(),
    )
    .unwrap();
    lite.add_local_candidate(
        CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".into(),
                address: b_addr().ip().to_string(),
                port: b_addr().port(),
                component: 1,
                ..CandidateConfig::default()
            },
            ..CandidateHostConfig::default()
        }
        .new_candidate_host()
        .unwrap(),
    )
    .unwrap();

    // We answered (so would be controlled), but the peer is lite: we must control.
    let mut ours = IceAgent::new(t0, IceConfig::default()).unwrap();
    ours.add_local_host(a_addr()).unwrap();
    ours.set_remote_credentials(t0, &lite_creds, true).unwrap();
    assert!(ours.controlling());
    ours.add_remote_candidate(&host(b_addr())).unwrap();
    let mine = ours.local_credentials().clone();
    lite.start_connectivity_checks(t0, false, mine.ufrag, mine.pwd)
        .unwrap();

    let mut sim = Sim::new(t0, Peer::Ours(Box::new(ours)), Peer::Lite(Box::new(lite)));
    assert!(sim.run(Duration::from_secs(5), |sim| {
        sim.has(0, |e| matches!(e, IceEvent::Selected { .. }))
    }));
    assert_eq!(
        sim.first_time(0, |e| matches!(e, IceEvent::Writable { .. })),
        Some(2 * LATENCY)
    );
    assert_eq!(sim.a().selected_pair(), Some((a_addr(), b_addr())));
    assert_eq!(sim.a().state(), IceState::Connected);
}
