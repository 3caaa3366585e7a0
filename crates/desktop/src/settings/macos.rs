//! macOS backend: user defaults of the domain `com.innovaphone.myApps`
//! (`defaults read com.innovaphone.myApps`), through `objc2-foundation`'s NSUserDefaults.
//!
//! * The domain is opened with `initWithSuiteName:`; when that is refused (macOS refuses
//!   the app's own bundle identifier as a suite, i.e. in the packaged app whose bundle id
//!   is this domain) the standard user defaults are used, which are then that domain.
//! * Values: NSString ↔ [`Value::Str`], NSNumber ↔ [`Value::U32`] (booleans from a
//!   configuration profile read as 0/1).
//! * Precedence is macOS's own: a value forced by a configuration profile (MDM, the
//!   wiki's "Configuration via MDM") wins over the user's and is reported as
//!   [`Source::Machine`]; everything else is the user's. The MDM's lower-case `server`
//!   key is read when `SERVER` is not set, in our domain and then in the domain the
//!   reference page names for it ("Preferences": `defaults write
//!   com.innovaphone.client-ios-14r1 server "PBX-server-URL"`, [`REFERENCE_DOMAIN`]),
//!   where it counts as the administrator's ([`Source::Machine`]).
//! * `list` shows the user's persistent domain only (the merged view would include every
//!   global Apple default).
//!
//! Type-checked only on this project's Linux CI (no macOS SDK to link or run).

use objc2::AllocAnyThread;
use objc2::rc::Retained;
use objc2::runtime::AnyObject;
use objc2_foundation::{NSNumber, NSString, NSUserDefaults};

use super::{Error, SettingsStore, Source, Value, canonical_name};

/// The defaults domain.
pub const DOMAIN: &str = "com.innovaphone.myApps";

/// The domain the reference page gives administrators for `server` (its "Preferences"
/// and "Configuration via MDM" sections), read-only here.
pub const REFERENCE_DOMAIN: &str = "com.innovaphone.client-ios-14r1";

/// The user-defaults store.
#[derive(Debug)]
pub struct DefaultsStore {
    defaults: Retained<NSUserDefaults>,
    /// [`REFERENCE_DOMAIN`] (`None` when macOS refuses the suite).
    reference: Option<Retained<NSUserDefaults>>,
}

impl DefaultsStore {
    /// Opens the domain (see the module docs).
    pub fn new() -> Self {
        let suite = NSString::from_str(DOMAIN);
        let defaults = NSUserDefaults::initWithSuiteName(NSUserDefaults::alloc(), Some(&suite))
            .unwrap_or_else(NSUserDefaults::standardUserDefaults);
        let reference = NSUserDefaults::initWithSuiteName(
            NSUserDefaults::alloc(),
            Some(&NSString::from_str(REFERENCE_DOMAIN)),
        );
        Self {
            defaults,
            reference,
        }
    }

    /// `server` of [`REFERENCE_DOMAIN`], the administrator's.
    fn reference_server(&self) -> Result<Option<(Value, Source)>, Error> {
        let Some(d) = &self.reference else {
            return Ok(None);
        };
        match d.objectForKey(&NSString::from_str("server")) {
            Some(obj) => Ok(Some((to_value("server", &obj)?, Source::Machine))),
            None => Ok(None),
        }
    }

    fn read(&self, key: &str) -> Result<Option<(Value, Source)>, Error> {
        let k = NSString::from_str(key);
        let Some(obj) = self.defaults.objectForKey(&k) else {
            return Ok(None);
        };
        let source = if self.defaults.objectIsForcedForKey(&k) {
            Source::Machine
        } else {
            Source::User
        };
        Ok(Some((to_value(key, &obj)?, source)))
    }
}

fn to_value(key: &str, obj: &AnyObject) -> Result<Value, Error> {
    if let Some(s) = obj.downcast_ref::<NSString>() {
        return Ok(Value::Str(s.to_string()));
    }
    if let Some(n) = obj.downcast_ref::<NSNumber>() {
        let v = n.longLongValue();
        return u32::try_from(v)
            .map(Value::U32)
            .map_err(|_| Error::Invalid {
                name: key.to_owned(),
                msg: format!("{v} is not a 32-bit unsigned number"),
            });
    }
    Err(Error::Type {
        name: key.to_owned(),
        found: format!(
            "{} in the {DOMAIN} defaults",
            obj.class().name().to_string_lossy()
        ),
    })
}

/// Stores a string. NSUserDefaults' only string setter, `setObject:forKey:`, is `unsafe`
/// in objc2-foundation because it takes any object and only property-list objects are
/// allowed; there is no safe binding (CFPreferencesSetAppValue is `unsafe` for the same
/// reason). This is the crate's only unsafe code.
#[allow(unsafe_code)]
fn set_string(defaults: &NSUserDefaults, key: &NSString, value: &str) {
    let s = NSString::from_str(value);
    let obj: &AnyObject = &s;
    // SAFETY: `obj` is an NSString, a property-list type, which is all that
    // setObject:forKey: requires of its value; both references are live for the call.
    unsafe { defaults.setObject_forKey(Some(obj), key) };
}

impl Default for DefaultsStore {
    fn default() -> Self {
        Self::new()
    }
}

impl SettingsStore for DefaultsStore {
    fn get(&self, name: &str) -> Result<Option<(Value, Source)>, Error> {
        let n = canonical_name(name)?;
        match self.read(&n)? {
            None if n == "SERVER" => match self.read("server")? {
                None => self.reference_server(),
                found => Ok(found),
            },
            found => Ok(found),
        }
    }

    fn set(&mut self, name: &str, value: Value) -> Result<(), Error> {
        let n = canonical_name(name)?;
        let key = NSString::from_str(&n);
        match value {
            Value::Str(s) => set_string(&self.defaults, &key, &s),
            Value::U32(v) => self.defaults.setInteger_forKey(v as isize, &key),
        }
        Ok(())
    }

    fn remove(&mut self, name: &str) -> Result<bool, Error> {
        let n = canonical_name(name)?;
        let key = NSString::from_str(&n);
        let had =
            self.defaults.objectForKey(&key).is_some() && !self.defaults.objectIsForcedForKey(&key);
        self.defaults.removeObjectForKey(&key);
        Ok(had)
    }

    fn list(&self) -> Result<Vec<(String, Value, Source)>, Error> {
        let Some(domain) = self
            .defaults
            .persistentDomainForName(&NSString::from_str(DOMAIN))
        else {
            return Ok(Vec::new());
        };
        let (keys, values) = domain.to_vecs();
        let mut out = Vec::new();
        for (k, v) in keys.iter().zip(values.iter()) {
            let key = k.to_string();
            if let Ok(n) = canonical_name(&key)
                && let Ok(value) = to_value(&key, v)
            {
                out.push((n, value, Source::User));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    fn location(&self) -> String {
        format!("user defaults {DOMAIN}")
    }
}
