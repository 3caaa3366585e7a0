//! Media engine of the myApps platform services: one channel per `AllocChannel`.
//!
//! Built like str0m and quinn-proto: the protocol logic is a deterministic state machine
//! with time passed in (`handle_input` / `poll_output` / `handle_timeout`); a thin tokio
//! driver owns the UDP sockets. The protocol parts come from webrtc-rs's sans-IO `rtc-*`
//! crates (ICE, DTLS, SRTP, RTP, RTCP, STUN, TURN); their `RTCPeerConnection` cannot do
//! plain RTP or SDES, so this crate composes the parts itself.
//!
//! | module | what |
//! |---|---|
//! | [`channel`] | the state machine of one channel |
//! | [`demux`] | RFC 7983: which protocol a received datagram belongs to |
//! | [`dtls`] | DTLS-SRTP endpoint (RFC 5763/5764), certificates and fingerprints |
//! | [`driver`] | the tokio task owning a channel's sockets, audio rings and timers |
//! | [`gather`] | srflx candidates from STUN, relay candidates from TURN (UDP/TCP) |
//! | [`ice`] | ICE agent wrapper over `rtc-ice` (RFC 8445), first-writable-pair event |
//! | [`interfaces`] | local addresses, VPN and EXCLUDEINTERFACES filtering |
//! | [`negotiate`] | offer/answer: codec, payload types, security mode, remote address |
//! | [`ports`] | RTP port ranges and socket binding |
//! | [`rtp`] | RTP numbering, RFC 3550 receive statistics, SR/RR, round-trip time |
//! | [`seed`] | a channel's random values (ICE credentials, SDES keys, CNAME) from one seed |
//! | [`srtp`] | SRTP/SRTCP sessions keyed by SDES (RFC 4568) or DTLS (RFC 5764) |
//! | [`transmit`] | the datagram the sans-IO parts ask the driver to send |

pub mod channel;
pub mod demux;
pub mod driver;
pub mod dtls;
pub mod gather;
pub mod ice;
pub mod interfaces;
pub mod negotiate;
pub mod ports;
pub mod rtp;
pub mod seed;
pub mod srtp;
pub mod transmit;

/// Fault codes of the native media engine (docs/public-protocols.md §9.2, `media.h`), used in
/// error events so apps written against the native client understand them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Fault {
    /// No media received.
    NoMedia = 0x0005_0001,
    /// Excessive packet loss.
    ExcessiveLoss = 0x0005_0002,
    /// Wrong payload type.
    WrongPayloadType = 0x0005_0003,
    /// STUN failed.
    StunFailed = 0x0005_0004,
    /// SRTP authentication failed.
    SrtpAuth = 0x0005_0005,
    /// SRTCP authentication failed.
    SrtcpAuth = 0x0005_0006,
    /// STUN server name did not resolve.
    StunDns = 0x0005_0007,
    /// ICE failed.
    IceFailed = 0x0005_0008,
    /// DTLS-SRTP failed.
    DtlsFailed = 0x0005_0009,
    /// Recording failed.
    RecordingFailed = 0x0005_000A,
}

impl Fault {
    /// The numeric code.
    pub fn code(self) -> u32 {
        self as u32
    }
}

/// Errors of the media engine. Each says what was wrong in words a user or app developer
/// can act on.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MediaError {
    /// Offer/answer failed.
    #[error("negotiation failed: {0}")]
    Negotiation(String),
    /// A codec could not be set up.
    #[error("codec: {0}")]
    Codec(#[from] codecs::CodecError),
    /// Sockets could not be bound.
    #[error("network: {0}")]
    Network(String),
    /// The call is in a state where this is not possible.
    #[error("not possible now: {0}")]
    State(String),
    /// A protocol failure with its native fault code.
    #[error("{text} (fault 0x{:08X})", fault.code())]
    Fault {
        /// The fault.
        fault: Fault,
        /// What happened.
        text: String,
    },
}
