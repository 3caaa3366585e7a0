//! Who may open a websocket: the pure rules, applied in [`crate::server`] before the
//! upgrade.
//!
//! * `Host` must name our listener as our URLs do, `127.0.0.1:PORT`: a page on
//!   `evil.example` whose name is rebound to 127.0.0.1 (DNS rebinding) sends
//!   `Host: evil.example:PORT` and is refused.
//! * `Origin`, which browsers always send on websocket handshakes and pages cannot forge,
//!   must be our own (`http://127.0.0.1:PORT`) or one configured (PBX, App Proxy). No
//!   `Origin` at all is a native client (a browser always sends one), which still needs
//!   the secret. `null` (sandboxed frames, `file:`) is refused. `http://localhost:PORT`
//!   and `http://[::1]:PORT` are not ours: we do not listen on `::1`, and whoever does
//!   (another user may) serves those origins.
//! * `secret` in the query must equal the secret of this launch, compared in constant
//!   time so the comparison leaks nothing about how much of a guess was right.

use std::fmt;

/// Why a websocket was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `Host` missing or not our listener.
    Host(String),
    /// `Origin` not one we serve.
    Origin(String),
    /// No `secret` in the query.
    NoSecret,
    /// `secret` present but wrong.
    WrongSecret,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Host(h) => write!(f, "Host {h:?} is not this service (DNS rebinding?)"),
            Refusal::Origin(o) => write!(f, "Origin {o:?} may not use this service"),
            Refusal::NoSecret => write!(f, "no secret given"),
            Refusal::WrongSecret => write!(f, "wrong secret"),
        }
    }
}

/// What a handshake presented.
#[derive(Clone, Debug, Default)]
pub struct Handshake<'a> {
    /// The `Host` header.
    pub host: Option<&'a str>,
    /// The `Origin` header.
    pub origin: Option<&'a str>,
    /// The `secret` query parameter.
    pub secret: Option<&'a str>,
}

/// The rules' parameters.
pub struct Policy<'a> {
    /// Our TCP port.
    pub port: u16,
    /// The secret of this launch.
    pub secret: &'a str,
    /// Origins allowed besides our own.
    pub allowed_origins: &'a [String],
}

impl Policy<'_> {
    /// Checks one handshake.
    pub fn check(&self, h: &Handshake<'_>) -> Result<(), Refusal> {
        let host = h.host.unwrap_or("");
        if !self.own_host(host) {
            return Err(Refusal::Host(host.to_owned()));
        }
        if let Some(origin) = h.origin
            && !self.origin_allowed(origin)
        {
            return Err(Refusal::Origin(origin.to_owned()));
        }
        match h.secret {
            None | Some("") => Err(Refusal::NoSecret),
            Some(s) if constant_time_eq(s.as_bytes(), self.secret.as_bytes()) => Ok(()),
            Some(_) => Err(Refusal::WrongSecret),
        }
    }

    fn own_host(&self, host: &str) -> bool {
        host == format!("127.0.0.1:{}", self.port)
    }

    /// Our own pages' origins or a configured one.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/');
        if self.own_host(origin.strip_prefix("http://").unwrap_or("")) {
            return true;
        }
        self.allowed_origins
            .iter()
            .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }
}

/// Equal bytes, in time that depends only on the lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh secret: 32 random bytes as hex (the OS generator via `rand`'s thread RNG,
/// seeded from `getrandom`).
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `secret` parameter of a raw query string (`a=1&secret=…`), percent-decoding not
/// needed: secrets are hex.
pub fn secret_of(query: Option<&str>) -> Option<&str> {
    query?.split('&').find_map(|kv| kv.strip_prefix("secret="))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(secret: &str) -> Policy<'_> {
        Policy {
            port: 4000,
            secret,
            allowed_origins: &[],
        }
    }

    #[test]
    fn own_origin_with_secret_passes() {
        let s = new_secret();
        assert_eq!(s.len(), 64);
        let p = policy(&s);
        for origin in [
            None,
            Some("http://127.0.0.1:4000"),
            Some("http://127.0.0.1:4000/"),
        ] {
            let h = Handshake {
                host: Some("127.0.0.1:4000"),
                origin,
                secret: Some(&s),
            };
            assert_eq!(p.check(&h), Ok(()), "{origin:?}");
        }
    }

    #[test]
    fn refusals_say_why() {
        let p = policy("abcd");
        let ok = Handshake {
            host: Some("127.0.0.1:4000"),
            origin: Some("http://127.0.0.1:4000"),
            secret: Some("abcd"),
        };
        let cases = [
            (
                Handshake {
                    host: Some("evil.example:4000"),
                    ..ok.clone()
                },
                Refusal::Host("evil.example:4000".into()),
            ),
            (
                Handshake {
                    host: None,
                    ..ok.clone()
                },
                Refusal::Host(String::new()),
            ),
            // Names that may reach `::1`, where another user may listen, are not ours.
            (
                Handshake {
                    host: Some("localhost:4000"),
                    ..ok.clone()
                },
                Refusal::Host("localhost:4000".into()),
            ),
            (
                Handshake {
                    host: Some("[::1]:4000"),
                    ..ok.clone()
                },
                Refusal::Host("[::1]:4000".into()),
            ),
            (
                Handshake {
                    origin: Some("http://localhost:4000"),
                    ..ok.clone()
                },
                Refusal::Origin("http://localhost:4000".into()),
            ),
            (
                Handshake {
                    origin: Some("http://[::1]:4000"),
                    ..ok.clone()
                },
                Refusal::Origin("http://[::1]:4000".into()),
            ),
            (
                Handshake {
                    origin: Some("http://localhost:4001"),
                    ..ok.clone()
                },
                Refusal::Origin("http://localhost:4001".into()),
            ),
            (
                Handshake {
                    origin: Some("null"),
                    ..ok.clone()
                },
                Refusal::Origin("null".into()),
            ),
            (
                Handshake {
                    origin: Some("https://127.0.0.1:4000"),
                    ..ok.clone()
                },
                Refusal::Origin("https://127.0.0.1:4000".into()),
            ),
            (
                Handshake {
                    secret: None,
                    ..ok.clone()
                },
                Refusal::NoSecret,
            ),
            (
                Handshake {
                    secret: Some("abce"),
                    ..ok.clone()
                },
                Refusal::WrongSecret,
            ),
            (
                Handshake {
                    secret: Some("abc"),
                    ..ok.clone()
                },
                Refusal::WrongSecret,
            ),
        ];
        for (h, want) in cases {
            assert_eq!(p.check(&h), Err(want.clone()), "{h:?}");
            assert!(!want.to_string().is_empty());
        }
        assert_eq!(p.check(&ok), Ok(()));
    }

    #[test]
    fn configured_origins() {
        let allowed = vec!["https://pbx.example.com".to_owned()];
        let p = Policy {
            port: 4000,
            secret: "x",
            allowed_origins: &allowed,
        };
        assert!(p.origin_allowed("https://pbx.example.com"));
        assert!(p.origin_allowed("HTTPS://PBX.example.com/"));
        assert!(!p.origin_allowed("http://pbx.example.com"));
        assert!(!p.origin_allowed("https://pbx.example.com.evil.example"));
        assert!(!p.origin_allowed("https://pbx.example.com:444"));
    }

    #[test]
    fn secret_from_query() {
        assert_eq!(secret_of(Some("secret=ab&x=1")), Some("ab"));
        assert_eq!(secret_of(Some("x=1&secret=cd")), Some("cd"));
        assert_eq!(secret_of(Some("x=1")), None);
        assert_eq!(secret_of(None), None);
    }
}
