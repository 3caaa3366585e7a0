//! RTP port ranges and the UDP sockets bound in them.
//!
//! The platform-services wiki ("RTP ports") fixes audio to 50000–50099 and video (app
//! sharing) to 50100–50199 so firewalls can be opened for exactly those; both are
//! configurable. A [`PortAllocator`] binds plain `std` sockets (the tokio driver converts
//! them with `UdpSocket::from_std` after `set_nonblocking`), trying the ports of its range
//! in turn and skipping those in use by anyone.
//!
//! The search starts after the port handed out last, round-robin, rather than at the range
//! start: a call that ends and a new one that starts at once should not get the same port,
//! or late packets of the old call would arrive in the new one.
//!
//! Plain RTP without rtcp-mux needs RTP on an even port and RTCP on the next one (RFC 3550
//! §11; RFC 3605 when it is not): [`PortAllocator::bind_rtp_rtcp`].

use protocol::media_protocol::ChannelKind;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};

/// An inclusive UDP port range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    first: u16,
    last: u16,
}

impl PortRange {
    /// The wiki's audio range, 50000–50099.
    pub const AUDIO: PortRange = PortRange {
        first: 50000,
        last: 50099,
    };
    /// The wiki's video (app sharing) range, 50100–50199.
    pub const VIDEO: PortRange = PortRange {
        first: 50100,
        last: 50199,
    };

    /// `first..=last`; `None` when empty or when it contains port 0.
    pub fn new(first: u16, last: u16) -> Option<PortRange> {
        (first != 0 && first <= last).then_some(PortRange { first, last })
    }

    /// The default range for a channel kind.
    pub fn for_kind(kind: ChannelKind) -> PortRange {
        match kind {
            ChannelKind::Audio => PortRange::AUDIO,
            ChannelKind::Video => PortRange::VIDEO,
        }
    }

    /// First port.
    pub fn first(self) -> u16 {
        self.first
    }

    /// Last port (inclusive).
    pub fn last(self) -> u16 {
        self.last
    }

    /// Number of ports.
    pub fn len(self) -> u32 {
        u32::from(self.last) - u32::from(self.first) + 1
    }

    /// Never true: a range has at least one port (for clippy's `len_without_is_empty`).
    pub fn is_empty(self) -> bool {
        false
    }

    /// Whether `port` is in the range.
    pub fn contains(self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

/// Why no socket could be bound.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Every port (or even/odd pair) of the range is in use on that address.
    #[error("no free UDP {} in range {range} on {ip}: all in use", noun(.pair))]
    Exhausted {
        /// The range searched.
        range: PortRange,
        /// The local address.
        ip: IpAddr,
        /// An RTP/RTCP pair was asked for.
        pair: bool,
    },
    /// Binding failed for another reason than "in use" (address gone, not local, …).
    #[error("cannot bind UDP {addr}: {source}")]
    Bind {
        /// The address tried.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// No usable local address (every interface filtered out or down).
    #[error("no usable local address for media (all interfaces excluded or down)")]
    NoAddress,
}

fn noun(pair: &bool) -> &'static str {
    if *pair { "port pair" } else { "port" }
}

/// An RTP socket on an even port and its RTCP socket on the next port.
#[derive(Debug)]
pub struct RtpRtcp {
    /// Even port.
    pub rtp: UdpSocket,
    /// `rtp` port + 1.
    pub rtcp: UdpSocket,
}

/// Hands out ports of one range; the service keeps one per range.
#[derive(Debug)]
pub struct PortAllocator {
    range: PortRange,
    /// Offset into the range where the next search starts.
    cursor: u32,
}

impl PortAllocator {
    /// An allocator starting at the range's first port.
    pub fn new(range: PortRange) -> PortAllocator {
        PortAllocator { range, cursor: 0 }
    }

    /// The range.
    pub fn range(&self) -> PortRange {
        self.range
    }

    /// The port at `offset` from the cursor, wrapping around the range.
    fn port_at(&self, offset: u32) -> u16 {
        let n = (self.cursor + offset) % self.range.len();
        // n < len ≤ 65535 - first + 1, so first + n ≤ last fits in a u16.
        self.range.first + n as u16
    }

    fn advance_past(&mut self, port: u16) {
        self.cursor = (u32::from(port) - u32::from(self.range.first) + 1) % self.range.len();
    }

    /// A UDP socket on `ip` and the first free port of the range.
    pub fn bind(&mut self, ip: IpAddr) -> Result<UdpSocket, PortError> {
        for offset in 0..self.range.len() {
            let port = self.port_at(offset);
            if let Some(socket) = try_bind(SocketAddr::new(ip, port))? {
                self.advance_past(port);
                return Ok(socket);
            }
        }
        Err(PortError::Exhausted {
            range: self.range,
            ip,
            pair: false,
        })
    }

