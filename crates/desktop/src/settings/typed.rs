//! The typed view of the settings: names, kinds, validation, defaults, and the PBX's
//! `adminSettings` on top.
//!
//! Names are the MSI property names where the wiki has one (`SERVER`, `DISABLELOCALHOST`,
//! `EXCLUDEINTERFACES`, `EXTERNALAPPS`, `DISABLEHEADSETS`, `OFFICEPRESENCE`,
//! `FASTERDOWNLOADS`) and upper-case names of the "Platform specific settings" otherwise.
//! Booleans are stored as 0/1 numbers (the wiki: REG_DWORD 1 or 0); when read, the
//! strings `true`/`false`/`yes`/`no`/`on`/`off`/`1`/`0` are accepted too, since an MSI
//! property may arrive as a string. `LOGFLAGS` is a hex string (`0x40000001`): the flags
//! reach bit 35 (Signaling, `0x800000000`), more than a DWORD holds.
//!
//! A stored value that does not validate does not stop the app: [`Settings::load`] uses
//! the default and returns the problem, for the settings window to show.
//!
//! Precedence, lowest first: built-in default → PBX `adminSettings` without `force` →
//! store (user, else installer) → PBX `adminSettings` with `force` ([`super::admin`]).

use std::collections::BTreeSet;
use std::fmt;

use super::{Error, SettingsStore, Value, canonical_name};
pub use crate::server::Server;

/// What kind of value a setting holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Free text.
    Text,
    /// 0/1.
    Bool,
    /// A number in a range.
    Number {
        /// Smallest allowed.
        min: u32,
        /// Largest allowed.
        max: u32,
    },
    /// The PBX address ([`Server`]).
    Server,
    /// A hot key ([`HotKey`]), empty for none.
    HotKey,
    /// Hex log-flag mask.
    LogFlags,
    /// `none`, `left` or `right`.
    Docking,
    /// Comma-separated address prefixes.
    List,
}

/// One known setting.
#[derive(Clone, Copy, Debug)]
pub struct Def {
    /// Stored name.
    pub name: &'static str,
    /// Its kind.
    pub kind: Kind,
    /// One line for `--help` and the settings window.
    pub help: &'static str,
}

macro_rules! defs {
    ($($name:literal $kind:expr, $help:literal;)*) => { &[$(Def { name: $name, kind: $kind, help: $help }),*] };
}

/// Every setting this app knows.
pub const DEFS: &[Def] = defs! {
    "SERVER" Kind::Server, "PBX address: host[:port][/PBX0-n][#phys=location]";
    "DISABLELOCALHOST" Kind::Bool, "name the local service 127.0.0.1 instead of localhost";
    "EXCLUDEINTERFACES" Kind::List, "comma-separated address prefixes not used for media";
    "EXCLUDEVPN" Kind::Bool, "no media over VPN interfaces";
    "AUTOSTART" Kind::Bool, "start myApps on login";
    "APPEAROFFLINE" Kind::Number { min: 0, max: 1440 }, "minutes without input before appearing offline (0: never)";
    "HOTKEYDIAL" Kind::HotKey, "hot key: dial the selected text (e.g. CTRL + ALT + F9)";
    "HOTKEYACCEPT" Kind::HotKey, "hot key: accept the alerting call";
    "HOTKEYREJECT" Kind::HotKey, "hot key: reject or end the call";
    "RINGINHEADSET" Kind::Bool, "ring in the headset instead of the loudspeaker";
    "LOGFLAGS" Kind::LogFlags, "trace flags, hex (App 0x1 ... Signaling 0x800000000)";
    "SHOWINTASKBAR" Kind::Bool, "show myApps in the taskbar";
    "DOCKING" Kind::Docking, "dock the window: none, left or right";
    "NOTIFICATIONS" Kind::Bool, "desktop notifications";
    "EXTERNALAPPS" Kind::Text, "external applications (JSON, as the MSI's EXTERNALAPPS; docs/external-apps.md)";
    "COUNTRYCODE" Kind::Text, "own country code for $N/$I and reverse lookup when the PBX gives none (e.g. 49)";
    "AREACODE" Kind::Text, "own area code without trunk prefix (e.g. 7031)";
    "CONTACTSFOLDER" Kind::Text, "folder of vCard files for the local phone book (Linux; default $XDG_DATA_HOME/myApps/contacts)";
    "DISABLEHEADSETS" Kind::Bool, "no headset support";
    "OFFICEPRESENCE" Kind::Bool, "presence in Microsoft Office";
    "FASTERDOWNLOADS" Kind::Bool, "do not slow down update downloads";
    "WEBRTC" Kind::Bool, "WebRTC in the app window over the local service's media (Linux; not built yet on Windows and macOS)";
    "USERAGENTTOKEN" Kind::Text, "the app's token in the window's user agent (default: myApps (Linux), myApps (Windows), myApps (macOS))";
};

