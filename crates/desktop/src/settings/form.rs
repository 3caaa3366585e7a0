//! The settings window's data, without the window: [`model`] is what the page shows (every
//! known setting with its effective value, where it comes from and how to edit it), and
//! [`apply`] takes what the user submitted.
//!
//! A submission is all or nothing: every changed field is checked first, and when one does
//! not validate nothing is written and each bad field gets its message (the page marks
//! it). An emptied text field removes the user's value, so the installer's value (or the
//! default) applies again. The page is ours (`assets/shell/settings.html`), but what it
//! posts is still checked here like any input.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

use super::admin;
use super::typed::{DEFS, Def, Kind, Settings, check};
use super::{Error, SettingsStore, Source, Value};

/// The settings as the reference page groups them, in its order: the server (its "Server
/// configuration"), the user's "Platform specific settings" (its table's order), the
/// installer's "MSI parameters", and this app's own.
pub const GROUPS: [(&str, &[&str]); 4] = [
    ("server", &["SERVER"]),
    (
        "platform",
        &[
            "AUTOSTART",
            "APPEAROFFLINE",
            "HOTKEYDIAL",
            "HOTKEYACCEPT",
            "HOTKEYREJECT",
            "DOCKING",
            "NOTIFICATIONS",
            "EXCLUDEVPN",
            "SHOWINTASKBAR",
            "LOGFLAGS",
            "EXTERNALAPPS",
            "RINGINHEADSET",
        ],
    ),
    (
        "installer",
        &[
            "DISABLELOCALHOST",
            "EXCLUDEINTERFACES",
            "DISABLEHEADSETS",
            "OFFICEPRESENCE",
            "FASTERDOWNLOADS",
        ],
    ),
    (
        "app",
        &[
            "COUNTRYCODE",
            "AREACODE",
            "CONTACTSFOLDER",
            "WEBRTC",
            "USERAGENTTOKEN",
        ],
    ),
];

/// The page's model: `{"location", "settings":[{name, group, kind, help, value, source,
/// forced, min, max}], "problems":{name: message}}`, in the order of [`GROUPS`]. `value` is a bool for yes/no
/// settings, a string otherwise (empty when unset); `source` is `user`, `machine`, `pbx`
/// or `default`; `forced` says the PBX's `adminSettings` force it (the page greys it out
/// and says why, [`admin::FORCED_REASON`]). `admin` is the kept `adminSettings`
/// ([`admin::load`]).
pub fn model(store: &dyn SettingsStore, admin: Option<&Json>) -> Result<Json, Error> {
    let mut settings = Vec::new();
    let mut problems = Map::new();
    let grouped = GROUPS
        .iter()
        .flat_map(|(g, names)| names.iter().map(move |n| (*g, *n)));
    for (group, d) in grouped.filter_map(|(g, n)| Some((g, DEFS.iter().find(|d| d.name == n)?))) {
        let stored = store.get(d.name)?;
        let pbx = admin.and_then(|a| admin::value_of(a, d.name));
        let forced = pbx.as_ref().is_some_and(|(_, f)| *f);
        let (value, source) = match (&stored, pbx) {
            (_, Some((v, true))) | (None, Some((v, false))) => (pbx_shown(d, v), "pbx".into()),
            (Some((v, s)), _) => {
                if let Err(e) = check(d, v) {
                    problems.insert(d.name.into(), json!(e.to_string()));
                }
                (shown(d, Some(v)), s.to_string())
            }
            (None, None) => (shown(d, None), "default".to_owned()),
        };
        let (min, max) = match d.kind {
            Kind::Number { min, max } => (json!(min), json!(max)),
            _ => (Json::Null, Json::Null),
        };
        settings.push(json!({
            "name": d.name,
            "group": group,
            "kind": kind_name(d.kind),
            "help": d.help,
            "value": value,
            "source": source,
            "forced": forced,
            "min": min,
            "max": max,
        }));
    }
    Ok(json!({
        "location": store.location(),
        "settings": settings,
        "problems": problems,
    }))
}

