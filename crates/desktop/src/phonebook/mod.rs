//! The local phone book: the providers of `com.innovaphone.search` (contact search, any
//! word) and `com.innovaphone.phonelookup` (reverse lookup of a number) over the OS's
//! address books (wiki, "Local phonebook access"; docs/phonebook.md).
//!
//! # Sources ([`Source`])
//! * Linux and other Unix: Evolution Data Server over D-Bus ([`eds`]: every enabled
//!   address book of the source registry, read with `GetContactList`), and a folder of
//!   vCard files ([`vcard::Folder`], setting `CONTACTSFOLDER`, default
//!   `$XDG_DATA_HOME/myApps/contacts`) for desktops without EDS. Both count when both are
//!   there.
//! * Windows (Outlook / Windows contacts) and macOS (Contacts): not built yet; their
//!   sources say so ([`SourceError::Unavailable`]) and the provider answers with that text.
//!
//! # Cache
//! As the Windows client's Outlook provider, contacts are cached: loaded at the first
//! request, then again in the background when a request finds them older than
//! [`REFRESH`] (the request is answered from the old index meanwhile). All queries run on
//! the [`index::Index`], so a search or lookup in 10,000 contacts takes well under a
//! millisecond (docs/benchmarks.md).

#[cfg(not(any(windows, target_os = "macos")))]
pub mod eds;
pub mod index;
#[cfg(any(windows, target_os = "macos"))]
pub mod other_os;
pub mod vcard;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::phone_number::{BadContext, NumberContext};
use index::Index;

/// The search API.
pub const SEARCH_API: &str = "com.innovaphone.search";
/// The reverse-lookup API.
pub const LOOKUP_API: &str = "com.innovaphone.phonelookup";
/// Every request and answer `mt` (docs are checked against it).
pub const MESSAGES: &[&str] = &[
    "Search",
    "SearchInfo",
    "SearchResult",
    "Lookup",
    "LookupInfo",
    "LookupResult",
];
/// How old the cached contacts may get before a request reloads them.
pub const REFRESH: Duration = Duration::from_secs(60);
/// Search results at most, whatever `count` asks.
pub const MAX_RESULTS: usize = 100;
/// Search results when `count` is absent.
pub const DEFAULT_RESULTS: usize = 20;
/// Lookup results at most.
pub const MAX_LOOKUP: usize = 10;
/// Contacts kept at most, over all sources.
pub const MAX_CONTACTS: usize = 200_000;
/// Longest search text or number, in bytes.
const MAX_QUERY: usize = 256;

/// One contact, with the API's field names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contact {
    /// `givenname`.
    pub givenname: String,
    /// `sn`.
    pub sn: String,
    /// `displayname`.
    pub displayname: String,
    /// `company`.
    pub company: String,
    /// `position`.
    pub position: String,
    /// `telephonenumber`: work and other numbers.
    pub telephonenumber: Vec<String>,
    /// `homephone`.
    pub homephone: Vec<String>,
    /// `mobile`.
    pub mobile: Vec<String>,
    /// `facsimiletelephonenumber`.
    pub facsimiletelephonenumber: Vec<String>,
    /// `email`.
    pub email: Vec<String>,
    /// `sip`.
    pub sip: Vec<String>,
}

impl Contact {
    /// Fills `displayname` from the name parts when the source gave none.
    pub fn finished(mut self) -> Contact {
        if self.displayname.is_empty() {
            let parts: Vec<&str> = [self.givenname.as_str(), self.sn.as_str()]
                .into_iter()
                .filter(|p| !p.is_empty())
                .collect();
            self.displayname = parts.join(" ");
        }
        self
    }

    /// Every phone number (not fax: a lookup is for a caller).
    pub fn numbers(&self) -> impl Iterator<Item = &String> {
        self.telephonenumber
            .iter()
            .chain(&self.homephone)
            .chain(&self.mobile)
    }

    /// The name to show: display name, else company.
    pub fn dn(&self) -> &str {
        if self.displayname.is_empty() {
            &self.company
        } else {
            &self.displayname
        }
    }

