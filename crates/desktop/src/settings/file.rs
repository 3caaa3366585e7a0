//! Linux (and other non-Windows, non-macOS) backend: a JSON object in the XDG config
//! directory, `{"SERVER":"pbx.example.com","DISABLELOCALHOST":1}`.
//!
//! * User file: `$XDG_CONFIG_HOME/myApps/settings.json` (`~/.config/…` by default; the
//!   `directories` crate resolves it). Machine file (read-only, the installer's values):
//!   `myApps/settings.json` under the first `$XDG_CONFIG_DIRS` entry that has one
//!   (default `/etc/xdg`).
//! * Every operation reads the file anew, so two processes (the app and `myapps settings
//!   set`) see each other's changes; a write reads, changes one value and writes the whole
//!   object back.
//! * Writes are atomic: a temporary file in the same directory, flushed to disk, then
//!   renamed over the old one; a crash leaves the old or the new file, never half of one.
//! * A file that is not a JSON object of strings and non-negative 32-bit numbers is
//!   *corrupt*: reads and writes fail with [`Error::Corrupt`] naming the file and the
//!   problem, and the file is left alone. [`FileStore::recover`] moves it aside to
//!   `settings.json.corrupt-<unix seconds>` (kept for the user to look at) so writing can
//!   start afresh; callers say so to the user. A missing file is an empty one.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Map;

use super::{Error, SettingsStore, Source, Value, canonical_name, layered, merge};

/// The settings file of one user plus the machine's read-only file.
#[derive(Clone, Debug)]
pub struct FileStore {
    user: PathBuf,
    machine: Option<PathBuf>,
}

/// File name inside the `myApps` config folder.
pub const FILE_NAME: &str = "settings.json";
/// Folder name inside the config directory.
pub const DIR_NAME: &str = "myApps";

impl FileStore {
    /// The current user's store (XDG).
    pub fn for_user() -> Result<Self, Error> {
        let base = directories::BaseDirs::new()
            .ok_or_else(|| Error::NoLocation("no home directory for the XDG config dir".into()))?;
        let user = base.config_dir().join(DIR_NAME).join(FILE_NAME);
        let dirs = std::env::var("XDG_CONFIG_DIRS")
            .ok()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "/etc/xdg".into());
        let machine = dirs
            .split(':')
            .filter(|d| Path::new(d).is_absolute())
            .map(|d| Path::new(d).join(DIR_NAME).join(FILE_NAME))
            .find(|p| p.is_file());
        Ok(Self { user, machine })
    }

    /// A store on explicit files (tests, a portable setup).
    pub fn at(user: impl Into<PathBuf>, machine: Option<PathBuf>) -> Self {
        Self {
            user: user.into(),
            machine,
        }
    }

    /// The user file.
    pub fn path(&self) -> &Path {
        &self.user
    }

    /// Moves a corrupt user file aside and returns where it went; `None` when the file
    /// was fine or absent (nothing moved).
    pub fn recover(&self) -> Result<Option<PathBuf>, Error> {
        match read_file(&self.user) {
            Err(Error::Corrupt { .. }) => {}
            _ => return Ok(None),
        }
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut aside = self.user.with_extension(format!("json.corrupt-{secs}"));
        let mut n = 1;
        while aside.exists() {
            aside = self.user.with_extension(format!("json.corrupt-{secs}-{n}"));
            n += 1;
        }
        std::fs::rename(&self.user, &aside).map_err(|source| Error::Io {
            what: "cannot move aside the corrupt settings file",
            path: self.user.clone(),
            source,
        })?;
        Ok(Some(aside))
    }

    fn machine_values(&self) -> Result<BTreeMap<String, Value>, Error> {
        match &self.machine {
            Some(p) => read_file(p),
            None => Ok(BTreeMap::new()),
        }
    }

    fn write(&self, values: &BTreeMap<String, Value>) -> Result<(), Error> {
        let dir = self.user.parent().unwrap_or(Path::new("."));
        let io = |what| {
            let path = self.user.clone();
            move |source| Error::Io { what, path, source }
        };
        std::fs::create_dir_all(dir).map_err(io("cannot create the folder of"))?;
        let obj: Map<String, serde_json::Value> = values
            .iter()
            .map(|(k, v)| {
                let j = match v {
                    Value::Str(s) => serde_json::Value::from(s.as_str()),
                    Value::U32(n) => serde_json::Value::from(*n),
                };
                (k.clone(), j)
            })
            .collect();
        let mut text = serde_json::to_string_pretty(&obj)
            .map_err(|e| io("cannot serialise")(std::io::Error::other(e)))?;
        text.push('\n');
        let mut tmp = tempfile::Builder::new()
            .prefix(".settings.json.")
            .tempfile_in(dir)
            .map_err(io("cannot create a temporary file next to"))?;
        tmp.write_all(text.as_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(io("cannot write a temporary file next to"))?;
        tmp.persist(&self.user)
            .map_err(|e| io("cannot replace")(e.error))?;
        Ok(())
    }
}

