//! The PBX address (wiki, "Server configuration"): what the user types into the connect
//! form or the installer's `SERVER` property, and the page the shell loads for it.
//!
//! `host[:port][/PBX0-n][#phys=location]` → `https://host[:port]/PBX0[-n]/APPCLIENT/appclient.htm[#phys=location]`.
//! The host is compared and stored in lower case (host names are case-insensitive).

use std::fmt;

/// The PBX address as the connect form takes it: `host[:port][/PBX0-n][#phys=location]`
/// (wiki, "Server configuration"); no `https://`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// DNS name or IP address (IPv6 in brackets).
    pub host: String,
    /// HTTPS port when not 443.
    pub port: Option<u16>,
    /// DynPBX module path (`PBX0-1`); `PBX0` when absent.
    pub module: Option<String>,
    /// Physical location for the softphone (`#phys=`).
    pub phys: Option<String>,
}

impl Server {
    /// Parses and validates; the message says what is wrong.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("empty server".into());
        }
        if s.contains("://") {
            return Err(format!(
                "{s:?}: give the host name only, without a protocol like https://"
            ));
        }
        let (rest, phys) = match s.split_once('#') {
            Some((r, f)) => {
                let p = f
                    .strip_prefix("phys=")
                    .ok_or_else(|| format!("{s:?}: after # only phys=<location> is allowed"))?;
                if p.is_empty() {
                    return Err(format!("{s:?}: empty physical location"));
                }
                (r, Some(p.to_owned()))
            }
            None => (s, None),
        };
        let (hostport, module) = match rest.split_once('/') {
            Some((h, m)) => {
                let m = m.trim_end_matches('/');
                let ok = m.strip_prefix("PBX0").is_some_and(|t| {
                    t.is_empty()
                        || t.strip_prefix('-')
                            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                });
                if !ok {
                    return Err(format!(
                        "{s:?}: the path must be a DynPBX module like PBX0-1"
                    ));
                }
                (h, Some(m.to_owned()))
            }
            None => (rest, None),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{s:?}: unclosed [ of an IPv6 address"))?;
            if h.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(format!("{s:?}: {h:?} is not an IPv6 address"));
            }
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("{s:?}: junk after ]"))?,
                ),
            };
            (format!("[{h}]"), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (hostport.to_owned(), None),
            }
        };
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .ok()
                    .filter(|&p| p != 0)
                    .ok_or_else(|| format!("{s:?}: {p:?} is not a port number"))
            })
            .transpose()?;
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && (host.starts_with('[')
                || host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
        if !host_ok {
            return Err(format!("{s:?}: {host:?} is not a host name or address"));
        }
        Ok(Self {
            // Host names are case-insensitive (RFC 3986 §3.2.2, RFC 4343): kept in the
            // normalised lower case, so `PBX.Example.COM` is the same server and its
            // origin is the one the webview sends (RFC 6454 §4 lower-cases the host).
            host: host.to_ascii_lowercase(),
            port: port.filter(|&p| p != 443),
            module,
            phys,
        })
    }

    /// The PBX's web origin, `https://host[:port]`: what the page's websockets send as
    /// `Origin`, so the local service accepts it (docs/protocol.md §4, rule 2).
    pub fn origin(&self) -> String {
        match self.port {
            Some(p) => format!("https://{}:{p}", self.host),
            None => format!("https://{}", self.host),
        }
    }

    /// The page the shell loads: `https://host[:port]/PBX0[-n]/APPCLIENT/appclient.htm[#phys=…]`.
    pub fn appclient_url(&self) -> String {
        let mut u = format!("https://{}", self.host);
        if let Some(p) = self.port {
            u.push_str(&format!(":{p}"));
        }
        u.push_str(&format!(
            "/{}/APPCLIENT/appclient.htm",
            self.module.as_deref().unwrap_or("PBX0")
        ));
        if let Some(p) = &self.phys {
            u.push_str(&format!("#phys={p}"));
        }
        u
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        if let Some(m) = &self.module {
            write!(f, "/{m}")?;
        }
        if let Some(p) = &self.phys {
            write!(f, "#phys={p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_compare_case_insensitively() {
        let upper = Server::parse("PBX.Example.COM").unwrap();
        let lower = Server::parse("pbx.example.com").unwrap();
        assert_eq!(upper, lower);
        assert_eq!(upper.origin(), "https://pbx.example.com");
        // Only the host: the module path and the location keep their case.
        assert_eq!(
            Server::parse("PBX.Example.COM:444/PBX0-1#phys=Master")
                .unwrap()
                .to_string(),
            "pbx.example.com:444/PBX0-1#phys=Master"
        );
        assert_eq!(
            Server::parse("[2001:DB8::1]").unwrap(),
            Server::parse("[2001:db8::1]").unwrap()
        );
    }

    #[test]
    fn server_syntax_from_the_wiki() {
        let url = |s: &str| Server::parse(s).unwrap().appclient_url();
        assert_eq!(
            url("pbx.example.com"),
            "https://pbx.example.com/PBX0/APPCLIENT/appclient.htm"
        );
        assert_eq!(
            url("pbx.example.com:4444"),
            "https://pbx.example.com:4444/PBX0/APPCLIENT/appclient.htm"
        );
        assert_eq!(
            url("pbx.example.com/PBX0-1"),
            "https://pbx.example.com/PBX0-1/APPCLIENT/appclient.htm"
        );
        assert_eq!(
            url("pbx.example.com#phys=slave"),
            "https://pbx.example.com/PBX0/APPCLIENT/appclient.htm#phys=slave"
        );
        assert_eq!(
            url("slave.example.com:4444/PBX0-1#phys=master"),
            "https://slave.example.com:4444/PBX0-1/APPCLIENT/appclient.htm#phys=master"
        );
        assert_eq!(
            url("[2001:db8::1]:444"),
            "https://[2001:db8::1]:444/PBX0/APPCLIENT/appclient.htm"
        );
        assert_eq!(
            url("10.0.0.1:443"),
            "https://10.0.0.1/PBX0/APPCLIENT/appclient.htm"
        );
        // Parsing what Display wrote gives the same server (the stored form).
        for s in [
            "slave.example.com:4444/PBX0-1#phys=master",
            "[::1]:8443",
            "10.0.0.1",
        ] {
            let a = Server::parse(s).unwrap();
            assert_eq!(Server::parse(&a.to_string()).unwrap(), a);
            assert_eq!(a.to_string(), s);
        }
        assert_eq!(
            Server::parse("pbx.example.com:4444/PBX0-1#phys=x")
                .unwrap()
                .origin(),
            "https://pbx.example.com:4444"
        );
        assert_eq!(
            Server::parse("pbx.example.com:443").unwrap().origin(),
            "https://pbx.example.com"
        );
        assert_eq!(
            Server::parse("127.0.0.1:40001").unwrap().origin(),
            "https://127.0.0.1:40001"
        );
        for (bad, want) in [
            ("", "empty server"),
            ("https://pbx", "without a protocol"),
            ("pbx:99999", "not a port number"),
            ("pbx:0", "not a port number"),
            ("pbx/APPS", "DynPBX module"),
            ("pbx/PBX0-", "DynPBX module"),
            ("pbx#x=1", "phys="),
            ("pb x", "not a host name"),
            ("[::1", "unclosed"),
            ("[pbx]", "not an IPv6 address"),
            ("pbx/PBX0-1/x", "DynPBX module"),
            ("pbx#phys=", "empty physical location"),
            ("pbx:", "not a port number"),
            (":4444", "not a host name"),
        ] {
            let e = Server::parse(bad).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }
}
