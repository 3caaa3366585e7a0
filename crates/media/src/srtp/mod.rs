//! SRTP and SRTCP sessions (RFC 3711), keyed by SDES (RFC 4568) or by DTLS-SRTP (RFC 5764).
//!
//! An [`SrtpSession`] is one call leg's pair of cryptographic contexts: the local one
//! protects what we send, the remote one unprotects what we receive. The ciphers come from
//! webrtc-rs's `rtc-srtp`; this module adds what a softphone facing SIP devices needs on
//! top of it:
//!
//! * keys from `a=crypto` lines ([`SdesKey`]), with the MKI field some SIP devices put in
//!   every packet (RFC 3711 §3.1) — `rtc-srtp` has no MKI, so we insert and strip it here;
//! * keys from DTLS-SRTP keying material, split by role (RFC 5764 §4.2);
//! * replay protection on the receive side (a 128-packet window, as libsrtp; `rtc-srtp`
//!   has none unless asked for one);
//! * a probe: the first packet of each SSRC is authenticated on a throwaway context
//!   before the real one sees it, because `rtc-srtp` creates per-SSRC state (replay
//!   window included) before checking the tag — one forged packet could otherwise lock a
//!   stream out, and random SSRCs could grow memory without bound;
//! * rejection of SRTCP packets with the E flag clear *before* `rtc-srtp` sees them: its
//!   AES-CM path returns such a packet as plaintext without checking the tag, which would
//!   let anyone inject RTCP (RFC 3711 §3.4 makes the tag mandatory either way);
//! * counters for what was dropped ([`SrtpStats`]), because a replay or a bad tag is never
//!   an error worth more than a count: the caller drops the packet and carries on.
//!
//! The MKI, the probe and the E flag patch over `rtc-srtp` gaps written up for upstream in
//! `docs/upstream.md` (`srtp-mki`, `srtp-state-before-auth`, `srtcp-e-flag`).

use protocol::media::SdesKey;
use rtc_shared::error::Error as RtcError;
use rtc_srtp::context::Context;
use rtc_srtp::crypto::{RTCCryptoProvider, default_provider};
use rtc_srtp::option::{srtcp_replay_protection, srtp_replay_protection};
use rtc_srtp::protection_profile::ProtectionProfile;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use crate::dtls::DtlsRole;

/// Receive replay window in packets (RFC 3711 §3.3.2 asks for at least 64; libsrtp and
/// GStreamer use 128).
pub const DEFAULT_REPLAY_WINDOW: usize = 128;

/// Largest window a `WSH` session parameter may ask for (libsrtp's limit).
const MAX_REPLAY_WINDOW: usize = 32768;

/// Forged first packets the probe context takes before it is remade, which bounds the
/// per-SSRC state they leave in it.
const PROBE_FAILURE_LIMIT: usize = 64;

/// SRTCP index word: E flag and 31-bit index (RFC 3711 §3.4).
const SRTCP_INDEX_LEN: usize = 4;

/// RTCP header through the sender SSRC (RFC 3550 §6.4.1): never encrypted.
const RTCP_FIXED_LEN: usize = 8;

/// RTP fixed header (RFC 3550 §5.1).
const RTP_FIXED_LEN: usize = 12;

/// An SRTP crypto suite / DTLS-SRTP protection profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SrtpProfile {
    /// AES-128 counter mode, 80-bit HMAC-SHA1 tag (RFC 3711; every implementation has it).
    Aes128CmSha1_80,
    /// AES-128 counter mode, 32-bit tag on SRTP, 80-bit on SRTCP (RFC 4568 §6.2.2).
    Aes128CmSha1_32,
    /// AES-256 counter mode, 80-bit tag (RFC 6188; SDES only, DTLS-SRTP has no code for it).
    Aes256CmSha1_80,
    /// AES-256 counter mode, 32-bit SRTP tag (RFC 6188; SDES only).
    Aes256CmSha1_32,
    /// AES-128-GCM (RFC 7714), which Chromium offers over DTLS-SRTP.
    AeadAes128Gcm,
    /// AES-256-GCM (RFC 7714).
    AeadAes256Gcm,
}

