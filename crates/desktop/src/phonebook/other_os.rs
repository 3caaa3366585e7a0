//! The phone book's sources on Windows (Outlook / Windows contacts) and macOS (Contacts):
//! not built yet. Each is a [`Source`] that says so, so the providers answer every
//! request with that text instead of an empty result that would look like "no match".

use super::{Contact, Source, SourceError};

/// The OS's own address book, not read yet on this OS.
pub struct NotBuilt;

impl Source for NotBuilt {
    fn name(&self) -> String {
        if cfg!(windows) {
            "Outlook contacts".into()
        } else {
            "macOS Contacts".into()
        }
    }

    fn load(&self) -> Result<Vec<Contact>, SourceError> {
        Err(SourceError::Unavailable {
            name: self.name(),
            reason: "not built yet on this OS".into(),
        })
    }
}
