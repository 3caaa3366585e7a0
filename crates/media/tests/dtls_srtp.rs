#![allow(clippy::unwrap_used)]
//! DTLS-SRTP end to end in memory: two endpoints handshake with time passed in, lose
//! datagrams and recover by retransmission, check each other's fingerprints, and the SRTP
//! sessions they produce protect on one side what the other unprotects.

mod dtls_common;

use std::time::{Duration, Instant};

use dtls_common::{Dir, Outcome, assert_srtp_pair, drive};
use media::dtls::{
    Certificate, DEFAULT_SRTP_PROFILES, Dtls, DtlsError, DtlsEvent, DtlsRole, OFFER_SETUP,
    answer_setup,
};
use media::srtp::SrtpProfile;
use protocol::media::SetupRole;

fn endpoints(start: Instant) -> (Dtls, Dtls) {
    endpoints_with(start, &DEFAULT_SRTP_PROFILES, &DEFAULT_SRTP_PROFILES)
}

fn endpoints_with(start: Instant, client: &[SrtpProfile], server: &[SrtpProfile]) -> (Dtls, Dtls) {
    let (cc, sc) = (
        Certificate::generate().unwrap(),
        Certificate::generate().unwrap(),
    );
    (
        Dtls::with_profiles(DtlsRole::Client, &cc, sc.fingerprint(), client, start).unwrap(),
        Dtls::with_profiles(DtlsRole::Server, &sc, cc.fingerprint(), server, start).unwrap(),
    )
}

