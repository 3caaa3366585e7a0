//! The gatherer against real servers on 127.0.0.1: a tiny STUN responder built with
//! rtc-stun, and coturn's `turnserver` (Debian package `coturn`, installed by
//! `scripts/test`). Each test drives the sans-IO gatherer with a small tokio loop, the
//! way the channel's driver will.
#![allow(clippy::unwrap_used)]

mod common;

use common::turn::turnserver;
use media::gather::{GatherError, GatherEvent, Gatherer, Input, Relayed, ServerSpec, server_specs};
use media::transmit::Transport;
use protocol::media_protocol::IceServer;
use rtc_stun::message::{BINDING_REQUEST, BINDING_SUCCESS, Message};
use rtc_stun::xoraddr::XorMappedAddress;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

fn spec(url: &str, user: Option<&str>, pwd: Option<&str>) -> ServerSpec {
    let (mut specs, errors) = server_specs(&[IceServer {
        urls: vec![url.into()],
        username: user.map(Into::into),
        credential: pwd.map(Into::into),
        credential_type: None,
    }]);
    assert!(errors.is_empty(), "{errors:?}");
    specs.remove(0)
}

/// A gatherer with one UDP socket and, optionally, one TCP connection to a TURN server.
struct Driver {
    g: Gatherer,
    udp: UdpSocket,
    tcp: Option<TcpStream>,
    events: Vec<GatherEvent>,
    relayed: Vec<Relayed>,
    /// ChannelData messages sent (first two bits 01, RFC 5766 §11.4).
    channel_data_sent: usize,
}

impl Driver {
    async fn new() -> Driver {
        Driver {
            g: Gatherer::default(),
            udp: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            tcp: None,
            events: Vec::new(),
            relayed: Vec::new(),
            channel_data_sent: 0,
        }
    }

    fn local(&self) -> SocketAddr {
        self.udp.local_addr().unwrap()
    }

    /// One round: send, then wait for input or the next timer (at most 50 ms).
    async fn step(&mut self) {
        self.step_for(Duration::from_millis(50)).await
    }

    /// One round waiting at most `max`.
    async fn step_for(&mut self, max: Duration) {
        while let Some(t) = self.g.poll_transmit() {
            if t.data.first().is_some_and(|b| b >> 6 == 1) {
                self.channel_data_sent += 1;
            }
            match t.transport {
                Transport::Udp => {
                    self.udp.send_to(&t.data, t.remote).await.unwrap();
                }
                Transport::Tcp => self.tcp.as_mut().unwrap().write_all(&t.data).await.unwrap(),
            }
        }
        while let Some(e) = self.g.poll_event() {
            self.events.push(e);
        }
        let now = Instant::now();
        let wake = self
            .g
            .poll_timeout()
            .map_or(now + max, |t| t.min(now + max));
        let mut buf = vec![0u8; 2048];
        let mut tcp_buf = vec![0u8; 4096];
        enum Got {
            Udp(usize, SocketAddr),
            Tcp(usize),
            Timer,
        }
        let (udp, tcp) = (&self.udp, &mut self.tcp);
        let got = tokio::select! {
            r = udp.recv_from(&mut buf) => {
                let (n, from) = r.unwrap();
                Got::Udp(n, from)
            }
            r = async {
                match tcp {
                    Some(s) => s.read(&mut tcp_buf).await,
                    None => std::future::pending().await,
                }
            } => Got::Tcp(r.unwrap()),
            _ = tokio::time::sleep_until(wake.into()) => Got::Timer,
        };
        let local = self.local();
        match got {
            Got::Udp(n, from) => {
                if let Input::Relayed(r) =
                    self.g.handle_input(Instant::now(), local, from, &buf[..n])
                {
                    self.relayed.push(r);
                }
            }
            Got::Tcp(n) => {
                let s = self.tcp.as_ref().unwrap();
                let (l, p) = (s.local_addr().unwrap(), s.peer_addr().unwrap());
                if n == 0 {
                    self.g.connection_lost(l, p);
                } else {
                    let got = self
                        .g
                        .handle_stream(Instant::now(), l, p, &tcp_buf[..n])
                        .unwrap();
                    self.relayed.extend(got);
                }
            }
            Got::Timer => self.g.handle_timeout(Instant::now()),
        }
        while let Some(e) = self.g.poll_event() {
            self.events.push(e);
        }
    }

