use super::*;

/// A plain RTP packet: V=2, PT 0, `seq`, timestamp `seq*160`, SSRC, `len` payload bytes.
fn rtp(seq: u16, ssrc: u32, len: usize) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..len).map(|i| (i as u8).wrapping_mul(7)));
    p
}

/// An RTCP receiver report with one report block.
fn rtcp_rr(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x81, 201, 0, 7];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&0x1234_5678u32.to_be_bytes());
    p.extend_from_slice(&[0; 20]);
    p
}

fn key(profile: SrtpProfile, fill: u8) -> SdesKey {
    SdesKey {
        tag: 1,
        suite: profile.sdes_name().to_owned(),
        key_salt: (0..profile.key_salt_len() as u8)
            .map(|i| i.wrapping_add(fill))
            .collect(),
        lifetime: Some("2^31".to_owned()),
        mki: None,
        params: Vec::new(),
    }
}

fn pair(a: &SdesKey, b: &SdesKey) -> (SrtpSession, SrtpSession) {
    (
        SrtpSession::from_sdes(a, b).unwrap(),
        SrtpSession::from_sdes(b, a).unwrap(),
    )
}

#[test]
fn sdes_sessions_interoperate_both_ways_for_every_suite() {
    for profile in SrtpProfile::ALL {
        let (ka, kb) = (key(profile, 1), key(profile, 101));
        let (mut a, mut b) = pair(&ka, &kb);
        for seq in 1000..1010u16 {
            let plain = rtp(seq, 0xA, 160);
            let wire = a.protect_rtp(&plain).unwrap();
            assert_eq!(
                wire.len(),
                plain.len() + profile.rtp_overhead(),
                "{profile}"
            );
            assert_ne!(
                wire[12..172],
                plain[12..],
                "{profile}: payload is encrypted"
            );
            assert_eq!(b.unprotect_rtp(&wire).unwrap(), plain, "{profile}");

            let plain = rtp(seq, 0xB, 20);
            let wire = b.protect_rtp(&plain).unwrap();
            assert_eq!(a.unprotect_rtp(&wire).unwrap(), plain, "{profile}");
        }
        let plain = rtcp_rr(0xA);
        let wire = a.protect_rtcp(&plain).unwrap();
        assert_eq!(
            wire.len(),
            plain.len() + profile.rtcp_overhead(),
            "{profile}"
        );
        assert_eq!(b.unprotect_rtcp(&wire).unwrap(), plain, "{profile}");
        let plain = rtcp_rr(0xB);
        let wire = b.protect_rtcp(&plain).unwrap();
        assert_eq!(a.unprotect_rtcp(&wire).unwrap(), plain, "{profile}");
        let s = b.stats();
        assert_eq!(
            (s.rtp_unprotected, s.rtcp_unprotected),
            (10, 1),
            "{profile}"
        );
        assert_eq!((s.rtp_protected, s.rtcp_protected), (10, 1), "{profile}");
    }
}

#[test]
fn a_session_does_not_decrypt_with_its_own_sending_key() {
    let (ka, kb) = (
        key(SrtpProfile::Aes128CmSha1_80, 1),
        key(SrtpProfile::Aes128CmSha1_80, 2),
    );
    let (mut a, _) = pair(&ka, &kb);
    let wire = a.protect_rtp(&rtp(1, 1, 10)).unwrap();
    assert_eq!(a.unprotect_rtp(&wire), Err(SrtpError::AuthFailed));
}

/// libsrtp's reference vector (`srtp_driver.c`, AES_CM_128_HMAC_SHA1_80): the SDES
/// `key||salt` order and the packet layout match libsrtp byte for byte.
#[test]
fn matches_the_libsrtp_reference_packet() {
    let key_salt = [
        0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41,
        0x39, 0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6,
    ];
    let mut plain = vec![
        0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe,
    ];
    plain.extend_from_slice(&[0xab; 16]);
    let expected = [
        0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0x4e, 0x55, 0xdc,
        0x4c, 0xe7, 0x99, 0x78, 0xd8, 0x8c, 0xa4, 0xd2, 0x15, 0x94, 0x9d, 0x24, 0x02, 0xb7, 0x8d,
        0x6a, 0xcc, 0x99, 0xea, 0x17, 0x9b, 0x8d, 0xbb,
    ];
    let mut s = SrtpSession::new(SrtpProfile::Aes128CmSha1_80, &key_salt, &key_salt).unwrap();
    assert_eq!(s.protect_rtp(&plain).unwrap(), expected);
    assert_eq!(s.unprotect_rtp(&expected).unwrap(), plain);
}