/// Reads one settings file; absent → empty.
fn read_file(path: &Path) -> Result<BTreeMap<String, Value>, Error> {
    let text = match std::fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => {
            return Err(Error::Io {
                what: "cannot read",
                path: path.to_owned(),
                source,
            });
        }
    };
    let corrupt = |detail: String| Error::Corrupt {
        path: path.to_owned(),
        detail,
    };
    let json: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| corrupt(format!("not JSON: {e}")))?;
    let serde_json::Value::Object(obj) = json else {
        return Err(corrupt("not a JSON object".into()));
    };
    let mut out = BTreeMap::new();
    for (k, v) in obj {
        let name = canonical_name(&k).map_err(|_| corrupt(format!("invalid name {k:?}")))?;
        let value = match v {
            serde_json::Value::String(s) => Value::Str(s),
            serde_json::Value::Number(n) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Value::U32)
                .ok_or_else(|| corrupt(format!("{k}: {n} is not a 32-bit unsigned number")))?,
            other => return Err(corrupt(format!("{k}: {other} is not a string or number"))),
        };
        if out.insert(name, value).is_some() {
            return Err(corrupt(format!("{k}: given twice (names ignore case)")));
        }
    }
    Ok(out)
}

impl SettingsStore for FileStore {
    fn get(&self, name: &str) -> Result<Option<(Value, Source)>, Error> {
        let n = canonical_name(name)?;
        let user = read_file(&self.user)?.remove(&n);
        let machine = self.machine_values()?.remove(&n);
        Ok(layered(user, machine))
    }

    fn set(&mut self, name: &str, value: Value) -> Result<(), Error> {
        let n = canonical_name(name)?;
        let mut values = read_file(&self.user)?;
        values.insert(n, value);
        self.write(&values)
    }

    fn remove(&mut self, name: &str) -> Result<bool, Error> {
        let n = canonical_name(name)?;
        let mut values = read_file(&self.user)?;
        if values.remove(&n).is_none() {
            return Ok(false);
        }
        self.write(&values)?;
        Ok(true)
    }

    fn list(&self) -> Result<Vec<(String, Value, Source)>, Error> {
        Ok(merge(
            read_file(&self.user)?.into_iter().collect(),
            self.machine_values()?.into_iter().collect(),
        ))
    }