    /// Steps until `done` holds; fails after `limit`.
    async fn until(&mut self, limit: Duration, mut done: impl FnMut(&Driver) -> bool) {
        let end = Instant::now() + limit;
        while !done(self) {
            assert!(
                Instant::now() < end,
                "timed out; events so far: {:?}",
                self.events
            );
            self.step().await;
        }
    }
}

/// A STUN server that answers every Binding request with `mapped` as XOR-MAPPED-ADDRESS.
async fn stun_responder(mapped: SocketAddr) -> SocketAddr {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 1500];
        loop {
            let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                return;
            };
            let mut req = Message::new();
            req.raw = buf[..n].to_vec();
            if req.decode().is_err() || req.typ != BINDING_REQUEST {
                continue;
            }
            let mut resp = Message::new();
            resp.build(&[
                Box::new(req.clone()),
                Box::new(BINDING_SUCCESS),
                Box::new(XorMappedAddress {
                    ip: mapped.ip(),
                    port: mapped.port(),
                }),
            ])
            .unwrap();
            let _ = sock.send_to(&resp.raw, from).await;
        }
    });
    addr
}

#[tokio::test]
async fn stun_server_gives_a_server_reflexive_candidate() {
    // What a NAT would show: the responder claims our public address is 203.0.113.9:40000.
    let public: SocketAddr = "203.0.113.9:40000".parse().unwrap();
    let server = stun_responder(public).await;
    let mut d = Driver::new().await;
    let local = d.local();
    let s = spec(&format!("stun:{server}"), None, None);
    let id = d.g.add_server(Instant::now(), &s, server, local).unwrap();
    assert!(d.g.is_gathering());
    d.until(Duration::from_secs(5), |d| !d.events.is_empty())
        .await;
    assert_eq!(
        d.events,
        [GatherEvent::Srflx {
            server: id,
            mapped: public,
            base: local
        }]
    );
    assert!(!d.g.is_gathering());
}

#[tokio::test]
async fn stun_answer_equal_to_the_base_is_no_candidate() {
    // On loopback the mapped address is the socket itself: redundant (RFC 8445 §5.1.3).
    let mut d = Driver::new().await;
    let local = d.local();
    let server = stun_responder(local).await;
    let s = spec(&format!("stun:{server}"), None, None);
    d.g.add_server(Instant::now(), &s, server, local).unwrap();
    d.until(Duration::from_secs(5), |d| !d.g.is_gathering())
        .await;
    assert!(d.events.is_empty(), "{:?}", d.events);
}

// ---------------------------------------------------------------------------------------
// coturn (tests/common/turn.rs)

fn relay_event(d: &Driver) -> Option<SocketAddr> {
    d.events.iter().find_map(|e| match e {
        GatherEvent::Relay { relayed, .. } => Some(*relayed),
        _ => None,
    })
}

/// Through the relay to a plain UDP peer and back, several times (Send indications first,
/// ChannelData once the channel is bound).
async fn relay_round_trips(d: &mut Driver, relay: SocketAddr) {
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let peer_addr = peer.local_addr().unwrap();
    d.g.permit(Instant::now(), peer_addr);
    let mut buf = [0u8; 1500];
    for i in 0..5 {
        let ping = format!("ping {i}");
        // The first one waits in the queue for the permission.
        d.g.send(Instant::now(), relay, peer_addr, ping.as_bytes())
            .unwrap();
        let end = Instant::now() + Duration::from_secs(5);
        let (n, from) = loop {
            if let Ok(Ok(got)) =
                tokio::time::timeout(Duration::from_millis(1), peer.recv_from(&mut buf)).await
            {
                break got;
            }
            assert!(Instant::now() < end, "peer got no {ping:?}: {:?}", d.events);
            d.step().await;
        };
        assert_eq!(&buf[..n], ping.as_bytes());
        // The peer sees the relayed address, not ours.
        assert_eq!(from, relay);

        let pong = format!("pong {i}");
        peer.send_to(pong.as_bytes(), relay).await.unwrap();
        d.until(Duration::from_secs(5), |d| !d.relayed.is_empty())
            .await;
        let r = d.relayed.remove(0);
        assert_eq!((r.relay, r.peer), (relay, peer_addr));
        assert_eq!(&r.data[..], pong.as_bytes());
    }
    // The later datagrams went as ChannelData, after the channel was bound.
    assert!(d.channel_data_sent > 0, "no ChannelData sent");
    assert!(
        !d.events.iter().any(|e| matches!(
            e,
            GatherEvent::Failed { .. } | GatherEvent::PermissionFailed { .. }
        )),
        "{:?}",
        d.events
    );
}

