//! The PBX's settings for the launcher: `adminSettings` in the model of the web client's
//! `com.innovaphone.client` API (docs/public-protocols.md §4), each `{value, force}`.
//!
//! They arrive at run time, over the ApiRelay, once the web client is logged in. The app
//! keeps the last ones it received in a file of its own next to the user's settings
//! (`pbx-admin-settings.json` in the config folder's `myApps`: `~/.config/myApps` on
//! Linux, `%APPDATA%\myApps` on Windows, `~/Library/Application Support/myApps` on
//! macOS), so that they hold from the next start on before the PBX is reached, and so
//! that the settings window (its own process) can show them. Only the keys this app knows
//! are kept, so what a page sends cannot grow the file.
//!
//! Precedence ([`Settings::effective`]), lowest first: built-in default → unforced PBX
//! value → the store (user, else installer) → forced PBX value.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value as Json, json};

use super::typed::{Settings, check, def, invalid};
use super::{Error, SettingsStore, Value};

/// The `adminSettings` keys this app follows and the settings they set (keys of the
/// SDK's 13r1 example; `video` has no setting of ours).
pub const KEYS: [(&str, &str); 9] = [
    ("autostart", "AUTOSTART"),
    ("taskbar", "SHOWINTASKBAR"),
    ("offline", "APPEAROFFLINE"),
    ("hotkeyDial", "HOTKEYDIAL"),
    ("hotkeyAccept", "HOTKEYACCEPT"),
    ("hotkeyReject", "HOTKEYREJECT"),
    ("logFlags", "LOGFLAGS"),
    ("docking", "DOCKING"),
    ("notifications", "NOTIFICATIONS"),
];

/// The file the last received `adminSettings` are kept in.
pub const FILE_NAME: &str = "pbx-admin-settings.json";

/// Where the last received `adminSettings` are kept.
pub fn path() -> Result<PathBuf, Error> {
    let base = directories::BaseDirs::new()
        .ok_or_else(|| Error::NoLocation("no home directory for the config dir".into()))?;
    Ok(base.config_dir().join("myApps").join(FILE_NAME))
}

/// The `adminSettings` of a `com.innovaphone.client` model, cut to [`KEYS`], each entry
/// to `{value, force}`. `None` when the model has none (a PBX that sets nothing).
pub fn from_client_model(model: &Json) -> Option<Json> {
    let admin = model.get("adminSettings")?.as_object()?;
    let mut kept = Map::new();
    for (key, _) in KEYS {
        if let Some(entry) = admin.get(key).and_then(Json::as_object) {
            let mut e = Map::new();
            if let Some(v) = entry.get("value") {
                e.insert("value".into(), v.clone());
            }
            if let Some(f) = entry.get("force") {
                e.insert("force".into(), f.clone());
            }
            kept.insert(key.into(), Json::Object(e));
        }
    }
    Some(Json::Object(kept))
}

/// The kept `adminSettings`; none kept yet: `Ok(None)`.
pub fn load() -> Result<Option<Json>, Error> {
    load_from(&path()?)
}

/// [`load`] from an explicit file.
pub fn load_from(file: &std::path::Path) -> Result<Option<Json>, Error> {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::Io {
                what: "cannot read",
                path: file.to_owned(),
                source,
            });
        }
    };
    match serde_json::from_str::<Json>(&text) {
        Ok(v) if v.is_object() => Ok(Some(v)),
        Ok(_) => Err(Error::Corrupt {
            path: file.to_owned(),
            detail: "not a JSON object".into(),
        }),
        Err(e) => Err(Error::Corrupt {
            path: file.to_owned(),
            detail: e.to_string(),
        }),
    }
}

/// Keeps `admin` (already cut by [`from_client_model`]) unless it is what is kept
/// already; returns whether it changed. Written atomically (a temporary file renamed).
pub fn store(admin: &Json) -> Result<bool, Error> {
    store_at(&path()?, admin)
}

/// [`store`] to an explicit file.
pub fn store_at(file: &std::path::Path, admin: &Json) -> Result<bool, Error> {
    if load_from(file).ok().flatten().as_ref() == Some(admin) {
        return Ok(false);
    }
    let io = |what| {
        let path = file.to_owned();
        move |source| Error::Io { what, path, source }
    };
    let dir = file.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir).map_err(io("cannot create the folder of"))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".pbx-admin-settings.")
        .tempfile_in(dir)
        .map_err(io("cannot create a temporary file next to"))?;
    let text = format!("{admin:#}\n");
    std::io::Write::write_all(&mut tmp, text.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(io("cannot write a temporary file next to"))?;
    tmp.persist(file)
        .map_err(|e| io("cannot replace")(e.error))?;
    Ok(true)
}

