//! Evolution Data Server's address books over D-Bus (zbus, blocking API; the connection is
//! made per load and dropped after it, which closes the books EDS opened for us).
//!
//! 1. The source registry (`org.gnome.evolution.dataserver.Sources5`, object manager at
//!    `/org/gnome/evolution/dataserver/SourceManager`) lists the sources; each
//!    `org.gnome.evolution.dataserver.Source` has a `UID` and `Data`, a key file. Those
//!    with an `[Address Book]` group and not `Enabled=false` are read.
//! 2. `AddressBookFactory.OpenAddressBook(uid)` (`…AddressBook10`) names the backend's
//!    object and bus name; `AddressBook.Open()` then `GetContactList(query)` gives every
//!    contact as vCard text, parsed by [`super::vcard`].
//!
//! Every call is bounded by [`TIMEOUT`], so a hung backend cannot hang a request for
//! longer.

use std::collections::HashMap;
use std::time::Duration;

use zbus::blocking::Connection;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};

use super::{Contact, Source, SourceError};

/// Longest any one D-Bus call may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
const REGISTRY: &str = "org.gnome.evolution.dataserver.Sources5";
const REGISTRY_PATH: &str = "/org/gnome/evolution/dataserver/SourceManager";
const SOURCE_IFACE: &str = "org.gnome.evolution.dataserver.Source";
const FACTORY: &str = "org.gnome.evolution.dataserver.AddressBook10";
const FACTORY_PATH: &str = "/org/gnome/evolution/dataserver/AddressBookFactory";
const FACTORY_IFACE: &str = "org.gnome.evolution.dataserver.AddressBookFactory";
const BOOK_IFACE: &str = "org.gnome.evolution.dataserver.AddressBook";
/// EDS's query for every contact (its S-expression language; "" is refused by some
/// backends).
const ALL: &str = r#"(contains "x-evolution-any-field" "")"#;

type Managed = HashMap<OwnedObjectPath, HashMap<String, HashMap<String, OwnedValue>>>;

/// Evolution Data Server on the session bus (or on `bus`).
pub struct Eds {
    bus: Option<String>,
}

impl Eds {
    /// EDS on the session bus, or on the bus at address `bus`.
    pub fn new(bus: Option<String>) -> Eds {
        Eds { bus }
    }

    fn connect(&self) -> zbus::Result<Connection> {
        let b = match &self.bus {
            Some(a) => zbus::blocking::connection::Builder::address(a.as_str())?,
            None => zbus::blocking::connection::Builder::session()?,
        };
        b.method_timeout(TIMEOUT).build()
    }

    /// The UIDs of the enabled address books.
    fn books(conn: &Connection) -> zbus::Result<Vec<String>> {
        let reply = conn.call_method(
            Some(REGISTRY),
            REGISTRY_PATH,
            Some("org.freedesktop.DBus.ObjectManager"),
            "GetManagedObjects",
            &(),
        )?;
        let objects: Managed = reply.body().deserialize()?;
        let mut uids = Vec::new();
        for ifaces in objects.values() {
            let Some(props) = ifaces.get(SOURCE_IFACE) else {
                continue;
            };
            let text = |k: &str| {
                props
                    .get(k)
                    .and_then(|v| String::try_from(v.try_clone().ok()?).ok())
            };
            let (Some(uid), Some(data)) = (text("UID"), text("Data")) else {
                continue;
            };
            if is_enabled_book(&data) {
                uids.push(uid);
            }
        }
        uids.sort();
        Ok(uids)
    }

    fn read_book(conn: &Connection, uid: &str) -> zbus::Result<Vec<String>> {
        let reply = conn.call_method(
            Some(FACTORY),
            FACTORY_PATH,
            Some(FACTORY_IFACE),
            "OpenAddressBook",
            &(uid,),
        )?;
        let (path, bus): (String, String) = reply.body().deserialize()?;
        let book = |method: &str| {
            conn.call_method(
                Some(bus.as_str()),
                path.as_str(),
                Some(BOOK_IFACE),
                method,
                &(),
            )
        };
        book("Open")?;
        let reply = conn.call_method(
            Some(bus.as_str()),
            path.as_str(),
            Some(BOOK_IFACE),
            "GetContactList",
            &(ALL,),
        )?;
        let cards: Vec<String> = reply.body().deserialize()?;
        if let Err(e) = book("Close") {
            tracing::debug!("EDS: closing {uid}: {e}");
        }
        Ok(cards)
    }
}

/// A source key file with an `[Address Book]` group whose `[Data Source]` does not say
/// `Enabled=false`.
fn is_enabled_book(data: &str) -> bool {
    let mut group = "";
    let mut book = false;
    let mut enabled = true;
    for line in data.lines().map(str::trim) {
        if let Some(g) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            group = g;
            book |= g == "Address Book";
        } else if group == "Data Source"
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == "Enabled"
        {
            enabled = v.trim() != "false";
        }
    }
    book && enabled
}

impl Source for Eds {
    fn name(&self) -> String {
        "Evolution Data Server".into()
    }

    fn load(&self) -> Result<Vec<Contact>, SourceError> {
        let unavailable = |e: zbus::Error| SourceError::Unavailable {
            name: self.name(),
            reason: e.to_string(),
        };
        let conn = self.connect().map_err(unavailable)?;
        let books = Eds::books(&conn).map_err(unavailable)?;
        let mut out = Vec::new();
        for uid in books {
            let cards = Eds::read_book(&conn, &uid).map_err(|e| SourceError::Failed {
                name: format!("{} address book {uid}", self.name()),
                reason: e.to_string(),
            })?;
            let mut bad = 0usize;
            for card in &cards {
                match super::vcard::parse(card) {
                    Ok(c) => out.extend(c),
                    Err(_) => bad += 1,
                }
            }
            if bad > 0 {
                tracing::warn!("EDS address book {uid}: {bad} contacts could not be read");
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::is_enabled_book;

    #[test]
    fn address_books_are_told_from_other_sources() {
        assert!(is_enabled_book(
            "[Data Source]\nDisplayName=Personal\nEnabled=true\n[Address Book]\nBackendName=local\n"
        ));
        assert!(!is_enabled_book(
            "[Data Source]\nEnabled=false\n[Address Book]\nBackendName=local\n"
        ));
        assert!(!is_enabled_book(
            "[Data Source]\n[Calendar]\nBackendName=local\n"
        ));
    }
}
