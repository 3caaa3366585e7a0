//! Private network namespaces for tests with real peers that must see only loopback
//! (Chromium otherwise also offers the machine's other addresses; the guide allows
//! loopback and namespaces we create, nothing else).
//!
//! `ip netns add` needs root; our own sockets are bound inside the namespace from a thread
//! that joined it (`setns`, a socket keeps the namespace it was made in), so the test
//! process itself stays where it is.

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;

/// A network namespace with only `lo` (up), deleted on drop.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates the namespace. Fails the test with a clear message when not root.
    pub fn new(tag: &str) -> Netns {
        let uid = crate::run(Command::new("id").arg("-u"));
        if uid.trim() != "0" {
            panic!(
                "this test needs root to create a network namespace (ip netns add); \
                 run scripts/test as root, or the test under `sudo -E`"
            );
        }
        let name = format!("myapps-{tag}-{}", std::process::id());
        crate::run(Command::new("ip").args(["netns", "add", &name]));
        crate::run(
            Command::new("ip").args(["netns", "exec", &name, "ip", "link", "set", "lo", "up"]),
        );
        Netns { name }
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// The same for tokio.
    pub fn tokio_command(&self, program: &str) -> tokio::process::Command {
        let mut c = tokio::process::Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Its name, for `ip netns exec NAME …`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `f` on a thread that joined the namespace: sockets it makes stay there.
    pub fn within<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let ns = std::fs::File::open(&path).unwrap();
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            f()
        })
        .join()
        .unwrap()
    }

    /// Binds UDP sockets inside the namespace.
    pub fn bind_udp(&self, addrs: &[SocketAddr]) -> Vec<UdpSocket> {
        let addrs = addrs.to_vec();
        self.within(move || {
            addrs
                .iter()
                .map(|a| UdpSocket::bind(a).unwrap_or_else(|e| panic!("bind {a} in netns: {e}")))
                .collect()
        })
    }

    /// A TCP listener inside the namespace on `addr` (port 0: a free one).
    pub fn bind_tcp(&self, addr: SocketAddr) -> TcpListener {
        self.within(move || {
            TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind tcp {addr} in netns: {e}"))
        })
    }

    /// Whether something accepts TCP connections at `addr` inside the namespace.
    pub fn tcp_open(&self, addr: SocketAddr) -> bool {
        self.within(move || TcpStream::connect(addr).is_ok())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
