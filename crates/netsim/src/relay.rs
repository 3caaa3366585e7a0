//! A user-space UDP relay that applies [`Config`] impairments to real datagrams.
//!
//! The test machines have no kernel netem, so integration tests that need real sockets
//! send through this relay instead: a client sends to [`Relay::local_addr`], the relay
//! forwards to the target through one [`NetSim`] (the forward direction) from a second
//! socket, and whatever the target sends back to that socket returns to the client
//! (the last address the relay heard from) through another [`NetSim`] (the backward
//! direction). The emulator's decisions are seeded as always; only the arrival instants
//! follow the real clock, which this IO driver reads and the emulator core does not.
//!
//! Bind it to a loopback address in tests: it relays to whatever target it is given.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{Config, NetSim, Stats};

/// Largest datagram relayed (the UDP maximum).
const MAX_DATAGRAM: usize = 65_535;

/// Counters of both directions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Client to target.
    pub forward: Stats,
    /// Target to client.
    pub backward: Stats,
    /// Datagrams the operating system refused to send.
    pub send_errors: u64,
}

/// A running relay; [`Relay::stop`] or dropping it ends the task.
#[derive(Debug)]
pub struct Relay {
    local: SocketAddr,
    stats: Arc<Mutex<RelayStats>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Relay {
    /// Binds `bind` (clients send here) and a second socket on the same IP with a free
    /// port (which talks to `target`), and starts relaying on the current tokio runtime.
    /// `seed` seeds the forward direction; the backward one uses `seed + 1`.
    pub async fn start(
        bind: SocketAddr,
        target: SocketAddr,
        forward: Config,
        backward: Config,
        seed: u64,
    ) -> io::Result<Relay> {
        let front = UdpSocket::bind(bind).await?;
        let back = UdpSocket::bind(SocketAddr::new(bind.ip(), 0)).await?;
        let local = front.local_addr()?;
        let stats = Arc::new(Mutex::new(RelayStats::default()));
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(run(Driver {
            front,
            back,
            target,
            forward: NetSim::new(forward, seed),
            backward: NetSim::new(backward, seed.wrapping_add(1)),
            client: None,
            stats: stats.clone(),
            stop: stop_rx,
        }));
        Ok(Relay {
            local,
            stats,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }

    /// The address clients send to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Counters so far.
    pub fn stats(&self) -> RelayStats {
        *self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops relaying (datagrams still in flight are dropped) and waits for the task.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

struct Driver {
    front: UdpSocket,
    back: UdpSocket,
    target: SocketAddr,
    forward: NetSim<Vec<u8>>,
    backward: NetSim<Vec<u8>>,
    client: Option<SocketAddr>,
    stats: Arc<Mutex<RelayStats>>,
    stop: oneshot::Receiver<()>,
}

async fn run(mut d: Driver) {
    let mut front_buf = vec![0u8; MAX_DATAGRAM];
    let mut back_buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let wake = match (d.forward.poll_timeout(), d.backward.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        tokio::select! {
            _ = &mut d.stop => return,
            r = d.front.recv_from(&mut front_buf) => {
                // Errors here are ICMP reports of earlier sends (e.g. port unreachable
                // on Linux); a relay carries on, as the network would.
                if let Ok((n, from)) = r {
                    d.client = Some(from);
                    d.forward.push(Instant::now(), front_buf[..n].to_vec());
                }
            }
            r = d.back.recv_from(&mut back_buf) => {
                if let Ok((n, from)) = r
                    && from == d.target
                {
                    d.backward.push(Instant::now(), back_buf[..n].to_vec());
                }
            }
            _ = sleep_until(wake), if wake.is_some() => {}
        }
        let now = Instant::now();
        let mut errors = 0;
        while let Some(datagram) = d.forward.poll(now) {
            if d.back.send_to(&datagram, d.target).await.is_err() {
                errors += 1;
            }
        }
        while let Some(datagram) = d.backward.poll(now) {
            if let Some(client) = d.client
                && d.front.send_to(&datagram, client).await.is_err()
            {
                errors += 1;
            }
        }
        let mut s = d.stats.lock().unwrap_or_else(PoisonError::into_inner);
        s.forward = d.forward.stats();
        s.backward = d.backward.stats();
        s.send_errors += errors;
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}