/// Why a forced setting cannot be changed: the settings window, the tray and
/// `myapps settings set` say it.
pub const FORCED_REASON: &str = "set by your PBX administrator (adminSettings, forced)";

/// Whether `admin` (the kept `adminSettings`) forces `name`.
pub fn is_forced(admin: Option<&Json>, name: &str) -> bool {
    admin
        .and_then(|a| value_of(a, name))
        .is_some_and(|(_, forced)| forced)
}

/// Refuses a user's value for `name` when the kept `adminSettings` force it: it would
/// not apply ([`forced_error`]). The tray's toggles and `myapps settings set` ask this;
/// the settings window checks its whole submission with [`is_forced`].
pub fn refuse_if_forced(name: &str) -> Result<(), Error> {
    if is_forced(load()?.as_ref(), name) {
        return Err(forced_error(name));
    }
    Ok(())
}

/// The refusal of a user's change to a forced setting.
pub fn forced_error(name: &str) -> Error {
    invalid(
        name,
        format!("{FORCED_REASON}; your value would not apply, so it is not stored"),
    )
}

impl Settings {
    /// The settings in effect: the store's ([`Settings::load`]) with the kept
    /// `adminSettings` on top ([`Settings::apply_admin`]). Kept settings that cannot be
    /// read are a problem, not an error: the store's values still apply.
    pub fn effective(store: &dyn SettingsStore) -> Result<(Self, Vec<Error>), Error> {
        let (mut s, mut problems) = Settings::load(store)?;
        match load() {
            Ok(Some(admin)) => problems.extend(s.apply_admin(&admin)),
            Ok(None) => {}
            Err(e) => problems.push(e),
        }
        Ok((s, problems))
    }

    /// How long without input before the user appears offline; zero: never. The PBX's
    /// `offline` is in milliseconds and applies exactly; `APPEAROFFLINE` is in minutes.
    pub fn appear_offline(&self) -> Duration {
        self.appear_offline_exact
            .unwrap_or_else(|| Duration::from_secs(u64::from(self.appear_offline_minutes) * 60))
    }

    /// Applies the PBX's `adminSettings` (`{key: {value, force}}`): a forced entry
    /// overrides whatever is set; an unforced one only replaces a built-in default (the
    /// user's or installer's value wins over it). Returns problems with entries that do
    /// not validate (they are skipped).
    pub fn apply_admin(&mut self, admin: &Json) -> Vec<Error> {
        let mut problems = Vec::new();
        for (key, name) in KEYS {
            let Some(entry) = admin.get(key) else {
                continue;
            };
            let force = entry.get("force").and_then(Json::as_bool) == Some(true);
            if !force && self.stored.contains(name) {
                continue;
            }
            let mut exact = None;
            let value = match entry.get("value") {
                Some(Json::Bool(b)) => Value::U32(u32::from(*b)),
                // `offline` is in milliseconds (the SDK's example: 300000); our setting
                // is minutes, rounded up, and the exact time is kept for the watcher.
                Some(Json::Number(n)) if key == "offline" => {
                    let ms = n.as_u64().unwrap_or(0).min(u64::from(u32::MAX));
                    exact = Some(Duration::from_millis(ms));
                    Value::U32(u32::try_from(ms.div_ceil(60_000)).unwrap_or(u32::MAX))
                }
                Some(Json::Number(n)) => Value::Str(n.to_string()),
                Some(Json::String(s)) => Value::Str(s.clone()),
                other => {
                    problems.push(invalid(
                        name,
                        format!("adminSettings.{key}: unusable value {other:?}"),
                    ));
                    continue;
                }
            };
            let Some(d) = def(name) else { continue };
            match check(d, &value).and_then(|v| self.assign(d.name, &v)) {
                Ok(()) => {
                    if key == "offline" {
                        self.appear_offline_exact = exact;
                    }
                    if force {
                        self.forced.insert(d.name);
                    }
                }
                Err(e) => problems.push(e),
            }
        }
        problems
    }
}

