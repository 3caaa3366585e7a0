//! Windows backend: the registry, through Microsoft's `windows-registry` crate (safe API,
//! part of windows-rs whose `windows-link`/`windows-result`/`windows-strings` are already
//! in our tree; `winreg` would have added another `windows-sys` for the same job).
//!
//! * User values: `HKCU\Software\innovaphone\myApps`, created on the first write.
//! * Installer values (read-only; the MSI writes them, see the wiki's "MSI Parameters"):
//!   `HKLM\SOFTWARE\WOW6432Node\innovaphone\myApps` (where the 32-bit MSI's values land
//!   on 64-bit Windows), then `HKLM\SOFTWARE\innovaphone\myApps`; the first key that has
//!   the value wins.
//! * `REG_DWORD` ↔ [`Value::U32`], `REG_SZ` and `REG_EXPAND_SZ` (unexpanded) →
//!   [`Value::Str`]; other types are reported by `get` as [`Error::Type`] and left out of
//!   `list`. Registry value names ignore case, like our names.

use std::path::PathBuf;

use windows_registry::{CURRENT_USER, Key, LOCAL_MACHINE, Type};

use super::{Error, SettingsStore, Source, Value, canonical_name, layered, merge};

/// Path of the user key below HKCU.
pub const USER_KEY: &str = r"Software\innovaphone\myApps";
/// Machine keys below HKLM, in the order they are consulted.
pub const MACHINE_KEYS: [&str; 2] = [
    r"SOFTWARE\WOW6432Node\innovaphone\myApps",
    r"SOFTWARE\innovaphone\myApps",
];

/// `HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)`: the key or value does not exist.
const NOT_FOUND: i32 = 0x8007_0002_u32 as i32;

/// The registry store of the current user.
#[derive(Debug, Default)]
pub struct RegistryStore;

impl RegistryStore {
    /// The store (nothing is opened until used).
    pub fn new() -> Self {
        Self
    }
}

fn io_err(what: &'static str, path: String, e: windows_result::Error) -> Error {
    Error::Io {
        what,
        path: PathBuf::from(path),
        source: std::io::Error::other(format!("{} (0x{:08X})", e.message(), e.code().0)),
    }
}

/// Opens a key for reading; `None` when it does not exist.
fn open_read(root: &Key, root_name: &str, path: &str) -> Result<Option<Key>, Error> {
    match root.options().read().open(path) {
        Ok(k) => Ok(Some(k)),
        Err(e) if e.code().0 == NOT_FOUND => Ok(None),
        Err(e) => Err(io_err("cannot open", format!(r"{root_name}\{path}"), e)),
    }
}

/// Reads one value; `None` when absent.
fn read_value(key: &Key, where_: &str, name: &str) -> Result<Option<Value>, Error> {
    let ty = match key.get_type(name) {
        Ok(t) => t,
        Err(e) if e.code().0 == NOT_FOUND => return Ok(None),
        Err(e) => return Err(io_err("cannot read", format!(r"{where_}\{name}"), e)),
    };
    let read_err = |e| io_err("cannot read", format!(r"{where_}\{name}"), e);
    match ty {
        Type::U32 => key
            .get_u32(name)
            .map(|n| Some(Value::U32(n)))
            .map_err(read_err),
        Type::String | Type::ExpandString => key
            .get_string(name)
            .map(|s| Some(Value::Str(s)))
            .map_err(read_err),
        other => Err(Error::Type {
            name: name.to_owned(),
            found: format!("{other:?} in {where_}"),
        }),
    }
}

fn values_of(key: &Key) -> Vec<(String, Value)> {
    let Ok(iter) = key.values() else {
        return Vec::new();
    };
    iter.filter_map(|(name, v)| {
        let value = match v.ty() {
            Type::U32 => u32::try_from(v).ok().map(Value::U32)?,
            Type::String | Type::ExpandString => String::try_from(v).ok().map(Value::Str)?,
            _ => return None,
        };
        canonical_name(&name).ok().map(|n| (n, value))
    })
    .collect()
}

impl RegistryStore {
    fn machine_value(&self, name: &str) -> Result<Option<Value>, Error> {
        for path in MACHINE_KEYS {
            if let Some(key) = open_read(LOCAL_MACHINE, "HKLM", path)?
                && let Some(v) = read_value(&key, &format!(r"HKLM\{path}"), name)?
            {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    fn user_key_write(&self) -> Result<Key, Error> {
        CURRENT_USER
            .create(USER_KEY)
            .map_err(|e| io_err("cannot create", format!(r"HKCU\{USER_KEY}"), e))
    }
}

impl SettingsStore for RegistryStore {
    fn get(&self, name: &str) -> Result<Option<(Value, Source)>, Error> {
        let n = canonical_name(name)?;
        let user = match open_read(CURRENT_USER, "HKCU", USER_KEY)? {
            Some(k) => read_value(&k, &format!(r"HKCU\{USER_KEY}"), &n)?,
            None => None,
        };
        let machine = if user.is_none() {
            self.machine_value(&n)?
        } else {
            None
        };
        Ok(layered(user, machine))
    }

    fn set(&mut self, name: &str, value: Value) -> Result<(), Error> {
        let n = canonical_name(name)?;
        let key = self.user_key_write()?;
        let r = match &value {
            Value::Str(s) => key.set_string(&n, s),
            Value::U32(v) => key.set_u32(&n, *v),
        };
        r.map_err(|e| io_err("cannot write", format!(r"HKCU\{USER_KEY}\{n}"), e))
    }

    fn remove(&mut self, name: &str) -> Result<bool, Error> {
        let n = canonical_name(name)?;
        let Some(_) = open_read(CURRENT_USER, "HKCU", USER_KEY)? else {
            return Ok(false);
        };
        let key = self.user_key_write()?;
        match key.remove_value(&n) {
            Ok(()) => Ok(true),
            Err(e) if e.code().0 == NOT_FOUND => Ok(false),
            Err(e) => Err(io_err("cannot remove", format!(r"HKCU\{USER_KEY}\{n}"), e)),
        }
    }

    fn list(&self) -> Result<Vec<(String, Value, Source)>, Error> {
        let user = match open_read(CURRENT_USER, "HKCU", USER_KEY)? {
            Some(k) => values_of(&k),
            None => Vec::new(),
        };
        let mut machine = Vec::new();
        // Reverse order, so the first machine key's values win in `merge`'s map.
        for path in MACHINE_KEYS.iter().rev() {
            if let Some(k) = open_read(LOCAL_MACHINE, "HKLM", path)? {
                machine.extend(values_of(&k));
            }
        }
        Ok(merge(user, machine))
    }

    fn location(&self) -> String {
        format!(r"HKCU\{USER_KEY}")
    }
}
