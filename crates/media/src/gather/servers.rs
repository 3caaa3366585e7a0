//! The STUN/TURN servers of an `iceServers` list: their URLs and credentials, the
//! addresses they resolved to, and why one gave nothing.

use std::net::SocketAddr;

use protocol::media_protocol::{IceScheme, IceServer, IceUrl};

use crate::transmit::Transport;

/// One STUN or TURN URL with its credentials, from an `iceServers` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerSpec {
    /// The URL as given (for messages).
    pub url: String,
    /// The parsed URL.
    pub parsed: IceUrl,
    /// TURN user name.
    pub username: Option<String>,
    /// TURN password.
    pub credential: Option<String>,
}

impl ServerSpec {
    /// A TURN server (else STUN).
    pub fn is_turn(&self) -> bool {
        self.parsed.scheme == IceScheme::Turn
    }

    /// How the server is reached.
    pub fn transport(&self) -> Transport {
        if self.is_turn() && self.parsed.tcp {
            Transport::Tcp
        } else {
            Transport::Udp
        }
    }
}

/// The usable servers of an `iceServers` list, and an error for each URL that is not.
pub fn server_specs(servers: &[IceServer]) -> (Vec<ServerSpec>, Vec<GatherError>) {
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    for s in servers {
        for url in &s.urls {
            match IceUrl::parse(url) {
                Ok(parsed) if matches!(parsed.scheme, IceScheme::Stun | IceScheme::Turn) => ok
                    .push(ServerSpec {
                        url: url.clone(),
                        parsed,
                        username: s.username.clone(),
                        credential: s.credential.clone(),
                    }),
                Ok(_) => errors.push(GatherError::Unsupported {
                    url: url.clone(),
                    reason: "STUN/TURN over TLS (stuns:, turns:) is not supported".into(),
                }),
                Err(e) => errors.push(GatherError::Unsupported {
                    url: url.clone(),
                    reason: e.reason,
                }),
            }
        }
    }
    (ok, errors)
}

/// Resolves the server's host name (IO: the driver calls this, then
/// One usable URL of `iceServers` with the addresses its host resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedServer {
    /// The URL and credentials.
    pub spec: ServerSpec,
    /// The server's addresses, in the resolver's order.
    pub addrs: Vec<SocketAddr>,
}

/// `AllocChannel.iceServers` ready for a channel ([`crate::channel::ChannelConfig`]):
/// resolution is IO, so it happens before the sans-IO channel is made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IceServers {
    /// The servers to gather from.
    pub servers: Vec<ResolvedServer>,
    /// URLs that cannot be used (unsupported, unresolvable): the channel reports each as
    /// an error event, like a server that fails later.
    pub errors: Vec<GatherError>,
}

impl IceServers {
    /// Servers given as addresses (IP literals need no resolver; tests).
    pub fn from_addrs(servers: &[IceServer]) -> IceServers {
        let (specs, errors) = server_specs(servers);
        let mut out = IceServers {
            servers: Vec::new(),
            errors,
        };
        for spec in specs {
            match spec.parsed.host.parse::<std::net::IpAddr>() {
                Ok(ip) => out.servers.push(ResolvedServer {
                    addrs: vec![SocketAddr::new(ip, spec.parsed.port)],
                    spec,
                }),
                Err(_) => out.errors.push(GatherError::Resolve {
                    url: spec.url.clone(),
                    reason: "not an IP address (use resolve_servers)".into(),
                }),
            }
        }
        out
    }
}

/// Why a server gave no candidate, or a relay stopped working.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GatherError {
    /// The URL cannot be used.
    #[error("{url}: {reason}")]
    Unsupported {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// Name resolution failed.
    #[error("{url}: cannot resolve the server name: {reason}")]
    Resolve {
        /// The URL.
        url: String,
        /// The resolver's message.
        reason: String,
    },
    /// Server and local socket are of different IP families.
    #[error("{url}: server {server} cannot be reached from local {local} (other IP family)")]
    Family {
        /// The URL.
        url: String,
        /// Server address.
        server: SocketAddr,
        /// Local address.
        local: SocketAddr,
    },
    /// A TURN URL without username or credential.
    #[error("{url}: a TURN server needs a username and credential")]
    NoCredentials {
        /// The URL.
        url: String,
    },
    /// The TCP connection to a `?transport=tcp` server could not be opened.
    #[error("{url}: no TCP connection to {server}: {reason}")]
    Connect {
        /// The URL.
        url: String,
        /// Server address.
        server: SocketAddr,
        /// The socket error.
        reason: String,
    },
    /// No answer after all retransmissions.
    #[error("{url}: no answer from {server} (unreachable, or not a STUN/TURN server)")]
    Timeout {
        /// The URL.
        url: String,
        /// Server address.
        server: SocketAddr,
    },
    /// The server refused the long-term credential (a second 401).
    #[error(
        "{url}: {server} rejected user {user:?}: 401 Unauthorized (wrong username or password)"
    )]
    Unauthorized {
        /// The URL.
        url: String,
        /// Server address.
        server: SocketAddr,
        /// The user name tried.
        user: String,
    },
    /// Another error response.
    #[error("{url}: {server} refused: {reason}")]
    Rejected {
        /// The URL.
        url: String,
        /// Server address.
        server: SocketAddr,
        /// STUN error code, when the response had one.
        code: Option<u16>,
        /// Code and reason phrase, or the client's message.
        reason: String,
    },
    /// An allocation stopped working after it was made.
    #[error("{url}: relay {relay} on {server} lost: {reason}")]
    RelayLost {
        /// The URL.
        url: String,
        /// Server address.
        server: SocketAddr,
        /// The relayed address.
        relay: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The TCP stream from a TURN server held something that is not STUN or ChannelData.
    #[error("{url}: TCP stream from {server} is not TURN: {reason}")]
    Stream {
        /// The URL.
        url: String,
        /// Server address.
        server: SocketAddr,
        /// The decoder's message.
        reason: String,
    },
    /// A permission for a peer could not be installed.
    #[error("relay {relay}: no permission for peer {peer}: {reason}")]
    Permission {
        /// The relayed address.
        relay: SocketAddr,
        /// The peer.
        peer: SocketAddr,
        /// Why.
        reason: String,
    },
    /// Data to send through a relay this gatherer does not have (any more).
    #[error("{addr} is not a live relayed address")]
    NotARelay {
        /// The address.
        addr: SocketAddr,
    },
    /// The TURN client refused an operation.
    #[error("{url}: {reason}")]
    Client {
        /// The URL.
        url: String,
        /// Its message.
        reason: String,
    },
}