/// The app's token in the user agent of its windows (`USERAGENTTOKEN`'s default): the web
/// client recognises the launcher by `myApps` in it (docs/webrtc-evidence.md §1).
pub fn default_user_agent_token() -> &'static str {
    if cfg!(windows) {
        "myApps (Windows)"
    } else if cfg!(target_os = "macos") {
        "myApps (macOS)"
    } else {
        "myApps (Linux)"
    }
}

/// A `USERAGENTTOKEN`: 1 to 100 printable ASCII characters (RFC 9110 §10.1.5: the
/// User-Agent header is products and comments; a control character would break it).
fn user_agent_token(text: &str) -> Result<String, String> {
    if text.is_empty() || text.len() > 100 {
        return Err("must be 1 to 100 characters".into());
    }
    if !text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err("only printable ASCII characters may be in a user agent".into());
    }
    Ok(text.to_owned())
}

/// The rules of the free-text settings that have some: `EXTERNALAPPS` parses
/// (docs/external-apps.md), `COUNTRYCODE`/`AREACODE` are digits, `CONTACTSFOLDER` is an
/// absolute path.
fn check_text(name: &str, text: &str) -> Result<(), Error> {
    match name {
        "EXTERNALAPPS" => crate::external_apps::Config::parse(text)
            .map(drop)
            .map_err(|e| invalid(name, e.to_string())),
        "COUNTRYCODE" | "AREACODE" => {
            if text.len() <= 8 && text.bytes().all(|b| b.is_ascii_digit()) {
                Ok(())
            } else {
                Err(invalid(name, format!("{text:?}: digits only, at most 8")))
            }
        }
        "CONTACTSFOLDER" if !std::path::Path::new(text).is_absolute() => {
            Err(invalid(name, format!("{text:?} is not an absolute path")))
        }
        _ => Ok(()),
    }
}

/// The definition of a name (case-insensitive).
pub fn def(name: &str) -> Option<&'static Def> {
    let n = canonical_name(name).ok()?;
    DEFS.iter().find(|d| d.name == n)
}

pub(super) fn invalid(name: &str, msg: impl Into<String>) -> Error {
    Error::Invalid {
        name: name.to_owned(),
        msg: msg.into(),
    }
}

/// Checks text typed by the user (CLI, settings window) for a known setting and returns
/// the value to store. Unknown names are rejected with the list of known ones.
pub fn parse_input(name: &str, text: &str) -> Result<(&'static Def, Value), Error> {
    let d = def(name).ok_or_else(|| {
        let known: Vec<_> = DEFS.iter().map(|d| d.name).collect();
        invalid(
            name,
            format!("unknown setting; known: {}", known.join(", ")),
        )
    })?;
    let value = check(d, &Value::Str(text.to_owned()))?;
    Ok((d, value))
}