impl SrtpProfile {
    /// Every profile, strongest-and-cheapest first: the order we offer SDES keys in.
    pub const ALL: [SrtpProfile; 6] = [
        SrtpProfile::AeadAes128Gcm,
        SrtpProfile::AeadAes256Gcm,
        SrtpProfile::Aes128CmSha1_80,
        SrtpProfile::Aes256CmSha1_80,
        SrtpProfile::Aes128CmSha1_32,
        SrtpProfile::Aes256CmSha1_32,
    ];

    /// The `a=crypto` suite name (RFC 4568 §6.2, RFC 6188, RFC 7714 §14.1).
    pub fn sdes_name(self) -> &'static str {
        match self {
            SrtpProfile::Aes128CmSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpProfile::Aes128CmSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            SrtpProfile::Aes256CmSha1_80 => "AES_256_CM_HMAC_SHA1_80",
            SrtpProfile::Aes256CmSha1_32 => "AES_256_CM_HMAC_SHA1_32",
            SrtpProfile::AeadAes128Gcm => "AEAD_AES_128_GCM",
            SrtpProfile::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// The profile an `a=crypto` suite name stands for. Also takes `AES_CM_256_…`, the
    /// spelling of the drafts before RFC 6188 that some devices still send.
    pub fn from_sdes_name(name: &str) -> Option<SrtpProfile> {
        Some(match name {
            "AES_CM_128_HMAC_SHA1_80" => SrtpProfile::Aes128CmSha1_80,
            "AES_CM_128_HMAC_SHA1_32" => SrtpProfile::Aes128CmSha1_32,
            "AES_256_CM_HMAC_SHA1_80" | "AES_CM_256_HMAC_SHA1_80" => SrtpProfile::Aes256CmSha1_80,
            "AES_256_CM_HMAC_SHA1_32" | "AES_CM_256_HMAC_SHA1_32" => SrtpProfile::Aes256CmSha1_32,
            "AEAD_AES_128_GCM" => SrtpProfile::AeadAes128Gcm,
            "AEAD_AES_256_GCM" => SrtpProfile::AeadAes256Gcm,
            _ => return None,
        })
    }

    /// The DTLS-SRTP profile name (RFC 5764 §4.1.2, RFC 7714 §14.2), `None` for the
    /// AES-256-CM suites, which have no DTLS-SRTP code point.
    pub fn dtls_name(self) -> Option<&'static str> {
        Some(match self {
            SrtpProfile::Aes128CmSha1_80 => "SRTP_AES128_CM_HMAC_SHA1_80",
            SrtpProfile::Aes128CmSha1_32 => "SRTP_AES128_CM_HMAC_SHA1_32",
            SrtpProfile::AeadAes128Gcm => "SRTP_AEAD_AES_128_GCM",
            SrtpProfile::AeadAes256Gcm => "SRTP_AEAD_AES_256_GCM",
            SrtpProfile::Aes256CmSha1_80 | SrtpProfile::Aes256CmSha1_32 => return None,
        })
    }

    /// Master key length in bytes.
    pub fn key_len(self) -> usize {
        self.rtc().key_len()
    }

    /// Master salt length in bytes (14 for AES-CM, 12 for GCM).
    pub fn salt_len(self) -> usize {
        self.rtc().salt_len()
    }

    /// Length of an SDES `key||salt` (`inline:` value, Channels `key.b`).
    pub fn key_salt_len(self) -> usize {
        self.key_len() + self.salt_len()
    }

    /// Bytes of DTLS exporter output the profile needs: both keys, then both salts
    /// (RFC 5764 §4.2).
    pub fn keying_material_len(self) -> usize {
        2 * self.key_salt_len()
    }

