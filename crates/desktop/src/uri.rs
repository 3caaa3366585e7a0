//! The URI handler's parser: `tel:`, `sip:`, `sips:` and `im:` links → the request the
//! desktop app sends to the phone or chat app (platform-services wiki, "URL Handler").
//!
//! | link | request |
//! |---|---|
//! | `tel:4711` | `com.innovaphone.phone` `StartCall {num:"4711", adjust:true}` |
//! | `sip:zkl@innovaphone.com` | `com.innovaphone.phone` `StartCall {sip:"zkl@innovaphone.com", adjust:true}` |
//! | `im:zkl@innovaphone.com` | `com.innovaphone.chat` `StartChat {sip:"zkl@innovaphone.com"}` |
//!
//! Decisions (the wiki only gives the three examples):
//!
//! * The scheme is case-insensitive (RFC 3986 §3.1). The iOS client's
//!   `com.innovaphone.tel:`/`.sip:`/`.im:` schemes are accepted too. A `//` after the
//!   scheme (`tel://4711`, which some web pages write) is skipped.
//! * The whole link is limited to [`MAX_LEN`] bytes (before decoding); percent escapes are
//!   decoded once (`%2B49` → `+49`), must be complete and must decode to UTF-8.
//! * `tel:` (RFC 3966): the visual separators `-`, `.`, `(`, `)` and spaces are removed
//!   (§5.1.1; spaces are not RFC syntax but arrive from `%20` and hand-written links). What
//!   remains must be digits, `*` and `#`, with an optional leading `+`; letters (vanity
//!   numbers, the `p`/`w` pause marks) are rejected. Parameters after `;`:
//!   * `phone-context` with a global number (`;phone-context=+49-7031`) is prepended to a
//!     local number, which is what the RFC says the local number means (§5.1.5); a domain
//!     name context is ignored: the PBX resolves the local number (`adjust:true`).
//!   * `ext` is **not** dialled: the link's number (usually the switchboard) is called and
//!     the extension is kept in [`TelUri::ext`] for the UI. Appending it would produce a
//!     wrong number wherever the base number ends in the operator's `0`
//!     (`+49-7031-73009-0;ext=12` is not `+49703173009012`).
//!   * all other parameters (`isub`, `postd`, …) are ignored.
//! * `sip:`/`sips:`: headers (`?subject=x`) and URI parameters after the host
//!   (`;transport=tcp`) are removed, as is a password in the user part
//!   (`alice:secret@host`); the `sip` field is the SIP name `user@host` without the scheme.
//!   A `sips:` link gives the same request: the phone API cannot ask for TLS.
//! * `im:` (RFC 3860): the same cleaning; the result is the chat partner's SIP name.
//! * SIP names must not contain spaces, control characters or `<>"`; an empty user or host
//!   around an `@` is rejected.
//! * Logs and error messages show a link through [`Redacted`]: a password in the user part
//!   becomes `***` (RFC 3986 §7.5: a password in a URI must not be shown; RFC 3261
//!   §19.1.1 advises against putting one there at all).

use std::fmt;

use protocol::api::Request;
use protocol::phone::{CallTarget, ChatMsg, PhoneMsg};

/// Longest link accepted, in bytes before percent-decoding.
pub const MAX_LEN: usize = 256;

/// What a link asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UriAction {
    /// Call a number (`tel:`).
    CallNumber(TelUri),
    /// Call a SIP name (`sip:`, `sips:`).
    CallSip(String),
    /// Chat with a SIP name (`im:`).
    Chat(String),
}

/// A parsed `tel:` link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelUri {
    /// The number to dial: digits, `*`, `#`, optional leading `+`, separators removed, a
    /// global `phone-context` prepended.
    pub number: String,
    /// The `ext` parameter (separators removed), not dialled; see the module docs.
    pub ext: Option<String>,
}