#[test]
fn replayed_packets_are_dropped_and_counted() {
    for profile in [SrtpProfile::Aes128CmSha1_80, SrtpProfile::AeadAes128Gcm] {
        let (mut a, mut b) = pair(&key(profile, 1), &key(profile, 2));
        let first = a.protect_rtp(&rtp(10, 7, 50)).unwrap();
        let second = a.protect_rtp(&rtp(11, 7, 50)).unwrap();
        b.unprotect_rtp(&first).unwrap();
        b.unprotect_rtp(&second).unwrap();
        assert_eq!(b.unprotect_rtp(&first), Err(SrtpError::Replayed));
        assert_eq!(b.unprotect_rtp(&second), Err(SrtpError::Replayed));

        let report = a.protect_rtcp(&rtcp_rr(7)).unwrap();
        b.unprotect_rtcp(&report).unwrap();
        assert_eq!(b.unprotect_rtcp(&report), Err(SrtpError::Replayed));

        let s = b.stats();
        assert_eq!(s.replayed, 3, "{profile}");
        assert_eq!((s.rtp_unprotected, s.rtcp_unprotected), (2, 1), "{profile}");
        assert_eq!(s.auth_failed, 0, "{profile}");
    }
}

#[test]
fn packets_older_than_the_window_are_replays() {
    let profile = SrtpProfile::Aes128CmSha1_80;
    let (mut a, mut b) = pair(&key(profile, 1), &key(profile, 2));
    let old = a.protect_rtp(&rtp(100, 7, 10)).unwrap();
    let mut last = Vec::new();
    for seq in 101..=(100 + DEFAULT_REPLAY_WINDOW as u16 + 1) {
        last = a.protect_rtp(&rtp(seq, 7, 10)).unwrap();
    }
    b.unprotect_rtp(&last).unwrap();
    assert_eq!(b.unprotect_rtp(&old), Err(SrtpError::Replayed));
    // Reordering within the window is fine.
    let mut a2 = SrtpSession::from_sdes(&key(profile, 1), &key(profile, 2)).unwrap();
    let early = a2.protect_rtp(&rtp(150, 8, 10)).unwrap();
    let late = a2.protect_rtp(&rtp(151, 8, 10)).unwrap();
    b.unprotect_rtp(&late).unwrap();
    b.unprotect_rtp(&early).unwrap();
}

#[test]
fn tampered_packets_are_dropped_and_counted() {
    for profile in SrtpProfile::ALL {
        let (mut a, mut b) = pair(&key(profile, 1), &key(profile, 2));
        let wire = a.protect_rtp(&rtp(1, 9, 80)).unwrap();
        let report = a.protect_rtcp(&rtcp_rr(9)).unwrap();
        // A flipped bit in the tag, in the payload and in the header.
        for at in [wire.len() - 1, 20, 1] {
            let mut bad = wire.clone();
            bad[at] ^= 0x01;
            assert_eq!(
                b.unprotect_rtp(&bad),
                Err(SrtpError::AuthFailed),
                "{profile} @{at}"
            );
        }
        let mut bad = report.clone();
        bad[report.len() - 1] ^= 0x80;
        assert_eq!(
            b.unprotect_rtcp(&bad),
            Err(SrtpError::AuthFailed),
            "{profile}"
        );
        // The genuine packets still pass: a forgery does not burn their index.
        b.unprotect_rtp(&wire).unwrap();
        b.unprotect_rtcp(&report).unwrap();
        let s = b.stats();
        assert_eq!(s.auth_failed, 4, "{profile}");
        assert_eq!(
            (s.rtp_unprotected, s.rtcp_unprotected, s.replayed),
            (1, 1, 0)
        );
    }
}

