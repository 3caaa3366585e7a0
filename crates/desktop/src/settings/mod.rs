//! Settings stored the OS way, behind one trait, one module per platform (as wry does):
//!
//! | OS | user values (read/write) | installer/machine values (read-only) |
//! |---|---|---|
//! | Linux and other Unix ([`file`]) | `$XDG_CONFIG_HOME/myApps/settings.json` | `myApps/settings.json` in the first `$XDG_CONFIG_DIRS` entry that has one (default `/etc/xdg`) |
//! | Windows (`windows`) | `HKCU\Software\innovaphone\myApps` | `HKLM\SOFTWARE\WOW6432Node\innovaphone\myApps`, then `HKLM\SOFTWARE\innovaphone\myApps` |
//! | macOS (`macos`) | user defaults of `com.innovaphone.myApps` | the same domain's managed (MDM) values, which user defaults already layer in |
//!
//! Values are strings or `u32` (the registry's `REG_SZ` and `REG_DWORD`; booleans are
//! DWORD 0/1 as the wiki's installer section says). Names are the installer's property
//! names (`SERVER`, `DISABLELOCALHOST`, `EXCLUDEINTERFACES`, …; see [`typed`] for the
//! full list). Names are ASCII letters, digits and `_`, at most 64 characters, and
//! case-insensitive as registry value names are: every backend stores them upper-case.
//!
//! **Precedence** ([`SettingsStore::get`]): the user's value wins over the machine's
//! installer value (the installer pre-sets, the user changes). The PBX's `adminSettings`
//! with `force` win over both; they arrive at run time over the web client, not from a
//! store, so the typed view applies them ([`admin`], [`typed::Settings::effective`]). A machine
//! value is never written or removed by this crate (`remove` only drops the user's value,
//! which makes the installer value visible again).

pub mod admin;
pub mod form;
pub mod typed;

#[cfg(not(any(windows, target_os = "macos")))]
pub mod file;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(windows)]
mod windows;

use std::fmt;
use std::path::PathBuf;

/// A stored value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `REG_SZ`, a JSON string, an NSString.
    Str(String),
    /// `REG_DWORD`, a JSON number, an NSNumber.
    U32(u32),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::U32(n) => write!(f, "{n}"),
        }
    }
}

/// Where a value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The user's own settings (HKCU, the XDG config file, user defaults).
    User,
    /// Installer/machine-wide values (HKLM, `/etc/xdg`, managed preferences).
    Machine,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::User => "user",
            Source::Machine => "machine",
        })
    }
}

/// A settings error; the message says what and where.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A name outside `[A-Za-z0-9_]{1,64}`.
    #[error("invalid setting name {0:?}: letters, digits and _ only, 1 to 64 characters")]
    Name(String),
    /// The settings file is not what we write. It is left in place (reads fail) until
    /// [`file::FileStore::recover`] moves it aside.
    #[error("settings file {path} is corrupt ({detail}); it has not been changed")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// Reading or writing failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file, registry key or defaults domain.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A stored value has a type this crate does not use (e.g. `REG_BINARY`).
    #[error("{name}: stored as {found}, expected a string or a 32-bit number")]
    Type {
        /// The setting.
        name: String,
        /// What was found.
        found: String,
    },
    /// A value that does not fit the setting ([`typed`]).
    #[error("{name}: {msg}")]
    Invalid {
        /// The setting.
        name: String,
        /// Why.
        msg: String,
    },
    /// No place to store settings (no home directory).
    #[error("no settings location: {0}")]
    NoLocation(String),
}

/// A store of named settings. Implementations: [`open`] picks the platform's.
pub trait SettingsStore {
    /// The effective value: the user's, else the machine's (see the module docs).
    fn get(&self, name: &str) -> Result<Option<(Value, Source)>, Error>;
    /// Sets the user's value.
    fn set(&mut self, name: &str, value: Value) -> Result<(), Error>;
    /// Removes the user's value; `true` if there was one.
    fn remove(&mut self, name: &str) -> Result<bool, Error>;
    /// Every effective value, sorted by name.
    fn list(&self) -> Result<Vec<(String, Value, Source)>, Error>;
    /// Where the user's values live, for messages (`HKCU\…`, a path, a domain).
    fn location(&self) -> String;

    /// The effective value as a string (a number is formatted).
    fn get_str(&self, name: &str) -> Result<Option<String>, Error> {
        Ok(self.get(name)?.map(|(v, _)| v.to_string()))
    }
    /// The effective value as a number (a string must parse as one).
    fn get_u32(&self, name: &str) -> Result<Option<u32>, Error> {
        match self.get(name)? {
            None => Ok(None),
            Some((Value::U32(n), _)) => Ok(Some(n)),
            Some((Value::Str(s), _)) => s.trim().parse().map(Some).map_err(|_| Error::Invalid {
                name: name.to_owned(),
                msg: format!("{s:?} is not a number"),
            }),
        }
    }
    /// Sets a string.
    fn set_str(&mut self, name: &str, value: &str) -> Result<(), Error> {
        self.set(name, Value::Str(value.to_owned()))
    }
    /// Sets a number.
    fn set_u32(&mut self, name: &str, value: u32) -> Result<(), Error> {
        self.set(name, Value::U32(value))
    }
}

