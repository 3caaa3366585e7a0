//! A sans-IO DTLS-SRTP endpoint (RFC 5763, RFC 5764) for one call leg.
//!
//! [`Dtls`] wraps `rtc-dtls`'s endpoint for exactly one peer. Datagrams go in with
//! [`Dtls::handle_datagram`], datagrams to send come out of [`Dtls::poll_transmit`],
//! retransmission timers are driven with [`Dtls::poll_timeout`]/[`Dtls::handle_timeout`],
//! and the outcome is one [`DtlsEvent`]: `Connected` with a ready [`SrtpSession`] keyed
//! from the handshake (RFC 5764 §4.2), or `Failed`. Time is always passed in; nothing here
//! reads a clock or owns a socket, so the handshake runs in tests in memory.
//!
//! Design decisions:
//!
//! * **Authentication is the fingerprint.** Certificates are self-signed (ECDSA P-256, as
//!   browsers make them); the peer's certificate is accepted if and only if its digest
//!   equals the `a=fingerprint` of the remote description (RFC 8122 §5, RFC 5763 §5). The
//!   check runs inside the handshake (the server demands a client certificate so both
//!   sides are checked), and once more on completion before any key is handed out.
//! * **The client starts at once.** Constructing a client queues its ClientHello: the
//!   channel creates the endpoint the moment the first ICE pair succeeds and sends at once,
//!   without waiting for a timer tick.
//! * **Roles come from `a=setup`** (RFC 8842 §5, RFC 4145 §4): the offerer says `actpass`,
//!   the answerer picks `active` (RFC 5763 §5 "SHOULD"), which makes it the DTLS client;
//!   see [`DtlsRole::from_setup`] and [`answer_setup`].
//! * **Garbage is not fatal.** A datagram that is not DTLS framing is dropped and counted;
//!   a handshake error or a fatal alert fails the endpoint, after the alert that tells the
//!   peer has been queued. After `Connected` nothing but the peer's `close_notify` changes
//!   anything: the SRTP keys stay valid.
//! * **SRTP profiles** offered and accepted: AEAD_AES_128_GCM first, then
//!   AES128_CM_HMAC_SHA1_80 (Chromium offers both; every SIP device has the latter). The
//!   server takes the client's first profile it also has (RFC 5764 §4.1.1).
//! * **Extended master secret is requested, not required** (RFC 7627): browsers send it,
//!   some SIP devices do not, and with no session resumption or renegotiation we have
//!   nothing the triple-handshake attack needs.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::BytesMut;
use protocol::media::{Fingerprint, SetupRole};
use rtc_dtls::config::{ClientAuthType, ConfigBuilder, ExtendedMasterSecretType};
use rtc_dtls::crypto::Certificate as RtcCertificate;
use rtc_dtls::crypto_provider::{RTCCryptoProvider, default_provider};
use rtc_dtls::endpoint::{Endpoint, EndpointEvent};
use rtc_dtls::extension::extension_use_srtp::SrtpProtectionProfile;
use rtc_shared::TransportProtocol;
use rtc_shared::error::Error as RtcError;

use crate::srtp::{SrtpError, SrtpProfile, SrtpSession};

/// RFC 5764 §4.2: the exporter label for SRTP keys.
const SRTP_EXPORTER_LABEL: &str = "EXTRACTOR-dtls_srtp";

/// The profiles we offer (client) and accept (server), preferred first.
pub const DEFAULT_SRTP_PROFILES: [SrtpProfile; 2] =
    [SrtpProfile::AeadAes128Gcm, SrtpProfile::Aes128CmSha1_80];

/// `rtc-dtls` keys associations by address; ours has one peer, whose real address the
/// channel owns. Any fixed non-zero port will do (docs/upstream.md, `dtls-peer-address`).
const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9);

/// Which side of the DTLS handshake we take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DtlsRole {
    /// Sends the ClientHello (`a=setup:active`).
    Client,
    /// Waits for it (`a=setup:passive`).
    Server,
}

/// What the offerer puts in `a=setup` (RFC 8842 §5.2: offers MUST say `actpass`).
pub const OFFER_SETUP: SetupRole = SetupRole::ActPass;