/// The PBX's value of `name` as the settings window shows it, with whether it is forced
/// (`None`: the PBX says nothing about it).
pub fn value_of(admin: &Json, name: &str) -> Option<(Json, bool)> {
    let (key, _) = KEYS.iter().find(|(_, n)| *n == name)?;
    let entry = admin.get(*key)?;
    let force = entry.get("force").and_then(Json::as_bool) == Some(true);
    let v = entry.get("value")?;
    let shown = match v {
        Json::Number(n) if *key == "offline" => {
            json!(n.as_u64().unwrap_or(0).div_ceil(60_000).to_string())
        }
        Json::Number(n) => json!(n.to_string()),
        other => other.clone(),
    };
    Some((shown, force))
}

#[cfg(test)]
mod tests {
    use super::super::MemoryStore;
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn admin_precedence() {
        let mut store = MemoryStore::default();
        store.user.insert("AUTOSTART".into(), Value::U32(0));
        store
            .user
            .insert("LOGFLAGS".into(), Value::Str("0x40000001".into()));
        let (mut s, _) = Settings::load(&store).unwrap();
        let admin = json!({
            "autostart": {"value": true, "force": false},
            "taskbar": {"value": false, "force": true},
            "offline": {"value": 300000, "force": false},
            "hotkeyDial": {"value": "F8", "force": false},
            "hotkeyAccept": {"value": "CTRL + ALT + F9", "force": true},
            "hotkeyReject": {"value": "WIN + F10"},
            "logFlags": {"value": "1", "force": true},
            "docking": {"value": 0, "force": false},
            "notifications": {"value": [1], "force": true},
        });
        let problems = s.apply_admin(&admin);
        assert!(
            !s.autostart,
            "the user's value beats an unforced admin value"
        );
        assert!(!s.show_in_taskbar, "forced");
        assert_eq!(s.appear_offline_minutes, 5);
        assert_eq!(s.appear_offline(), Duration::from_secs(300));
        assert_eq!(s.hot_keys.dial.unwrap().to_string(), "F8");
        assert_eq!(s.hot_keys.accept.unwrap().to_string(), "CTRL + ALT + F9");
        assert_eq!(s.hot_keys.reject.unwrap().to_string(), "WIN + F10");
        assert_eq!(s.log_flags, 1, "forced beats the user's");
        assert_eq!(
            s.forced,
            BTreeSet::from(["SHOWINTASKBAR", "HOTKEYACCEPT", "LOGFLAGS"])
        );
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0]
                .to_string()
                .contains("adminSettings.notifications")
        );
    }

    #[test]
    fn offline_in_milliseconds_applies_exactly() {
        let mut s = Settings::default();
        assert_eq!(s.appear_offline(), Duration::from_secs(300), "the default");
        s.apply_admin(&json!({"offline": {"value": 3000, "force": true}}));
        assert_eq!(s.appear_offline(), Duration::from_millis(3000));
        assert_eq!(s.appear_offline_minutes, 1, "shown rounded up");
        s.apply_admin(&json!({"offline": {"value": 0, "force": true}}));
        assert_eq!(s.appear_offline(), Duration::ZERO, "0: never");
    }

    #[test]
    fn the_model_is_cut_to_known_keys_and_kept_once() {
        let model = json!({"launcher": true, "adminSettings": {
            "hotkeyDial": {"value": "F8", "force": true, "extra": "x".repeat(1000)},
            "unknown": {"value": 1},
            "video": {"value": true},
        }});
        let admin = from_client_model(&model).unwrap();
        assert_eq!(admin, json!({"hotkeyDial": {"value": "F8", "force": true}}));
        assert_eq!(from_client_model(&json!({"launcher": true})), None);

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a/pbx-admin-settings.json");
        assert_eq!(load_from(&file).unwrap(), None);
        assert!(store_at(&file, &admin).unwrap(), "first time: written");
        assert!(!store_at(&file, &admin).unwrap(), "same again: unchanged");
        assert_eq!(load_from(&file).unwrap(), Some(admin));
        std::fs::write(&file, "[1]").unwrap();
        assert!(matches!(load_from(&file), Err(Error::Corrupt { .. })));
        assert_eq!(
            value_of(
                &json!({"offline": {"value": 120000, "force": true}}),
                "APPEAROFFLINE"
            ),
            Some((json!("2"), true))
        );
    }
}
