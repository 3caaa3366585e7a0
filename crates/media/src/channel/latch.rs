//! Where plain RTP and RTCP may come from, and where they go: symmetric RTP (RFC 4961)
//! without "RTP Bleed".
//!
//! A peer behind a NAT sends from another address than the one it signalled, so a
//! channel without ICE must be able to follow it. Following *any* source, or re-latching
//! whenever the peer pauses, lets a third party that sprays packets at our port range
//! take the stream over, play audio into the call, inject DTMF and receive the user's
//! speech. The rule here:
//!
//! * the signalled address is always accepted, and the first packet from it fixes the
//!   latch for the rest of the call;
//! * otherwise, once, within a window after the description, we move to a source that
//!   proves itself: for RTP, [`LATCH_PACKETS`] packets in a row of one stream (one SSRC,
//!   consecutive sequence numbers) within [`LATCH_WINDOW`]; for RTCP on its own port, a
//!   report from the SSRC of the RTP stream already taken, within [`RTCP_LATCH_WINDOW`]
//!   (muxed RTCP follows the RTP latch);
//! * after that, or after the window, nothing else is ever taken. A new description with
//!   a new address opens a new window (a re-INVITE may move the peer).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long after a description a source other than the signalled one may be latched to.
pub(super) const LATCH_WINDOW: Duration = Duration::from_secs(5);
/// Packets in a row a new RTP source must send before it is latched to.
pub(super) const LATCH_PACKETS: u32 = 3;
/// RTCP comes every few seconds (RFC 3550 §6.2): one report of the accepted stream's SSRC
/// is the proof, within a window that covers a peer's first report interval (≤ 7.5 s).
pub(super) const RTCP_LATCH_WINDOW: Duration = Duration::from_secs(10);

/// What to do with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// From the current source: take it.
    Accept,
    /// From a source latched to just now: take it, and send there from now on.
    Latched(SocketAddr),
    /// From anywhere else: drop it.
    Drop,
}

/// A source that may become the latch: the stream it sent so far.
#[derive(Clone, Copy, Debug)]
struct Contender {
    source: SocketAddr,
    ssrc: u32,
    seq: Option<u16>,
    count: u32,
}

/// One direction's latch (RTP, or RTCP on its own port).
#[derive(Clone, Debug)]
pub(super) struct Latch {
    /// The address the last description gave.
    signalled: Option<SocketAddr>,
    /// Where we send, and the only source taken once `fixed`.
    current: Option<SocketAddr>,
    /// No more moves.
    fixed: bool,
    /// Until when a move is allowed.
    window_end: Instant,
    /// How long the window is.
    window: Duration,
    /// Packets in a row a contender needs.
    needed: u32,
    contender: Option<Contender>,
}

impl Latch {
    /// An RTP latch on the signalled address (`None`: the peer gave none, `c=0.0.0.0`).
    pub(super) fn rtp(signalled: Option<SocketAddr>, now: Instant) -> Latch {
        Latch::new(signalled, now, LATCH_WINDOW, LATCH_PACKETS)
    }

    /// An RTCP latch (see [`RTCP_LATCH_WINDOW`]).
    pub(super) fn rtcp(signalled: Option<SocketAddr>, now: Instant) -> Latch {
        Latch::new(signalled, now, RTCP_LATCH_WINDOW, 1)
    }

    fn new(signalled: Option<SocketAddr>, now: Instant, window: Duration, needed: u32) -> Latch {
        Latch {
            signalled,
            current: signalled,
            fixed: false,
            window_end: now + window,
            window,
            needed,
            contender: None,
        }
    }

    /// Where to send.
    pub(super) fn destination(&self) -> Option<SocketAddr> {
        self.current
    }

    /// A new description: a changed address is taken as signalled and opens a new window
    /// (`None`, as in an RFC 2543 hold with `c=0.0.0.0`, sends nowhere).
    pub(super) fn resignal(&mut self, signalled: Option<SocketAddr>, now: Instant) {
        if signalled != self.signalled {
            *self = Latch::new(signalled, now, self.window, self.needed);
        }
    }