    /// The API's `contact` object (empty fields left out).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        for (k, v) in [
            ("givenname", &self.givenname),
            ("sn", &self.sn),
            ("displayname", &self.displayname),
            ("company", &self.company),
            ("position", &self.position),
        ] {
            if !v.is_empty() {
                m.insert(k.into(), json!(v));
            }
        }
        for (k, v) in [
            ("telephonenumber", &self.telephonenumber),
            ("homephone", &self.homephone),
            ("mobile", &self.mobile),
            ("facsimiletelephonenumber", &self.facsimiletelephonenumber),
            ("email", &self.email),
            ("sip", &self.sip),
        ] {
            if !v.is_empty() {
                m.insert(k.into(), json!(v));
            }
        }
        Value::Object(m)
    }
}

/// Why a source gave no contacts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The source is not there (no EDS on the bus, no folder, not built on this OS).
    #[error("{name}: not available: {reason}")]
    Unavailable {
        /// The source's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The source answered with an error.
    #[error("{name}: {reason}")]
    Failed {
        /// The source's name.
        name: String,
        /// Why.
        reason: String,
    },
}

/// An address book.
pub trait Source: Send + Sync {
    /// Its name, for logs and errors.
    fn name(&self) -> String;
    /// All its contacts. May block (D-Bus, files).
    fn load(&self) -> Result<Vec<Contact>, SourceError>;
}

/// The sources of this OS: see the module documentation. `bus`: a D-Bus address instead
/// of the session bus (tests); `folder`: the vCard folder (`CONTACTSFOLDER`; default
/// `$XDG_DATA_HOME/myApps/contacts`).
#[cfg(not(any(windows, target_os = "macos")))]
pub fn os_sources(bus: Option<String>, folder: Option<std::path::PathBuf>) -> Vec<Box<dyn Source>> {
    let mut out: Vec<Box<dyn Source>> = vec![Box::new(eds::Eds::new(bus))];
    let folder = folder.or_else(|| data_home().map(|d| d.join("myApps").join("contacts")));
    if let Some(f) = folder {
        out.push(Box::new(vcard::Folder::new(f)));
    }
    out
}

/// The sources of this OS: the OS's address book (not built yet) and, when set, the vCard
/// folder (`CONTACTSFOLDER`).
#[cfg(any(windows, target_os = "macos"))]
pub fn os_sources(
    _bus: Option<String>,
    folder: Option<std::path::PathBuf>,
) -> Vec<Box<dyn Source>> {
    let mut out: Vec<Box<dyn Source>> = vec![Box::new(other_os::NotBuilt)];
    if let Some(f) = folder {
        out.push(Box::new(vcard::Folder::new(f)));
    }
    out
}

/// `$XDG_DATA_HOME`, else `~/.local/share` (XDG Base Directory Specification).
#[cfg(not(any(windows, target_os = "macos")))]
fn data_home() -> Option<std::path::PathBuf> {
    std::env::var_os("XDG_DATA_HOME")
        .map(std::path::PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".local/share"))
        })
}

/// A bad request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// A field is missing or wrong.
    #[error("{0}")]
    Field(String),
    /// The dialling context is wrong.
    #[error(transparent)]
    Context(#[from] BadContext),
    /// No source could be read.
    #[error("no local phone book: {0}")]
    NoSource(String),
}

struct Cache {
    index: Arc<Index>,
    loaded: Instant,
}

/// The phone book: sources, the cached index, and the two APIs' logic.
pub struct PhoneBook {
    sources: Vec<Box<dyn Source>>,
    context: NumberContext,
    cache: Mutex<Option<Cache>>,
    refreshing: AtomicBool,
}

impl PhoneBook {
    /// Over `sources`; `context` for lookups that bring none (settings).
    pub fn new(sources: Vec<Box<dyn Source>>, context: NumberContext) -> Arc<PhoneBook> {
        Arc::new(PhoneBook {
            sources,
            context,
            cache: Mutex::new(None),
            refreshing: AtomicBool::new(false),
        })
    }

    /// Reads every source now: the new index, or the errors when none could be read.
    pub fn load(&self) -> Result<Arc<Index>, RequestError> {
        let mut contacts = Vec::new();
        let mut errors = Vec::new();
        let mut any = false;
        for s in &self.sources {
            match s.load() {
                Ok(c) => {
                    any = true;
                    tracing::debug!("phone book: {} contacts from {}", c.len(), s.name());
                    contacts.extend(c);
                }
                Err(e) => {
                    tracing::debug!("phone book: {e}");
                    errors.push(e.to_string());
                }
            }
        }
        if !any {
            return Err(RequestError::NoSource(errors.join("; ")));
        }
        contacts.truncate(MAX_CONTACTS);
        let index = Arc::new(Index::build(contacts));
        *self.cache.lock().unwrap_or_else(PoisonError::into_inner) = Some(Cache {
            index: index.clone(),
            loaded: Instant::now(),
        });
        Ok(index)
    }

