//! XDG Autostart: `$XDG_CONFIG_HOME/autostart/myapps.desktop`; system entries in
//! `$XDG_CONFIG_DIRS/autostart` (default `/etc/xdg`) are overridden by a user entry of the
//! same name, `Hidden=true` disabling it.

use std::fs;
use std::path::{Path, PathBuf};

use super::{Autostart, Error};
use crate::register::desktop_exec_arg;
use crate::register::linux::write_atomic as write;

/// The entry's file name.
pub const FILE: &str = "myapps.desktop";

/// The user's and the system's autostart directories.
#[derive(Clone, Debug)]
pub struct XdgAutostart {
    /// `$XDG_CONFIG_HOME/autostart`.
    pub user: PathBuf,
    /// `<each of $XDG_CONFIG_DIRS>/autostart`, most important first.
    pub system: Vec<PathBuf>,
}

impl XdgAutostart {
    /// From the environment, with the XDG defaults.
    pub fn from_env() -> Result<Self, Error> {
        let b = directories::BaseDirs::new()
            .ok_or_else(|| Error("no home directory: cannot find ~/.config".into()))?;
        let dirs = std::env::var("XDG_CONFIG_DIRS")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "/etc/xdg".into());
        Ok(XdgAutostart {
            user: b.config_dir().join("autostart"),
            system: std::env::split_paths(&dirs)
                .filter(|p| p.is_absolute())
                .map(|p| p.join("autostart"))
                .collect(),
        })
    }

    fn user_file(&self) -> PathBuf {
        self.user.join(FILE)
    }

    fn system_file(&self) -> Option<PathBuf> {
        self.system
            .iter()
            .map(|d| d.join(FILE))
            .find(|f| f.exists())
    }
}

/// The autostart entry for `exe`.
pub fn entry(exe: &Path) -> String {
    format!(
        "[Desktop Entry]\nType=Application\nName=myApps\nComment=innovaphone myApps\nExec={}\nIcon=myapps\nTerminal=false\nX-GNOME-Autostart-enabled=true\n",
        desktop_exec_arg(&exe.to_string_lossy())
    )
}

/// Whether an entry's text starts the program: not `Hidden=true`, not
/// `X-GNOME-Autostart-enabled=false` (both in `[Desktop Entry]`).
fn entry_enabled(text: &str) -> bool {
    let mut in_main = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_main = line == "[Desktop Entry]";
            continue;
        }
        if !in_main {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let (k, v) = (k.trim(), v.trim());
            if (k == "Hidden" && v == "true") || (k == "X-GNOME-Autostart-enabled" && v == "false")
            {
                return false;
            }
        }
    }
    true
}

fn read(path: &Path) -> Result<Option<String>, Error> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error(format!("cannot read {}: {e}", path.display()))),
    }
}

impl Autostart for XdgAutostart {
    fn enable(&self, exe: &Path) -> Result<(), Error> {
        write(&self.user_file(), &entry(exe))
    }

    fn disable(&self) -> Result<(), Error> {
        let system_on = match self.system_file() {
            Some(f) => read(&f)?.is_some_and(|t| entry_enabled(&t)),
            None => false,
        };
        if system_on {
            // A user entry of the same name with Hidden=true masks the system's.
            return write(
                &self.user_file(),
                "[Desktop Entry]\nType=Application\nName=myApps\nHidden=true\n",
            );
        }
        match fs::remove_file(self.user_file()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error(format!(
                "cannot remove {}: {e}",
                self.user_file().display()
            ))),
        }
    }

    fn is_enabled(&self) -> Result<bool, Error> {
        if let Some(t) = read(&self.user_file())? {
            return Ok(entry_enabled(&t));
        }
        match self.system_file() {
            Some(f) => Ok(read(&f)?.is_some_and(|t| entry_enabled(&t))),
            None => Ok(false),
        }
    }

    fn location(&self) -> String {
        self.user_file().display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enable_disable_and_system_entries() {
        let d = tempfile::tempdir().unwrap();
        let a = XdgAutostart {
            user: d.path().join("user/autostart"),
            system: vec![d.path().join("sys/autostart")],
        };
        assert!(!a.is_enabled().unwrap());
        a.enable(Path::new("/opt/my apps/myapps")).unwrap();
        let text = fs::read_to_string(d.path().join("user/autostart/myapps.desktop")).unwrap();
        assert!(text.contains("\nExec=\"/opt/my apps/myapps\"\n"), "{text}");
        assert!(a.is_enabled().unwrap());
        a.disable().unwrap();
        assert!(!a.is_enabled().unwrap());
        assert!(!d.path().join("user/autostart/myapps.desktop").exists());
        a.disable().unwrap();

        // A system-wide entry (e.g. from the deb): on until the user masks it.
        fs::create_dir_all(d.path().join("sys/autostart")).unwrap();
        fs::write(
            d.path().join("sys/autostart/myapps.desktop"),
            entry(Path::new("/usr/bin/myapps")),
        )
        .unwrap();
        assert!(a.is_enabled().unwrap());
        a.disable().unwrap();
        assert!(!a.is_enabled().unwrap());
        let mask = fs::read_to_string(d.path().join("user/autostart/myapps.desktop")).unwrap();
        assert!(mask.contains("Hidden=true"));
        a.enable(Path::new("/usr/bin/myapps")).unwrap();
        assert!(a.is_enabled().unwrap());
        assert!(!entry_enabled(
            "[Desktop Entry]\nX-GNOME-Autostart-enabled=false\n"
        ));
        assert!(entry_enabled(
            "[Desktop Entry]\nName=x\n[Desktop Action y]\nHidden=true\n"
        ));
    }
}