impl UriAction {
    /// The phone or chat message the URI handler sends.
    pub fn request(&self) -> Request {
        match self {
            UriAction::CallNumber(t) => PhoneMsg::StartCall {
                target: CallTarget::Num(t.number.clone()),
                adjust: true,
            }
            .request(),
            UriAction::CallSip(s) => PhoneMsg::StartCall {
                target: CallTarget::Sip(s.clone()),
                adjust: true,
            }
            .request(),
            UriAction::Chat(s) => ChatMsg::StartChat { sip: s.clone() }.request(),
        }
    }
}

/// Why a link was rejected. The message names the link's problem for the user.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// Nothing given.
    #[error("empty link")]
    Empty,
    /// Longer than [`MAX_LEN`].
    #[error("link too long: {0} bytes, at most {MAX_LEN}")]
    TooLong(usize),
    /// No `scheme:`.
    #[error("not a link: no scheme (expected tel:, sip:, sips: or im:)")]
    NoScheme,
    /// A scheme we do not handle.
    #[error("unsupported scheme {0:?}: expected tel:, sip:, sips: or im:")]
    Scheme(String),
    /// A `%` not followed by two hex digits, or escapes that are not UTF-8.
    #[error("bad percent escape: {0}")]
    Percent(String),
    /// Nothing to call or chat with.
    #[error("{0}: no number or name in the link")]
    EmptyTarget(&'static str),
    /// A character a number or SIP name must not contain.
    #[error("{scheme}: invalid character {ch:?} in {what:?}")]
    InvalidChar {
        /// The scheme.
        scheme: &'static str,
        /// The offending character.
        ch: char,
        /// The part it was found in.
        what: String,
    },
    /// A malformed `user@host`.
    #[error("{0}: malformed SIP name {1:?}")]
    BadSipName(&'static str, String),
}

/// Parses a link; see the module docs for the rules.
pub fn parse(uri: &str) -> Result<UriAction, UriError> {
    let uri = uri.trim_matches(|c: char| c.is_ascii_whitespace());
    if uri.is_empty() {
        return Err(UriError::Empty);
    }
    if uri.len() > MAX_LEN {
        return Err(UriError::TooLong(uri.len()));
    }
    let (scheme, rest) = uri.split_once(':').ok_or(UriError::NoScheme)?;
    let lower = scheme.to_ascii_lowercase();
    let base = lower.strip_prefix("com.innovaphone.").unwrap_or(&lower);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    match base {
        "tel" => parse_tel(rest).map(UriAction::CallNumber),
        "sip" => sip_name("sip", rest).map(UriAction::CallSip),
        "sips" => sip_name("sips", rest).map(UriAction::CallSip),
        "im" => sip_name("im", rest).map(UriAction::Chat),
        _ => {
            if scheme.is_empty() || !scheme.chars().all(is_scheme_char) {
                Err(UriError::NoScheme)
            } else {
                Err(UriError::Scheme(scheme.to_owned()))
            }
        }
    }
}

fn is_scheme_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')
}

