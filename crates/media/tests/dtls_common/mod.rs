//! An in-memory network between two DTLS endpoints, with a hand on every datagram.
// Each test binary uses a part.
#![allow(dead_code)]

use std::time::Instant;

use media::demux::{Datagram, classify};
use media::dtls::{Dtls, DtlsError, DtlsEvent};
use media::srtp::{SrtpError, SrtpSession};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    ToServer,
    ToClient,
}

/// Outcome of one side.
#[derive(Debug)]
pub enum Outcome {
    Connected(Box<SrtpSession>),
    Failed(DtlsError),
}

impl Outcome {
    pub fn srtp(self) -> Box<SrtpSession> {
        match self {
            Outcome::Connected(s) => s,
            Outcome::Failed(e) => panic!("expected Connected, got Failed({e})"),
        }
    }

    pub fn error(self) -> DtlsError {
        match self {
            Outcome::Failed(e) => e,
            Outcome::Connected(_) => panic!("expected Failed, got Connected"),
        }
    }
}

pub struct Run {
    pub client: Option<Outcome>,
    pub server: Option<Outcome>,
    /// When the last outcome arrived.
    pub end: Instant,
    /// Datagrams sent per direction (lost ones included).
    pub sent: [usize; 2],
}

/// Moves datagrams between the endpoints until nothing is left to do; when idle, jumps
/// the clock to the earliest retransmission timer. `tamper(dir, n, datagram)` sees the
/// `n`th datagram (1-based) sent in `dir` and returns what arrives, `None` to lose it.
pub fn drive(
    client: &mut Dtls,
    server: &mut Dtls,
    start: Instant,
    mut tamper: impl FnMut(Dir, usize, Vec<u8>) -> Option<Vec<u8>>,
) -> Run {
    let mut now = start;
    let mut run = Run {
        client: None,
        server: None,
        end: start,
        sent: [0; 2],
    };
    for _ in 0..500 {
        let mut moved = false;
        while let Some(d) = client.poll_transmit() {
            assert_eq!(classify(&d), Datagram::Dtls, "client sent non-DTLS");
            run.sent[0] += 1;
            moved = true;
            if let Some(d) = tamper(Dir::ToServer, run.sent[0], d) {
                server.handle_datagram(now, &d);
            }
        }
        while let Some(d) = server.poll_transmit() {
            assert_eq!(classify(&d), Datagram::Dtls, "server sent non-DTLS");
            run.sent[1] += 1;
            moved = true;
            if let Some(d) = tamper(Dir::ToClient, run.sent[1], d) {
                client.handle_datagram(now, &d);
            }
        }
        for (dtls, slot) in [
            (&mut *client, &mut run.client),
            (&mut *server, &mut run.server),
        ] {
            while let Some(event) = dtls.poll_event() {
                assert!(slot.is_none(), "a second outcome: {event:?}");
                *slot = Some(match event {
                    DtlsEvent::Connected { srtp } => Outcome::Connected(srtp),
                    DtlsEvent::Failed(e) => Outcome::Failed(e),
                    DtlsEvent::Closed => panic!("unexpected Closed"),
                });
                run.end = now;
            }
        }
        if moved {
            continue;
        }
        let next = [client.poll_timeout(), server.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        match next {
            Some(t) => {
                assert!(t >= now, "timer in the past");
                now = t;
                client.handle_timeout(now);
                server.handle_timeout(now);
            }
            None => break,
        }
    }
    run
}

pub fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 111];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 960).to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend((0..160).map(|i| i as u8));
    p
}

pub fn rtcp_sr(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 200, 0, 6];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[7; 20]);
    p
}

/// Both sessions carry RTP and RTCP both ways, and neither decrypts its own output.
pub fn assert_srtp_pair(a: &mut SrtpSession, b: &mut SrtpSession) {
    assert_eq!(a.profile(), b.profile());
    for seq in [1u16, 2, 3] {
        let wire = a.protect_rtp(&rtp(seq)).unwrap();
        assert_eq!(classify(&wire), Datagram::Rtp);
        assert_eq!(b.unprotect_rtp(&wire).unwrap(), rtp(seq));
        let wire = b.protect_rtp(&rtp(seq)).unwrap();
        assert_eq!(a.unprotect_rtp(&wire).unwrap(), rtp(seq));
    }
    let wire = a.protect_rtcp(&rtcp_sr(1)).unwrap();
    assert_eq!(classify(&wire), Datagram::Rtcp);
    assert_eq!(b.unprotect_rtcp(&wire).unwrap(), rtcp_sr(1));
    let wire = b.protect_rtcp(&rtcp_sr(2)).unwrap();
    assert_eq!(a.unprotect_rtcp(&wire).unwrap(), rtcp_sr(2));
    let own = a.protect_rtp(&rtp(9)).unwrap();
    assert_eq!(a.unprotect_rtp(&own), Err(SrtpError::AuthFailed));
}
