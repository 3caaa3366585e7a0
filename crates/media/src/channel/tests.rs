use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use codecs::CodecKind;
use protocol::media::{Candidate, Direction};

use super::*;
use crate::gather::IceServers;
use crate::ice::IceConfig;
use crate::negotiate::Settings;
use crate::rtp::{self, Clock, RtpSender};
use crate::seed::Seed;
use crate::transmit::Transport;

pub(super) fn config(port: u16, codecs: Vec<CodecKind>, seed: u32) -> ChannelConfig {
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
        seed: Seed::from_u64(u64::from(seed)),
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
            b.send_dtmf(now, "7", 120, DEFAULT_DTMF_GAP_MS)
                .expect("dtmf negotiated");
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
    let rms = (tail.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / tail.len() as f64).sqrt();
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
    // Three packets in a row of one stream prove the NAT's address (the latch rule).
    for i in 0..3u32 {
        let p = peer.packet(t0, 0, i == 0, i * 160, &[0xff; 160]);
        a.handle_datagram(t0, local, nat, &p);
    }
    assert!(a.stats().garbage >= 4);
    assert_eq!(
        a.stats().unchecked_source,
        2,
        "the first two wait for the proof"
    );
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
    let p = peer.packet(t0, 0, false, 480, &[0xff; 160]);
    a.handle_datagram(t0 + Duration::from_millis(20), local, stray, &p);
    assert!(
        std::iter::from_fn(|| a.poll_output())
            .all(|o| !matches!(o, Output::Event(Event::Latched { .. })))
    );
}

pub(super) fn events(ch: &mut Channel) -> Vec<Event> {
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
    let text =
        format!("turn:{server}?transport=tcp: no TCP connection to {server}: connection refused");
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

#[test]
fn silent_sends_silence_without_a_break() {
    let t0 = Instant::now();
    let mut a = Channel::new(config(4000, vec![CodecKind::Pcma], 1), t0).expect("valid");
    let mut b = Channel::new(config(5000, vec![CodecKind::Pcma], 2), t0).expect("valid");
    let answer = b.accept_offer(t0, &a.create_offer()).expect("ok");
    a.apply_answer(t0, &answer).expect("ok");
    let payloads = |a: &mut Channel| -> Vec<Vec<u8>> {
        std::iter::from_fn(|| a.poll_output())
            .filter_map(|o| match o {
                Output::Transmit(t) => Some(t.data[12..].to_vec()),
                _ => None,
            })
            .collect()
    };
    a.send_audio(t0, &[8000; 160]).expect("ok");
    let loud = payloads(&mut a);
    a.set_silent(true);
    a.send_audio(t0, &[8000; 160]).expect("ok");
    let quiet = payloads(&mut a);
    assert_eq!(quiet.len(), 1, "a packet still goes");
    // A-law of 0 is 0xD5 (ITU-T G.711, even bits inverted).
    assert!(quiet[0].iter().all(|&b| b == 0xD5), "{:x?}", &quiet[0][..8]);
    assert_ne!(loud[0], quiet[0]);
    a.set_silent(false);
    a.send_audio(t0, &[8000; 160]).expect("ok");
    assert_eq!(payloads(&mut a), loud, "the microphone again");
}
