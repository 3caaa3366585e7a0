//! vCard files (RFC 6350 v4.0, RFC 2426 v3.0, and 2.1's bare parameters and
//! quoted-printable), as far as the phone book reads them: `FN`, `N`, `ORG`, `TITLE`,
//! `TEL`, `EMAIL`, `IMPP`/`X-SIP` with `sip:`. Our own small parser: the maintained crate
//! (calcard) brings chrono-tz, mail-parser and mail-builder for these seven properties.
//!
//! Also the [`Folder`] source: every `*.vcf`/`*.vcard` file of a directory (not recursive).

use std::path::{Path, PathBuf};

use super::{Contact, Source, SourceError};

/// Largest vCard file read.
const MAX_FILE: u64 = 64 << 20;
/// Longest value kept (longer ones are cut at a character boundary).
const MAX_VALUE: usize = 1024;
/// Most values of one kind (numbers, e-mails) kept per contact.
const MAX_VALUES: usize = 32;

/// A vCard text that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct VcardError {
    /// 1-based line of the problem.
    pub line: usize,
    /// What is wrong.
    pub what: String,
}

/// One unfolded content line: name (upper case, group dropped), parameters, raw value.
struct Line {
    name: String,
    params: Vec<(String, String)>,
    value: String,
}

/// Splits `s` at `sep` outside double quotes (RFC 6350 §3.3 `param-value` may be quoted).
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in s.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            out.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    out.push(&s[start..]);
    out
}

fn parse_line(text: &str, line: usize) -> Result<Line, VcardError> {
    let mut quoted = false;
    let colon = text
        .char_indices()
        .find(|&(_, c)| {
            if c == '"' {
                quoted = !quoted;
            }
            c == ':' && !quoted
        })
        .map(|(i, _)| i)
        .ok_or_else(|| VcardError {
            line,
            what: format!("no ':' in {:?}", cut(text, 60)),
        })?;
    let (head, value) = (&text[..colon], &text[colon + 1..]);
    let mut parts = split_unquoted(head, ';').into_iter();
    let name = parts.next().unwrap_or_default();
    // RFC 6350 §3.3: `[group "."] name`.
    let name = name.rsplit('.').next().unwrap_or(name).to_ascii_uppercase();
    if name.is_empty() {
        return Err(VcardError {
            line,
            what: "a property without a name".into(),
        });
    }
    let params = parts
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_uppercase(), v.replace('"', "")),
            // vCard 2.1: `TEL;WORK;VOICE:…` names types bare.
            None => ("TYPE".to_owned(), p.trim().to_owned()),
        })
        .collect();
    Ok(Line {
        name,
        params,
        value: value.to_owned(),
    })
}

fn cut(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// RFC 6350 §3.4 escapes: `\\`, `\n`/`\N`, `\,`, `\;`, `\:` (3.0 writes it).
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(x) => out.push(x),
            None => out.push('\\'),
        }
    }
    cut(out.trim(), MAX_VALUE).to_owned()
}

/// Splits a structured value (`N`, `ORG`) at unescaped `;`.
fn components(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                cur.push('\\');
                if let Some(x) = chars.next() {
                    cur.push(x);
                }
            }
            ';' => out.push(unescape(&std::mem::take(&mut cur))),
            c => cur.push(c),
        }
    }
    out.push(unescape(&cur));
    out
}

