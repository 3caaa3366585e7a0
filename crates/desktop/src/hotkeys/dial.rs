//! What a key press sends: the dial key's double press and the selected text's cleaning.

use std::time::{Duration, Instant};

use protocol::phone::{CallTarget, PhoneMsg};

use super::Function;
use crate::uri::{self, UriAction};

/// Longest selected text passed on, in characters (a selection may be a whole page).
pub const MAX_TEXT: usize = 256;

/// The selected text as `PrepareCall` gets it: trimmed, line breaks and tabs turned into
/// spaces (a number split over two lines), at most [`MAX_TEXT`] characters.
pub fn clean_text(raw: &str) -> String {
    raw.trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_TEXT)
        .collect()
}

/// Whom a double press calls (wiki, "Hot keys": "pressed twice and the number is dialled
/// directly"); the wiki does not say how text becomes a number, so:
/// * a `tel:`/`sip:`/`sips:` link → what the URI handler would call (`im:`: nothing);
/// * text with an `@` and no spaces → a SIP name (`sip:` rules of [`crate::uri`]);
/// * text that is a phone number with visual separators (`+49 (7031) 730-09`) → that
///   number, separators removed (`tel:` rules);
/// * otherwise the digits, `*` and `#` in the text, with a `+` if the text's number starts
///   with one (`Tel. +49 7031 123` → `+497031123`); `adjust:true` lets the phone app fix
///   the rest;
/// * no digits at all → nothing (`None`).
pub fn call_target(text: &str) -> Option<CallTarget> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    let from = |a: UriAction| match a {
        UriAction::CallNumber(n) => Some(CallTarget::Num(n.number)),
        UriAction::CallSip(s) => Some(CallTarget::Sip(s)),
        UriAction::Chat(_) => None,
    };
    // A link of ours (an `im:` link is a chat: no call).
    match uri::parse(t) {
        Ok(a) => return from(a),
        Err(uri::UriError::NoScheme | uri::UriError::Scheme(_)) => {}
        Err(_) => return None,
    }
    if t.contains('@') && !t.contains(char::is_whitespace) {
        return uri::parse(&format!("sip:{t}")).ok().and_then(from);
    }
    if let Ok(a) = uri::parse(&format!("tel:{}", t.replace(' ', "%20"))) {
        return from(a);
    }
    let mut num = String::new();
    for c in t.chars() {
        match c {
            '+' if num.is_empty() => num.push('+'),
            '0'..='9' | '*' | '#' => num.push(c),
            _ => {}
        }
    }
    num.chars()
        .any(|c| c.is_ascii_digit())
        .then_some(CallTarget::Num(num))
}

/// Turns presses into requests; remembers the last dial press for the double press.
#[derive(Debug)]
pub struct Dialer {
    interval: Duration,
    /// The last dial press that was not yet a double press: when, with what text.
    last: Option<(Instant, String)>,
}

impl Dialer {
    /// Double presses are two dial presses less than `interval` apart.
    pub fn new(interval: Duration) -> Self {
        Dialer {
            interval,
            last: None,
        }
    }

    /// A press of `f` at `at`. `selection` is asked only when the text is needed.
    ///
    /// Dial: `PrepareCall {text, adjust:true}`; a second press within the interval sends
    /// `StartCall` for the first press's text (the selection may have changed since; the
    /// user dials what the first press showed) and starts over, so a third press is a
    /// first one again. A double press on text without a number sends nothing.
    pub fn press(
        &mut self,
        f: Function,
        at: Instant,
        selection: impl FnOnce() -> Option<String>,
    ) -> Option<PhoneMsg> {
        match f {
            Function::Accept => Some(PhoneMsg::ConnectCall),
            Function::Reject => Some(PhoneMsg::DisconnectCall),
            Function::Dial => {
                if let Some((t0, text)) = self.last.take()
                    && at.saturating_duration_since(t0) < self.interval
                {
                    let target = call_target(&text);
                    if target.is_none() {
                        tracing::info!(text, "dial hot key pressed twice: no number in the text");
                    }
                    return target.map(|target| PhoneMsg::StartCall {
                        target,
                        adjust: true,
                    });
                }
                let text = clean_text(&selection().unwrap_or_default());
                self.last = Some((at, text.clone()));
                Some(PhoneMsg::PrepareCall { text, adjust: true })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> Option<CallTarget> {
        Some(CallTarget::Num(s.into()))
    }

    #[test]
    fn text_to_target() {
        assert_eq!(call_target("4711"), num("4711"));
        assert_eq!(call_target(" +49 (7031) 730-09 0 "), num("+497031730090"));
        assert_eq!(call_target("0049-7031-123"), num("00497031123"));
        assert_eq!(call_target("tel:+49-7031-1"), num("+4970311"));
        assert_eq!(call_target("Tel. +49 7031 123"), num("+497031123"));
        assert_eq!(call_target("Tel.: 07031/123-4"), num("070311234"));
        assert_eq!(
            call_target("zkl@innovaphone.com"),
            Some(CallTarget::Sip("zkl@innovaphone.com".into()))
        );
        assert_eq!(
            call_target("sip:zkl@innovaphone.com;transport=tcp"),
            Some(CallTarget::Sip("zkl@innovaphone.com".into()))
        );
        assert_eq!(call_target("hello world"), None);
        assert_eq!(call_target("   "), None);
        assert_eq!(call_target("im:zkl@innovaphone.com"), None);
    }

    #[test]
    fn text_is_cleaned_and_capped() {
        assert_eq!(clean_text("  0711\n123\t4 "), "0711 123 4");
        assert_eq!(clean_text(&"9".repeat(1000)).len(), MAX_TEXT);
    }

    #[test]
    fn double_press_dials_the_first_text() {
        let mut d = Dialer::new(Duration::from_millis(500));
        let t0 = Instant::now();
        let prep = d.press(Function::Dial, t0, || Some(" 0049-7031-123\n".into()));
        assert_eq!(
            prep,
            Some(PhoneMsg::PrepareCall {
                text: "0049-7031-123".into(),
                adjust: true
            })
        );
        let mut asked = false;
        let start = d.press(Function::Dial, t0 + Duration::from_millis(200), || {
            asked = true;
            Some("other".into())
        });
        assert!(!asked, "the second press uses the first press's text");
        assert_eq!(
            start,
            Some(PhoneMsg::StartCall {
                target: CallTarget::Num("00497031123".into()),
                adjust: true
            })
        );
        // A third press starts over.
        let third = d.press(Function::Dial, t0 + Duration::from_millis(300), || {
            Some("5".into())
        });
        assert!(matches!(third, Some(PhoneMsg::PrepareCall { .. })));
        // Too slow: another PrepareCall.
        let slow = d.press(Function::Dial, t0 + Duration::from_millis(900), || {
            Some("6".into())
        });
        assert_eq!(
            slow,
            Some(PhoneMsg::PrepareCall {
                text: "6".into(),
                adjust: true
            })
        );
        assert_eq!(
            d.press(Function::Accept, t0, || None),
            Some(PhoneMsg::ConnectCall)
        );
        assert_eq!(
            d.press(Function::Reject, t0, || None),
            Some(PhoneMsg::DisconnectCall)
        );
    }

    #[test]
    fn double_press_without_number_sends_nothing_and_no_selection_is_empty_text() {
        let mut d = Dialer::new(Duration::from_millis(500));
        let t0 = Instant::now();
        assert_eq!(
            d.press(Function::Dial, t0, || None),
            Some(PhoneMsg::PrepareCall {
                text: String::new(),
                adjust: true
            })
        );
        assert_eq!(d.press(Function::Dial, t0, || None), None);
    }
}
