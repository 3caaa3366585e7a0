//! Private network namespaces for tests with real peers that must see only loopback
//! (Chromium otherwise also offers the machine's other addresses; the guide allows
//! loopback and namespaces we create, nothing else).
//!
//! `ip netns add` needs root; our own sockets are bound inside the namespace from a thread
//! that joined it (`setns`, a socket keeps the namespace it was made in), so the test
//! process itself stays where it is.

use std::net::{SocketAddr, UdpSocket};
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

    /// Binds UDP sockets inside the namespace.
    pub fn bind_udp(&self, addrs: &[SocketAddr]) -> Vec<UdpSocket> {
        let path = format!("/var/run/netns/{}", self.name);
        let addrs = addrs.to_vec();
        std::thread::spawn(move || {
            let ns = std::fs::File::open(&path).unwrap();
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            addrs
                .iter()
                .map(|a| UdpSocket::bind(a).unwrap_or_else(|e| panic!("bind {a} in netns: {e}")))
                .collect()
        })
        .join()
        .unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
