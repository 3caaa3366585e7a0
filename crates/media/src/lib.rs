//! Media engine of the myApps platform services: one [`Channel`](channel) per
//! `AllocChannel`.
//!
//! Built like str0m and quinn-proto: the protocol logic is a deterministic state machine
//! with time passed in (`handle_input` / `poll_output` / `handle_timeout`); a thin tokio
//! driver owns the UDP sockets. The protocol parts come from webrtc-rs's sans-IO `rtc-*`
//! crates (ICE, DTLS, SRTP, RTP, RTCP, STUN, TURN); their `RTCPeerConnection` cannot do
//! plain RTP or SDES, so this crate composes the parts itself.

pub mod gather;
pub mod ice;
pub mod interfaces;
pub mod ports;
pub mod transmit;
