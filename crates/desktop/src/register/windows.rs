//! Windows: per-user URL protocol keys under `HKCU\Software\Classes` (what the MSI writes
//! machine-wide), a ProgID and `Capabilities` so that Settings → Default apps lists
//! myApps. Since Windows 8 a `UserChoice` the user made in Settings wins over these keys;
//! [`UriRegistry::status`] reports it and `register` says so.

use std::path::Path;

use windows_registry::{CURRENT_USER, Key};

use super::{Error, SCHEMES, SchemeStatus, UriRegistry};

/// Our ProgID.
const PROG_ID: &str = "innovaphone.myApps.url";
/// Below HKCU.
const CAPABILITIES: &str = r"Software\innovaphone\myApps\Capabilities";
const REGISTERED_APPS: &str = r"Software\RegisteredApplications";
const APP_NAME: &str = "innovaphone myApps";

/// `HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)`.
const NOT_FOUND: i32 = 0x8007_0002_u32 as i32;

/// The registry of the current user.
pub(super) struct Registry;

fn err(what: &str, path: &str, e: &windows_result::Error) -> Error {
    Error(format!(
        r"{what} HKCU\{path}: {} (0x{:08X})",
        e.message(),
        e.code().0
    ))
}

fn create(path: &str) -> Result<Key, Error> {
    CURRENT_USER
        .create(path)
        .map_err(|e| err("cannot create", path, &e))
}

fn set(key: &Key, path: &str, name: &str, value: &str) -> Result<(), Error> {
    key.set_string(name, value)
        .map_err(|e| err("cannot write", &format!(r"{path}\{name}"), &e))
}

/// Reads a string value; `None` when the key or value is missing.
fn read(path: &str, name: &str) -> Result<Option<String>, Error> {
    let key = match CURRENT_USER.options().read().open(path) {
        Ok(k) => k,
        Err(e) if e.code().0 == NOT_FOUND => return Ok(None),
        Err(e) => return Err(err("cannot open", path, &e)),
    };
    match key.get_string(name) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.code().0 == NOT_FOUND => Ok(None),
        Err(e) => Err(err("cannot read", &format!(r"{path}\{name}"), &e)),
    }
}

fn remove_tree(path: &str) -> Result<(), Error> {
    match CURRENT_USER.remove_tree(path) {
        Ok(()) => Ok(()),
        Err(e) if e.code().0 == NOT_FOUND => Ok(()),
        Err(e) => Err(err("cannot remove", path, &e)),
    }
}

/// A URL-protocol key (scheme or ProgID) that opens `exe`.
fn write_protocol(path: &str, title: &str, exe: &Path) -> Result<(), Error> {
    let k = create(path)?;
    set(&k, path, "", title)?;
    set(&k, path, "URL Protocol", "")?;
    let icon = format!(r"{path}\DefaultIcon");
    set(
        &create(&icon)?,
        &icon,
        "",
        &format!("\"{}\",0", exe.display()),
    )?;
    let cmd = format!(r"{path}\shell\open\command");
    set(&create(&cmd)?, &cmd, "", &super::windows_open_command(exe))
}

/// The command registered for `scheme`, if it is ours (names myapps.exe).
fn ours(cmd: &str) -> bool {
    cmd.to_ascii_lowercase().contains("myapps")
}

fn user_choice(scheme: &str) -> Result<Option<String>, Error> {
    read(
        &format!(
            r"Software\Microsoft\Windows\Shell\Associations\UrlAssociations\{scheme}\UserChoice"
        ),
        "ProgId",
    )
}

impl UriRegistry for Registry {
    fn register(&self, exe: &Path) -> Result<Vec<String>, Error> {
        for scheme in SCHEMES {
            write_protocol(
                &format!(r"Software\Classes\{scheme}"),
                &format!("URL:{scheme}"),
                exe,
            )?;
        }
        write_protocol(&format!(r"Software\Classes\{PROG_ID}"), "myApps link", exe)?;
        let caps = create(CAPABILITIES)?;
        set(&caps, CAPABILITIES, "ApplicationName", "myApps")?;
        set(
            &caps,
            CAPABILITIES,
            "ApplicationDescription",
            "innovaphone myApps: calls and chats from tel:, sip: and im: links",
        )?;
        let assoc_path = format!(r"{CAPABILITIES}\URLAssociations");
        let assoc = create(&assoc_path)?;
        for scheme in SCHEMES {
            set(&assoc, &assoc_path, scheme, PROG_ID)?;
        }
        set(
            &create(REGISTERED_APPS)?,
            REGISTERED_APPS,
            APP_NAME,
            CAPABILITIES,
        )?;
        let mut notes = Vec::new();
        for scheme in SCHEMES {
            if let Some(p) = user_choice(scheme)?
                && p != PROG_ID
            {
                notes.push(format!(
                    "{scheme}: Windows uses {p}, chosen in Settings → Apps → Default apps; choose myApps there"
                ));
            }
        }
        Ok(notes)
    }

    fn unregister(&self) -> Result<(), Error> {
        for scheme in SCHEMES {
            let path = format!(r"Software\Classes\{scheme}");
            if read(&format!(r"{path}\shell\open\command"), "")?.is_some_and(|c| ours(&c)) {
                remove_tree(&path)?;
            }
        }
        remove_tree(&format!(r"Software\Classes\{PROG_ID}"))?;
        remove_tree(CAPABILITIES)?;
        if let Ok(k) = CURRENT_USER.create(REGISTERED_APPS) {
            match k.remove_value(APP_NAME) {
                Ok(()) => {}
                Err(e) if e.code().0 == NOT_FOUND => {}
                Err(e) => return Err(err("cannot remove", REGISTERED_APPS, &e)),
            }
        }
        Ok(())
    }

    fn status(&self) -> Result<Vec<SchemeStatus>, Error> {
        SCHEMES
            .iter()
            .map(|&scheme| {
                let cmd = read(
                    &format!(r"Software\Classes\{scheme}\shell\open\command"),
                    "",
                )?;
                let choice = user_choice(scheme)?;
                let (handler, is_ours) = match choice {
                    Some(p) => (Some(format!("UserChoice {p}")), p == PROG_ID),
                    // A command of an older version, without `--uri`, would let a
                    // link add options: not counted as ours until registered again.
                    None => (
                        cmd.clone(),
                        cmd.as_deref()
                            .is_some_and(|c| ours(c) && c.contains(super::LINK_OPTION)),
                    ),
                };
                Ok(SchemeStatus {
                    scheme,
                    handler,
                    ours: is_ours,
                })
            })
            .collect()
    }
}