/// What the answerer puts in `a=setup` for an offer's value: `active` unless the offerer
/// insists on being active itself (RFC 5763 §5, RFC 8842 §5.3). An offer without the
/// attribute means `active` (RFC 4145 §4), so the answer is `passive`.
pub fn answer_setup(offer: Option<SetupRole>) -> Result<SetupRole, DtlsError> {
    match offer {
        Some(SetupRole::ActPass | SetupRole::Passive) => Ok(SetupRole::Active),
        Some(SetupRole::Active) | None => Ok(SetupRole::Passive),
        Some(SetupRole::HoldConn) => Err(DtlsError::Setup(
            "the offer says holdconn, which RFC 8842 §5.1 forbids".to_owned(),
        )),
    }
}

impl DtlsRole {
    /// Our DTLS role from our `a=setup` value and the peer's, whichever of us offered
    /// (RFC 4145 §4: `active` connects; RFC 8842 §5). A missing remote value means
    /// `active` (RFC 4145 §4).
    pub fn from_setup(local: SetupRole, remote: Option<SetupRole>) -> Result<DtlsRole, DtlsError> {
        use SetupRole::*;
        let remote = remote.unwrap_or(Active);
        match (local, remote) {
            (Active, Passive | ActPass) | (ActPass, Passive) => Ok(DtlsRole::Client),
            (Passive, Active | ActPass) | (ActPass, Active) => Ok(DtlsRole::Server),
            _ => Err(DtlsError::Setup(format!(
                "local {} and remote {} do not make one client and one server",
                local.as_str(),
                remote.as_str()
            ))),
        }
    }

    /// The `a=setup` value that announces this role in an answer.
    pub fn setup(self) -> SetupRole {
        match self {
            DtlsRole::Client => SetupRole::Active,
            DtlsRole::Server => SetupRole::Passive,
        }
    }
}

/// Why a DTLS endpoint could not be made or its handshake failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DtlsError {
    /// The peer's certificate is not the one the remote description announced: a man in
    /// the middle, or a stale description (RFC 8122 §5).
    #[error(
        "remote certificate fingerprint {actual} does not match {expected} from the remote description"
    )]
    FingerprintMismatch {
        /// `a=fingerprint` of the remote description, SDP notation.
        expected: String,
        /// Digest of the certificate the peer presented, same hash.
        actual: String,
    },
    /// The remote description's fingerprint uses a hash we do not have, or its length is
    /// wrong for the hash.
    #[error("unsupported remote fingerprint {0}")]
    UnsupportedFingerprint(String),
    /// The `a=setup` values do not give one client and one server.
    #[error("DTLS setup roles: {0}")]
    Setup(String),
    /// No answer to the handshake within the retransmission budget.
    #[error("DTLS handshake timed out")]
    Timeout,
    /// The peer closed the association before the handshake completed.
    #[error("peer closed the DTLS association before the handshake completed")]
    Closed,
    /// The peer negotiated no SRTP profile we have (RFC 5764 §4.1.2).
    #[error("no SRTP protection profile in common")]
    NoSrtpProfile,
    /// The handshake failed otherwise: a fatal alert, a protocol error.
    #[error("DTLS handshake failed: {0}")]
    Handshake(String),
    /// Certificate generation or configuration failed.
    #[error("DTLS setup: {0}")]
    Config(String),
    /// The exported keys did not make an SRTP session.
    #[error("SRTP from DTLS: {0}")]
    Srtp(#[from] SrtpError),
}

/// Our DTLS identity: a self-signed ECDSA P-256 certificate and its SHA-256 fingerprint.
/// One per channel, or one per app run: cheap to clone.
#[derive(Clone, Debug)]
pub struct Certificate {
    inner: RtcCertificate,
    fingerprint: Fingerprint,
}

impl Certificate {
    /// A fresh self-signed certificate with an ECDSA P-256 key, as browsers make for
    /// WebRTC: the key every DTLS-SRTP peer accepts.
    pub fn generate() -> Result<Certificate, DtlsError> {
        let provider = provider()?;
        let inner = RtcCertificate::generate_self_signed(Vec::<String>::new(), provider.crypto())
            .map_err(|e| DtlsError::Config(e.to_string()))?;
        let der = inner
            .certificate
            .first()
            .ok_or_else(|| DtlsError::Config("generated certificate chain is empty".into()))?;
        let fingerprint = Fingerprint {
            algorithm: "sha-256".to_owned(),
            value: ring::digest::digest(&ring::digest::SHA256, der)
                .as_ref()
                .to_vec(),
        };
        Ok(Certificate { inner, fingerprint })
    }

