//! Name resolution of STUN/TURN servers: IO, so done here before the sans-IO channel is
//! made, and handed to it in [`crate::channel::ChannelConfig::ice_servers`].

use std::net::SocketAddr;
use std::time::Duration;

use protocol::media_protocol::IceServer;

use crate::gather::{GatherError, IceServers, ResolvedServer, ServerSpec, server_specs};

/// [`Gatherer::add_server`] for each address family it has sockets for).
pub async fn resolve(spec: &ServerSpec) -> Result<Vec<SocketAddr>, GatherError> {
    let addrs = tokio::net::lookup_host((spec.parsed.host.as_str(), spec.parsed.port))
        .await
        .map_err(|e| GatherError::Resolve {
            url: spec.url.clone(),
            reason: e.to_string(),
        })?;
    Ok(addrs.collect())
}

/// How long a name lookup may take: the system resolver can hang for much longer, and a
/// silent server is given up after about 8 s anyway.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Parses and resolves an `iceServers` list, all names at once.
pub async fn resolve_servers(servers: &[IceServer]) -> IceServers {
    let (specs, errors) = server_specs(servers);
    let mut tasks = tokio::task::JoinSet::new();
    for (i, spec) in specs.into_iter().enumerate() {
        tasks.spawn(async move {
            let r = match tokio::time::timeout(RESOLVE_TIMEOUT, resolve(&spec)).await {
                Ok(Ok(addrs)) if addrs.is_empty() => Err(GatherError::Resolve {
                    url: spec.url.clone(),
                    reason: "no address".into(),
                }),
                Ok(r) => r,
                Err(_) => Err(GatherError::Resolve {
                    url: spec.url.clone(),
                    reason: format!("no answer within {} s", RESOLVE_TIMEOUT.as_secs()),
                }),
            };
            (i, spec, r)
        });
    }
    let mut done = Vec::new();
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(r) => done.push(r),
            Err(e) => tracing::warn!(error = %e, "name resolution task"),
        }
    }
    // Keep the list's order: earlier servers are preferred.
    done.sort_by_key(|(i, _, _)| *i);
    let mut out = IceServers {
        servers: Vec::new(),
        errors,
    };
    for (_, spec, r) in done {
        match r {
            Ok(addrs) => out.servers.push(ResolvedServer { spec, addrs }),
            Err(e) => out.errors.push(e),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    /// Names are resolved together and keep the list's order; what cannot be used is an
    /// error naming its URL.
    #[tokio::test]
    async fn resolve_servers_keeps_order_and_reports_errors() {
        let servers = resolve_servers(&[IceServer {
            urls: vec![
                "turn:localhost?transport=tcp".into(),
                "turns:127.0.0.1".into(),
                "stun:127.0.0.1:3479".into(),
            ],
            username: Some("u".into()),
            credential: Some("p".into()),
            credential_type: None,
        }])
        .await;
        let urls: Vec<&str> = servers
            .servers
            .iter()
            .map(|s| s.spec.url.as_str())
            .collect();
        assert_eq!(
            urls,
            ["turn:localhost?transport=tcp", "stun:127.0.0.1:3479"]
        );
        assert!(
            servers.servers[0]
                .addrs
                .iter()
                .all(|a| a.ip().is_loopback())
        );
        assert!(!servers.servers[0].addrs.is_empty());
        assert_eq!(servers.servers[1].addrs, [addr("127.0.0.1:3479")]);
        assert_eq!(servers.errors.len(), 1);
        assert!(
            servers.errors[0]
                .to_string()
                .starts_with("turns:127.0.0.1: ")
        );
        // Without a resolver: IP literals only.
        let literal = IceServers::from_addrs(&[IceServer {
            urls: vec!["stun:192.0.2.1".into(), "stun:stun.example.org".into()],
            username: None,
            credential: None,
            credential_type: None,
        }]);
        assert_eq!(literal.servers[0].addrs, [addr("192.0.2.1:3478")]);
        assert!(
            matches!(&literal.errors[..], [GatherError::Resolve { url, .. }]
            if url == "stun:stun.example.org")
        );
    }
}
