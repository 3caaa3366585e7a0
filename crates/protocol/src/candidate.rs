//! One ICE candidate line (RFC 8839 §5.1 `candidate-attribute`, RFC 6544 `tcptype`).
//!
//! `rtc-sdp` hands over attribute values as text; the candidate grammar inside the value
//! is small and fixed, so it is parsed here rather than pulling the whole `rtc-ice` agent
//! (with its crypto and mDNS stack) into a crate that must stay IO-free and light.

use crate::ParseError;
use crate::media::CandidateType;
use std::fmt;

/// One `a=candidate` line: one component of one candidate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CandidateLine {
    /// Foundation: 1–32 ice-chars.
    pub foundation: String,
    /// Component id: 1 RTP, 2 RTCP.
    pub component: u16,
    /// Transport, lower-cased (`udp`, `tcp`).
    pub transport: String,
    /// Priority.
    pub priority: u32,
    /// Connection address: IP literal or FQDN/mDNS name.
    pub addr: String,
    /// Port.
    pub port: u16,
    /// Type.
    pub typ: CandidateType,
    /// `raddr`.
    pub raddr: Option<String>,
    /// `rport`.
    pub rport: Option<u16>,
    /// RFC 6544 §4.5 `tcptype`.
    pub tcptype: Option<String>,
    /// Further extension name/value pairs, in order.
    pub extensions: Vec<(String, String)>,
}

fn is_ice_char(c: char) -> bool {
    // RFC 8839 §5.1: ice-char = ALPHA / DIGIT / "+" / "/"
    c.is_ascii_alphanumeric() || c == '+' || c == '/'
}

impl CandidateLine {
    /// Parses the attribute value, with or without the leading `candidate:` (the form
    /// `RTCIceCandidate.candidate` uses).
    pub fn parse(value: &str) -> Result<CandidateLine, ParseError> {
        let value = value.trim();
        let value = value.strip_prefix("a=").unwrap_or(value);
        let value = value.strip_prefix("candidate:").unwrap_or(value);
        let mut it = value.split_ascii_whitespace();
        let mut next = |what: &str| {
            it.next()
                .ok_or_else(|| ParseError::new(what, "missing (RFC 8839 §5.1)"))
        };
        let foundation = next("foundation")?;
        if foundation.is_empty() || foundation.len() > 32 || !foundation.chars().all(is_ice_char) {
            return Err(ParseError::new(
                "foundation",
                format!("{foundation:?} is not 1-32 ice-chars"),
            ));
        }
        let component = parse_num::<u16>("component-id", next("component-id")?)?;
        if component == 0 || component > 256 {
            return Err(ParseError::new("component-id", "must be 1-256"));
        }
        let transport = next("transport")?.to_ascii_lowercase();
        let priority = parse_num::<u32>("priority", next("priority")?)?;
        if priority == 0 {
            return Err(ParseError::new("priority", "must be 1-(2^31-1)"));
        }
        let addr = next("connection-address")?.to_owned();
        let port = parse_num::<u16>("port", next("port")?)?;
        if next("typ")? != "typ" {
            return Err(ParseError::new("typ", "expected the token \"typ\""));
        }
        let typ_s = next("cand-type")?;
        let typ = CandidateType::parse(typ_s).ok_or_else(|| {
            ParseError::new(
                "cand-type",
                format!("{typ_s:?} is not host/srflx/prflx/relay"),
            )
        })?;
        let mut line = CandidateLine {
            foundation: foundation.to_owned(),
            component,
            transport,
            priority,
            addr,
            port,
            typ,
            raddr: None,
            rport: None,
            tcptype: None,
            extensions: Vec::new(),
        };
        while let Some(name) = it.next() {
            let val = it
                .next()
                .ok_or_else(|| ParseError::new(name.to_owned(), "extension without a value"))?;
            match name {
                "raddr" => line.raddr = Some(val.to_owned()),
                "rport" => line.rport = Some(parse_num::<u16>("rport", val)?),
                "tcptype" => line.tcptype = Some(val.to_owned()),
                _ => line.extensions.push((name.to_owned(), val.to_owned())),
            }
        }
        Ok(line)
    }
}

fn parse_num<T: std::str::FromStr>(field: &str, s: &str) -> Result<T, ParseError> {
    s.parse::<T>()
        .map_err(|_| ParseError::new(field, format!("{s:?} is not a valid number here")))
}

/// Prints the attribute value without the `candidate:` prefix (the SDP `a=candidate:`
/// key carries it).
impl fmt::Display for CandidateLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {} {} typ {}",
            self.foundation,
            self.component,
            self.transport,
            self.priority,
            self.addr,
            self.port,
            self.typ.as_str()
        )?;
        if let Some(a) = &self.raddr {
            write!(f, " raddr {a}")?;
        }
        if let Some(p) = self.rport {
            write!(f, " rport {p}")?;
        }
        if let Some(t) = &self.tcptype {
            write!(f, " tcptype {t}")?;
        }
        for (k, v) in &self.extensions {
            write!(f, " {k} {v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chromium_host_and_tcp_lines() {
        let l = CandidateLine::parse(
            "candidate:2394384291 1 udp 2113937151 127.0.0.1 40613 typ host generation 0 network-cost 999",
        )
        .unwrap();
        assert_eq!(l.component, 1);
        assert_eq!(l.port, 40613);
        assert_eq!(l.typ, CandidateType::Host);
        assert_eq!(l.extensions.len(), 2);
        assert_eq!(
            l.to_string(),
            "2394384291 1 udp 2113937151 127.0.0.1 40613 typ host generation 0 network-cost 999"
        );
        let t = CandidateLine::parse(
            "1 1 TCP 1518280447 10.0.0.1 9 typ srflx raddr 0.0.0.0 rport 0 tcptype active",
        )
        .unwrap();
        assert_eq!(t.transport, "tcp");
        assert_eq!(t.tcptype.as_deref(), Some("active"));
        assert_eq!(t.rport, Some(0));
    }

    #[test]
    fn errors_name_the_field() {
        let e = CandidateLine::parse("1 1 udp 5 1.2.3.4 99999 typ host").unwrap_err();
        assert_eq!(e.field, "port");
        let e = CandidateLine::parse("1 1 udp 5 1.2.3.4 9 typ bogus").unwrap_err();
        assert_eq!(e.field, "cand-type");
        let e = CandidateLine::parse("1 1 udp").unwrap_err();
        assert_eq!(e.field, "priority");
        let e = CandidateLine::parse("1 1 udp 5 1.2.3.4 9 typ host generation").unwrap_err();
        assert_eq!(e.field, "generation");
    }
}