    /// A packet from `source` of the stream `ssrc` (RTP: with its sequence number; RTCP:
    /// `seq` is `None` and `ssrc` must be `expected` to count).
    pub(super) fn check(
        &mut self,
        now: Instant,
        source: SocketAddr,
        ssrc: u32,
        seq: Option<u16>,
        expected: Option<u32>,
    ) -> Verdict {
        if Some(source) == self.current {
            self.fixed = true;
            self.contender = None;
            return Verdict::Accept;
        }
        if self.fixed || now > self.window_end {
            self.fixed = true;
            return Verdict::Drop;
        }
        // RTCP must name the RTP stream already taken (`expected`); RTP has none to name.
        if self.needed == 1 && expected != Some(ssrc) {
            return Verdict::Drop;
        }
        let continues = self.contender.is_some_and(|c| {
            c.source == source
                && c.ssrc == ssrc
                && match (c.seq, seq) {
                    (Some(prev), Some(next)) => next == prev.wrapping_add(1),
                    (None, None) => true,
                    _ => false,
                }
        });
        let count = if continues {
            self.contender.map_or(1, |c| c.count + 1)
        } else {
            1
        };
        if count >= self.needed {
            self.current = Some(source);
            self.fixed = true;
            self.contender = None;
            return Verdict::Latched(source);
        }
        self.contender = Some(Contender {
            source,
            ssrc,
            seq,
            count,
        });
        Verdict::Drop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn the_signalled_source_fixes_the_latch() {
        let t0 = Instant::now();
        let mut l = Latch::rtp(Some(addr(6000)), t0);
        assert_eq!(l.check(t0, addr(6000), 1, Some(1), None), Verdict::Accept);
        // A stream from elsewhere, however well formed, is never taken after that.
        for seq in 2..50 {
            assert_eq!(l.check(t0, addr(7000), 1, Some(seq), None), Verdict::Drop);
        }
        assert_eq!(l.destination(), Some(addr(6000)));
    }

    #[test]
    fn a_nat_is_followed_once_after_three_packets_in_a_row() {
        let t0 = Instant::now();
        let mut l = Latch::rtp(Some(addr(6000)), t0);
        assert_eq!(l.check(t0, addr(7000), 9, Some(10), None), Verdict::Drop);
        // A gap in the sequence starts the count again.
        assert_eq!(l.check(t0, addr(7000), 9, Some(12), None), Verdict::Drop);
        assert_eq!(l.check(t0, addr(7000), 9, Some(13), None), Verdict::Drop);
        assert_eq!(
            l.check(t0, addr(7000), 9, Some(14), None),
            Verdict::Latched(addr(7000))
        );
        assert_eq!(l.destination(), Some(addr(7000)));
        // Once: neither the signalled address nor a third source can move it again.
        for seq in 0..10 {
            assert_eq!(l.check(t0, addr(8000), 5, Some(seq), None), Verdict::Drop);
        }
        assert_eq!(l.check(t0, addr(6000), 9, Some(15), None), Verdict::Drop);
    }

    #[test]
    fn after_the_window_only_the_signalled_source_counts() {
        let t0 = Instant::now();
        let late = t0 + LATCH_WINDOW + Duration::from_millis(1);
        let mut l = Latch::rtp(Some(addr(6000)), t0);
        for seq in 0..10 {
            assert_eq!(l.check(late, addr(7000), 9, Some(seq), None), Verdict::Drop);
        }
        assert_eq!(l.check(late, addr(6000), 9, Some(1), None), Verdict::Accept);
    }

    #[test]
    fn rtcp_follows_only_the_accepted_stream() {
        let t0 = Instant::now();
        let mut l = Latch::rtcp(Some(addr(6001)), t0);
        for _ in 0..5 {
            assert_eq!(l.check(t0, addr(7001), 66, None, Some(9)), Verdict::Drop);
            assert_eq!(l.check(t0, addr(7001), 9, None, None), Verdict::Drop);
        }
        assert_eq!(
            l.check(t0, addr(7001), 9, None, Some(9)),
            Verdict::Latched(addr(7001))
        );
    }

    #[test]
    fn a_new_address_in_a_description_opens_a_new_window() {
        let t0 = Instant::now();
        let mut l = Latch::rtp(Some(addr(6000)), t0);
        assert_eq!(l.check(t0, addr(6000), 1, Some(1), None), Verdict::Accept);
        l.resignal(Some(addr(6000)), t0);
        assert_eq!(l.check(t0, addr(7000), 1, Some(2), None), Verdict::Drop);
        let t1 = t0 + Duration::from_secs(60);
        l.resignal(Some(addr(6100)), t1);
        assert_eq!(l.destination(), Some(addr(6100)));
        assert_eq!(l.check(t1, addr(6100), 1, Some(3), None), Verdict::Accept);
    }
}