    /// Bytes SRTP adds to an RTP packet (tag, without MKI).
    pub fn rtp_overhead(self) -> usize {
        let p = self.rtc();
        p.rtp_auth_tag_len() + p.aead_auth_tag_len()
    }

    /// Bytes SRTCP adds to an RTCP packet (index word and tag, without MKI).
    pub fn rtcp_overhead(self) -> usize {
        let p = self.rtc();
        SRTCP_INDEX_LEN + p.rtcp_auth_tag_len() + p.aead_auth_tag_len()
    }

    pub(crate) fn rtc(self) -> ProtectionProfile {
        match self {
            SrtpProfile::Aes128CmSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
            SrtpProfile::Aes128CmSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
            SrtpProfile::Aes256CmSha1_80 => ProtectionProfile::Aes256CmHmacSha1_80,
            SrtpProfile::Aes256CmSha1_32 => ProtectionProfile::Aes256CmHmacSha1_32,
            SrtpProfile::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
            SrtpProfile::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
        }
    }
}

impl fmt::Display for SrtpProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sdes_name())
    }
}

/// Why a key was refused or a packet dropped.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SrtpError {
    /// The `a=crypto` suite is not one we implement.
    #[error("unsupported SRTP crypto suite {0:?}")]
    UnsupportedSuite(String),
    /// Local and remote SDES keys name different suites (RFC 4568 §7.1: the answer
    /// takes the offered suite).
    #[error("SDES suites differ: local {local}, remote {remote}")]
    SuiteMismatch {
        /// Our suite.
        local: SrtpProfile,
        /// Theirs.
        remote: SrtpProfile,
    },
    /// `key||salt` has the wrong length for the suite.
    #[error("{profile} needs {expected} bytes of key and salt, got {actual}")]
    KeyLength {
        /// The suite.
        profile: SrtpProfile,
        /// What it needs.
        expected: usize,
        /// What came.
        actual: usize,
    },
    /// A session parameter we cannot honour (`UNENCRYPTED_SRTP`, `KDR=` non-zero, …).
    #[error("unsupported SDES session parameter {0:?}")]
    UnsupportedParam(String),
    /// An MKI we cannot represent (length 0 or above 128, value too wide for its length).
    #[error("invalid MKI: {0}")]
    InvalidMki(String),
    /// Dropped: the packet index was seen before or is older than the window (RFC 3711 §3.3.2).
    #[error("replayed packet")]
    Replayed,
    /// Dropped: the authentication tag is wrong, the MKI unknown, or an SRTCP packet claims
    /// to be unencrypted.
    #[error("authentication failed")]
    AuthFailed,
    /// Dropped: not an (S)RTP/(S)RTCP packet, or too short for one.
    #[error("malformed packet: {0}")]
    Malformed(String),
    /// 2^48 SRTP packets under one key: the session must be re-keyed (RFC 3711 §9.2).
    #[error("SRTP key exhausted, re-keying required")]
    KeyExhausted,
    /// The crypto provider failed (should not happen with the built-in one).
    #[error("crypto provider: {0}")]
    Crypto(String),
}

/// What an [`SrtpSession`] did: packets through, and packets dropped by cause.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SrtpStats {
    /// RTP packets protected.
    pub rtp_protected: u64,
    /// RTP packets unprotected (accepted).
    pub rtp_unprotected: u64,
    /// RTCP packets protected.
    pub rtcp_protected: u64,
    /// RTCP packets unprotected (accepted).
    pub rtcp_unprotected: u64,
    /// Received packets dropped as replays.
    pub replayed: u64,
    /// Received packets dropped for a wrong tag, unknown MKI or a clear E flag.
    pub auth_failed: u64,
    /// Received packets dropped as unparsable.
    pub malformed: u64,
}