/// Quoted-printable (RFC 2045 §6.7), vCard 2.1's `ENCODING=QUOTED-PRINTABLE`.
fn quoted_printable(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |x: u8| (x as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'=', Some(h), Some(l)) => {
                // Two hex digits: one byte, < 256 by construction.
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn types(params: &[(String, String)]) -> Vec<String> {
    params
        .iter()
        .filter(|(k, _)| k == "TYPE")
        .flat_map(|(_, v)| v.split(',').map(|t| t.trim().to_ascii_lowercase()))
        .collect()
}

fn push(list: &mut Vec<String>, v: String) {
    if !v.is_empty() && list.len() < MAX_VALUES && !list.contains(&v) {
        list.push(v);
    }
}

fn apply(c: &mut Contact, l: &Line) {
    let qp = l.params.iter().any(|(k, v)| {
        (k == "ENCODING" || k == "TYPE") && v.eq_ignore_ascii_case("QUOTED-PRINTABLE")
    });
    let raw = if qp {
        quoted_printable(&l.value)
    } else {
        l.value.clone()
    };
    match l.name.as_str() {
        "FN" => c.displayname = unescape(&raw),
        "N" => {
            let n = components(&raw);
            c.sn = n.first().cloned().unwrap_or_default();
            c.givenname = n.get(1).cloned().unwrap_or_default();
        }
        "ORG" => c.company = components(&raw).into_iter().next().unwrap_or_default(),
        "TITLE" => c.position = unescape(&raw),
        "TEL" => {
            let v = unescape(&raw);
            // vCard 4: `TEL;VALUE=uri:tel:+1-555-555-5555;ext=5555` (RFC 3966).
            let v = match v.get(..4) {
                Some(p) if p.eq_ignore_ascii_case("tel:") => {
                    v[4..].split(';').next().unwrap_or_default().to_owned()
                }
                _ => v,
            };
            let t = types(&l.params);
            let has = |x: &str| t.iter().any(|y| y == x);
            let list = if has("fax") {
                &mut c.facsimiletelephonenumber
            } else if has("cell") {
                &mut c.mobile
            } else if has("home") {
                &mut c.homephone
            } else {
                &mut c.telephonenumber
            };
            push(list, v);
        }
        "EMAIL" => push(&mut c.email, unescape(&raw)),
        "IMPP" | "X-SIP" => {
            let v = unescape(&raw);
            match v.get(..4) {
                Some(p) if p.eq_ignore_ascii_case("sip:") => push(&mut c.sip, v[4..].to_owned()),
                _ if l.name == "X-SIP" => push(&mut c.sip, v),
                _ => {}
            }
        }
        _ => {}
    }
}

/// Every vCard in `text`. A line that is no content line, or a vCard without its
/// `END:VCARD`, is an error with its line number.
pub fn parse(text: &str) -> Result<Vec<Contact>, VcardError> {
    let mut out = Vec::new();
    let mut current: Option<(usize, Contact)> = None;
    // Unfolding (RFC 6350 §3.2): a line starting with a space or tab continues the one
    // before. 2.1's quoted-printable continues a line ending in a soft break `=`.
    let mut logical: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let continues_qp = logical.last().is_some_and(|(_, l)| {
            l.ends_with('=') && l.to_ascii_uppercase().contains("QUOTED-PRINTABLE")
        });
        match (raw.chars().next(), logical.last_mut()) {
            (Some(' ' | '\t'), Some((_, prev))) => prev.push_str(&raw[1..]),
            (_, Some((_, prev))) if continues_qp => {
                prev.pop();
                prev.push_str(raw);
            }
            _ => logical.push((i + 1, raw.to_owned())),
        }
    }
    for (line, text) in logical {
        if text.trim().is_empty() {
            continue;
        }
        let l = parse_line(&text, line)?;
        match (l.name.as_str(), &mut current) {
            ("BEGIN", None) if l.value.trim().eq_ignore_ascii_case("VCARD") => {
                current = Some((line, Contact::default()));
            }
            ("BEGIN", Some((start, _))) => {
                return Err(VcardError {
                    line,
                    what: format!("BEGIN inside the vCard of line {start}"),
                });
            }
            ("END", Some(_)) => {
                if let Some((_, c)) = current.take() {
                    out.push(c.finished());
                }
            }
            (_, Some((_, c))) => apply(c, &l),
            (_, None) => {
                return Err(VcardError {
                    line,
                    what: format!("{} outside BEGIN:VCARD … END:VCARD", l.name),
                });
            }
        }
    }
    match current {
        Some((start, _)) => Err(VcardError {
            line: start,
            what: "this vCard has no END:VCARD".into(),
        }),
        None => Ok(out),
    }
}

/// A folder of vCard files.
pub struct Folder {
    dir: PathBuf,
}

impl Folder {
    /// The files of `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Folder {
        Folder { dir: dir.into() }
    }

    fn read(path: &Path) -> Result<Vec<Contact>, String> {
        let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
        if meta.len() > MAX_FILE {
            return Err(format!("larger than {} MiB", MAX_FILE >> 20));
        }
        let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&bytes);
        parse(&text).map_err(|e| e.to_string())
    }
}

