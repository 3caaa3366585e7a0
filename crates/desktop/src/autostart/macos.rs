//! macOS: a LaunchAgent in `~/Library/LaunchAgents`, loaded by launchd at the next login.

use std::fs;
use std::path::{Path, PathBuf};

use super::{Autostart, Error, LAUNCH_AGENT_LABEL, launch_agent_plist};

/// `~/Library/LaunchAgents/com.innovaphone.myapps.plist`.
pub(super) struct LaunchAgent {
    file: PathBuf,
}

impl LaunchAgent {
    pub(super) fn from_env() -> Result<Self, Error> {
        let home = std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .ok_or_else(|| Error("HOME is not set: cannot find ~/Library/LaunchAgents".into()))?;
        Ok(LaunchAgent {
            file: PathBuf::from(home)
                .join("Library/LaunchAgents")
                .join(format!("{LAUNCH_AGENT_LABEL}.plist")),
        })
    }
}

impl Autostart for LaunchAgent {
    fn enable(&self, exe: &Path) -> Result<(), Error> {
        if let Some(dir) = self.file.parent() {
            fs::create_dir_all(dir)
                .map_err(|e| Error(format!("cannot create {}: {e}", dir.display())))?;
        }
        fs::write(&self.file, launch_agent_plist(exe))
            .map_err(|e| Error(format!("cannot write {}: {e}", self.file.display())))
    }

    fn disable(&self) -> Result<(), Error> {
        match fs::remove_file(&self.file) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error(format!("cannot remove {}: {e}", self.file.display()))),
        }
    }

    fn is_enabled(&self) -> Result<bool, Error> {
        Ok(self.file.exists())
    }

    fn location(&self) -> String {
        self.file.display().to_string()
    }
}