    /// The cached index: loaded now when there is none, reloaded in the background when
    /// stale.
    pub fn index(self: &Arc<Self>) -> Result<Arc<Index>, RequestError> {
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|c| (c.index.clone(), c.loaded.elapsed() > REFRESH));
        match cached {
            None => self.load(),
            Some((index, stale)) => {
                if stale && !self.refreshing.swap(true, Ordering::SeqCst) {
                    let me = self.clone();
                    let spawned = std::thread::Builder::new()
                        .name("phonebook-refresh".into())
                        .spawn(move || {
                            if let Err(e) = me.load() {
                                tracing::warn!("phone book: reload failed: {e}");
                            }
                            me.refreshing.store(false, Ordering::SeqCst);
                        });
                    if spawned.is_err() {
                        self.refreshing.store(false, Ordering::SeqCst);
                    }
                }
                Ok(index)
            }
        }
    }

    /// Answers a `Search`: `SearchInfo`s then `SearchResult`.
    pub fn search(self: &Arc<Self>, msg: &Value) -> Result<Vec<Value>, RequestError> {
        let text = msg
            .get("search")
            .and_then(Value::as_str)
            .filter(|s| s.len() <= MAX_QUERY)
            .ok_or_else(|| {
                RequestError::Field(format!(
                    "Search needs `search`, a text of at most {MAX_QUERY} bytes"
                ))
            })?;
        let count = match msg.get("count") {
            None | Some(Value::Null) => DEFAULT_RESULTS,
            Some(v) => v
                .as_u64()
                .map(|n| usize::try_from(n).unwrap_or(MAX_RESULTS).min(MAX_RESULTS))
                .ok_or_else(|| RequestError::Field("`count` must be a number".into()))?,
        };
        let mut out = Vec::new();
        // Only contacts here: a search for another type gets none.
        let wanted = msg
            .get("type")
            .and_then(Value::as_str)
            .is_none_or(|t| t == "contact");
        if wanted && !text.trim().is_empty() {
            let index = self.index()?;
            for (c, matched) in index.search(text, count) {
                out.push(json!({
                    "mt": "SearchInfo", "type": "contact",
                    "relevance": matched * 1000,
                    // Address-book numbers carry no PBX exit prefix (SDK: "adjust").
                    "adjust": true,
                    "dn": c.dn(), "contact": c.to_json(),
                }));
            }
        }
        out.push(json!({"mt": "SearchResult"}));
        Ok(out)
    }

    /// Answers a `Lookup`: `LookupInfo`s then `LookupResult`.
    pub fn lookup(self: &Arc<Self>, msg: &Value) -> Result<Vec<Value>, RequestError> {
        let number = msg
            .get("lookup")
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty() && s.len() <= MAX_QUERY)
            .ok_or_else(|| {
                RequestError::Field(format!(
                    "Lookup needs `lookup`, a number of at most {MAX_QUERY} bytes"
                ))
            })?;
        let ctx = NumberContext::from_json(msg, &self.context)?;
        if ctx.key(number).is_none() {
            return Err(RequestError::Field(format!(
                "`lookup` {:?} is not a phone number",
                number.chars().take(40).collect::<String>()
            )));
        }
        let index = self.index()?;
        let mut out: Vec<Value> = index
            .lookup(number, &ctx, MAX_LOOKUP)
            .into_iter()
            .map(|c| json!({"mt": "LookupInfo", "dn": c.dn(), "adjust": true, "contact": c.to_json()}))
            .collect();
        out.push(json!({"mt": "LookupResult"}));
        Ok(out)
    }

    /// Answers one request of either API (the relay provider's handler).
    pub fn handle(self: &Arc<Self>, api: &str, msg: &Value) -> Result<Vec<Value>, RequestError> {
        match (api, msg.get("mt").and_then(Value::as_str)) {
            (SEARCH_API, Some("Search")) => self.search(msg),
            (LOOKUP_API, Some("Lookup")) => self.lookup(msg),
            (_, mt) => Err(RequestError::Field(format!(
                "{api} has no request {:?} (Search on {SEARCH_API}, Lookup on {LOOKUP_API})",
                mt.unwrap_or("")
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