/// rtc-srtp hands out an AES-CM SRTCP packet whose E flag is clear without checking
/// its tag; we must not.
#[test]
fn srtcp_with_the_e_flag_cleared_is_refused() {
    for profile in SrtpProfile::ALL {
        let (mut a, mut b) = pair(&key(profile, 1), &key(profile, 2));
        let mut forged = rtcp_rr(5);
        // E=0, index 0x7fffffff: would also push the replay window to its end.
        forged.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff]);
        forged.extend(std::iter::repeat_n(0, profile.rtcp_overhead() - 4));
        assert_eq!(
            b.unprotect_rtcp(&forged),
            Err(SrtpError::AuthFailed),
            "{profile}"
        );
        let genuine = a.protect_rtcp(&rtcp_rr(5)).unwrap();
        assert_eq!(b.unprotect_rtcp(&genuine).unwrap(), rtcp_rr(5), "{profile}");
    }
}

/// rtc-srtp's replay window takes its origin from the first packet it sees of an SSRC,
/// authentic or not; the probe keeps forgeries from choosing it.
#[test]
fn a_forged_first_packet_does_not_lock_the_stream_out() {
    for profile in SrtpProfile::ALL {
        let (mut a, mut b) = pair(&key(profile, 1), &key(profile, 2));
        let wire = a.protect_rtp(&rtp(1000, 4, 20)).unwrap();
        let mut forged = wire.clone();
        forged[2] ^= 0x80; // seq 1000 + 32768
        assert_eq!(b.unprotect_rtp(&forged), Err(SrtpError::AuthFailed));
        assert_eq!(
            b.unprotect_rtp(&wire).unwrap(),
            rtp(1000, 4, 20),
            "{profile}"
        );

        let report = a.protect_rtcp(&rtcp_rr(4)).unwrap();
        let mut forged = report.clone();
        let at = report.len() - profile.rtc().rtcp_auth_tag_len() - 4;
        forged[at] ^= 0x01; // SRTCP index + 2^24
        assert_eq!(b.unprotect_rtcp(&forged), Err(SrtpError::AuthFailed));
        assert_eq!(b.unprotect_rtcp(&report).unwrap(), rtcp_rr(4), "{profile}");
    }
}

#[test]
fn forgeries_under_fresh_ssrcs_leave_no_state() {
    let profile = SrtpProfile::Aes128CmSha1_80;
    let (mut a, mut b) = pair(&key(profile, 1), &key(profile, 2));
    let mut rng_state = 0x9e37_79b9u32;
    for i in 0..1000u16 {
        rng_state = rng_state
            .wrapping_mul(1_664_525)
            .wrapping_add(1_013_904_223);
        let mut forged = rtp(i, rng_state, 20);
        forged.extend_from_slice(&[0; 10]);
        assert_eq!(b.unprotect_rtp(&forged), Err(SrtpError::AuthFailed));
        let mut forged = rtcp_rr(rng_state);
        forged.extend_from_slice(&[0x80, 0, 0, 1]);
        forged.extend_from_slice(&[0; 10]);
        assert_eq!(b.unprotect_rtcp(&forged), Err(SrtpError::AuthFailed));
    }
    assert!(b.rtp_ssrcs.is_empty() && b.rtcp_ssrcs.is_empty());
    assert!(b.probe_failures < PROBE_FAILURE_LIMIT);
    assert_eq!(b.stats().auth_failed, 2000);
    b.unprotect_rtp(&a.protect_rtp(&rtp(1, 77, 20)).unwrap())
        .unwrap();
    assert_eq!(b.rtp_ssrcs.iter().collect::<Vec<_>>(), [&77]);
}

