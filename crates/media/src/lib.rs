//! Media engine of the myApps platform services: one [`Channel`](channel) per
//! `AllocChannel`.
//!
//! Built like str0m and quinn-proto: the protocol logic is a deterministic state machine
//! with time passed in (`handle_input` / `poll_output` / `handle_timeout`); a thin tokio
//! driver owns the UDP sockets. The protocol parts come from webrtc-rs's sans-IO `rtc-*`
//! crates (ICE, DTLS, SRTP, RTP, RTCP, STUN, TURN); their `RTCPeerConnection` cannot do
//! plain RTP or SDES, so this crate composes the parts itself.
//!
//! Security layer: [`demux`] sorts received datagrams (RFC 7983), [`srtp`] protects and
//! unprotects media with SDES or DTLS keys, [`dtls`] runs the DTLS-SRTP handshake.

pub mod demux;
pub mod dtls;
pub mod srtp;
