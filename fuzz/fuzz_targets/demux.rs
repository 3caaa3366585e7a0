//! Arbitrary bytes as a datagram received on a media socket: demultiplexed (RFC 7983),
//! then RTP/RTCP through SRTP unprotect (AES-CM-80, GCM, and AES-CM-32 with an MKI) and
//! DTLS through fresh endpoints of both roles, timers included. Never a panic, and a
//! datagram never completes a handshake.
//!
//! Seeds (`seeds/demux`): a STUN binding request, a TURN ChannelData message, a DTLS
//! ClientHello from our client, a plain RTP packet, and SRTP/SRTCP packets protected with
//! the keys below so that the fuzzer starts past the tag check.
#![no_main]
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use media::demux::{Datagram, classify};
use media::dtls::{Certificate, Dtls, DtlsEvent, DtlsRole};
use media::srtp::{SrtpProfile, SrtpSession};
use protocol::media::SdesKey;

static CERTS: LazyLock<(Certificate, Certificate)> = LazyLock::new(|| {
    let make = || Certificate::generate().expect("certificate generation works in the fuzzer");
    (make(), make())
});

/// The seeds' keys: every byte 0x5A, the same both ways.
fn session(profile: SrtpProfile, mki: Option<(u64, u32)>) -> SrtpSession {
    let key = SdesKey {
        tag: 1,
        suite: profile.sdes_name().to_owned(),
        key_salt: vec![0x5A; profile.key_salt_len()],
        lifetime: None,
        mki,
        params: Vec::new(),
    };
    SrtpSession::from_sdes(&key, &key).expect("fixed fuzz keys are valid")
}

fuzz_target!(|data: &[u8]| {
    let sessions = || {
        [
            session(SrtpProfile::Aes128CmSha1_80, None),
            session(SrtpProfile::AeadAes128Gcm, None),
            session(SrtpProfile::Aes128CmSha1_32, Some((1, 1))),
        ]
    };
    match classify(data) {
        Datagram::Rtp => {
            for mut s in sessions() {
                let _ = s.unprotect_rtp(data);
                let _ = s.unprotect_rtp(data);
            }
        }
        Datagram::Rtcp => {
            for mut s in sessions() {
                let _ = s.unprotect_rtcp(data);
                let _ = s.unprotect_rtcp(data);
            }
        }
        Datagram::Dtls => {
            let start = Instant::now();
            let (ours, theirs) = &*CERTS;
            for role in [DtlsRole::Client, DtlsRole::Server] {
                let mut dtls = Dtls::new(role, ours, theirs.fingerprint(), start)
                    .expect("endpoint setup works in the fuzzer");
                dtls.handle_datagram(start, data);
                dtls.handle_timeout(start + Duration::from_secs(1));
                dtls.handle_datagram(start + Duration::from_secs(1), data);
                while dtls.poll_transmit().is_some() {}
                while let Some(event) = dtls.poll_event() {
                    assert!(
                        !matches!(event, DtlsEvent::Connected { .. }),
                        "one datagram completed a handshake"
                    );
                }
            }
        }
        Datagram::Stun | Datagram::TurnChannel | Datagram::Unknown => {}
    }
});
