//! coturn's `turnserver` on 127.0.0.1 for the tests that need a real TURN server
//! (Debian package `coturn`, installed by `scripts/test`).

use rtc_stun::message::{BINDING_REQUEST, Message};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::net::UdpSocket;

/// A `turnserver` on 127.0.0.1 with user `u`, password `p`, realm `test`, logging each
/// request; killed on drop.
pub struct TurnServer {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Drop for TurnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl TurnServer {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The server's log so far (`-v`: one line per request handled).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// Waits up to 5 s until `n` sessions (coturn's session ids) have a log line for which
    /// `pred` holds (coturn writes its log from another thread); returns whether they did.
    pub async fn wait_sessions(&self, pred: impl Fn(&str) -> bool, n: usize) -> bool {
        for _ in 0..100 {
            let log = self.log();
            let sessions: std::collections::HashSet<&str> = log
                .lines()
                .filter(|l| pred(l))
                .filter_map(|l| l.split("session ").nth(1)?.split(':').next())
                .collect();
            if sessions.len() >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

/// Starts coturn; `None` (the test then returns) only when `turnserver` is missing and
/// this is not CI. In CI (`CI` set) a missing server fails the test.
pub async fn turnserver() -> Option<TurnServer> {
    let present = Command::new("turnserver")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !present {
        if std::env::var_os("CI").is_some() {
            panic!(
                "turnserver (Debian package coturn) is missing: run `scripts/test`, which installs it"
            );
        }
        eprintln!(
            "SKIPPED: turnserver (package coturn) is not installed; `scripts/test` installs it"
        );
        return None;
    }
    // Unique per server: `cargo test` runs the tests of this file as threads of one process.
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("myapps-turn-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for _attempt in 0..5 {
        // A port free for both UDP and TCP right now.
        let port = {
            let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let port = u.local_addr().unwrap().port();
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                continue;
            }
            port
        };
        let child = Command::new("turnserver")
            .args([
                "-n",
                "--listening-ip",
                "127.0.0.1",
                "--relay-ip",
                "127.0.0.1",
            ])
            .args(["--listening-port", &port.to_string()])
            .args(["--lt-cred-mech", "--user", "u:p", "--realm", "test"])
            .args([
                "--no-tls",
                "--no-dtls",
                "--no-cli",
                "--allow-loopback-peers",
            ])
            .arg("--pidfile")
            .arg(dir.join("pid"))
            .arg("--userdb")
            .arg(dir.join("turndb"))
            .arg("--log-file")
            .arg(dir.join("log"))
            .args(["--simple-log", "--no-stdout-log", "-v"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = TurnServer {
            child,
            port,
            dir: dir.clone(),
        };
        if ready(server.addr()).await {
            return Some(server);
        }
        drop(server);
        std::fs::create_dir_all(&dir).unwrap();
    }
    panic!("turnserver did not start (log in {})", dir.display());
}

/// Whether the server answers a STUN Binding within 10 s (coturn sets up its relay ports
/// first).
async fn ready(server: SocketAddr) -> bool {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut req = Message::new();
    req.build(&[
        Box::new(rtc_stun::message::TransactionId::new()),
        Box::new(BINDING_REQUEST),
    ])
    .unwrap();
    let mut buf = [0u8; 1500];
    for _ in 0..100 {
        let _ = sock.send_to(&req.raw, server).await;
        if let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(100), sock.recv_from(&mut buf)).await
        {
            return true;
        }
    }
    false
}