/// Writes the settings in `changes` (`{name: value}`: a bool or a string, as in the
/// model). Returns the names written or removed, or the message for each field that did
/// not validate or that the PBX forces (then nothing was written).
pub fn apply(
    store: &mut dyn SettingsStore,
    changes: &Map<String, Json>,
    admin: Option<&Json>,
) -> Result<Vec<&'static str>, BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    let mut writes: Vec<(&'static Def, Option<Value>)> = Vec::new();
    for (name, v) in changes {
        let Some(d) = DEFS.iter().find(|d| d.name == name) else {
            errors.insert(name.clone(), "not a setting this app knows".to_owned());
            continue;
        };
        if admin::is_forced(admin, d.name) {
            errors.insert(name.clone(), admin::FORCED_REASON.to_owned());
            continue;
        }
        let text = match v {
            Json::Bool(b) => u32::from(*b).to_string(),
            Json::String(s) => s.clone(),
            Json::Number(n) => n.to_string(),
            _ => {
                errors.insert(name.clone(), format!("unexpected value {v}"));
                continue;
            }
        };
        if text.trim().is_empty() && d.kind != Kind::Bool {
            writes.push((d, None));
            continue;
        }
        match check(d, &Value::Str(text)) {
            Ok(v) => writes.push((d, Some(v))),
            Err(e) => {
                // The message without the "NAME: " the CLI needs; the page shows it under
                // the field.
                let msg = match e {
                    Error::Invalid { msg, .. } => msg,
                    other => other.to_string(),
                };
                errors.insert(name.clone(), msg);
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut done = Vec::new();
    for (d, v) in writes {
        let r = match v {
            Some(v) => store.set(d.name, v).map(|()| true),
            None => store.remove(d.name),
        };
        match r {
            Ok(_) => done.push(d.name),
            Err(e) => {
                errors.insert(d.name.to_owned(), e.to_string());
            }
        }
    }
    if errors.is_empty() {
        Ok(done)
    } else {
        Err(errors)
    }
}

/// The value as the page edits it; an unset one shows its built-in default
/// ([`Settings::default_of`]).
fn shown(d: &Def, v: Option<&Value>) -> Json {
    match (d.kind, v) {
        (Kind::Bool, Some(v)) => json!(check(d, v).is_ok_and(|v| v == Value::U32(1))),
        (_, Some(v)) => json!(v.to_string()),
        (kind, None) => match Settings::default_of(d.name) {
            Some(v) => shown(d, Some(&v)),
            None if kind == Kind::Bool => json!(false),
            None => json!(""),
        },
    }
}

/// A PBX value as the page edits it: a bool for yes/no settings, else text.
fn pbx_shown(d: &Def, v: Json) -> Json {
    match (d.kind, &v) {
        (Kind::Bool, Json::Bool(_)) => v,
        (Kind::Bool, Json::Number(n)) => json!(n.as_u64().unwrap_or(0) != 0),
        (Kind::Bool, Json::String(s)) => json!(!matches!(s.as_str(), "" | "0" | "false")),
        (_, Json::String(_)) => v,
        _ => json!(v.to_string()),
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Text => "text",
        Kind::Bool => "bool",
        Kind::Number { .. } => "number",
        Kind::Server => "server",
        Kind::HotKey => "hotkey",
        Kind::LogFlags => "logflags",
        Kind::Docking => "docking",
        Kind::List => "list",
    }
}

/// Whether a name's effective value is the user's own (for the page: "reset" applies).
pub fn is_user(store: &dyn SettingsStore, name: &str) -> bool {
    matches!(store.get(name), Ok(Some((_, Source::User))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::MemoryStore;
    use crate::settings::typed::Settings;

    fn changes(v: Json) -> Map<String, Json> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn model_shows_every_setting_with_its_source() {
        let mut store = MemoryStore::default();
        store
            .machine
            .insert("EXCLUDEINTERFACES".into(), Value::Str("172,192.168".into()));
        store.user.insert("AUTOSTART".into(), Value::U32(0));
        store
            .user
            .insert("APPEAROFFLINE".into(), Value::Str("never".into()));
        let m = model(&store, None).unwrap();
        let list = m["settings"].as_array().cloned().unwrap();
        assert_eq!(list.len(), DEFS.len());
        let get = |n: &str| list.iter().find(|s| s["name"] == n).cloned().unwrap();
        assert_eq!(get("EXCLUDEINTERFACES")["source"], "machine");
        assert_eq!(get("EXCLUDEINTERFACES")["value"], "172,192.168");
        assert_eq!(get("AUTOSTART")["value"], false);
        assert_eq!(get("AUTOSTART")["source"], "user");
        assert_eq!(get("NOTIFICATIONS")["value"], true);
        assert_eq!(get("NOTIFICATIONS")["source"], "default");
        assert_eq!(get("APPEAROFFLINE")["max"], 1440);
        assert!(
            m["problems"]["APPEAROFFLINE"]
                .as_str()
                .is_some_and(|p| p.contains("not a number")),
            "{m}"
        );
        assert_eq!(m["location"], "memory");
    }

    #[test]
    fn every_setting_is_in_one_group() {
        for d in DEFS {
            let n = GROUPS
                .iter()
                .filter(|(_, names)| names.contains(&d.name))
                .count();
            assert_eq!(n, 1, "{} is in {n} groups", d.name);
        }
        let all: usize = GROUPS.iter().map(|(_, names)| names.len()).sum();
        assert_eq!(
            all,
            DEFS.len(),
            "a group names a setting that does not exist"
        );
    }

    #[test]
    fn unset_settings_show_the_built_in_defaults() {
        let m = model(&MemoryStore::default(), None).unwrap();
        let list = m["settings"].as_array().cloned().unwrap();
        let get = |n: &str| {
            let s = list.iter().find(|s| s["name"] == n).cloned().unwrap();
            assert_eq!(s["source"], "default", "{n}");
            s["value"].clone()
        };
        assert_eq!(get("APPEAROFFLINE"), "5");
        assert_eq!(get("DOCKING"), "none");
        assert_eq!(get("SHOWINTASKBAR"), true);
        assert_eq!(get("AUTOSTART"), true);
        assert_eq!(get("EXCLUDEVPN"), false);
        assert_eq!(
            get("OFFICEPRESENCE"),
            false,
            "a yes/no setting without a default"
        );
        assert_eq!(get("SERVER"), "");
    }

    #[test]
    fn apply_writes_all_or_nothing() {
        let mut store = MemoryStore::default();
        let bad = apply(
            &mut store,
            &changes(
                json!({"SERVER":"pbx.example.com","APPEAROFFLINE":"9999","NOPE":"1",
                            "HOTKEYDIAL":"CTRL + F99"}),
            ),
            None,
        )
        .unwrap_err();
        assert_eq!(
            bad.keys().map(String::as_str).collect::<Vec<_>>(),
            ["APPEAROFFLINE", "HOTKEYDIAL", "NOPE"]
        );
        assert!(bad["APPEAROFFLINE"].contains("outside 0..=1440"), "{bad:?}");
        assert!(store.user.is_empty(), "nothing written: {store:?}");

        let done = apply(
            &mut store,
            &changes(json!({"SERVER":" pbx.example.com:4444 ","AUTOSTART":false,
                            "APPEAROFFLINE":"10","HOTKEYDIAL":"ctrl + alt + f9"})),
            None,
        )
        .unwrap();
        assert_eq!(done.len(), 4);
        let (s, problems) = Settings::load(&store).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            s.server.map(|s| s.to_string()).as_deref(),
            Some("pbx.example.com:4444")
        );
        assert!(!s.autostart);
        assert_eq!(s.appear_offline_minutes, 10);
        assert_eq!(
            s.hot_keys.dial.map(|k| k.to_string()).as_deref(),
            Some("CTRL + ALT + F9")
        );
        // Emptying a field removes the user's value: the installer's applies again.
        store
            .machine
            .insert("SERVER".into(), Value::Str("installer.example.com".into()));
        apply(&mut store, &changes(json!({"SERVER":""})), None).unwrap();
        assert!(!is_user(&store, "SERVER"));
        assert_eq!(
            store.get_str("SERVER").unwrap().as_deref(),
            Some("installer.example.com")
        );
        // Wrong JSON types are refused, not guessed at.
        let bad = apply(&mut store, &changes(json!({"AUTOSTART":[1]})), None).unwrap_err();
        assert!(bad["AUTOSTART"].contains("unexpected value"), "{bad:?}");
    }

    /// The PBX's values: a forced one is shown as the PBX's, marked, and a change to it
    /// is refused with the reason (nothing written); an unforced one shows where nothing
    /// else is set and stays editable.
    #[test]
    fn forced_admin_settings_are_shown_and_refused() {
        let mut store = MemoryStore::default();
        store
            .user
            .insert("HOTKEYDIAL".into(), Value::Str("F7".into()));
        let admin = json!({"hotkeyDial": {"value": "CTRL + F9", "force": true},
                           "offline": {"value": 120000, "force": false},
                           "taskbar": {"value": false, "force": true}});
        let m = model(&store, Some(&admin)).unwrap();
        let get = |n: &str| {
            m["settings"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["name"] == n)
                .cloned()
                .unwrap()
        };
        let dial = get("HOTKEYDIAL");
        assert_eq!(
            (&dial["value"], &dial["source"], &dial["forced"]),
            (&json!("CTRL + F9"), &json!("pbx"), &json!(true))
        );
        let off = get("APPEAROFFLINE");
        assert_eq!(
            (&off["value"], &off["source"], &off["forced"]),
            (&json!("2"), &json!("pbx"), &json!(false))
        );
        assert_eq!(get("SHOWINTASKBAR")["value"], false);
        assert_eq!(get("AUTOSTART")["forced"], false);

        let bad = apply(
            &mut store,
            &changes(json!({"HOTKEYDIAL":"F6","AUTOSTART":false})),
            Some(&admin),
        )
        .unwrap_err();
        assert_eq!(bad.keys().collect::<Vec<_>>(), ["HOTKEYDIAL"]);
        assert!(bad["HOTKEYDIAL"].contains("PBX administrator"), "{bad:?}");
        assert_eq!(store.get_str("HOTKEYDIAL").unwrap().as_deref(), Some("F7"));
        assert!(!store.user.contains_key("AUTOSTART"), "all or nothing");
        apply(
            &mut store,
            &changes(json!({"APPEAROFFLINE":"10"})),
            Some(&admin),
        )
        .unwrap();
    }
}
