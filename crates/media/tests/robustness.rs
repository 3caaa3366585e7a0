#![allow(clippy::unwrap_used)]
//! Whatever the network sends: the demux, SRTP unprotect and the DTLS endpoint never
//! panic, no altered SRTP packet is accepted, random datagrams never complete a
//! handshake, and a handshake with an altered datagram that still completes on both sides
//! gives both the same keys.

mod dtls_common;

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use dtls_common::{Dir, Outcome, assert_srtp_pair, drive, rtcp_sr, rtp};
use media::demux::classify;
use media::dtls::{Certificate, Dtls, DtlsEvent, DtlsRole};
use media::srtp::{SrtpProfile, SrtpSession};
use proptest::prelude::*;
use proptest::sample::Index;
use protocol::media::SdesKey;

static CERTS: LazyLock<(Certificate, Certificate)> = LazyLock::new(|| {
    (
        Certificate::generate().unwrap(),
        Certificate::generate().unwrap(),
    )
});

fn sdes(profile: SrtpProfile, fill: u8, mki: bool) -> SdesKey {
    SdesKey {
        tag: 1,
        suite: profile.sdes_name().to_owned(),
        key_salt: vec![fill; profile.key_salt_len()],
        lifetime: None,
        mki: mki.then_some((7, 2)),
        params: Vec::new(),
    }
}

fn sessions(profile: SrtpProfile, mki: bool) -> (SrtpSession, SrtpSession) {
    let (a, b) = (sdes(profile, 1, mki), sdes(profile, 2, mki));
    (
        SrtpSession::from_sdes(&a, &b).unwrap(),
        SrtpSession::from_sdes(&b, &a).unwrap(),
    )
}

fn profile() -> impl Strategy<Value = SrtpProfile> {
    prop::sample::select(SrtpProfile::ALL.to_vec())
}

/// One change to a datagram: flip bits in a byte, cut it short, or append bytes.
#[derive(Clone, Debug)]
enum Mutation {
    Flip(Index, u8),
    Truncate(Index),
    Append(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<Index>(), 1..=255u8).prop_map(|(i, x)| Mutation::Flip(i, x)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => prop::collection::vec(any::<u8>(), 1..8).prop_map(Mutation::Append),
    ]
}

fn apply(m: &Mutation, mut d: Vec<u8>) -> Vec<u8> {
    match m {
        Mutation::Flip(i, x) if !d.is_empty() => {
            let at = i.index(d.len());
            d[at] ^= x;
        }
        Mutation::Truncate(i) => d.truncate(i.index(d.len().max(1))),
        Mutation::Append(tail) => d.extend_from_slice(tail),
        Mutation::Flip(..) => {}
    }
    d
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The demux looks at two bytes at most.
    #[test]
    fn demux_reads_only_the_first_two_bytes(data in prop::collection::vec(any::<u8>(), 0..64)) {
        let head = &data[..data.len().min(2)];
        prop_assert_eq!(classify(&data), classify(head));
    }

    /// Random bytes never authenticate, never panic, and each is counted once.
    #[test]
    fn random_bytes_are_refused_by_unprotect(
        profile in profile(),
        mki in any::<bool>(),
        packets in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..8),
    ) {
        let (_, mut rx) = sessions(profile, mki);
        for p in &packets {
            prop_assert!(rx.unprotect_rtp(p).is_err());
            // RTP-looking and RTCP-looking prefixes reach the parsers and ciphers.
            let mut q = p.clone();
            if q.len() > 2 {
                q[0] = 0x80;
                q[1] = 200;
            }
            prop_assert!(rx.unprotect_rtcp(&q).is_err());
        }
        let s = rx.stats();
        prop_assert_eq!(s.replayed + s.auth_failed + s.malformed, 2 * packets.len() as u64);
        prop_assert_eq!(s.rtp_unprotected + s.rtcp_unprotected, 0);
    }

    /// An altered SRTP/SRTCP packet is refused, and does not keep the genuine one out.
    #[test]
    fn altered_packets_are_refused(
        profile in profile(),
        mki in any::<bool>(),
        seq in any::<u16>(),
        m in mutation(),
    ) {
        let (mut tx, mut rx) = sessions(profile, mki);
        let wire = tx.protect_rtp(&rtp(seq)).unwrap();
        let bad = apply(&m, wire.clone());
        if bad != wire {
            prop_assert!(rx.unprotect_rtp(&bad).is_err(), "accepted {:?}", m);
        }
        prop_assert_eq!(rx.unprotect_rtp(&wire).unwrap(), rtp(seq));

        let wire = tx.protect_rtcp(&rtcp_sr(3)).unwrap();
        let bad = apply(&m, wire.clone());
        if bad != wire {
            prop_assert!(rx.unprotect_rtcp(&bad).is_err(), "accepted {:?}", m);
        }
        prop_assert_eq!(rx.unprotect_rtcp(&wire).unwrap(), rtcp_sr(3));
    }

    /// Random datagrams, DTLS-looking or not, never connect a fresh endpoint of either
    /// role, never panic, and produce at most one outcome.
    #[test]
    fn random_datagrams_never_connect(
        datagrams in prop::collection::vec(
            (any::<bool>(), prop::collection::vec(any::<u8>(), 0..300)), 0..6),
    ) {
        let start = Instant::now();
        let (ours, theirs) = &*CERTS;
        for role in [DtlsRole::Client, DtlsRole::Server] {
            let mut dtls = Dtls::new(role, ours, theirs.fingerprint(), start).unwrap();
            for (i, (as_record, mut d)) in datagrams.iter().cloned().enumerate() {
                if as_record && d.len() >= 13 {
                    // A handshake record header of DTLS 1.2, epoch 0, with a true length.
                    let len = (d.len() - 13) as u16;
                    d[..3].copy_from_slice(&[22, 254, 253]);
                    d[3..5].copy_from_slice(&[0, 0]);
                    d[11..13].copy_from_slice(&len.to_be_bytes());
                }
                let now = start + Duration::from_millis(300 * i as u64);
                dtls.handle_datagram(now, &d);
                dtls.handle_timeout(now);
                while dtls.poll_transmit().is_some() {}
            }
            let mut outcomes = 0;
            while let Some(event) = dtls.poll_event() {
                prop_assert!(!matches!(event, DtlsEvent::Connected { .. }), "{:?}", event);
                outcomes += 1;
            }
            prop_assert!(outcomes <= 1);
        }
    }

    /// A man in the middle alters one handshake datagram: whenever both sides still
    /// connect (the alteration was dropped and retransmission recovered), they hold the
    /// same keys.
    #[test]
    fn an_altered_handshake_datagram_is_survived_or_fatal(
        to_server in any::<bool>(),
        n in 1usize..5,
        m in mutation(),
    ) {
        let start = Instant::now();
        let (cc, sc) = &*CERTS;
        let mut client = Dtls::new(DtlsRole::Client, cc, sc.fingerprint(), start).unwrap();
        let mut server = Dtls::new(DtlsRole::Server, sc, cc.fingerprint(), start).unwrap();
        let dir = if to_server { Dir::ToServer } else { Dir::ToClient };
        let run = drive(&mut client, &mut server, start, |d, i, x| {
            Some(if (d, i) == (dir, n) { apply(&m, x) } else { x })
        });
        if let (Some(Outcome::Connected(mut c)), Some(Outcome::Connected(mut s))) =
            (run.client, run.server)
        {
            assert_srtp_pair(&mut c, &mut s);
        }
    }
}