/// One call leg's SRTP: protects what we send, unprotects what we receive.
pub struct SrtpSession {
    profile: SrtpProfile,
    tx: Context,
    rx: Context,
    /// MKI field we insert into sent packets; empty without MKI.
    tx_mki: Vec<u8>,
    /// MKI field received packets must carry; empty without MKI.
    rx_mki: Vec<u8>,
    /// The receive key, to make `probe` from.
    rx_key_salt: Vec<u8>,
    /// Receive context without replay state that authenticates the first packet of an
    /// SSRC before `rx` sees it; dropped and remade after `PROBE_FAILURE_LIMIT` forgeries.
    probe: Option<Context>,
    probe_failures: usize,
    /// SSRCs that have sent an authentic packet, as `rx` knows them.
    rtp_ssrcs: HashSet<u32>,
    rtcp_ssrcs: HashSet<u32>,
    stats: SrtpStats,
}

impl fmt::Debug for SrtpSession {
    // Keys stay out of logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpSession")
            .field("profile", &self.profile)
            .field("tx_mki", &self.tx_mki)
            .field("rx_mki", &self.rx_mki)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// One direction's keying: `key||salt`, MKI field, replay window.
struct DirectionKey<'a> {
    key_salt: &'a [u8],
    mki: Vec<u8>,
    window: usize,
}

impl SrtpSession {
    /// A session from raw `key||salt` of each direction, without MKI.
    pub fn new(
        profile: SrtpProfile,
        local_key_salt: &[u8],
        remote_key_salt: &[u8],
    ) -> Result<SrtpSession, SrtpError> {
        let local = DirectionKey {
            key_salt: local_key_salt,
            mki: Vec::new(),
            window: DEFAULT_REPLAY_WINDOW,
        };
        let remote = DirectionKey {
            key_salt: remote_key_salt,
            mki: Vec::new(),
            window: DEFAULT_REPLAY_WINDOW,
        };
        SrtpSession::build(profile, local, remote)
    }

    /// A session from our `a=crypto` key (we send with it) and the peer's (it sends with
    /// it), RFC 4568 §6.1. Both must name the same suite.
    pub fn from_sdes(local: &SdesKey, remote: &SdesKey) -> Result<SrtpSession, SrtpError> {
        let (local_profile, local_key) = sdes_direction(local)?;
        let (remote_profile, remote_key) = sdes_direction(remote)?;
        if local_profile != remote_profile {
            return Err(SrtpError::SuiteMismatch {
                local: local_profile,
                remote: remote_profile,
            });
        }
        SrtpSession::build(local_profile, local_key, remote_key)
    }

    /// A session from DTLS-SRTP keying material (the `EXTRACTOR-dtls_srtp` exporter
    /// output): `client_key | server_key | client_salt | server_salt`, the client sending
    /// with the client's (RFC 5764 §4.2).
    pub fn from_dtls(
        profile: SrtpProfile,
        keying_material: &[u8],
        role: DtlsRole,
    ) -> Result<SrtpSession, SrtpError> {
        if keying_material.len() != profile.keying_material_len() {
            return Err(SrtpError::KeyLength {
                profile,
                expected: profile.keying_material_len(),
                actual: keying_material.len(),
            });
        }
        let (k, s) = (profile.key_len(), profile.salt_len());
        let (keys, salts) = keying_material.split_at(2 * k);
        let (client_key, server_key) = keys.split_at(k);
        let (client_salt, server_salt) = salts.split_at(s);
        let client = [client_key, client_salt].concat();
        let server = [server_key, server_salt].concat();
        let (local, remote) = match role {
            DtlsRole::Client => (client, server),
            DtlsRole::Server => (server, client),
        };
        SrtpSession::new(profile, &local, &remote)
    }

