//! XDG: a desktop entry for the `x-scheme-handler/*` MIME types, made the default with
//! `xdg-mime default` (which writes `$XDG_CONFIG_HOME/mimeapps.list`; if `xdg-mime` is not
//! installed we write that file ourselves, as the MIME Applications spec describes).
//! Unregistering removes the entry and our ids from `mimeapps.list` (xdg-mime cannot).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Error, LINK_OPTION, SCHEMES, SchemeStatus, UriRegistry, desktop_exec_arg};

/// The desktop file id of the link handler.
pub const DESKTOP_ID: &str = "myapps-url-handler.desktop";

/// The user's XDG directories.
#[derive(Clone, Debug)]
pub struct Xdg {
    /// `$XDG_DATA_HOME` (default `~/.local/share`): the desktop file goes to
    /// `applications/` below it.
    pub data_home: PathBuf,
    /// `$XDG_CONFIG_HOME` (default `~/.config`): `mimeapps.list`.
    pub config_home: PathBuf,
}

impl Xdg {
    /// From the environment, with the XDG defaults.
    pub fn from_env() -> Result<Xdg, Error> {
        let b = directories::BaseDirs::new()
            .ok_or_else(|| Error("no home directory: cannot find the XDG directories".into()))?;
        Ok(Xdg {
            data_home: b.data_dir().to_path_buf(),
            config_home: b.config_dir().to_path_buf(),
        })
    }

    /// Where the desktop file goes.
    pub fn desktop_file(&self) -> PathBuf {
        self.data_home.join("applications").join(DESKTOP_ID)
    }

    fn mimeapps(&self) -> PathBuf {
        self.config_home.join("mimeapps.list")
    }

    /// `xdg-mime` with our directories (so a test's temporary ones are used).
    fn xdg_mime(&self) -> Command {
        let mut c = Command::new("xdg-mime");
        c.env("XDG_DATA_HOME", &self.data_home)
            .env("XDG_CONFIG_HOME", &self.config_home);
        c
    }
}

/// The desktop entry's text for `exe`.
pub fn desktop_entry(exe: &Path) -> String {
    let mimes: String = SCHEMES
        .iter()
        .map(|s| format!("x-scheme-handler/{s};"))
        .collect();
    format!(
        "[Desktop Entry]\nType=Application\nName=myApps\nComment=Calls and chats from tel:, sip: and im: links\nExec={} {LINK_OPTION} %u\nIcon=myapps\nTerminal=false\nNoDisplay=true\nCategories=Network;Telephony;\nMimeType={mimes}\n",
        desktop_exec_arg(&exe.to_string_lossy())
    )
}

/// Writes `text` to `path` through a temporary file in the same directory (created when
/// missing), so readers see the old or the new file, never half of one. Also used by
/// `autostart`.
pub(crate) fn write_atomic(path: &Path, text: &str) -> Result<(), Error> {
    let dir = path
        .parent()
        .ok_or_else(|| Error(format!("{}: no parent directory", path.display())))?;
    fs::create_dir_all(dir).map_err(|e| Error(format!("cannot create {}: {e}", dir.display())))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| Error(format!("cannot write in {}: {e}", dir.display())))?;
    std::io::Write::write_all(&mut tmp, text.as_bytes())
        .map_err(|e| Error(format!("cannot write {}: {e}", path.display())))?;
    tmp.persist(path)
        .map_err(|e| Error(format!("cannot write {}: {}", path.display(), e.error)))?;
    Ok(())
}