#[test]
fn mki_is_sent_checked_and_stripped() {
    for profile in [SrtpProfile::Aes128CmSha1_32, SrtpProfile::AeadAes128Gcm] {
        let mut ka = key(profile, 1);
        ka.mki = Some((1, 1));
        let mut kb = key(profile, 2);
        kb.mki = Some((0x0102, 4));
        let (mut a, mut b) = pair(&ka, &kb);
        let plain = rtp(5, 3, 30);
        let wire = a.protect_rtp(&plain).unwrap();
        assert_eq!(wire.len(), plain.len() + profile.rtp_overhead() + 1);
        let tag = profile.rtc().rtp_auth_tag_len();
        assert_eq!(
            wire[wire.len() - tag - 1],
            1,
            "{profile}: MKI before the tag"
        );
        assert_eq!(b.unprotect_rtp(&wire).unwrap(), plain);

        let wire = b.protect_rtcp(&rtcp_rr(4)).unwrap();
        let tag = profile.rtc().rtcp_auth_tag_len();
        assert_eq!(wire[wire.len() - tag - 4..wire.len() - tag], [0, 0, 1, 2]);
        assert_eq!(a.unprotect_rtcp(&wire).unwrap(), rtcp_rr(4));

        // A packet under another MKI is not ours to authenticate.
        let mut other = a.protect_rtp(&rtp(6, 3, 30)).unwrap();
        let at = other.len() - profile.rtc().rtp_auth_tag_len() - 1;
        other[at] = 2;
        assert_eq!(b.unprotect_rtp(&other), Err(SrtpError::AuthFailed));
    }
}

#[test]
fn sdes_keys_we_cannot_honour_are_refused() {
    let base = key(SrtpProfile::Aes128CmSha1_80, 0);
    let refused = |f: &dyn Fn(&mut SdesKey)| {
        let mut k = base.clone();
        f(&mut k);
        check_sdes_key(&k).unwrap_err()
    };
    assert_eq!(
        refused(&|k| k.suite = "F8_128_HMAC_SHA1_80".into()),
        SrtpError::UnsupportedSuite("F8_128_HMAC_SHA1_80".into())
    );
    assert!(matches!(
        refused(&|k| {
            k.key_salt.pop();
        }),
        SrtpError::KeyLength {
            expected: 30,
            actual: 29,
            ..
        }
    ));
    for p in [
        "UNENCRYPTED_SRTP",
        "UNENCRYPTED_SRTCP",
        "UNAUTHENTICATED_SRTP",
        "KDR=24",
        "WSH=8",
    ] {
        assert_eq!(
            refused(&|k| k.params = vec![p.into()]),
            SrtpError::UnsupportedParam(p.into())
        );
    }
    assert!(matches!(
        refused(&|k| k.mki = Some((256, 1))),
        SrtpError::InvalidMki(_)
    ));
    assert!(matches!(
        refused(&|k| k.mki = Some((1, 0))),
        SrtpError::InvalidMki(_)
    ));

    let mut k = base.clone();
    k.params = vec![
        "KDR=0".into(),
        "WSH=512".into(),
        "FEC_ORDER=FEC_SRTP".into(),
    ];
    assert_eq!(check_sdes_key(&k), Ok(SrtpProfile::Aes128CmSha1_80));
    let mut gcm = key(SrtpProfile::AeadAes128Gcm, 0);
    assert!(SrtpSession::from_sdes(&base, &gcm).is_err());
    gcm.suite = "AES_CM_256_HMAC_SHA1_80".into();
    assert!(matches!(
        check_sdes_key(&gcm),
        Err(SrtpError::KeyLength { expected: 46, .. })
    ));
}

#[test]
fn wider_window_from_wsh_accepts_older_packets() {
    let profile = SrtpProfile::Aes128CmSha1_80;
    let ka = key(profile, 1);
    let mut kb = key(profile, 2);
    kb.params = vec!["WSH=1024".into()];
    let (mut a, mut b) = (
        SrtpSession::from_sdes(&kb, &ka).unwrap(),
        SrtpSession::from_sdes(&ka, &kb).unwrap(),
    );
    let old = a.protect_rtp(&rtp(1, 1, 4)).unwrap();
    let new = a.protect_rtp(&rtp(600, 1, 4)).unwrap();
    b.unprotect_rtp(&new).unwrap();
    b.unprotect_rtp(&old).unwrap();
}