    fn build(
        profile: SrtpProfile,
        local: DirectionKey<'_>,
        remote: DirectionKey<'_>,
    ) -> Result<SrtpSession, SrtpError> {
        for key in [&local, &remote] {
            if key.key_salt.len() != profile.key_salt_len() {
                return Err(SrtpError::KeyLength {
                    profile,
                    expected: profile.key_salt_len(),
                    actual: key.key_salt.len(),
                });
            }
        }
        let provider = crypto_provider()?;
        let (key, salt) = local.key_salt.split_at(profile.key_len());
        let tx = Context::new(key, salt, profile.rtc(), None, None, provider.crypto())
            .map_err(|e| SrtpError::Crypto(e.to_string()))?;
        let (key, salt) = remote.key_salt.split_at(profile.key_len());
        let rx = Context::new(
            key,
            salt,
            profile.rtc(),
            Some(srtp_replay_protection(remote.window)),
            Some(srtcp_replay_protection(remote.window)),
            provider.crypto(),
        )
        .map_err(|e| SrtpError::Crypto(e.to_string()))?;
        Ok(SrtpSession {
            profile,
            tx,
            rx,
            tx_mki: local.mki,
            rx_mki: remote.mki,
            rx_key_salt: remote.key_salt.to_vec(),
            probe: None,
            probe_failures: 0,
            rtp_ssrcs: HashSet::new(),
            rtcp_ssrcs: HashSet::new(),
            stats: SrtpStats::default(),
        })
    }

    /// The suite in use.
    pub fn profile(&self) -> SrtpProfile {
        self.profile
    }

    /// Packets through and dropped so far.
    pub fn stats(&self) -> SrtpStats {
        self.stats
    }