#[tokio::test]
async fn turn_udp_allocates_and_relays() {
    let Some(turn) = turnserver().await else {
        return;
    };
    let mut d = Driver::new().await;
    let local = d.local();
    let s = spec(
        &format!("turn:{}?transport=udp", turn.addr()),
        Some("u"),
        Some("p"),
    );
    let id =
        d.g.add_server(Instant::now(), &s, turn.addr(), local)
            .unwrap();
    d.until(Duration::from_secs(10), |d| relay_event(d).is_some())
        .await;
    let relay = relay_event(&d).unwrap();
    assert_eq!(relay.ip(), turn.addr().ip());
    assert!(d.events.contains(&GatherEvent::Relay {
        server: id,
        relayed: relay,
        // The server's view of us, learnt by the Binding sent alongside the Allocate.
        mapped: Some(local),
        local,
        transport: Transport::Udp,
    }));
    // On loopback the mapped address is our own: no srflx candidate.
    assert!(
        !d.events
            .iter()
            .any(|e| matches!(e, GatherEvent::Srflx { .. }))
    );
    assert_eq!(d.g.relays().collect::<Vec<_>>(), [relay]);

    relay_round_trips(&mut d, relay).await;

    // ICE's transmits from the relayed address are wrapped; others pass through.
    let direct = media::transmit::Transmit {
        transport: Transport::Udp,
        local,
        remote: "127.0.0.1:9".parse().unwrap(),
        data: bytes::Bytes::from_static(b"x"),
    };
    assert_eq!(
        d.g.route(Instant::now(), direct.clone()).unwrap(),
        Some(direct)
    );

    // Deallocation: a Refresh with lifetime 0, answered.
    d.g.close(Instant::now());
    assert_eq!(d.g.relays().count(), 0);
    d.step().await;
    assert!(matches!(
        d.g.send(Instant::now(), relay, local, b"late"),
        Err(GatherError::NotARelay { .. })
    ));
}

#[tokio::test]
async fn turn_tcp_allocates_and_relays() {
    let Some(turn) = turnserver().await else {
        return;
    };
    let mut d = Driver::new().await;
    let stream = TcpStream::connect(turn.addr()).await.unwrap();
    let local = stream.local_addr().unwrap();
    d.tcp = Some(stream);
    let s = spec(
        &format!("turn:{}?transport=tcp", turn.addr()),
        Some("u"),
        Some("p"),
    );
    d.g.add_server(Instant::now(), &s, turn.addr(), local)
        .unwrap();
    d.until(Duration::from_secs(10), |d| relay_event(d).is_some())
        .await;
    let relay = relay_event(&d).unwrap();
    assert!(d.events.iter().any(|e| matches!(
        e,
        GatherEvent::Relay {
            transport: Transport::Tcp,
            ..
        }
    )));
    relay_round_trips(&mut d, relay).await;
}