    /// The `a=fingerprint` for the local description (RFC 8122 §5, SHA-256).
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint.clone()
    }

    /// The certificate, DER.
    pub fn der(&self) -> &[u8] {
        self.inner.certificate.first().map_or(&[], |c| c.as_ref())
    }
}

/// What a [`Dtls`] endpoint reports; at most one of `Connected`/`Failed`.
#[derive(Debug)]
pub enum DtlsEvent {
    /// Handshake done, peer authenticated: SRTP is keyed (RFC 5764 §4.2).
    Connected {
        /// Protects what we send and unprotects what we receive.
        srtp: Box<SrtpSession>,
    },
    /// The handshake failed; nothing more will happen.
    Failed(DtlsError),
    /// The peer ended the association after the handshake (`close_notify` or a fatal
    /// alert: hang-up or re-negotiation). The SRTP session stays usable; the channel
    /// decides.
    Closed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Handshaking,
    Connected,
    Done,
}

/// A DTLS-SRTP endpoint for one peer.
pub struct Dtls {
    role: DtlsRole,
    endpoint: Endpoint,
    phase: Phase,
    events: VecDeque<DtlsEvent>,
    remote_fingerprint: Fingerprint,
    /// Filled by the handshake's certificate check with the digest it found, on mismatch.
    mismatch: Arc<Mutex<Option<Vec<u8>>>>,
    dropped: u64,
}

impl std::fmt::Debug for Dtls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dtls")
            .field("role", &self.role)
            .field("phase", &self.phase)
            .field(
                "remote_fingerprint",
                &self.remote_fingerprint.to_sdp_value(),
            )
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

impl Dtls {
    /// An endpoint with the default SRTP profiles. A client queues its ClientHello at
    /// once ([`Dtls::poll_transmit`]); a server waits for one.
    pub fn new(
        role: DtlsRole,
        cert: &Certificate,
        remote_fingerprint: Fingerprint,
        now: Instant,
    ) -> Result<Dtls, DtlsError> {
        Dtls::with_profiles(role, cert, remote_fingerprint, &DEFAULT_SRTP_PROFILES, now)
    }

    /// An endpoint offering (client) or accepting (server) `profiles`, preferred first.
    pub fn with_profiles(
        role: DtlsRole,
        cert: &Certificate,
        remote_fingerprint: Fingerprint,
        profiles: &[SrtpProfile],
        now: Instant,
    ) -> Result<Dtls, DtlsError> {
        let expected_len = digest(&remote_fingerprint.algorithm, &[]).map(|d| d.len());
        if expected_len != Some(remote_fingerprint.value.len()) {
            return Err(DtlsError::UnsupportedFingerprint(
                remote_fingerprint.to_sdp_value(),
            ));
        }
        let profiles: Vec<SrtpProtectionProfile> = profiles
            .iter()
            .filter_map(|p| to_dtls_profile(*p))
            .collect();
        if profiles.is_empty() {
            return Err(DtlsError::NoSrtpProfile);
        }
        let mismatch = Arc::new(Mutex::new(None));
        let verify = {
            let expected = remote_fingerprint.clone();
            let mismatch = Arc::clone(&mismatch);
            Arc::new(move |certs: &[Vec<u8>], _chains: &[_]| {
                verify_fingerprint(&expected, certs, &mismatch)
            })
        };
        let config = ConfigBuilder::default()
            .with_crypto_provider(provider()?)
            .with_certificates(vec![cert.inner.clone()])
            .with_srtp_protection_profiles(profiles)
            // A self-signed certificate has no chain to check; the fingerprint is the
            // check (RFC 8122 §5). The server asks for the client's certificate.
            .with_insecure_skip_verify(true)
            .with_verify_peer_certificate(Some(verify))
            .with_client_auth(ClientAuthType::RequireAnyClientCert)
            .with_extended_master_secret(ExtendedMasterSecretType::Request)
            .build(role == DtlsRole::Client, None)
            .map_err(|e| DtlsError::Config(e.to_string()))?;
        let config = Arc::new(config);
        let local = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
        let mut dtls = Dtls {
            role,
            endpoint: Endpoint::new(local, TransportProtocol::UDP, None),
            phase: Phase::Handshaking,
            events: VecDeque::new(),
            remote_fingerprint,
            mismatch,
            dropped: 0,
        };
        match role {
            DtlsRole::Client => dtls
                .endpoint
                .connect(now, PEER, config, None)
                .map_err(|e| DtlsError::Config(e.to_string()))?,
            DtlsRole::Server => dtls.endpoint.set_server_config(Some(config)),
        }
        Ok(dtls)
    }

