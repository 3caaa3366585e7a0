#![allow(clippy::unwrap_used)]
//! Byte-for-byte agreement with libsrtp 2.5 (through GStreamer 1.22's `srtpenc`) for SDES
//! keys with and without MKI, AES-CM and GCM, SRTP and SRTCP: we unprotect what libsrtp
//! protected and protect to the very same bytes. The packets were made by
//! `tests/fixtures/libsrtp/regenerate.sh` with the parameters [`GstSrtpParams`] gives.

use media::srtp::{GstSrtpParams, SrtpProfile, SrtpSession};
use protocol::media::SdesKey;

fn rtp(seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&0x1000u32.to_be_bytes());
    p.extend_from_slice(&[0xca, 0xfe, 0xba, 0xbe]);
    p.extend((0..160u32).map(|i| (i * 37) as u8));
    p
}

fn rtcp_rr() -> Vec<u8> {
    let mut p = vec![
        0x81, 201, 0, 7, 0xca, 0xfe, 0xba, 0xbe, 0x12, 0x34, 0x56, 0x78,
    ];
    p.extend_from_slice(&[0; 20]);
    p
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/libsrtp/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn agrees_with_libsrtp() {
    for (name, profile, mki, gst_cipher, gst_rtp_auth, gst_mki) in [
        (
            "cm80",
            SrtpProfile::Aes128CmSha1_80,
            None,
            "aes-128-icm",
            "hmac-sha1-80",
            None,
        ),
        (
            "cm32mki",
            SrtpProfile::Aes128CmSha1_32,
            Some((0x0102, 2)),
            "aes-128-icm",
            "hmac-sha1-32",
            Some("0102"),
        ),
        (
            "gcm",
            SrtpProfile::AeadAes128Gcm,
            None,
            "aes-128-gcm",
            "null",
            None,
        ),
        (
            "gcmmki",
            SrtpProfile::AeadAes128Gcm,
            Some((7, 1)),
            "aes-128-gcm",
            "null",
            Some("07"),
        ),
    ] {
        let key = SdesKey {
            tag: 1,
            suite: profile.sdes_name().to_owned(),
            key_salt: vec![0x5A; profile.key_salt_len()],
            lifetime: None,
            mki,
            params: Vec::new(),
        };
        // The parameters regenerate.sh passes are the ones our helper prints.
        let gst = GstSrtpParams::for_key(&key).unwrap();
        assert_eq!(
            (gst.cipher, gst.rtp_auth, gst.mki_hex.as_deref()),
            (gst_cipher, gst_rtp_auth, gst_mki)
        );

        let srtp = fixture(&format!("rtp-{name}.srtp"));
        let srtcp = fixture(&format!("rtcp-{name}.srtcp"));
        let (rtp_len, rtcp_len) = (srtp.len() / 2, srtcp.len() / 2);
        let mut ours = SrtpSession::from_sdes(&key, &key).unwrap();
        for (i, seq) in [0x1234u16, 0x1235].into_iter().enumerate() {
            let theirs = &srtp[i * rtp_len..(i + 1) * rtp_len];
            assert_eq!(
                ours.protect_rtp(&rtp(seq)).unwrap(),
                theirs,
                "{name} RTP {seq:#x}"
            );
            assert_eq!(
                ours.unprotect_rtp(theirs).unwrap(),
                rtp(seq),
                "{name} RTP {seq:#x}"
            );
            let theirs = &srtcp[i * rtcp_len..(i + 1) * rtcp_len];
            assert_eq!(
                ours.protect_rtcp(&rtcp_rr()).unwrap(),
                theirs,
                "{name} RTCP #{i}"
            );
            assert_eq!(
                ours.unprotect_rtcp(theirs).unwrap(),
                rtcp_rr(),
                "{name} RTCP #{i}"
            );
        }
    }
}