/// Validates a value (stored or typed) for `d`; returns its stored form.
pub fn check(d: &Def, v: &Value) -> Result<Value, Error> {
    let text = match v {
        Value::Str(s) => s.trim().to_owned(),
        Value::U32(n) => n.to_string(),
    };
    let name = d.name;
    Ok(match d.kind {
        Kind::Text => {
            check_text(name, &text)?;
            Value::Str(text)
        }
        Kind::Bool => Value::U32(u32::from(parse_bool(&text).ok_or_else(|| {
            invalid(
                name,
                format!("{text:?} is not a yes/no value (1/0, true/false)"),
            )
        })?)),
        Kind::Number { min, max } => {
            let n: u32 = text
                .parse()
                .map_err(|_| invalid(name, format!("{text:?} is not a number")))?;
            if n < min || n > max {
                return Err(invalid(name, format!("{n} is outside {min}..={max}")));
            }
            Value::U32(n)
        }
        Kind::Server => Value::Str(
            Server::parse(&text)
                .map_err(|m| invalid(name, m))?
                .to_string(),
        ),
        Kind::HotKey if text.is_empty() => Value::Str(String::new()),
        Kind::HotKey => Value::Str(
            HotKey::parse(&text)
                .map_err(|m| invalid(name, m))?
                .to_string(),
        ),
        Kind::LogFlags => Value::Str(format!(
            "0x{:x}",
            parse_log_flags(&text).map_err(|m| invalid(name, m))?
        )),
        Kind::Docking => Value::Str(
            Docking::parse(&text)
                .ok_or_else(|| invalid(name, format!("{text:?}: expected none, left or right")))?
                .as_str()
                .to_owned(),
        ),
        Kind::List => Value::Str(parse_list(&text).join(",")),
    })
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn parse_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Highest log flag the wiki defines (Signaling).
pub const LOG_FLAGS_MASK: u64 = 0xF_FFFF_FFFF;

fn parse_log_flags(s: &str) -> Result<u64, String> {
    let hex = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    let v = u64::from_str_radix(hex, 16).map_err(|_| format!("{s:?} is not a hex number"))?;
    if v & !LOG_FLAGS_MASK != 0 {
        return Err(format!("{s:?} has bits above 0x800000000 (Signaling)"));
    }
    Ok(v)
}

/// A hot key: F1–F11 with up to two of alt/ctrl/shift/win (wiki, "Hot keys"). Written as
/// the PBX's adminSettings write it: `CTRL + ALT + F9`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HotKey {
    /// With Alt.
    pub alt: bool,
    /// With Ctrl.
    pub ctrl: bool,
    /// With Shift.
    pub shift: bool,
    /// With the Windows/Super/Command key.
    pub win: bool,
    /// 1..=11.
    pub f: u8,
}

impl HotKey {
    /// Parses `CTRL + ALT + F9`, `ctrl+f9`, `F8` (case and spaces ignored).
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut k = HotKey {
            alt: false,
            ctrl: false,
            shift: false,
            win: false,
            f: 0,
        };
        let mut mods = 0;
        for part in s.split('+').map(|p| p.trim().to_ascii_lowercase()) {
            let flag = match part.as_str() {
                "alt" => &mut k.alt,
                "ctrl" | "control" => &mut k.ctrl,
                "shift" => &mut k.shift,
                "win" | "super" | "meta" | "cmd" => &mut k.win,
                f if f.starts_with('f') && k.f == 0 => {
                    k.f = f[1..]
                        .parse()
                        .ok()
                        .filter(|n| (1..=11).contains(n))
                        .ok_or_else(|| format!("{s:?}: only F1 to F11 can be hot keys"))?;
                    continue;
                }
                other => {
                    return Err(format!(
                        "{s:?}: {other:?} is not alt, ctrl, shift, win or F1-F11"
                    ));
                }
            };
            if *flag {
                return Err(format!("{s:?}: {part} given twice"));
            }
            *flag = true;
            mods += 1;
        }
        if k.f == 0 {
            return Err(format!("{s:?}: no function key F1-F11"));
        }
        if mods > 2 {
            return Err(format!("{s:?}: at most two of alt, ctrl, shift, win"));
        }
        Ok(k)
    }
}

impl fmt::Display for HotKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (on, name) in [
            (self.ctrl, "CTRL"),
            (self.alt, "ALT"),
            (self.shift, "SHIFT"),
            (self.win, "WIN"),
        ] {
            if on {
                write!(f, "{name} + ")?;
            }
        }
        write!(f, "F{}", self.f)
    }
}

/// Window docking.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Docking {
    /// Free window.
    #[default]
    None,
    /// Docked to the left screen edge.
    Left,
    /// Docked to the right screen edge.
    Right,
}

impl Docking {
    /// `none`/`left`/`right`, or the adminSettings numbers 0/1/2 (**[infer]**: the wiki
    /// only shows `docking: 0`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "0" | "" => Some(Docking::None),
            "left" | "1" => Some(Docking::Left),
            "right" | "2" => Some(Docking::Right),
            _ => None,
        }
    }
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Docking::None => "none",
            Docking::Left => "left",
            Docking::Right => "right",
        }
    }
}

/// The three hot-key functions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HotKeys {
    /// Dial the selection (`PrepareCall`; twice: `StartCall`).
    pub dial: Option<HotKey>,
    /// `ConnectCall`.
    pub accept: Option<HotKey>,
    /// `DisconnectCall`.
    pub reject: Option<HotKey>,
}