    /// Our role.
    pub fn role(&self) -> DtlsRole {
        self.role
    }

    /// Whether `Connected` has been reported (and no failure or close since).
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Connected
    }

    /// Received datagrams dropped as not DTLS, or arriving after the end.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Feeds one received DTLS datagram (first byte 20–63, see [`crate::demux`]).
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) {
        if self.phase == Phase::Done {
            self.dropped += 1;
            return;
        }
        let result = self
            .endpoint
            .read(now, PEER, None, BytesMut::from(datagram));
        match result {
            Ok(events) => {
                for event in events {
                    match event {
                        EndpointEvent::HandshakeComplete => self.on_complete(),
                        EndpointEvent::PeerClosed => self.on_peer_closed(),
                        // No data channels over this association.
                        _ => {}
                    }
                }
            }
            // Not DTLS framing (RFC 6347 §4.1.2.7: invalid records are discarded).
            Err(RtcError::ErrInvalidPacketLength) => self.dropped += 1,
            Err(e) if self.phase == Phase::Handshaking => self.fail(self.handshake_error(e)),
            // After the handshake rtc-dtls discards plaintext and unauthenticated records,
            // so an alert that still gets through came from the peer: it is gone.
            Err(RtcError::ErrAlertFatalOrClose) => self.on_peer_closed(),
            Err(_) => self.dropped += 1,
        }
    }

    /// The next datagram to send to the peer.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.endpoint.poll_transmit().map(|t| t.message.into())
    }

    /// When [`Dtls::handle_timeout`] must next run: a handshake flight's retransmission.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Handshaking => self.endpoint.poll_timeout(&PEER),
            _ => None,
        }
    }

    /// Retransmits the current flight if its timer is due (RFC 6347 §4.2.4); fails with
    /// [`DtlsError::Timeout`] once the retransmissions are spent.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase != Phase::Handshaking || self.endpoint.poll_timeout(&PEER).is_none() {
            return;
        }
        match self.endpoint.handle_timeout(PEER, now) {
            Ok(()) => {}
            // rtc-dtls moves a handshake out of retransmissions to its error state, which
            // then reports the transition it cannot make.
            Err(RtcError::ErrInvalidFsmTransition) => self.fail(DtlsError::Timeout),
            Err(e) => self.fail(self.handshake_error(e)),
        }
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<DtlsEvent> {
        self.events.pop_front()
    }

    /// Ends the association: queues `close_notify` (RFC 5246 §7.2.1) for
    /// [`Dtls::poll_transmit`]. Nothing is reported after this.
    pub fn close(&mut self, now: Instant) {
        if self.phase != Phase::Done {
            self.endpoint.stop(now, PEER);
            self.phase = Phase::Done;
        }
    }

    fn fail(&mut self, error: DtlsError) {
        tracing::debug!(%error, role = ?self.role, "DTLS failed");
        self.phase = Phase::Done;
        self.events.push_back(DtlsEvent::Failed(error));
    }

    fn handshake_error(&self, e: RtcError) -> DtlsError {
        match self.mismatch.lock().ok().and_then(|m| m.clone()) {
            Some(actual) => self.mismatch_error(actual),
            None => DtlsError::Handshake(e.to_string()),
        }
    }

    fn mismatch_error(&self, actual: Vec<u8>) -> DtlsError {
        DtlsError::FingerprintMismatch {
            expected: self.remote_fingerprint.to_sdp_value(),
            actual: Fingerprint {
                algorithm: self.remote_fingerprint.algorithm.clone(),
                value: actual,
            }
            .to_sdp_value(),
        }
    }

    fn on_peer_closed(&mut self) {
        match self.phase {
            Phase::Handshaking => self.fail(DtlsError::Closed),
            Phase::Connected => {
                self.phase = Phase::Done;
                self.events.push_back(DtlsEvent::Closed);
            }
            Phase::Done => {}
        }
    }

    fn on_complete(&mut self) {
        if self.phase != Phase::Handshaking {
            return;
        }
        match self.srtp_from_handshake() {
            Ok(srtp) => {
                self.phase = Phase::Connected;
                self.events.push_back(DtlsEvent::Connected {
                    srtp: Box::new(srtp),
                });
            }
            Err(e) => self.fail(e),
        }
    }

    fn srtp_from_handshake(&self) -> Result<SrtpSession, DtlsError> {
        let state = self
            .endpoint
            .get_connection_state(PEER)
            .ok_or_else(|| DtlsError::Handshake("association vanished on completion".into()))?;
        // The handshake has checked the certificate already; no key leaves here unless
        // it is the announced one, whatever path the handshake took.
        let cert = state
            .peer_certificates
            .first()
            .ok_or_else(|| DtlsError::Handshake("peer presented no certificate".into()))?;
        let actual = digest(&self.remote_fingerprint.algorithm, cert).unwrap_or_default();
        if actual != self.remote_fingerprint.value {
            return Err(self.mismatch_error(actual));
        }
        let profile =
            from_dtls_profile(state.srtp_protection_profile()).ok_or(DtlsError::NoSrtpProfile)?;
        let material = state
            .export_keying_material(SRTP_EXPORTER_LABEL, &[], profile.keying_material_len())
            .map_err(|e| DtlsError::Handshake(format!("exporting SRTP keys: {e}")))?;
        Ok(SrtpSession::from_dtls(
            profile,
            material.as_ref(),
            self.role,
        )?)
    }
}