impl Source for Folder {
    fn name(&self) -> String {
        format!("vCard folder {}", self.dir.display())
    }

    /// Every contact of every readable file; a file that does not parse is logged and
    /// skipped, the others count.
    fn load(&self) -> Result<Vec<Contact>, SourceError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| SourceError::Unavailable {
            name: self.name(),
            reason: e.to_string(),
        })?;
        let mut out = Vec::new();
        for e in entries.flatten() {
            let path = e.path();
            let vcf = path
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| x.eq_ignore_ascii_case("vcf") || x.eq_ignore_ascii_case("vcard"));
            if !vcf || !path.is_file() {
                continue;
            }
            match Folder::read(&path) {
                Ok(c) => out.extend(c),
                Err(why) => tracing::warn!("phone book: {} skipped: {why}", path.display()),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_escapes() {
        let text = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Jake Blues\r\nN:Blues;Jake;;;\r\n\
            ORG:Blues Brothers\\, Inc.;Band\r\nTITLE:Sing\r\n er\r\n\
            item1.TEL;VALUE=uri;TYPE=\"work,voice\":tel:+49-7031-1234567;ext=12\r\n\
            TEL;TYPE=cell:+49 170 1\r\nTEL;X-EVOLUTION-E164=7031,\"+49\";TYPE=HOME:07031 2\r\n\
            TEL;TYPE=fax:07031 3\r\nEMAIL:jake@example.com\r\nIMPP:sip:jake@example.com\r\n\
            END:VCARD\r\n\
            BEGIN:VCARD\nVERSION:2.1\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=\n=C3=BCrgen\n\
            TEL;WORK;VOICE:0711 4\nEND:VCARD\n";
        let c = parse(text).unwrap();
        assert_eq!(c.len(), 2);
        let j = &c[0];
        assert_eq!((j.givenname.as_str(), j.sn.as_str()), ("Jake", "Blues"));
        assert_eq!(j.company, "Blues Brothers, Inc.");
        assert_eq!(j.position, "Singer");
        assert_eq!(j.telephonenumber, ["+49-7031-1234567"]);
        assert_eq!(j.mobile, ["+49 170 1"]);
        assert_eq!(j.homephone, ["07031 2"]);
        assert_eq!(j.facsimiletelephonenumber, ["07031 3"]);
        assert_eq!(j.sip, ["jake@example.com"]);
        let m = &c[1];
        assert_eq!((m.sn.as_str(), m.givenname.as_str()), ("Müller", "Jürgen"));
        assert_eq!(m.displayname, "Jürgen Müller");
        assert_eq!(m.telephonenumber, ["0711 4"]);
    }

    #[test]
    fn bad_vcards_name_the_line() {
        let e = parse("BEGIN:VCARD\nFN:x\n").unwrap_err();
        assert_eq!(
            (e.line, e.what.as_str()),
            (1, "this vCard has no END:VCARD")
        );
        let e = parse("BEGIN:VCARD\nno colon here\nEND:VCARD\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse("FN:x\n").unwrap_err();
        assert!(e.what.contains("outside"), "{e}");
        assert!(parse("").unwrap().is_empty());
    }
}