/// Decodes `%XX` escapes.
fn percent_decode(s: &str) -> Result<String, UriError> {
    if !s.contains('%') {
        return Ok(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .filter(|_| bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit());
            match hex {
                Some(b) => out.push(b),
                None => {
                    let end = (i + 3).min(bytes.len());
                    return Err(UriError::Percent(format!(
                        "{:?} is not % and two hex digits",
                        String::from_utf8_lossy(&bytes[i..end])
                    )));
                }
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| UriError::Percent("decodes to invalid UTF-8".into()))
}

/// Removes visual separators and checks the phone-number alphabet.
fn clean_number(raw: &str, what: &str) -> Result<String, UriError> {
    let mut out = String::with_capacity(raw.len());
    for ch in raw.chars() {
        match ch {
            '-' | '.' | '(' | ')' | ' ' => {}
            '0'..='9' | '*' | '#' => out.push(ch),
            '+' if out.is_empty() => out.push(ch),
            _ => {
                return Err(UriError::InvalidChar {
                    scheme: "tel",
                    ch,
                    what: what.to_owned(),
                });
            }
        }
    }
    Ok(out)
}

fn parse_tel(rest: &str) -> Result<TelUri, UriError> {
    // Parameters are split before decoding, so an escaped `%3B` stays part of a value.
    let mut parts = rest.split(';');
    let raw_number = percent_decode(parts.next().unwrap_or_default())?;
    let mut number = clean_number(&raw_number, &raw_number)?;
    if number.is_empty() || number == "+" {
        return Err(UriError::EmptyTarget("tel"));
    }
    let mut ext = None;
    let mut context = None;
    for param in parts {
        let (name, value) = param.split_once('=').unwrap_or((param, ""));
        let value = percent_decode(value)?;
        match name.to_ascii_lowercase().as_str() {
            "ext" => {
                let e = clean_number(&value, &value)?;
                if e.starts_with('+') {
                    return Err(UriError::InvalidChar {
                        scheme: "tel",
                        ch: '+',
                        what: value,
                    });
                }
                ext = (!e.is_empty()).then_some(e);
            }
            "phone-context" if value.starts_with('+') => {
                context = Some(clean_number(&value, &value)?);
            }
            _ => {}
        }
    }
    if let Some(ctx) = context
        && !number.starts_with('+')
    {
        number = ctx + &number;
    }
    Ok(TelUri { number, ext })
}

/// `user[:password]@host[;params][?headers]` → `user@host`.
fn sip_name(scheme: &'static str, rest: &str) -> Result<String, UriError> {
    let rest = rest.split('?').next().unwrap_or_default();
    let (user, hostpart) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let host = percent_decode(hostpart.split(';').next().unwrap_or_default())?;
    let user = match user {
        Some(u) => {
            // A password follows the first unescaped `:`.
            let u = u.split(':').next().unwrap_or_default();
            let u = percent_decode(u)?;
            if u.is_empty() || host.is_empty() {
                return Err(UriError::BadSipName(
                    scheme,
                    redact_userinfo(rest).into_owned(),
                ));
            }
            Some(u)
        }
        None => None,
    };
    let name = match user {
        Some(u) => format!("{u}@{host}"),
        None => host,
    };
    if name.is_empty() {
        return Err(UriError::EmptyTarget(scheme));
    }
    if let Some(ch) = name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
    {
        return Err(UriError::InvalidChar {
            scheme,
            ch,
            what: name,
        });
    }
    Ok(name)
}

/// A raw link for logs: `Display` and `Debug` show it with the password of its user part
/// (`user:password@host`, RFC 3986 §3.2.1) replaced by `***`. Trace files are sent to
/// support; a link's password must not be in them (RFC 3986 §7.5).
#[derive(Clone, Copy)]
pub struct Redacted<'a>(pub &'a str);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(self.0))
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*redact(self.0), f)
    }
}

/// `link` with the password of its user part replaced by `***` (see [`Redacted`]).
pub fn redact(link: &str) -> std::borrow::Cow<'_, str> {
    match link.split_once(':') {
        Some((scheme, rest)) => match redact_userinfo(rest) {
            std::borrow::Cow::Borrowed(_) => link.into(),
            std::borrow::Cow::Owned(r) => format!("{scheme}:{r}").into(),
        },
        None => link.into(),
    }
}

/// The part after the scheme with the password (after the first `:` of the user part,
/// which ends at the last `@` before any `?` headers) replaced by `***`.
fn redact_userinfo(rest: &str) -> std::borrow::Cow<'_, str> {
    let end = rest.find('?').unwrap_or(rest.len());
    let Some(at) = rest[..end].rfind('@') else {
        return rest.into();
    };
    let Some(colon) = rest[..at].find(':') else {
        return rest.into();
    };
    format!("{}:***{}", &rest[..colon], &rest[at..]).into()
}

