use std::fmt;

/// A parse failure: which field (a path such as `channels.ch[2].pt` or
/// `m=audio[0] a=candidate[3]`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Where the fault is; empty for the document as a whole.
    pub field: String,
    /// What is wrong there.
    pub reason: String,
}

impl ParseError {
    /// An error at `field` with `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        ParseError {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Prefixes the field path with `outer` (`outer.field`).
    pub fn within(mut self, outer: &str) -> Self {
        self.field = if self.field.is_empty() {
            outer.to_owned()
        } else if self.field.starts_with('[') {
            format!("{outer}{}", self.field)
        } else {
            format!("{outer}.{}", self.field)
        };
        self
    }

    pub(crate) fn from_json(e: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let mut field = path_string(e.path());
        let reason = e.into_inner().to_string();
        // serde reports a missing field at its parent; name the field itself.
        if let Some(rest) = reason.strip_prefix("missing field `")
            && let Some((name, _)) = rest.split_once('`')
        {
            field = if field.is_empty() {
                name.to_owned()
            } else {
                format!("{field}.{name}")
            };
            return ParseError::new(field, "missing");
        }
        // serde_json appends " at line L column C"; kept, it helps with big messages.
        ParseError::new(field, reason)
    }
}

fn path_string(path: &serde_path_to_error::Path) -> String {
    let s = path.to_string();
    // The crate prints "." for the root.
    if s == "." { String::new() } else { s }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{}: {}", self.field, self.reason)
        }
    }
}

impl std::error::Error for ParseError {}