    fn location(&self) -> String {
        self.user.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_atomic_and_layered() {
        let dir = tempfile::tempdir().unwrap();
        let machine = dir.path().join("etc/settings.json");
        std::fs::create_dir_all(machine.parent().unwrap()).unwrap();
        std::fs::write(
            &machine,
            r#"{"SERVER":"installer.example","DISABLELOCALHOST":1}"#,
        )
        .unwrap();
        let user = dir.path().join("cfg/myApps/settings.json");
        let mut s = FileStore::at(&user, Some(machine.clone()));
        assert_eq!(
            s.get("SERVER").unwrap(),
            Some((Value::Str("installer.example".into()), Source::Machine))
        );
        s.set_str("server", "pbx.example.com").unwrap();
        s.set_u32("APPEAROFFLINE", 10).unwrap();
        assert_eq!(
            s.get_str("SERVER").unwrap().as_deref(),
            Some("pbx.example.com")
        );
        assert_eq!(s.get_u32("appearoffline").unwrap(), Some(10));
        // A second store on the same file sees the values (re-read on every call).
        let other = FileStore::at(&user, None);
        assert_eq!(other.get_u32("APPEAROFFLINE").unwrap(), Some(10));
        let text = std::fs::read_to_string(&user).unwrap();
        assert_eq!(
            text,
            "{\n  \"APPEAROFFLINE\": 10,\n  \"SERVER\": \"pbx.example.com\"\n}\n"
        );
        // No temporary files left behind.
        assert_eq!(
            std::fs::read_dir(user.parent().unwrap()).unwrap().count(),
            1
        );
        let list = s.list().unwrap();
        assert_eq!(
            list,
            vec![
                ("APPEAROFFLINE".into(), Value::U32(10), Source::User),
                ("DISABLELOCALHOST".into(), Value::U32(1), Source::Machine),
                (
                    "SERVER".into(),
                    Value::Str("pbx.example.com".into()),
                    Source::User
                ),
            ]
        );
        assert!(s.remove("SERVER").unwrap());
        assert!(!s.remove("SERVER").unwrap());
        assert_eq!(s.get("SERVER").unwrap().unwrap().1, Source::Machine);
        // The machine file is never written.
        assert_eq!(
            std::fs::read_to_string(&machine).unwrap(),
            r#"{"SERVER":"installer.example","DISABLELOCALHOST":1}"#
        );
    }

    #[test]
    fn corrupt_file_is_reported_kept_and_moved_aside() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("settings.json");
        let cases = [
            ("{\"SERVER\":", "not JSON"),
            ("[1,2]", "not a JSON object"),
            ("{\"A\":-1}", "A: -1 is not a 32-bit unsigned number"),
            ("{\"A\":4294967296}", "is not a 32-bit unsigned number"),
            ("{\"A\":true}", "A: true is not a string or number"),
            ("{\"a b\":1}", "invalid name"),
            ("{\"a\":1,\"A\":2}", "given twice"),
            ("\u{feff}\u{0}garbage", "not JSON"),
        ];
        for (content, want) in cases {
            std::fs::write(&user, content).unwrap();
            let mut s = FileStore::at(&user, None);
            let e = s.get("SERVER").unwrap_err().to_string();
            assert!(
                e.contains(want) && e.contains("settings.json"),
                "{content}: {e}"
            );
            let e = s.set_str("SERVER", "x").unwrap_err();
            assert!(matches!(e, Error::Corrupt { .. }), "{e}");
            assert_eq!(
                std::fs::read_to_string(&user).unwrap(),
                content,
                "left alone"
            );
            let aside = s.recover().unwrap().expect("moved");
            assert_eq!(std::fs::read_to_string(&aside).unwrap(), content);
            assert!(
                aside
                    .file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with("settings.json.corrupt-")
            );
            s.set_str("SERVER", "x").unwrap();
            assert_eq!(s.get_str("SERVER").unwrap().as_deref(), Some("x"));
            assert_eq!(s.recover().unwrap(), None, "a good file stays");
            std::fs::remove_file(&user).unwrap();
        }
    }

    #[test]
    fn missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let s = FileStore::at(dir.path().join("none/settings.json"), None);
        assert_eq!(s.get("SERVER").unwrap(), None);
        assert_eq!(s.list().unwrap(), vec![]);
        assert_eq!(s.recover().unwrap(), None);
    }
}