/// Every setting, typed, with defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// The PBX; `None` shows the connect form.
    pub server: Option<Server>,
    /// `DISABLELOCALHOST`.
    pub disable_localhost: bool,
    /// `EXCLUDEINTERFACES` prefixes.
    pub exclude_interfaces: Vec<String>,
    /// `EXCLUDEVPN`.
    pub exclude_vpn: bool,
    /// `AUTOSTART` (default on, as the Windows client).
    pub autostart: bool,
    /// `APPEAROFFLINE` minutes, 0 never (default 5, the wiki's User activity default).
    pub appear_offline_minutes: u32,
    /// The PBX's `offline` in milliseconds when it applies (`appear_offline_minutes`
    /// rounds it up); see [`Settings::appear_offline`].
    pub appear_offline_exact: Option<std::time::Duration>,
    /// `HOTKEY*`.
    pub hot_keys: HotKeys,
    /// `RINGINHEADSET`.
    pub ring_in_headset: bool,
    /// `LOGFLAGS`.
    pub log_flags: u64,
    /// `SHOWINTASKBAR`.
    pub show_in_taskbar: bool,
    /// `DOCKING`.
    pub docking: Docking,
    /// `NOTIFICATIONS` (default on).
    pub notifications: bool,
    /// `EXTERNALAPPS` JSON text, as stored (checked by [`crate::external_apps::Config::parse`]).
    pub external_apps: Option<String>,
    /// `COUNTRYCODE` and `AREACODE` with the default prefixes.
    pub number_context: crate::phone_number::NumberContext,
    /// `CONTACTSFOLDER`.
    pub contacts_folder: Option<std::path::PathBuf>,
    /// `DISABLEHEADSETS`.
    pub disable_headsets: bool,
    /// `WEBRTC`: the WebRTC API in the app window over the local service (default on
    /// Linux; on Windows and macOS the transport is not built yet, so off).
    pub webrtc: bool,
    /// `USERAGENTTOKEN` (default [`default_user_agent_token`]).
    pub user_agent_token: String,
    /// Names whose value is forced by the PBX (the settings window greys them out).
    pub forced: BTreeSet<&'static str>,
    /// Names the store had a value for.
    pub stored: BTreeSet<&'static str>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            server: None,
            disable_localhost: false,
            exclude_interfaces: Vec::new(),
            exclude_vpn: false,
            autostart: true,
            appear_offline_minutes: 5,
            appear_offline_exact: None,
            hot_keys: HotKeys::default(),
            ring_in_headset: false,
            log_flags: 0,
            show_in_taskbar: true,
            docking: Docking::None,
            notifications: true,
            external_apps: None,
            number_context: crate::phone_number::NumberContext::default(),
            contacts_folder: None,
            disable_headsets: false,
            webrtc: cfg!(target_os = "linux"),
            user_agent_token: default_user_agent_token().to_owned(),
            forced: BTreeSet::new(),
            stored: BTreeSet::new(),
        }
    }
}

impl Settings {
    /// The built-in default of `name` as a stored value would give it (from
    /// [`Settings::default`]), for the settings whose default is not "unset": what the
    /// settings window shows for a setting nobody set.
    pub fn default_of(name: &str) -> Option<Value> {
        let d = Settings::default();
        let yes_no = |b: bool| Some(Value::U32(u32::from(b)));
        match name {
            "DISABLELOCALHOST" => yes_no(d.disable_localhost),
            "EXCLUDEVPN" => yes_no(d.exclude_vpn),
            "AUTOSTART" => yes_no(d.autostart),
            "APPEAROFFLINE" => Some(Value::U32(d.appear_offline_minutes)),
            "RINGINHEADSET" => yes_no(d.ring_in_headset),
            "SHOWINTASKBAR" => yes_no(d.show_in_taskbar),
            "DOCKING" => Some(Value::Str(d.docking.as_str().to_owned())),
            "NOTIFICATIONS" => yes_no(d.notifications),
            "DISABLEHEADSETS" => yes_no(d.disable_headsets),
            "WEBRTC" => yes_no(d.webrtc),
            "USERAGENTTOKEN" => Some(Value::Str(d.user_agent_token)),
            _ => None,
        }
    }

    /// Reads every known setting. Values that do not validate keep their default and are
    /// returned as problems; a store that cannot be read at all is an error.
    pub fn load(store: &dyn SettingsStore) -> Result<(Self, Vec<Error>), Error> {
        let mut s = Settings::default();
        let mut problems = Vec::new();
        for d in DEFS {
            let Some((v, _)) = store.get(d.name)? else {
                continue;
            };
            match check(d, &v).and_then(|v| s.assign(d.name, &v)) {
                Ok(()) => {
                    s.stored.insert(d.name);
                }
                Err(e) => problems.push(e),
            }
        }
        Ok((s, problems))
    }