/// Checks a name and returns its stored (upper-case) form.
pub fn canonical_name(name: &str) -> Result<String, Error> {
    if name.is_empty()
        || name.len() > 64
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(Error::Name(name.to_owned()));
    }
    Ok(name.to_ascii_uppercase())
}

/// The platform's store for the current user.
pub fn open() -> Result<Box<dyn SettingsStore>, Error> {
    #[cfg(not(any(windows, target_os = "macos")))]
    {
        Ok(Box::new(file::FileStore::for_user()?))
    }
    #[cfg(windows)]
    {
        Ok(Box::new(windows::RegistryStore::new()))
    }
    #[cfg(target_os = "macos")]
    {
        Ok(Box::new(macos::DefaultsStore::new()))
    }
}

/// Stores a yes/no setting in the user's store (the tray's toggles, `myapps autostart
/// on|off`); returns the store. A value the PBX forces is refused with the reason
/// ([`admin::forced_error`]): the user's value would not apply.
pub fn store_bool(name: &str, on: bool) -> Result<Box<dyn SettingsStore>, Error> {
    let (def, value) = typed::parse_input(name, if on { "1" } else { "0" })?;
    admin::refuse_if_forced(def.name)?;
    let mut store = open()?;
    store.set(def.name, value)?;
    Ok(store)
}

/// A store in memory (tests, `--demo`), with optional machine values.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    /// User values by canonical name.
    pub user: std::collections::BTreeMap<String, Value>,
    /// Machine values by canonical name.
    pub machine: std::collections::BTreeMap<String, Value>,
}

impl SettingsStore for MemoryStore {
    fn get(&self, name: &str) -> Result<Option<(Value, Source)>, Error> {
        let n = canonical_name(name)?;
        Ok(layered(
            self.user.get(&n).cloned(),
            self.machine.get(&n).cloned(),
        ))
    }
    fn set(&mut self, name: &str, value: Value) -> Result<(), Error> {
        self.user.insert(canonical_name(name)?, value);
        Ok(())
    }
    fn remove(&mut self, name: &str) -> Result<bool, Error> {
        Ok(self.user.remove(&canonical_name(name)?).is_some())
    }
    fn list(&self) -> Result<Vec<(String, Value, Source)>, Error> {
        Ok(merge(
            self.user.clone().into_iter().collect(),
            self.machine.clone().into_iter().collect(),
        ))
    }
    fn location(&self) -> String {
        "memory".into()
    }
}

/// The precedence rule, in one place: user over machine.
#[cfg_attr(target_os = "macos", allow(dead_code))]
pub(crate) fn layered(user: Option<Value>, machine: Option<Value>) -> Option<(Value, Source)> {
    user.map(|v| (v, Source::User))
        .or_else(|| machine.map(|v| (v, Source::Machine)))
}

/// Merges two listings by the precedence rule, sorted by name.
#[cfg_attr(target_os = "macos", allow(dead_code))]
pub(crate) fn merge(
    user: Vec<(String, Value)>,
    machine: Vec<(String, Value)>,
) -> Vec<(String, Value, Source)> {
    let mut all = std::collections::BTreeMap::new();
    for (n, v) in machine {
        all.insert(n.to_ascii_uppercase(), (v, Source::Machine));
    }
    for (n, v) in user {
        all.insert(n.to_ascii_uppercase(), (v, Source::User));
    }
    all.into_iter().map(|(n, (v, s))| (n, v, s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(canonical_name("server").unwrap(), "SERVER");
        assert_eq!(canonical_name("Log_Flags2").unwrap(), "LOG_FLAGS2");
        for bad in ["", "a b", "a\\b", "ä", &"x".repeat(65)] {
            assert!(matches!(canonical_name(bad), Err(Error::Name(_))), "{bad}");
        }
    }

    #[test]
    fn user_wins_over_machine_and_remove_reveals_it() {
        let mut s = MemoryStore::default();
        s.machine
            .insert("SERVER".into(), Value::Str("installer.example".into()));
        assert_eq!(
            s.get("server").unwrap(),
            Some((Value::Str("installer.example".into()), Source::Machine))
        );
        s.set_str("Server", "mine.example").unwrap();
        assert_eq!(
            s.get_str("SERVER").unwrap().as_deref(),
            Some("mine.example")
        );
        assert_eq!(s.list().unwrap().len(), 1);
        assert!(s.remove("SERVER").unwrap());
        assert_eq!(
            s.get_str("SERVER").unwrap().as_deref(),
            Some("installer.example")
        );
        s.set_u32("X", 7).unwrap();
        assert_eq!(s.get_u32("x").unwrap(), Some(7));
        s.set_str("Y", "nope").unwrap();
        assert!(
            s.get_u32("Y")
                .unwrap_err()
                .to_string()
                .contains("not a number")
        );
    }
}