    /// Encrypts and authenticates one RTP packet (RFC 3711 §3.3).
    pub fn protect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let out = self.tx.encrypt_rtp(packet).map_err(protect_error)?;
        self.stats.rtp_protected += 1;
        // RFC 3711 §3.1: the MKI sits between the authenticated portion and the tag.
        let tag = self.profile.rtc().rtp_auth_tag_len();
        Ok(insert_mki(out.into(), &self.tx_mki, tag))
    }

    /// Checks and decrypts one SRTP packet; replays and forgeries are counted and refused.
    pub fn unprotect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let result = self.unprotect_rtp_inner(packet);
        self.count(result.as_ref().err(), |s| &mut s.rtp_unprotected);
        result
    }

    fn unprotect_rtp_inner(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let profile = self.profile.rtc();
        let tag = profile.rtp_auth_tag_len();
        let min = RTP_FIXED_LEN + self.rx_mki.len() + tag + profile.aead_auth_tag_len();
        if packet.len() < min {
            return Err(SrtpError::Malformed(format!(
                "{} bytes, an SRTP packet has at least {min}",
                packet.len()
            )));
        }
        let packet = strip_mki(packet, &self.rx_mki, tag)?;
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        if !self.rtp_ssrcs.contains(&ssrc) {
            self.probe(|probe| probe.decrypt_rtp(&packet))?;
        }
        let out = self.rx.decrypt_rtp(&packet).map_err(unprotect_error)?;
        self.rtp_ssrcs.insert(ssrc);
        Ok(out.into())
    }

    /// Encrypts and authenticates one (compound) RTCP packet (RFC 3711 §3.4).
    pub fn protect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let out = self.tx.encrypt_rtcp(packet).map_err(protect_error)?;
        self.stats.rtcp_protected += 1;
        let tag = self.profile.rtc().rtcp_auth_tag_len();
        Ok(insert_mki(out.into(), &self.tx_mki, tag))
    }

    /// Checks and decrypts one SRTCP packet; replays and forgeries are counted and refused.
    pub fn unprotect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let result = self.unprotect_rtcp_inner(packet);
        self.count(result.as_ref().err(), |s| &mut s.rtcp_unprotected);
        result
    }

    fn unprotect_rtcp_inner(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let profile = self.profile.rtc();
        let tag = profile.rtcp_auth_tag_len();
        let min = RTCP_FIXED_LEN + self.rx_mki.len() + self.profile.rtcp_overhead();
        if packet.len() < min {
            return Err(SrtpError::Malformed(format!(
                "{} bytes, an SRTCP packet has at least {min}",
                packet.len()
            )));
        }
        let packet = strip_mki(packet, &self.rx_mki, tag)?;
        // RFC 3711 §3.4: the E flag heads the index word. We never negotiate
        // UNENCRYPTED_SRTCP, and rtc-srtp would pass an E=0 packet on unauthenticated
        // (docs/upstream.md, `srtcp-e-flag`).
        let e_flag = packet[packet.len() - tag - SRTCP_INDEX_LEN] & 0x80;
        if e_flag == 0 {
            return Err(SrtpError::AuthFailed);
        }
        let ssrc = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        if !self.rtcp_ssrcs.contains(&ssrc) {
            self.probe(|probe| probe.decrypt_rtcp(&packet))?;
        }
        let out = self.rx.decrypt_rtcp(&packet).map_err(unprotect_error)?;
        self.rtcp_ssrcs.insert(ssrc);
        Ok(out.into())
    }

    /// Authenticates a packet of an SSRC `rx` has not seen yet, on the probe context.
    ///
    /// `rtc-srtp` creates per-SSRC state, replay window included, for any packet before
    /// checking its tag, and the window takes its origin from that first packet. Unchecked,
    /// one forged packet under a fresh SSRC would fix the window where the genuine stream
    /// is "too old", and a flood of random SSRCs would grow the state without bound.
    fn probe(
        &mut self,
        decrypt: impl FnOnce(&mut Context) -> Result<bytes::BytesMut, RtcError>,
    ) -> Result<(), SrtpError> {
        let mut probe = match self.probe.take() {
            Some(probe) => probe,
            None => {
                let (key, salt) = self.rx_key_salt.split_at(self.profile.key_len());
                let provider = crypto_provider()?;
                Context::new(key, salt, self.profile.rtc(), None, None, provider.crypto())
                    .map_err(|e| SrtpError::Crypto(e.to_string()))?
            }
        };
        let result = decrypt(&mut probe).map(drop).map_err(unprotect_error);
        if result.is_err() {
            self.probe_failures += 1;
        }
        if self.probe_failures < PROBE_FAILURE_LIMIT {
            self.probe = Some(probe);
        } else {
            self.probe_failures = 0;
        }
        result
    }

    fn count(&mut self, err: Option<&SrtpError>, ok: impl FnOnce(&mut SrtpStats) -> &mut u64) {
        let counter = match err {
            None => ok(&mut self.stats),
            Some(SrtpError::Replayed) => &mut self.stats.replayed,
            Some(SrtpError::AuthFailed) => &mut self.stats.auth_failed,
            Some(_) => &mut self.stats.malformed,
        };
        *counter += 1;
    }
}

fn crypto_provider() -> Result<Arc<dyn RTCCryptoProvider>, SrtpError> {
    default_provider().map_err(|e| SrtpError::Crypto(e.to_string()))
}

/// `packet` with `mki` inserted before its last `tag` bytes.
fn insert_mki(mut packet: Vec<u8>, mki: &[u8], tag: usize) -> Vec<u8> {
    if !mki.is_empty() {
        let at = packet.len().saturating_sub(tag);
        packet.splice(at..at, mki.iter().copied());
    }
    packet
}

/// `packet` without the MKI before its last `tag` bytes, which must be `mki`. The caller
/// has checked the length.
fn strip_mki<'a>(
    packet: &'a [u8],
    mki: &[u8],
    tag: usize,
) -> Result<std::borrow::Cow<'a, [u8]>, SrtpError> {
    if mki.is_empty() {
        return Ok(packet.into());
    }
    let end = packet.len() - tag;
    let start = end - mki.len();
    // RFC 3711 §3.3: a packet for a master key we do not hold cannot be authenticated.
    if &packet[start..end] != mki {
        return Err(SrtpError::AuthFailed);
    }
    Ok([&packet[..start], &packet[end..]].concat().into())
}

