//! Phone numbers in national and international form, for the external applications'
//! `$N`/`$I` and the phone book's reverse lookup (`+49 7031 123` = `07031 123`).
//!
//! # The context
//! A number is only comparable with a dialling context: the own country code and area
//! code, and the prefixes that introduce an international or national number. The PBX
//! sends these with every `com.innovaphone.phonelookup` request (`country`, `area`,
//! `prefixIntl`, `prefixNtl`, `prefixExt`; the prefixes as dialled on the PBX, so they
//! include the exit prefix `prefixExt`: `000`, `00`, `0`). Written numbers (address
//! books) carry no exit prefix; [`NumberContext::plain`] strips it from the prefixes.
//! Without a context from the PBX the settings `COUNTRYCODE` and `AREACODE` give one, with
//! the ITU-T E.164 / E.123 defaults `00` (international) and `0` (national trunk prefix).
//!
//! # The rule
//! Visual separators (space, `-`, `.`, `/`, brackets; E.123 §2.5, RFC 3966 §5.1.1) are
//! dropped, and `(0)` after a country code (the national trunk prefix shown for
//! convenience, E.123 §2.6) is dropped with them. Then: `+` or the international prefix
//! gives `+<digits>`; the national prefix gives `+<country><digits>`; through a PBX the
//! exit prefix alone gives `+<country><area><digits>` (a local call); a bare number (an
//! extension, or a subscriber number without area code) stays as it is, as the wiki says
//! of `$N`/`$I` ("only work if $n includes both subscriber number and area code").
//! Anything else than digits after that (letters, `*`, `#`) is not a phone number:
//! [`NumberContext::international`] gives `None`.

/// Where numbers are dialled from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumberContext {
    /// Own country code, digits only (`49`); empty when unknown.
    pub country: String,
    /// Own area code without trunk prefix (`7031`); empty when unknown.
    pub area: String,
    /// Prefix of an international number as dialled (`00`, or `000` through a PBX).
    pub prefix_intl: String,
    /// Prefix of a national number as dialled (`0`, or `00` through a PBX).
    pub prefix_ntl: String,
    /// Prefix to reach the public network from a PBX (`0`); empty for none.
    pub prefix_ext: String,
}

impl Default for NumberContext {
    fn default() -> Self {
        NumberContext {
            country: String::new(),
            area: String::new(),
            prefix_intl: "00".into(),
            prefix_ntl: "0".into(),
            prefix_ext: String::new(),
        }
    }
}

/// A field of a context that is not all digits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field} must be digits only (at most 8), not {value:?}")]
pub struct BadContext {
    /// The field (`country`, `area`, `prefixIntl`, …).
    pub field: &'static str,
    /// What it was.
    pub value: String,
}

fn digits_field(field: &'static str, value: &str) -> Result<String, BadContext> {
    if value.len() <= 8 && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(value.to_owned())
    } else {
        Err(BadContext {
            field,
            value: value.chars().take(40).collect(),
        })
    }
}

impl NumberContext {
    /// A context from its parts, each checked (digits only, at most 8).
    pub fn new(
        country: &str,
        area: &str,
        prefix_intl: &str,
        prefix_ntl: &str,
        prefix_ext: &str,
    ) -> Result<NumberContext, BadContext> {
        Ok(NumberContext {
            country: digits_field("country", country)?,
            area: digits_field("area", area)?,
            prefix_intl: digits_field("prefixIntl", prefix_intl)?,
            prefix_ntl: digits_field("prefixNtl", prefix_ntl)?,
            prefix_ext: digits_field("prefixExt", prefix_ext)?,
        })
    }