/// `mimeapps.list` with `id` removed from the `mimes` keys of every group (and, with
/// `set_default`, put first in `[Default Applications]`).
pub fn edit_mimeapps(text: &str, id: &str, mimes: &[String], set_default: bool) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut group = String::new();
    let mut defaults_seen = false;
    let flush_defaults = |out: &mut Vec<String>| {
        for m in mimes {
            out.push(format!("{m}={id};"));
        }
    };
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            if set_default && group == "Default Applications" {
                flush_defaults(&mut out);
            }
            group = t.trim_matches(|c| c == '[' || c == ']').to_owned();
            defaults_seen |= group == "Default Applications";
            out.push(line.to_owned());
            continue;
        }
        if let Some((k, v)) = t.split_once('=')
            && mimes.iter().any(|m| m == k.trim())
        {
            let rest: Vec<&str> = v
                .split(';')
                .map(str::trim)
                .filter(|x| !x.is_empty() && *x != id)
                .collect();
            // Setting the default replaces the group's line; elsewhere only our id goes.
            let replaced = set_default && group == "Default Applications";
            if !rest.is_empty() && !replaced {
                out.push(format!("{}={};", k.trim(), rest.join(";")));
            }
            continue;
        }
        out.push(line.to_owned());
    }
    if set_default {
        if group == "Default Applications" {
            flush_defaults(&mut out);
        } else if !defaults_seen {
            out.push("[Default Applications]".into());
            flush_defaults(&mut out);
        }
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

fn mimes() -> Vec<String> {
    SCHEMES
        .iter()
        .map(|s| format!("x-scheme-handler/{s}"))
        .collect()
}

impl UriRegistry for Xdg {
    fn register(&self, exe: &Path) -> Result<Vec<String>, Error> {
        let file = self.desktop_file();
        write_atomic(&file, &desktop_entry(exe))?;
        let mut notes = Vec::new();
        // Refreshes mimeinfo.cache (used by GIO's "registered handlers"); optional.
        if let Some(dir) = file.parent() {
            let _ = Command::new("update-desktop-database").arg(dir).output();
        }
        match self
            .xdg_mime()
            .arg("default")
            .arg(DESKTOP_ID)
            .args(mimes())
            .output()
        {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                return Err(Error(format!(
                    "xdg-mime default {DESKTOP_ID} failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let path = self.mimeapps();
                let old = fs::read_to_string(&path).unwrap_or_default();
                write_atomic(&path, &edit_mimeapps(&old, DESKTOP_ID, &mimes(), true))?;
                notes.push(format!(
                    "xdg-mime is not installed (package xdg-utils); wrote {} directly",
                    path.display()
                ));
            }
            Err(e) => return Err(Error(format!("cannot run xdg-mime: {e}"))),
        }
        Ok(notes)
    }

    fn unregister(&self) -> Result<(), Error> {
        let file = self.desktop_file();
        match fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error(format!("cannot remove {}: {e}", file.display()))),
        }
        let path = self.mimeapps();
        match fs::read_to_string(&path) {
            Ok(old) => {
                let new = edit_mimeapps(&old, DESKTOP_ID, &mimes(), false);
                if new != old {
                    write_atomic(&path, &new)?;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error(format!("cannot read {}: {e}", path.display()))),
        }
        if let Some(dir) = file.parent() {
            let _ = Command::new("update-desktop-database").arg(dir).output();
        }
        Ok(())
    }

    fn status(&self) -> Result<Vec<SchemeStatus>, Error> {
        SCHEMES
            .iter()
            .map(|&scheme| {
                let o = self
                    .xdg_mime()
                    .args(["query", "default", &format!("x-scheme-handler/{scheme}")])
                    .output()
                    .map_err(|e| Error(format!("cannot run xdg-mime (package xdg-utils): {e}")))?;
                let h = String::from_utf8_lossy(&o.stdout).trim().to_owned();
                Ok(SchemeStatus {
                    scheme,
                    ours: h == DESKTOP_ID && self.desktop_file().exists(),
                    handler: (!h.is_empty()).then_some(h),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mimeapps_editing_keeps_other_entries() {
        let m = mimes();
        let old = "[Added Associations]\nx-scheme-handler/tel=other.desktop;myapps-url-handler.desktop;\ntext/plain=vim.desktop;\n\n[Default Applications]\nx-scheme-handler/sip=myapps-url-handler.desktop;\ntext/html=firefox.desktop;\n";
        let removed = edit_mimeapps(old, DESKTOP_ID, &m, false);
        assert_eq!(
            removed,
            "[Added Associations]\nx-scheme-handler/tel=other.desktop;\ntext/plain=vim.desktop;\n\n[Default Applications]\ntext/html=firefox.desktop;\n"
        );
        let set = edit_mimeapps(&removed, DESKTOP_ID, &m, true);
        assert!(set.ends_with("text/html=firefox.desktop;\nx-scheme-handler/tel=myapps-url-handler.desktop;\nx-scheme-handler/sip=myapps-url-handler.desktop;\nx-scheme-handler/im=myapps-url-handler.desktop;\n"), "{set}");
        let fresh = edit_mimeapps("", DESKTOP_ID, &m, true);
        assert!(
            fresh.contains(
                "[Default Applications]\nx-scheme-handler/tel=myapps-url-handler.desktop;"
            ),
            "{fresh}"
        );
        assert_eq!(edit_mimeapps(&set, DESKTOP_ID, &m, false), removed);
    }

    #[test]
    fn entry_has_mime_types_and_exec() {
        let e = desktop_entry(Path::new("/opt/my apps/myapps"));
        assert!(
            e.contains("\nExec=\"/opt/my apps/myapps\" --uri %u\n"),
            "{e}"
        );
        assert!(e.contains(
            "\nMimeType=x-scheme-handler/tel;x-scheme-handler/sip;x-scheme-handler/im;\n"
        ));
    }
}