/// The handshake's certificate check (RFC 8122 §5): the first certificate's digest must
/// be the remote description's fingerprint.
fn verify_fingerprint(
    expected: &Fingerprint,
    certs: &[Vec<u8>],
    mismatch: &Mutex<Option<Vec<u8>>>,
) -> Result<(), RtcError> {
    let cert = certs.first().ok_or(RtcError::ErrNonCertificate)?;
    let actual =
        digest(&expected.algorithm, cert).ok_or(RtcError::ErrUnsupportedFingerprintAlgorithm)?;
    if actual == expected.value {
        return Ok(());
    }
    if let Ok(mut slot) = mismatch.lock() {
        *slot = Some(actual);
    }
    Err(RtcError::ErrNoMatchingCertificateFingerprint)
}

/// `data`'s digest under an RFC 8122 hash name; `None` for hashes we do not have (md5,
/// sha-224: RFC 8122 §5 lists them, no peer uses them).
fn digest(algorithm: &str, data: &[u8]) -> Option<Vec<u8>> {
    use ring::digest;
    let algorithm = match algorithm.to_ascii_lowercase().as_str() {
        "sha-1" => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        "sha-256" => &digest::SHA256,
        "sha-384" => &digest::SHA384,
        "sha-512" => &digest::SHA512,
        _ => return None,
    };
    Some(digest::digest(algorithm, data).as_ref().to_vec())
}

fn provider() -> Result<Arc<dyn RTCCryptoProvider>, DtlsError> {
    default_provider().map_err(|e| DtlsError::Config(e.to_string()))
}

fn to_dtls_profile(p: SrtpProfile) -> Option<SrtpProtectionProfile> {
    Some(match p {
        SrtpProfile::Aes128CmSha1_80 => SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80,
        SrtpProfile::Aes128CmSha1_32 => SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_32,
        SrtpProfile::AeadAes128Gcm => SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm,
        SrtpProfile::AeadAes256Gcm => SrtpProtectionProfile::Srtp_Aead_Aes_256_Gcm,
        SrtpProfile::Aes256CmSha1_80 | SrtpProfile::Aes256CmSha1_32 => return None,
    })
}

fn from_dtls_profile(p: SrtpProtectionProfile) -> Option<SrtpProfile> {
    Some(match p {
        SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80 => SrtpProfile::Aes128CmSha1_80,
        SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_32 => SrtpProfile::Aes128CmSha1_32,
        SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm => SrtpProfile::AeadAes128Gcm,
        SrtpProtectionProfile::Srtp_Aead_Aes_256_Gcm => SrtpProfile::AeadAes256Gcm,
        _ => return None,
    })
}

// The tokio driver moves channels, and so these, between threads.
const _: () = {
    const fn send<T: Send>() {}
    send::<Dtls>();
    send::<SrtpSession>();
    send::<Certificate>();
};