fn protect_error(e: RtcError) -> SrtpError {
    match e {
        RtcError::ErrExceededMaxPackets => SrtpError::KeyExhausted,
        RtcError::Crypto(m) => SrtpError::Crypto(m),
        other => SrtpError::Malformed(other.to_string()),
    }
}

fn unprotect_error(e: RtcError) -> SrtpError {
    match e {
        RtcError::SrtpSsrcDuplicated(..) | RtcError::SrtcpSsrcDuplicated(..) => SrtpError::Replayed,
        RtcError::ErrFailedToVerifyAuthTag
        | RtcError::RtpFailedToVerifyAuthTag
        | RtcError::RtcpFailedToVerifyAuthTag => SrtpError::AuthFailed,
        RtcError::Crypto(m) => SrtpError::Crypto(m),
        other => SrtpError::Malformed(other.to_string()),
    }
}

/// The profile of an `a=crypto` key after checking everything we must honour: suite,
/// key length, MKI and session parameters (RFC 4568 §6). An answerer takes the first
/// offered key this accepts.
pub fn check_sdes_key(key: &SdesKey) -> Result<SrtpProfile, SrtpError> {
    sdes_direction(key).map(|(profile, _)| profile)
}

fn sdes_direction(key: &SdesKey) -> Result<(SrtpProfile, DirectionKey<'_>), SrtpError> {
    let profile = SrtpProfile::from_sdes_name(&key.suite)
        .ok_or_else(|| SrtpError::UnsupportedSuite(key.suite.clone()))?;
    if key.key_salt.len() != profile.key_salt_len() {
        return Err(SrtpError::KeyLength {
            profile,
            expected: profile.key_salt_len(),
            actual: key.key_salt.len(),
        });
    }
    let mki = match key.mki {
        None => Vec::new(),
        Some((value, len)) => mki_field(value, len)?,
    };
    let mut window = DEFAULT_REPLAY_WINDOW;
    for param in &key.params {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        match name {
            // RFC 4568 §6.3.1: only a zero key derivation rate (derive once) is supported.
            "KDR" if value.trim().parse::<u32>() == Ok(0) => {}
            // RFC 4568 §6.3.6: a window size hint; honour it when it widens ours.
            "WSH" => match value.trim().parse::<usize>() {
                Ok(n) if n >= 64 => window = window.max(n.min(MAX_REPLAY_WINDOW)),
                _ => return Err(SrtpError::UnsupportedParam(param.clone())),
            },
            // RFC 4568 §6.3.4–5: FEC ordering only matters with FEC, which we do not send.
            "FEC_ORDER" | "FEC_KEY" => {}
            // UNENCRYPTED_SRTP/SRTCP, UNAUTHENTICATED_SRTP, non-zero KDR and unknown
            // parameters change the packet format or security: refuse the key so that
            // the answer picks another one.
            _ => return Err(SrtpError::UnsupportedParam(param.clone())),
        }
    }
    Ok((
        profile,
        DirectionKey {
            key_salt: &key.key_salt,
            mki,
            window,
        },
    ))
}

/// The MKI field for `value` in `len` bytes, big-endian (RFC 4568 §6.1: 1–128 bytes).
fn mki_field(value: u64, len: u32) -> Result<Vec<u8>, SrtpError> {
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    if !(1..=128).contains(&len) {
        return Err(SrtpError::InvalidMki(format!(
            "length {len}, must be 1 to 128"
        )));
    }
    let bytes = value.to_be_bytes();
    let significant = bytes.len() - bytes.iter().take_while(|b| **b == 0).count();
    if significant > len {
        return Err(SrtpError::InvalidMki(format!(
            "value {value} does not fit in {len} bytes"
        )));
    }
    let mut field = vec![0; len];
    let n = len.min(bytes.len());
    field[len - n..].copy_from_slice(&bytes[bytes.len() - n..]);
    Ok(field)
}

