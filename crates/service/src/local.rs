//! In-process connections to the Media protocol and the device protocol: what the app's
//! shell uses for the WebRTC transport of its own windows (docs/protocol.md §4, "In-process
//! connections"). No websocket and no secret: the caller is this process, which has judged
//! the frame that a message comes from by its origin before it gets here.
//!
//! A [`LocalConnection`] is a websocket without the socket: the same handler
//! ([`crate::media::run`], [`crate::devices::run`]) reads its text messages and writes
//! through the same bounded [`crate::conn::Outbox`]; it takes one of
//! [`crate::Config::max_connections`] places; a message over [`crate::Config::max_message`]
//! is refused; a reader that lets more than [`OUTBOX_LIMIT`] bytes wait loses the connection
//! (and its channels), as a websocket peer would; the service's stop ends it.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::Shared;
use crate::conn::{Conn, INBOUND_QUEUE, OUTBOX_LIMIT, OutboxReceiver};
use crate::server::Slot;

/// Why a local connection could not be opened or a message not sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LocalError {
    /// The service holds `Config::max_connections` connections already.
    #[error("the service holds {0} connections, the most it may")]
    TooManyConnections(usize),
    /// The message is larger than `Config::max_message`; it was not sent.
    #[error("message of {size} bytes is larger than the limit of {max}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The connection has ended (the service stopped, or its reader fell more than
    /// `OUTBOX_LIMIT` bytes behind).
    #[error("the connection has ended")]
    Closed,
}

/// The sending half: requests (JSON text) to the handler, in order.
#[derive(Clone, Debug)]
pub struct LocalSender {
    tx: mpsc::Sender<String>,
    max: usize,
}

impl LocalSender {
    /// Queues one message (waits while the handler has [`INBOUND_QUEUE`] unread ones).
    pub async fn send(&self, text: String) -> Result<(), LocalError> {
        if text.len() > self.max {
            return Err(LocalError::TooLarge {
                size: text.len(),
                max: self.max,
            });
        }
        self.tx.send(text).await.map_err(|_| LocalError::Closed)
    }
}

/// The receiving half: replies and events, in the order the handler wrote them.
pub struct LocalReceiver {
    rx: OutboxReceiver,
}

impl LocalReceiver {
    /// The next reply or event; `None` once the connection has ended.
    pub async fn recv(&mut self) -> Option<String> {
        self.rx.recv().await
    }
}

/// One in-process connection; dropping it (both halves) closes it and frees its channels.
pub struct LocalConnection {
    sender: LocalSender,
    receiver: LocalReceiver,
}

impl LocalConnection {
    /// Sends one request ([`LocalSender::send`]).
    pub async fn send(&self, text: String) -> Result<(), LocalError> {
        self.sender.send(text).await
    }

    /// The next reply or event ([`LocalReceiver::recv`]).
    pub async fn recv(&mut self) -> Option<String> {
        self.receiver.recv().await
    }

    /// The two halves, for a reader task beside the senders.
    pub fn into_split(self) -> (LocalSender, LocalReceiver) {
        (self.sender, self.receiver)
    }
}

/// Which handler serves a local connection.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Proto {
    Media,
    Devices,
}

/// Opens a connection served by `proto`'s handler on the current tokio runtime.
pub(crate) fn open(shared: &Arc<Shared>, proto: Proto) -> Result<LocalConnection, LocalError> {
    let slot = Slot::take(shared).ok_or(LocalError::TooManyConnections(
        shared.config.max_connections,
    ))?;
    let (out, out_rx) = crate::conn::outbox();
    let (user_tx, mut user_rx) = mpsc::channel::<String>(INBOUND_QUEUE);
    let (in_tx, in_rx) = mpsc::channel::<String>(INBOUND_QUEUE);
    let conn = Conn {
        inbound: in_rx,
        out: out.clone(),
    };
    let handler = match proto {
        Proto::Media => tokio::spawn(crate::media::run(conn, shared.clone())),
        Proto::Devices => tokio::spawn(crate::devices::run(conn, shared.clone())),
    };
    let mut stopping = shared.stopping.subscribe();
    // The connection's keeper: forwards the caller's messages and ends the handler's
    // inbound (which frees its channels) when the caller goes, the outbox overflows or
    // the service stops; then gives back the place.
    tokio::spawn(async move {
        loop {
            tokio::select! {
                m = user_rx.recv() => match m {
                    Some(text) => if in_tx.send(text).await.is_err() { break },
                    None => break,
                },
                () = out.overflowed() => {
                    tracing::warn!(protocol = ?proto, "in-process connection closed: more than {OUTBOX_LIMIT} bytes wait for its reader");
                    break;
                }
                () = async { let _ = stopping.wait_for(|s| *s).await; } => break,
            }
        }
        drop(in_tx);
        drop(out);
        if let Err(e) = handler.await {
            tracing::error!("protocol handler ended abnormally: {e}");
        }
        drop(slot);
    });
    Ok(LocalConnection {
        sender: LocalSender {
            tx: user_tx,
            max: shared.config.max_message,
        },
        receiver: LocalReceiver { rx: out_rx },
    })
}

/// Opens in-process connections to one service; cheap to clone, for a component that
/// outlives the borrow of [`crate::Service`] (the shell's WebRTC router).
#[derive(Clone)]
pub struct Connector(pub(crate) Arc<Shared>);

impl Connector {
    /// [`crate::Service::media_connection`].
    pub fn media(&self) -> Result<LocalConnection, LocalError> {
        open(&self.0, Proto::Media)
    }

    /// [`crate::Service::devices_connection`].
    pub fn devices(&self) -> Result<LocalConnection, LocalError> {
        open(&self.0, Proto::Devices)
    }

    /// Channels one connection may hold (`Config::max_channels`).
    pub fn max_channels(&self) -> usize {
        self.0.config.max_channels
    }
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("port", &self.0.port)
            .finish()
    }
}