    /// The context of `msg`'s `country`, `area`, `prefixIntl`, `prefixNtl`, `prefixExt`
    /// (the phonelookup request's fields), each absent one taken from `base`.
    pub fn from_json(
        msg: &serde_json::Value,
        base: &NumberContext,
    ) -> Result<NumberContext, BadContext> {
        let get = |k: &str, d: &str| -> String {
            msg.get(k)
                .and_then(|v| match v {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .unwrap_or_else(|| d.to_owned())
        };
        NumberContext::new(
            &get("country", &base.country),
            &get("area", &base.area),
            &get("prefixIntl", &base.prefix_intl),
            &get("prefixNtl", &base.prefix_ntl),
            &get("prefixExt", &base.prefix_ext),
        )
    }

    /// The same context for numbers as people write them: the exit prefix taken off the
    /// international and national prefixes (`000`/`00` with exit `0` → `00`/`0`).
    pub fn plain(&self) -> NumberContext {
        let strip = |p: &str| {
            p.strip_prefix(self.prefix_ext.as_str())
                .filter(|rest| !rest.is_empty())
                .unwrap_or(p)
                .to_owned()
        };
        NumberContext {
            country: self.country.clone(),
            area: self.area.clone(),
            prefix_intl: strip(&self.prefix_intl),
            prefix_ntl: strip(&self.prefix_ntl),
            prefix_ext: String::new(),
        }
    }

    /// `number` as `+<country><area><subscriber>`, or `None` when it has no area code (a
    /// bare extension or subscriber number) or is no phone number at all.
    pub fn international(&self, number: &str) -> Option<String> {
        let (plus, digits) = strip_visual(number)?;
        if plus {
            return (!digits.is_empty()).then(|| format!("+{digits}"));
        }
        let intl = &self.prefix_intl;
        let ntl = &self.prefix_ntl;
        // The longer prefix first: `000` before `00` when both start alike.
        let mut prefixes = [(intl, true), (ntl, false)];
        prefixes.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        for (prefix, is_intl) in prefixes {
            if prefix.is_empty() {
                continue;
            }
            if let Some(rest) = digits.strip_prefix(prefix.as_str()) {
                if rest.is_empty() {
                    return None;
                }
                return if is_intl {
                    Some(format!("+{rest}"))
                } else if self.country.is_empty() {
                    None
                } else {
                    Some(format!("+{}{rest}", self.country))
                };
            }
        }
        // Through a PBX, the exit prefix alone starts a subscriber number of our own
        // area (a local call).
        match digits.strip_prefix(self.prefix_ext.as_str()) {
            Some(rest)
                if !self.prefix_ext.is_empty()
                    && !rest.is_empty()
                    && !self.country.is_empty()
                    && !self.area.is_empty() =>
            {
                Some(format!("+{}{}{rest}", self.country, self.area))
            }
            _ => None,
        }
    }

    /// `number` in national form (`07031730090`): the national prefix of [`Self::plain`]
    /// before the national number for one of our country, the international prefix
    /// before the country code for others. `None` as [`Self::international`].
    pub fn national(&self, number: &str) -> Option<String> {
        let intl = self.international(number)?;
        let digits = &intl[1..];
        let plain = self.plain();
        match digits.strip_prefix(self.country.as_str()) {
            Some(rest) if !self.country.is_empty() => Some(format!("{}{rest}", plain.prefix_ntl)),
            _ => Some(format!("{}{digits}", plain.prefix_intl)),
        }
    }

    /// The key two numbers are compared by: the international form when there is one,
    /// else the digits (and `*#`) alone. `None` for text that is no phone number.
    pub fn key(&self, number: &str) -> Option<String> {
        if let Some(i) = self.international(number) {
            return Some(i);
        }
        let (plus, digits) = strip_visual(number)?;
        (!digits.is_empty()).then(|| if plus { format!("+{digits}") } else { digits })
    }
}

/// Longest number looked at (E.164 allows 15 digits; room for prefixes and extensions).
const MAX_NUMBER: usize = 64;

/// Drops visual separators and a `(0)`; `(leading +, digits)` or `None` for something
/// that is not a phone number (letters, a `+` inside, too long).
fn strip_visual(number: &str) -> Option<(bool, String)> {
    let number = number.trim();
    if number.len() > MAX_NUMBER {
        return None;
    }
    let (plus, rest) = match number.strip_prefix('+') {
        Some(r) => (true, r),
        None => (false, number),
    };
    // E.123 §2.6: "+49 (0)7031" — the (0) is not dialled internationally.
    let rest = if plus {
        rest.replacen("(0)", "", 1)
    } else {
        rest.to_owned()
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match c {
            '0'..='9' | '*' | '#' => digits.push(c),
            ' ' | '-' | '.' | '/' | '(' | ')' | '[' | ']' | '\u{a0}' => {}
            _ => return None,
        }
    }
    Some((plus, digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn de() -> NumberContext {
        NumberContext::new("49", "7031", "00", "0", "").unwrap()
    }

    #[test]
    fn forms_agree() {
        let c = de();
        for n in [
            "+49 7031 123",
            "07031 123",
            "0049 7031 123",
            "+49 (0)7031 123",
            "(07031) 123",
            "07031/123",
        ] {
            assert_eq!(c.international(n).as_deref(), Some("+497031123"), "{n}");
            assert_eq!(c.national(n).as_deref(), Some("07031123"), "{n}");
        }
        // Foreign numbers: international prefix and country code in national form.
        assert_eq!(
            c.national("+44 20 7946 0000").as_deref(),
            Some("00442079460000")
        );
        // Bare numbers stay as they are (wiki: $N and $I then equal $n).
        assert_eq!(c.international("123"), None);
        assert_eq!(c.key("12-3").as_deref(), Some("123"));
        assert_eq!(c.key("bob"), None);
        assert_eq!(c.key("+49 7031 12a"), None);
    }

    #[test]
    fn pbx_prefixes() {
        // The wiki's Lookup example: prefixIntl 000, prefixNtl 00, prefixExt 0.
        let pbx = NumberContext::new("49", "7031", "000", "00", "0").unwrap();
        assert_eq!(
            pbx.international("0004970311234567").as_deref(),
            Some("+4970311234567")
        );
        assert_eq!(
            pbx.international("0070311234567").as_deref(),
            Some("+4970311234567")
        );
        let plain = pbx.plain();
        assert_eq!(
            (plain.prefix_intl.as_str(), plain.prefix_ntl.as_str()),
            ("00", "0")
        );
        assert_eq!(
            plain.international("07031 1234567"),
            pbx.international("0070311234567")
        );
        assert_eq!(
            pbx.national("0004970311234567").as_deref(),
            Some("070311234567")
        );
        // A local call through the PBX: exit prefix, then the subscriber number.
        assert_eq!(
            pbx.international("01234567").as_deref(),
            Some("+4970311234567")
        );
    }

    #[test]
    fn bad_context() {
        let e = NumberContext::new("+49", "", "00", "0", "").unwrap_err();
        assert_eq!(e.field, "country");
        let msg = serde_json::json!({"country": 49, "area": "7031"});
        let c = NumberContext::from_json(&msg, &NumberContext::default()).unwrap();
        assert_eq!((c.country.as_str(), c.area.as_str()), ("49", "7031"));
    }
}