    /// RTP on an even port and RTCP on the odd port after it, both on `ip`.
    pub fn bind_rtp_rtcp(&mut self, ip: IpAddr) -> Result<RtpRtcp, PortError> {
        for offset in 0..self.range.len() {
            let port = self.port_at(offset);
            // Even ports only (≤ 65534, so port + 1 cannot overflow).
            if !port.is_multiple_of(2) || !self.range.contains(port.saturating_add(1)) {
                continue;
            }
            let Some(rtp) = try_bind(SocketAddr::new(ip, port))? else {
                continue;
            };
            if let Some(rtcp) = try_bind(SocketAddr::new(ip, port + 1))? {
                self.advance_past(port + 1);
                return Ok(RtpRtcp { rtp, rtcp });
            }
            drop(rtp);
        }
        Err(PortError::Exhausted {
            range: self.range,
            ip,
            pair: true,
        })
    }
}

/// The sockets of one channel, bound and described for [`crate::channel::ChannelConfig`].
#[derive(Debug)]
pub struct ChannelSockets {
    /// The bound sockets, for [`crate::driver::spawn`].
    pub sockets: Vec<UdpSocket>,
    /// Their addresses and roles, in the same order; the first is the default address.
    pub local: Vec<crate::channel::LocalSocket>,
}

/// Binds one RTP socket from the range on each of `addrs` (the usable host addresses,
/// see [`crate::interfaces::usable`]; the first becomes the default `c=` address), and an
/// RTCP socket on port+1 too when `rtcp_pair` (plain RTP peers without rtcp-mux,
/// RFC 3550 §11). Fails, releasing what it bound, when the range is exhausted on any of
/// them; no usable address is an error too.
pub fn bind_channel(
    allocator: &mut PortAllocator,
    addrs: &[IpAddr],
    rtcp_pair: bool,
) -> Result<ChannelSockets, PortError> {
    let mut out = ChannelSockets {
        sockets: Vec::new(),
        local: Vec::new(),
    };
    let Some(first) = addrs.first() else {
        return Err(PortError::NoAddress);
    };
    for &ip in addrs {
        // Only the default address needs the RTCP pair: non-ICE peers use `c=` alone.
        if rtcp_pair && ip == *first {
            let pair = allocator.bind_rtp_rtcp(ip)?;
            for (socket, rtcp) in [(pair.rtp, false), (pair.rtcp, true)] {
                let addr = local_addr(&socket, ip)?;
                out.local.push(crate::channel::LocalSocket { addr, rtcp });
                out.sockets.push(socket);
            }
        } else {
            let socket = allocator.bind(ip)?;
            let addr = local_addr(&socket, ip)?;
            out.local
                .push(crate::channel::LocalSocket { addr, rtcp: false });
            out.sockets.push(socket);
        }
    }
    Ok(out)
}

fn local_addr(socket: &UdpSocket, ip: IpAddr) -> Result<SocketAddr, PortError> {
    socket.local_addr().map_err(|source| PortError::Bind {
        addr: SocketAddr::new(ip, 0),
        source,
    })
}

/// `Ok(None)` when the port is taken, so the caller tries the next one.
fn try_bind(addr: SocketAddr) -> Result<Option<UdpSocket>, PortError> {
    match UdpSocket::bind(addr) {
        Ok(s) => Ok(Some(s)),
        // Windows answers WSAEACCES for ports in an excluded (Hyper-V, WinNAT) range: as
        // good as taken.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied
            ) =>
        {
            Ok(None)
        }
        Err(source) => Err(PortError::Bind { addr, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// A loopback address no other test uses. nextest runs every test in its own process,
    /// at the same time (and `cargo test` in threads of one): with one shared 127.0.0.1, a
    /// test that releases ports it held so the allocator finds them free could see them
    /// taken by another test in between (CI saw exactly that: pids one apart searched
    /// ranges two ports apart). The address carries the pid and a per-process count. Linux
    /// routes all of 127/8 to `lo`; the second octet stays below 255, so it is never the
    /// broadcast address.
    fn fresh_lo() -> IpAddr {
        static NEXT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
        if cfg!(target_os = "linux") {
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 200;
            let [.., hi, low] = std::process::id().to_be_bytes();
            IpAddr::V4(Ipv4Addr::new(127, 1 + n, hi, low))
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        }
    }

    /// `n` consecutive ports on `lo`, all bound by us, the first even. Searched below
    /// Linux's ephemeral range (32768–60999) so the OS hands none of them to others.
    fn hold_consecutive(lo: IpAddr, n: u16) -> (u16, Vec<UdpSocket>) {
        let mut first = 20000 + (std::process::id() % 5000) as u16 * 2;
        loop {
            let held: Vec<UdpSocket> = (first..first + n)
                .map_while(|p| UdpSocket::bind((lo, p)).ok())
                .collect();
            if held.len() == usize::from(n) {
                return (first, held);
            }
            first += 2 * n;
            assert!(first < 32000, "no {n} free consecutive ports below 32000");
        }
    }

    #[test]
    fn defaults_and_display() {
        assert_eq!(
            PortRange::for_kind(ChannelKind::Audio).to_string(),
            "50000-50099"
        );
        assert_eq!(
            PortRange::for_kind(ChannelKind::Video).to_string(),
            "50100-50199"
        );
        assert_eq!(PortRange::AUDIO.len(), 100);
        assert_eq!(PortRange::new(5, 4), None);
        assert_eq!(PortRange::new(0, 4), None);
        assert_eq!(PortRange::new(65535, 65535).map(PortRange::len), Some(1));
    }

    #[test]
    fn skips_ports_in_use_and_names_the_range_when_exhausted() {
        let lo = fresh_lo();
        let (p, mut held) = hold_consecutive(lo, 4);
        // Free p+1 and p+3; p and p+2 stay taken.
        held.remove(3);
        held.remove(1);
        let range = PortRange::new(p, p + 3).unwrap();
        let mut alloc = PortAllocator::new(range);
        let a = alloc.bind(lo).unwrap();
        let b = alloc.bind(lo).unwrap();
        assert_eq!(a.local_addr().unwrap().port(), p + 1);
        assert_eq!(b.local_addr().unwrap().port(), p + 3);
        let err = alloc.bind(lo).unwrap_err();
        assert!(matches!(err, PortError::Exhausted { pair: false, .. }));
        assert_eq!(
            err.to_string(),
            format!(
                "no free UDP port in range {p}-{} on {}: all in use",
                p + 3,
                lo
            )
        );
        // A port freed again is found on the next round.
        drop(a);
        assert_eq!(alloc.bind(lo).unwrap().local_addr().unwrap().port(), p + 1);
    }

    #[test]
    fn rtp_rtcp_pairs_are_even_and_adjacent() {
        let lo = fresh_lo();
        let (p, mut held) = hold_consecutive(lo, 6);
        // p+1 stays taken, so the pair at p is impossible; p+2/p+3 and p+4/p+5 are free.
        held.truncate(2);
        held.remove(0);
        let mut alloc = PortAllocator::new(PortRange::new(p, p + 5).unwrap());
        let first = alloc.bind_rtp_rtcp(lo).unwrap();
        assert_eq!(first.rtp.local_addr().unwrap().port(), p + 2);
        assert_eq!(first.rtcp.local_addr().unwrap().port(), p + 3);
        let second = alloc.bind_rtp_rtcp(lo).unwrap();
        assert_eq!(second.rtp.local_addr().unwrap().port(), p + 4);
        let err = alloc.bind_rtp_rtcp(lo).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("port pair in range {p}-{}", p + 5))
        );
        // The lone free even port p was not left bound by the failed attempts.
        drop(held);
        assert_eq!(alloc.bind(lo).unwrap().local_addr().unwrap().port(), p);
    }

    #[test]
    fn a_foreign_address_is_an_error_not_exhaustion() {
        // 192.0.2.1 (TEST-NET-1) is not a local address.
        let mut alloc = PortAllocator::new(PortRange::new(40000, 40001).unwrap());
        let err = alloc.bind("192.0.2.1".parse().unwrap()).unwrap_err();
        assert!(matches!(err, PortError::Bind { .. }), "{err}");
    }

    #[test]
    fn channel_sockets_with_and_without_rtcp_pair() {
        let lo = fresh_lo();
        // A 4-port range high up, unlikely to collide with other tests.
        let mut alloc = PortAllocator::new(PortRange::new(61_040, 61_043).expect("range"));
        let a = bind_channel(&mut alloc, &[lo], true).expect("pair");
        assert_eq!(a.local.len(), 2);
        assert!(!a.local[0].rtcp && a.local[1].rtcp);
        assert_eq!(a.local[0].addr.port() + 1, a.local[1].addr.port());
        assert_eq!(a.local[0].addr.port() % 2, 0);
        let b = bind_channel(&mut alloc, &[lo], false).expect("single");
        assert_eq!(b.local.len(), 1);
        // Three of four ports taken: no pair left.
        let err = bind_channel(&mut alloc, &[lo], true).expect_err("exhausted");
        assert!(err.to_string().contains("61040-61043"), "{err}");
        assert!(matches!(
            bind_channel(&mut alloc, &[], false),
            Err(PortError::NoAddress)
        ));
    }
}