#[test]
fn handshake_keys_srtp_both_ways_without_waiting_for_a_timer() {
    let start = Instant::now();
    let (mut client, mut server) = endpoints(start);
    let run = drive(&mut client, &mut server, start, |_, _, d| Some(d));
    assert_eq!(run.end, start, "a lossless handshake needs no timer");
    assert!(client.is_connected() && server.is_connected());
    let (mut c, mut s) = (run.client.unwrap().srtp(), run.server.unwrap().srtp());
    // Chromium's preference, and ours.
    assert_eq!(c.profile(), SrtpProfile::AeadAes128Gcm);
    assert_srtp_pair(&mut c, &mut s);
    assert_eq!(client.poll_timeout(), None);
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn the_client_sends_its_hello_the_moment_it_is_made() {
    let start = Instant::now();
    let (mut client, mut server) = endpoints(start);
    let hello = client.poll_transmit().expect("ClientHello queued by new()");
    // Record type 22 (handshake), handshake type 1 (ClientHello) after the 13-byte header.
    assert_eq!((hello[0], hello[13]), (22, 1));
    assert_eq!(client.poll_timeout(), Some(start + Duration::from_secs(1)));
    assert_eq!(server.poll_transmit(), None);
    assert_eq!(server.poll_timeout(), None);
}

#[test]
fn lost_datagrams_are_recovered_by_retransmission() {
    // The flights: client ClientHello (1), ClientHello with cookie (2), Certificate …
    // Finished (3); server HelloVerifyRequest (1), ServerHello … Done (2), Finished (3).
    // Losing the server's last flight exercises RFC 6347 §4.2.4: the completed server
    // repeats it when the client's retransmitted flight arrives.
    for (dir, n) in [
        (Dir::ToServer, 1),
        (Dir::ToClient, 1),
        (Dir::ToServer, 2),
        (Dir::ToClient, 2),
        (Dir::ToServer, 3),
        (Dir::ToClient, 3),
    ] {
        let start = Instant::now();
        let (mut client, mut server) = endpoints(start);
        let run = drive(&mut client, &mut server, start, |d, i, x| {
            ((d, i) != (dir, n)).then_some(x)
        });
        let (Some(c), Some(s)) = (run.client, run.server) else {
            panic!("losing {dir:?} #{n}: no outcome");
        };
        assert!(
            run.end >= start + Duration::from_secs(1),
            "{dir:?} #{n}: recovered by a timer"
        );
        assert_srtp_pair(&mut c.srtp(), &mut s.srtp());
    }
}

#[test]
fn heavy_loss_still_connects() {
    // Every other datagram lost, both ways.
    let start = Instant::now();
    let (mut client, mut server) = endpoints(start);
    let run = drive(&mut client, &mut server, start, |_, i, x| {
        (i % 2 == 0).then_some(x)
    });
    assert_srtp_pair(
        &mut run.client.unwrap().srtp(),
        &mut run.server.unwrap().srtp(),
    );
}

#[test]
fn a_silent_peer_times_out_after_the_retransmissions() {
    let start = Instant::now();
    let (mut client, mut server) = endpoints(start);
    let run = drive(&mut client, &mut server, start, |d, _, x| {
        (d == Dir::ToClient).then_some(x)
    });
    assert_eq!(run.client.unwrap().error(), DtlsError::Timeout);
    assert!(run.server.is_none());
    // rtc-dtls: a fixed 1 s interval, 7 retransmissions, then failure at the 8th timer.
    assert_eq!(run.sent[0], 8);
    assert_eq!(run.end, start + Duration::from_secs(8));
    assert_eq!(client.poll_timeout(), None);
}

#[test]
fn a_wrong_server_fingerprint_fails_the_client() {
    let start = Instant::now();
    let (cc, sc, other) = (
        Certificate::generate().unwrap(),
        Certificate::generate().unwrap(),
        Certificate::generate().unwrap(),
    );
    let mut client = Dtls::new(DtlsRole::Client, &cc, other.fingerprint(), start).unwrap();
    let mut server = Dtls::new(DtlsRole::Server, &sc, cc.fingerprint(), start).unwrap();
    let run = drive(&mut client, &mut server, start, |_, _, d| Some(d));
    let DtlsError::FingerprintMismatch { expected, actual } = run.client.unwrap().error() else {
        panic!("expected a fingerprint mismatch");
    };
    assert_eq!(expected, other.fingerprint().to_sdp_value());
    assert_eq!(actual, sc.fingerprint().to_sdp_value());
    // The client's bad_certificate alert ends the server's handshake too.
    assert!(matches!(
        run.server,
        Some(Outcome::Failed(DtlsError::Handshake(_)))
    ));
    assert!(!client.is_connected() && !server.is_connected());
}

#[test]
fn a_wrong_client_fingerprint_fails_the_server() {
    let start = Instant::now();
    let (cc, sc, other) = (
        Certificate::generate().unwrap(),
        Certificate::generate().unwrap(),
        Certificate::generate().unwrap(),
    );
    let mut client = Dtls::new(DtlsRole::Client, &cc, sc.fingerprint(), start).unwrap();
    let mut server = Dtls::new(DtlsRole::Server, &sc, other.fingerprint(), start).unwrap();
    let run = drive(&mut client, &mut server, start, |_, _, d| Some(d));
    let error = run.server.unwrap().error();
    assert!(
        matches!(error, DtlsError::FingerprintMismatch { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("does not match"), "{error}");
    assert!(matches!(run.client, Some(Outcome::Failed(_))));
}

#[test]
fn sha_1_and_sha_512_fingerprints_are_checked_too() {
    let start = Instant::now();
    let (cc, sc) = (
        Certificate::generate().unwrap(),
        Certificate::generate().unwrap(),
    );
    for (alg, len) in [("sha-1", 20), ("sha-512", 64)] {
        let digest = |c: &Certificate| {
            let d = if alg == "sha-1" {
                ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, c.der())
            } else {
                ring::digest::digest(&ring::digest::SHA512, c.der())
            };
            protocol::media::Fingerprint {
                algorithm: alg.to_owned(),
                value: d.as_ref().to_vec(),
            }
        };
        assert_eq!(digest(&sc).value.len(), len);
        let mut client = Dtls::new(DtlsRole::Client, &cc, digest(&sc), start).unwrap();
        let mut server = Dtls::new(DtlsRole::Server, &sc, digest(&cc), start).unwrap();
        let run = drive(&mut client, &mut server, start, |_, _, d| Some(d));
        assert_srtp_pair(
            &mut run.client.unwrap().srtp(),
            &mut run.server.unwrap().srtp(),
        );
    }
}

#[test]
fn fingerprints_we_cannot_check_are_refused_up_front() {
    let start = Instant::now();
    let cert = Certificate::generate().unwrap();
    let mut fp = cert.fingerprint();
    fp.algorithm = "md5".into();
    fp.value.truncate(16);
    let err = Dtls::new(DtlsRole::Client, &cert, fp, start).unwrap_err();
    assert!(matches!(err, DtlsError::UnsupportedFingerprint(_)), "{err}");
    let mut fp = cert.fingerprint();
    fp.value.pop();
    assert!(Dtls::new(DtlsRole::Server, &cert, fp, start).is_err());
}

#[test]
fn srtp_profiles_are_negotiated() {
    use SrtpProfile::*;
    for (client, server, agreed) in [
        (
            &[Aes128CmSha1_80][..],
            &DEFAULT_SRTP_PROFILES[..],
            Aes128CmSha1_80,
        ),
        (
            &[AeadAes256Gcm, Aes128CmSha1_80],
            &[Aes128CmSha1_80, AeadAes256Gcm],
            AeadAes256Gcm,
        ),
        (
            &[Aes128CmSha1_32],
            &[Aes128CmSha1_80, Aes128CmSha1_32],
            Aes128CmSha1_32,
        ),
    ] {
        let start = Instant::now();
        let (mut c, mut s) = endpoints_with(start, client, server);
        let run = drive(&mut c, &mut s, start, |_, _, d| Some(d));
        let (mut cs, mut ss) = (run.client.unwrap().srtp(), run.server.unwrap().srtp());
        assert_eq!(
            cs.profile(),
            agreed,
            "client offers {client:?}, server has {server:?}"
        );
        assert_srtp_pair(&mut cs, &mut ss);
    }
    let start = Instant::now();
    let (mut c, mut s) = endpoints_with(start, &[Aes128CmSha1_80], &[AeadAes128Gcm]);
    let run = drive(&mut c, &mut s, start, |_, _, d| Some(d));
    assert!(matches!(run.server, Some(Outcome::Failed(_))));
    assert!(matches!(run.client, Some(Outcome::Failed(_))));
    // AES-256-CM has no DTLS-SRTP code point.
    let cert = Certificate::generate().unwrap();
    let err = Dtls::with_profiles(
        DtlsRole::Client,
        &cert,
        cert.fingerprint(),
        &[Aes256CmSha1_80],
        start,
    )
    .unwrap_err();
    assert_eq!(err, DtlsError::NoSrtpProfile);
}

#[test]
fn close_notify_after_the_handshake_reports_closed() {
    let start = Instant::now();
    let (mut client, mut server) = endpoints(start);
    let run = drive(&mut client, &mut server, start, |_, _, d| Some(d));
    let (mut c, mut s) = (run.client.unwrap().srtp(), run.server.unwrap().srtp());
    client.close(start);
    let mut sent = 0;
    while let Some(d) = client.poll_transmit() {
        sent += 1;
        server.handle_datagram(start, &d);
    }
    assert!(sent > 0, "close_notify sent");
    assert!(matches!(server.poll_event(), Some(DtlsEvent::Closed)));
    assert!(server.poll_event().is_none() && !server.is_connected());
    // Nothing reported after the end; the keys keep working.
    client.handle_datagram(start, &[22, 254, 253, 0, 0]);
    assert!(client.poll_event().is_none());
    assert_srtp_pair(&mut c, &mut s);
}

#[test]
fn garbage_does_not_end_a_handshake() {
    let start = Instant::now();
    let (mut client, mut server) = endpoints(start);
    for junk in [
        &[][..],
        &[22],
        &[22, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 99],
        &[0x80; 40],
    ] {
        server.handle_datagram(start, junk);
        client.handle_datagram(start, junk);
    }
    assert!(server.poll_event().is_none() && client.poll_event().is_none());
    assert!(server.dropped() > 0 && client.dropped() > 0);
    let run = drive(&mut client, &mut server, start, |_, _, d| Some(d));
    assert_srtp_pair(
        &mut run.client.unwrap().srtp(),
        &mut run.server.unwrap().srtp(),
    );
}

#[test]
fn certificates_are_fresh_self_signed_p256() {
    let (a, b) = (
        Certificate::generate().unwrap(),
        Certificate::generate().unwrap(),
    );
    assert_ne!(a.fingerprint(), b.fingerprint());
    let fp = a.fingerprint();
    assert_eq!(fp.algorithm, "sha-256");
    assert_eq!(
        fp.value,
        ring::digest::digest(&ring::digest::SHA256, a.der()).as_ref()
    );
    // The namedCurve OID prime256v1 (1.2.840.10045.3.1.7) in the public key info.
    let p256 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    assert!(a.der().windows(p256.len()).any(|w| w == p256));
}

#[test]
fn setup_roles_follow_rfc_8842() {
    use SetupRole::*;
    assert_eq!(OFFER_SETUP, ActPass);
    // Answerer: active for an actpass offer, so it becomes the client.
    assert_eq!(answer_setup(Some(ActPass)).unwrap(), Active);
    assert_eq!(answer_setup(Some(Passive)).unwrap(), Active);
    assert_eq!(answer_setup(Some(Active)).unwrap(), Passive);
    assert_eq!(answer_setup(None).unwrap(), Passive);
    assert!(answer_setup(Some(HoldConn)).is_err());

    let role = |l, r| DtlsRole::from_setup(l, r);
    // Offerer (actpass) learns its role from the answer.
    assert_eq!(role(ActPass, Some(Active)).unwrap(), DtlsRole::Server);
    assert_eq!(role(ActPass, Some(Passive)).unwrap(), DtlsRole::Client);
    assert_eq!(role(ActPass, None).unwrap(), DtlsRole::Server);
    // Answerer.
    assert_eq!(role(Active, Some(ActPass)).unwrap(), DtlsRole::Client);
    assert_eq!(role(Passive, Some(ActPass)).unwrap(), DtlsRole::Server);
    assert_eq!(role(Passive, None).unwrap(), DtlsRole::Server);
    for (l, r) in [
        (ActPass, Some(ActPass)),
        (Active, Some(Active)),
        (Passive, Some(Passive)),
        (Active, None),
        (HoldConn, Some(Active)),
        (Active, Some(HoldConn)),
    ] {
        assert!(role(l, r).is_err(), "{l:?}/{r:?}");
    }
    // An answer built from either offer agrees with the offerer's view.
    for offer in [ActPass, Active, Passive] {
        let answer = answer_setup(Some(offer)).unwrap();
        let answerer = role(answer, Some(offer)).unwrap();
        let offerer = role(offer, Some(answer)).unwrap();
        assert_ne!(answerer, offerer, "offer {offer:?}");
        assert_eq!(answerer.setup(), answer);
    }
}