/// A fresh local `a=crypto` key for `profile`: master key and salt from `rng` (the
/// channel's generator, seeded from the OS's CSPRNG in real calls), no lifetime, no MKI,
/// no session parameters.
pub fn generate_sdes_key(profile: SrtpProfile, tag: u32, rng: &mut impl rand::RngCore) -> SdesKey {
    let mut key_salt = vec![0; profile.key_salt_len()];
    rng.fill_bytes(&mut key_salt);
    SdesKey {
        tag,
        suite: profile.sdes_name().to_owned(),
        key_salt,
        lifetime: None,
        mki: None,
        params: Vec::new(),
    }
}

/// An SDES key as GStreamer's `srtpenc`/`srtpdec` (libsrtp) take it, for interop tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GstSrtpParams {
    /// `key||salt` in upper-case hex: the `srtpenc key=` property, `srtp-key` in caps.
    pub key_hex: String,
    /// `rtp-cipher`/`rtcp-cipher` (`srtp-cipher`/`srtcp-cipher` in caps).
    pub cipher: &'static str,
    /// `rtp-auth` (`srtp-auth`).
    pub rtp_auth: &'static str,
    /// `rtcp-auth` (`srtcp-auth`).
    pub rtcp_auth: &'static str,
    /// The MKI field in hex, when the key has one.
    pub mki_hex: Option<String>,
}

impl GstSrtpParams {
    /// The GStreamer names for `key`.
    pub fn for_key(key: &SdesKey) -> Result<GstSrtpParams, SrtpError> {
        let (profile, direction) = sdes_direction(key)?;
        let (cipher, rtp_auth, rtcp_auth) = match profile {
            SrtpProfile::Aes128CmSha1_80 => ("aes-128-icm", "hmac-sha1-80", "hmac-sha1-80"),
            // RFC 4568 §6.2.2: the _32 suites keep an 80-bit tag on SRTCP.
            SrtpProfile::Aes128CmSha1_32 => ("aes-128-icm", "hmac-sha1-32", "hmac-sha1-80"),
            SrtpProfile::Aes256CmSha1_80 => ("aes-256-icm", "hmac-sha1-80", "hmac-sha1-80"),
            SrtpProfile::Aes256CmSha1_32 => ("aes-256-icm", "hmac-sha1-32", "hmac-sha1-80"),
            // GCM authenticates inside the cipher; libsrtp wants auth "null" with it.
            SrtpProfile::AeadAes128Gcm => ("aes-128-gcm", "null", "null"),
            SrtpProfile::AeadAes256Gcm => ("aes-256-gcm", "null", "null"),
        };
        Ok(GstSrtpParams {
            key_hex: hex_upper(&key.key_salt),
            cipher,
            rtp_auth,
            rtcp_auth,
            mki_hex: (!direction.mki.is_empty()).then(|| hex_upper(&direction.mki)),
        })
    }

    /// Properties for a `gst-launch-1.0 … ! srtpenc <these> ! …` line.
    pub fn srtpenc_properties(&self) -> String {
        let mut s = format!(
            "key={} rtp-cipher={} rtp-auth={} rtcp-cipher={} rtcp-auth={}",
            self.key_hex, self.cipher, self.rtp_auth, self.cipher, self.rtcp_auth
        );
        if let Some(mki) = &self.mki_hex {
            s.push_str(&format!(" mki={mki}"));
        }
        s
    }

    /// Fields for the `application/x-srtp` caps that `srtpdec` reads its key from.
    pub fn srtpdec_caps_fields(&self) -> String {
        let mut s = format!(
            "srtp-key=(buffer){},srtp-cipher=(string){},srtp-auth=(string){},\
             srtcp-cipher=(string){},srtcp-auth=(string){}",
            self.key_hex, self.cipher, self.rtp_auth, self.cipher, self.rtcp_auth
        );
        if let Some(mki) = &self.mki_hex {
            s.push_str(&format!(",mki=(buffer){mki}"));
        }
        s
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests;