impl fmt::Display for UriAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UriAction::CallNumber(t) => write!(f, "call {}", t.number),
            UriAction::CallSip(s) => write!(f, "call {s}"),
            UriAction::Chat(s) => write!(f, "chat with {s}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use protocol::api::ApiMessage;

    fn json(uri: &str) -> String {
        ApiMessage::ApiRequest(parse(uri).expect(uri).request())
            .to_value()
            .to_string()
    }

    fn num(uri: &str) -> String {
        match parse(uri) {
            Ok(UriAction::CallNumber(t)) => t.number,
            other => panic!("{uri}: {other:?}"),
        }
    }

    /// The wiki's three examples, byte for byte (without `consumer`, which the relay adds).
    #[test]
    fn seed_examples() {
        assert_eq!(
            json("tel:4711"),
            r#"{"mt":"ApiRequest","api":"com.innovaphone.phone","msg":{"mt":"StartCall","num":"4711","adjust":true}}"#
        );
        assert_eq!(
            json("sip:zkl@innovaphone.com"),
            r#"{"mt":"ApiRequest","api":"com.innovaphone.phone","msg":{"mt":"StartCall","sip":"zkl@innovaphone.com","adjust":true}}"#
        );
        assert_eq!(
            json("im:zkl@innovaphone.com"),
            r#"{"mt":"ApiRequest","api":"com.innovaphone.chat","msg":{"mt":"StartChat","sip":"zkl@innovaphone.com"}}"#
        );
    }

    #[test]
    fn tel_separators_and_params() {
        assert_eq!(num("tel:0049-7031-123"), "00497031123");
        assert_eq!(num("tel:+49 (7031) 730.09-0"), "+497031730090");
        assert_eq!(num("tel:%2B49%207031%20123"), "+497031123");
        assert_eq!(num("TEL:4711"), "4711");
        assert_eq!(num("tel://4711"), "4711");
        assert_eq!(num("com.innovaphone.tel:4711"), "4711");
        assert_eq!(num("tel:*21#"), "*21#");
        assert_eq!(
            parse("tel:+49-7031-73009-0;ext=12"),
            Ok(UriAction::CallNumber(TelUri {
                number: "+497031730090".into(),
                ext: Some("12".into())
            }))
        );
        assert_eq!(
            num("tel:7042;phone-context=+49-7031-73009"),
            "+497031730097042"
        );
        assert_eq!(num("tel:7042;phone-context=example.com"), "7042");
        assert_eq!(num("tel:+4970317042;phone-context=+1"), "+4970317042");
        assert_eq!(num("tel:4711;isub=12;foo"), "4711");
    }

    #[test]
    fn passwords_stay_out_of_logs_and_errors() {
        let link = "sip:alice:secret@pbx";
        assert_eq!(Redacted(link).to_string(), "sip:alice:***@pbx");
        assert_eq!(format!("{:?}", Redacted(link)), "\"sip:alice:***@pbx\"");
        for (raw, shown) in [
            (
                "sips://bob:pw@pbx;transport=tls?subject=x:y",
                "sips://bob:***@pbx;transport=tls?subject=x:y",
            ),
            ("sip:a:p@ss@pbx", "sip:a:***@pbx"),
            ("im:carol@pbx", "im:carol@pbx"),
            ("tel:+49-7031", "tel:+49-7031"),
            ("sip:pbx?x=a:b@c", "sip:pbx?x=a:b@c"),
            ("no scheme", "no scheme"),
        ] {
            assert_eq!(Redacted(raw).to_string(), shown, "{raw}");
        }
        // The message of a rejected link does not carry the password either.
        let e = parse("sip::secret@pbx").unwrap_err().to_string();
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn sip_cleaning() {
        let sip = |u: &str| match parse(u) {
            Ok(UriAction::CallSip(s)) => s,
            other => panic!("{u}: {other:?}"),
        };
        assert_eq!(sip("sip:alice@host;transport=tcp?subject=x"), "alice@host");
        assert_eq!(sip("SIPS:alice@host:5061"), "alice@host:5061");
        assert_eq!(sip("sip:alice:secret@host"), "alice@host");
        assert_eq!(sip("sip:al%69ce@host"), "alice@host");
        assert_eq!(sip("sip:zkl"), "zkl");
        assert_eq!(
            parse("im:bob@example.com?body=hi"),
            Ok(UriAction::Chat("bob@example.com".into()))
        );
    }

    #[test]
    fn rejections_with_messages() {
        let err = |u: &str| parse(u).expect_err(u).to_string();
        assert_eq!(err(""), "empty link");
        assert_eq!(
            err("4711"),
            "not a link: no scheme (expected tel:, sip:, sips: or im:)"
        );
        assert_eq!(
            err("mailto:a@b"),
            "unsupported scheme \"mailto\": expected tel:, sip:, sips: or im:"
        );
        assert_eq!(
            err("http://x"),
            "unsupported scheme \"http\": expected tel:, sip:, sips: or im:"
        );
        assert_eq!(err("tel:"), "tel: no number or name in the link");
        assert_eq!(err("tel:+"), "tel: no number or name in the link");
        assert_eq!(err("tel:--"), "tel: no number or name in the link");
        assert_eq!(
            err("tel:1-800-FLOWERS"),
            "tel: invalid character 'F' in \"1-800-FLOWERS\""
        );
        assert_eq!(err("tel:12+3"), "tel: invalid character '+' in \"12+3\"");
        assert_eq!(
            err("tel:12%4"),
            "bad percent escape: \"%4\" is not % and two hex digits"
        );
        assert_eq!(
            err("tel:12%zz"),
            "bad percent escape: \"%zz\" is not % and two hex digits"
        );
        assert_eq!(
            err("tel:%ff"),
            "bad percent escape: decodes to invalid UTF-8"
        );
        assert_eq!(err("sip:"), "sip: no number or name in the link");
        assert_eq!(err("sip:@host"), "sip: malformed SIP name \"@host\"");
        assert_eq!(err("im:bob@"), "im: malformed SIP name \"bob@\"");
        assert_eq!(
            err("sip:a%20b@host"),
            "sip: invalid character ' ' in \"a b@host\""
        );
        assert_eq!(
            err("sip:a<b@host"),
            "sip: invalid character '<' in \"a<b@host\""
        );
        let long = format!("tel:{}", "1".repeat(MAX_LEN));
        assert_eq!(err(&long), "link too long: 260 bytes, at most 256");
        assert!(parse(&format!("tel:{}", "1".repeat(MAX_LEN - 4))).is_ok());
    }

    proptest! {
        /// No input panics; the result is either a request or an error.
        #[test]
        fn never_panics(s in "\\PC{0,300}") {
            let _ = parse(&s);
            let _ = parse(&format!("tel:{s}"));
            let _ = parse(&format!("sip:{s}"));
        }

        /// Separators anywhere, and percent-encoding of any character, leave the digits.
        #[test]
        fn tel_digits_survive_separators(
            digits in "\\+?[0-9*#]{1,30}",
            seps in proptest::collection::vec(prop_oneof![Just(""), Just("-"), Just("."), Just(" "), Just("("), Just(")")], 31),
            encode in proptest::collection::vec(any::<bool>(), 62),
        ) {
            let mut link = String::new();
            for (i, ch) in digits.chars().enumerate() {
                if i > 0 || ch != '+' {
                    link.push_str(seps[i]);
                }
                link.push(ch);
            }
            let encoded: String = link
                .chars()
                .zip(encode.iter().cycle())
                .map(|(c, &e)| if e { format!("%{:02X}", c as u32) } else { c.to_string() })
                .collect();
            prop_assert_eq!(num(&format!("tel:{encoded}")), digits);
        }

        /// A SIP name with parameters and headers appended comes back unchanged.
        #[test]
        fn sip_params_stripped(user in "[a-z0-9._-]{1,20}", host in "[a-z0-9.-]{1,20}", params in "(;[a-z]{1,5}=[a-z0-9]{1,5}){0,3}", headers in "(\\?[a-z]{1,5}=[a-z0-9]{0,5})?") {
            let name = format!("{user}@{host}");
            prop_assert_eq!(parse(&format!("sip:{name}{params}{headers}")), Ok(UriAction::CallSip(name.clone())));
            prop_assert_eq!(parse(&format!("im:{name}{headers}")), Ok(UriAction::Chat(name)));
        }
    }
}