#[tokio::test]
async fn turn_wrong_password_is_a_clear_error() {
    let Some(turn) = turnserver().await else {
        return;
    };
    let mut d = Driver::new().await;
    let local = d.local();
    let s = spec(&format!("turn:{}", turn.addr()), Some("u"), Some("wrong"));
    let id =
        d.g.add_server(Instant::now(), &s, turn.addr(), local)
            .unwrap();
    d.until(Duration::from_secs(10), |d| {
        d.events
            .iter()
            .any(|e| matches!(e, GatherEvent::Failed { .. }))
    })
    .await;
    let error = d
        .events
        .iter()
        .find_map(|e| match e {
            GatherEvent::Failed { server, error } if *server == id => Some(error.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        error,
        GatherError::Unauthorized {
            url: s.url.clone(),
            server: turn.addr(),
            user: "u".into()
        }
    );
    let text = error.to_string();
    assert!(text.contains("401 Unauthorized"), "{text}");
    assert!(text.starts_with(&s.url), "{text}");
    assert!(!d.g.is_gathering());
    assert_eq!(d.g.relays().count(), 0);
}

/// ICE through the relay: `a` has only a relay candidate, `b` a host candidate. `a`'s
/// checks leave through the gatherer (Send indication / ChannelData), `b`'s arrive as
/// relayed data and are fed to `a` with the relayed address as local address.
#[tokio::test]
async fn ice_connects_through_a_turn_relay() {
    use media::ice::{IceAgent, IceConfig, IceEvent};
    let Some(turn) = turnserver().await else {
        return;
    };
    let mut d = Driver::new().await;
    let a_local = d.local();
    let s = spec(&format!("turn:{}", turn.addr()), Some("u"), Some("p"));
    d.g.add_server(Instant::now(), &s, turn.addr(), a_local)
        .unwrap();
    d.until(Duration::from_secs(10), |d| relay_event(d).is_some())
        .await;
    let relay = relay_event(&d).unwrap();

    let b_sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b_addr = b_sock.local_addr().unwrap();
    let t0 = Instant::now();
    let mut a = IceAgent::new(
        t0,
        IceConfig {
            controlling: true,
            ..IceConfig::default()
        },
    )
    .unwrap();
    let mut b = IceAgent::new(t0, IceConfig::default()).unwrap();
    let a_cand = a.add_local_relay(relay, a_local, Transport::Udp).unwrap();
    let b_cand = b.add_local_host(b_addr).unwrap();
    let (ca, cb) = (a.local_credentials().clone(), b.local_credentials().clone());
    a.set_remote_credentials(t0, &cb, false).unwrap();
    b.set_remote_credentials(t0, &ca, false).unwrap();
    assert!(a.add_remote_candidate(&b_cand).unwrap());
    assert!(b.add_remote_candidate(&a_cand).unwrap());
    d.g.permit(t0, b_addr);

    let (mut a_events, mut b_events) = (Vec::new(), Vec::new());
    let selected = |events: &[IceEvent]| {
        events
            .iter()
            .any(|e| matches!(e, IceEvent::Selected { .. }))
    };
    let end = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 1500];
    while !(selected(&a_events) && selected(&b_events)) {
        assert!(Instant::now() < end, "a: {a_events:?} b: {b_events:?}");
        let now = Instant::now();
        for agent in [&mut a, &mut b] {
            if agent.poll_timeout().is_some_and(|t| t <= now) {
                agent.handle_timeout(now);
            }
        }
        while let Some(t) = a.poll_transmit() {
            // Everything `a` sends leaves from the relayed address.
            assert_eq!(d.g.route(now, t).unwrap(), None);
        }
        while let Some(t) = b.poll_transmit() {
            b_sock.send_to(&t.data, t.remote).await.unwrap();
        }
        d.step_for(Duration::from_millis(5)).await;
        for r in std::mem::take(&mut d.relayed) {
            let _ = a.handle_stun(Instant::now(), r.relay, r.peer, &r.data);
        }
        while let Ok((n, from)) = b_sock.try_recv_from(&mut buf) {
            let _ = b.handle_stun(Instant::now(), b_addr, from, &buf[..n]);
        }
        a_events.extend(std::iter::from_fn(|| a.poll_event()));
        b_events.extend(std::iter::from_fn(|| b.poll_event()));
    }
    assert_eq!(a.selected_pair(), Some((relay, b_addr)));
    assert_eq!(b.selected_pair(), Some((b_addr, relay)));
    assert!(a_events.contains(&IceEvent::Writable {
        local: relay,
        remote: b_addr
    }));
}