    /// Sets one field from a checked value.
    pub(super) fn assign(&mut self, name: &'static str, v: &Value) -> Result<(), Error> {
        let text = v.to_string();
        let flag = matches!(v, Value::U32(1));
        match name {
            "SERVER" => self.server = Some(Server::parse(&text).map_err(|m| invalid(name, m))?),
            "DISABLELOCALHOST" => self.disable_localhost = flag,
            "EXCLUDEINTERFACES" => self.exclude_interfaces = parse_list(&text),
            "EXCLUDEVPN" => self.exclude_vpn = flag,
            "AUTOSTART" => self.autostart = flag,
            "APPEAROFFLINE" => {
                self.appear_offline_minutes = text.parse().unwrap_or(5);
                self.appear_offline_exact = None;
            }
            "HOTKEYDIAL" | "HOTKEYACCEPT" | "HOTKEYREJECT" => {
                let k = if text.is_empty() {
                    None
                } else {
                    Some(HotKey::parse(&text).map_err(|m| invalid(name, m))?)
                };
                match name {
                    "HOTKEYDIAL" => self.hot_keys.dial = k,
                    "HOTKEYACCEPT" => self.hot_keys.accept = k,
                    _ => self.hot_keys.reject = k,
                }
            }
            "RINGINHEADSET" => self.ring_in_headset = flag,
            "LOGFLAGS" => self.log_flags = parse_log_flags(&text).map_err(|m| invalid(name, m))?,
            "SHOWINTASKBAR" => self.show_in_taskbar = flag,
            "DOCKING" => self.docking = Docking::parse(&text).unwrap_or_default(),
            "NOTIFICATIONS" => self.notifications = flag,
            "EXTERNALAPPS" => self.external_apps = Some(text),
            "COUNTRYCODE" => self.number_context.country = text,
            "AREACODE" => self.number_context.area = text,
            "CONTACTSFOLDER" => self.contacts_folder = Some(text.into()),
            "DISABLEHEADSETS" => self.disable_headsets = flag,
            "WEBRTC" => self.webrtc = flag,
            "USERAGENTTOKEN" => {
                self.user_agent_token = user_agent_token(&text).map_err(|m| invalid(name, m))?
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::MemoryStore;
    use super::*;

    #[test]
    fn webrtc_and_the_user_agent_token() {
        let d = Settings::default();
        assert_eq!(d.webrtc, cfg!(target_os = "linux"));
        assert!(d.user_agent_token.starts_with("myApps ("));
        let mut store = MemoryStore::default();
        store.user.insert("WEBRTC".into(), Value::U32(0));
        store
            .user
            .insert("USERAGENTTOKEN".into(), Value::Str("myApps/1.0".into()));
        let (s, problems) = Settings::load(&store).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert!(!s.webrtc);
        assert_eq!(s.user_agent_token, "myApps/1.0");
        store
            .user
            .insert("USERAGENTTOKEN".into(), Value::Str("a\r\nX-Evil: 1".into()));
        let (s, problems) = Settings::load(&store).unwrap();
        assert_eq!(
            s.user_agent_token,
            default_user_agent_token(),
            "the default kept"
        );
        assert!(
            problems[0].to_string().contains("printable ASCII"),
            "{problems:?}"
        );
    }

    #[test]
    fn external_apps_and_phone_book_settings() {
        let mut store = MemoryStore::default();
        let apps = r#"{"externalApps":[{"id":0,"name":"a","path":"/bin/a","param":"$I"}]}"#;
        for (k, v) in [
            ("EXTERNALAPPS", apps),
            ("COUNTRYCODE", "49"),
            ("AREACODE", "7031"),
            ("CONTACTSFOLDER", "/srv/contacts"),
        ] {
            store.user.insert(k.into(), Value::Str(v.into()));
        }
        let (s, problems) = Settings::load(&store).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.external_apps.as_deref(), Some(apps));
        assert_eq!(
            s.number_context.international("07031 1").as_deref(),
            Some("+4970311")
        );
        assert_eq!(
            s.contacts_folder.as_deref(),
            Some(std::path::Path::new("/srv/contacts"))
        );
        for (k, v, want) in [
            (
                "EXTERNALAPPS",
                r#"{"externalApps":[{"id":0,"name":"a","path":"/a","param":"$q"}]}"#,
                "unknown variable $q",
            ),
            ("COUNTRYCODE", "+49", "digits only"),
            ("CONTACTSFOLDER", "contacts", "not an absolute path"),
        ] {
            let e = parse_input(k, v).unwrap_err().to_string();
            assert!(e.contains(want), "{k}: {e}");
        }
    }

    #[test]
    fn hot_keys() {
        let k = HotKey::parse("CTRL + ALT + F9").unwrap();
        assert_eq!((k.ctrl, k.alt, k.f), (true, true, 9));
        assert_eq!(k.to_string(), "CTRL + ALT + F9");
        assert_eq!(HotKey::parse("win+f10").unwrap().to_string(), "WIN + F10");
        assert_eq!(HotKey::parse("F8").unwrap().to_string(), "F8");
        for (bad, want) in [
            ("F12", "F1 to F11"),
            ("ctrl+alt+shift+F1", "at most two"),
            ("ctrl+ctrl+F1", "twice"),
            ("ctrl", "no function key"),
            ("hyper+F1", "is not alt"),
            ("F1+F2", "is not alt"),
        ] {
            let e = HotKey::parse(bad).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn input_validation() {
        let stored = |n: &str, t: &str| parse_input(n, t).map(|(_, v)| v);
        assert_eq!(stored("disablelocalhost", "true").unwrap(), Value::U32(1));
        assert_eq!(stored("AUTOSTART", "0").unwrap(), Value::U32(0));
        assert_eq!(
            stored("SERVER", " pbx.example.com ").unwrap(),
            Value::Str("pbx.example.com".into())
        );
        assert_eq!(
            stored("LOGFLAGS", "40000001").unwrap(),
            Value::Str("0x40000001".into())
        );
        assert_eq!(
            stored("LOGFLAGS", "0x800000000").unwrap(),
            Value::Str("0x800000000".into())
        );
        assert_eq!(
            stored("EXCLUDEINTERFACES", "172, 192.168,,10.10").unwrap(),
            Value::Str("172,192.168,10.10".into())
        );
        assert_eq!(
            stored("HOTKEYDIAL", "ctrl+f9").unwrap(),
            Value::Str("CTRL + F9".into())
        );
        assert_eq!(stored("HOTKEYDIAL", "").unwrap(), Value::Str(String::new()));
        for (n, t, want) in [
            (
                "NOPE",
                "1",
                "unknown setting; known: SERVER, DISABLELOCALHOST",
            ),
            (
                "AUTOSTART",
                "maybe",
                "AUTOSTART: \"maybe\" is not a yes/no value",
            ),
            (
                "APPEAROFFLINE",
                "1441",
                "APPEAROFFLINE: 1441 is outside 0..=1440",
            ),
            ("APPEAROFFLINE", "-1", "is not a number"),
            ("LOGFLAGS", "0x1000000000", "bits above"),
            ("DOCKING", "top", "expected none, left or right"),
            ("SERVER", "https://x", "without a protocol"),
        ] {
            let e = stored(n, t).unwrap_err().to_string();
            assert!(e.contains(want), "{n}={t}: {e}");
        }
    }

    #[test]
    fn load_with_problems() {
        let mut store = MemoryStore::default();
        store
            .machine
            .insert("SERVER".into(), Value::Str("pbx.example.com/PBX0-1".into()));
        store
            .machine
            .insert("DISABLELOCALHOST".into(), Value::Str("true".into()));
        store
            .machine
            .insert("EXCLUDEINTERFACES".into(), Value::Str("172,192.168".into()));
        store.user.insert("AUTOSTART".into(), Value::U32(0));
        store
            .user
            .insert("HOTKEYACCEPT".into(), Value::Str("F12".into()));
        store
            .user
            .insert("LOGFLAGS".into(), Value::Str("0x40000001".into()));
        let (s, problems) = Settings::load(&store).unwrap();
        assert_eq!(s.server.as_ref().unwrap().module.as_deref(), Some("PBX0-1"));
        assert!(s.disable_localhost);
        assert_eq!(s.exclude_interfaces, ["172", "192.168"]);
        assert!(!s.autostart);
        assert_eq!(s.log_flags, 0x4000_0001);
        assert_eq!(s.hot_keys.accept, None);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].to_string().starts_with("HOTKEYACCEPT: \"F12\""));
    }
}
