//! The datagram the sans-IO parts ([`crate::ice`], [`crate::gather`]) ask the driver to
//! send. They never own a socket: the driver finds its socket by `(transport, local)` (for
//! TCP, the connection with that local address to `remote`) and sends `data` to `remote`.

use bytes::Bytes;
use std::net::SocketAddr;

/// Over which transport a [`Transmit`] goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// A UDP socket bound to `local`.
    Udp,
    /// A TCP connection from `local` to `remote` (TURN over TCP; RFC 5766 §2.1).
    Tcp,
}

/// One datagram (or, over TCP, one framed message) to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// UDP or TCP.
    pub transport: Transport,
    /// The local socket address to send from.
    pub local: SocketAddr,
    /// The destination.
    pub remote: SocketAddr,
    /// The bytes.
    pub data: Bytes,
}