#[test]
fn generated_keys_are_fresh_and_fit_their_suite() {
    for profile in SrtpProfile::ALL {
        let mut rng = crate::seed::Seed::random().rng();
        let a = generate_sdes_key(profile, 3, &mut rng);
        let b = generate_sdes_key(profile, 3, &mut rng);
        assert_eq!(a.key_salt.len(), profile.key_salt_len());
        assert_ne!(a.key_salt, b.key_salt, "{profile}");
        assert_eq!((a.tag, a.suite.as_str()), (3, profile.sdes_name()));
        assert_eq!(check_sdes_key(&a), Ok(profile));
    }
}

#[test]
fn dtls_keying_material_is_split_by_role() {
    let profile = SrtpProfile::Aes128CmSha1_80;
    let material: Vec<u8> = (0..profile.keying_material_len() as u8).collect();
    let mut client = SrtpSession::from_dtls(profile, &material, DtlsRole::Client).unwrap();
    let mut server = SrtpSession::from_dtls(profile, &material, DtlsRole::Server).unwrap();
    // RFC 5764 §4.2: client key = bytes 0..16, client salt = bytes 32..46.
    let client_write: Vec<u8> = (0..16).chain(32..46).collect();
    let mut reference = SrtpSession::new(profile, &client_write, &client_write).unwrap();
    let plain = rtp(9, 9, 9);
    let wire = client.protect_rtp(&plain).unwrap();
    assert_eq!(reference.protect_rtp(&plain).unwrap(), wire);
    assert_eq!(server.unprotect_rtp(&wire).unwrap(), plain);
    let wire = server.protect_rtp(&plain).unwrap();
    assert_eq!(client.unprotect_rtp(&wire).unwrap(), plain);
    assert!(matches!(
        SrtpSession::from_dtls(profile, &material[1..], DtlsRole::Client),
        Err(SrtpError::KeyLength {
            expected: 60,
            actual: 59,
            ..
        })
    ));
}

#[test]
fn short_and_garbage_packets_are_malformed() {
    let profile = SrtpProfile::Aes128CmSha1_80;
    let (_, mut b) = pair(&key(profile, 1), &key(profile, 2));
    for p in [&[][..], &[0x80], &[0x80; 21], &[0x80, 0xc8, 0, 1]] {
        assert!(
            matches!(b.unprotect_rtp(p), Err(SrtpError::Malformed(_))),
            "{p:?}"
        );
        assert!(
            matches!(b.unprotect_rtcp(p), Err(SrtpError::Malformed(_))),
            "{p:?}"
        );
    }
    assert_eq!(b.stats().malformed, 8);
}

#[test]
fn gstreamer_parameters() {
    let mut k = key(SrtpProfile::Aes128CmSha1_80, 0);
    let g = GstSrtpParams::for_key(&k).unwrap();
    assert_eq!(
        g.key_hex,
        "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D"
    );
    assert_eq!(
        g.srtpenc_properties(),
        "key=000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D \
         rtp-cipher=aes-128-icm rtp-auth=hmac-sha1-80 rtcp-cipher=aes-128-icm \
         rtcp-auth=hmac-sha1-80"
    );
    k.suite = "AES_CM_128_HMAC_SHA1_32".into();
    k.mki = Some((1, 2));
    let g = GstSrtpParams::for_key(&k).unwrap();
    assert_eq!(
        g.srtpdec_caps_fields(),
        "srtp-key=(buffer)000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D,\
         srtp-cipher=(string)aes-128-icm,srtp-auth=(string)hmac-sha1-32,\
         srtcp-cipher=(string)aes-128-icm,srtcp-auth=(string)hmac-sha1-80,mki=(buffer)0001"
    );
    let g = GstSrtpParams::for_key(&key(SrtpProfile::AeadAes256Gcm, 0)).unwrap();
    assert_eq!(
        (g.cipher, g.rtp_auth, g.rtcp_auth),
        ("aes-256-gcm", "null", "null")
    );
    assert_eq!(g.key_hex.len(), 88);
}
