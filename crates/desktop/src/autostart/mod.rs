//! Starting myApps on login (the "Autostart" platform setting, tray toggle), one backend
//! per OS behind [`Autostart`]:
//!
//! | OS | where |
//! |---|---|
//! | Linux (`linux`) | `$XDG_CONFIG_HOME/autostart/myapps.desktop` (XDG Autostart spec); disabling an entry the system installed in `$XDG_CONFIG_DIRS/autostart` writes a user entry with `Hidden=true`, as the spec says |
//! | Windows (`windows`) | value `myApps` in `HKCU\Software\Microsoft\Windows\CurrentVersion\Run` |
//! | macOS (`macos`) | the LaunchAgent `~/Library/LaunchAgents/com.innovaphone.myapps.plist` ([`launch_agent_plist`]); `SMAppService` would need a signed bundle with the agent inside, which we cannot build here |
//!
//! The `AUTOSTART` setting says what the user wants; the shell applies it with these calls
//! at start and when it changes.

#[cfg(not(any(windows, target_os = "macos")))]
pub mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(windows)]
mod windows;

use std::path::Path;

pub use crate::register::Error;

/// The OS's login items.
pub trait Autostart {
    /// Starts `exe` (absolute) at login.
    fn enable(&self, exe: &Path) -> Result<(), Error>;
    /// No start at login.
    fn disable(&self) -> Result<(), Error>;
    /// Whether myApps starts at login now.
    fn is_enabled(&self) -> Result<bool, Error>;
    /// Where the entry lives, for messages.
    fn location(&self) -> String;
}

/// This OS's login items.
pub fn system() -> Result<Box<dyn Autostart>, Error> {
    #[cfg(not(any(windows, target_os = "macos")))]
    return Ok(Box::new(linux::XdgAutostart::from_env()?));
    #[cfg(windows)]
    return Ok(Box::new(windows::RunKey));
    #[cfg(target_os = "macos")]
    return macos::LaunchAgent::from_env().map(|a| Box::new(a) as Box<dyn Autostart>);
}

/// The LaunchAgent's label and file name (without `.plist`).
pub const LAUNCH_AGENT_LABEL: &str = "com.innovaphone.myapps";

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The macOS LaunchAgent that starts `exe` at login (in the user's GUI session only).
pub fn launch_agent_plist(exe: &Path) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key>
	<string>{LAUNCH_AGENT_LABEL}</string>
	<key>ProgramArguments</key>
	<array>
		<string>{}</string>
	</array>
	<key>RunAtLoad</key>
	<true/>
	<key>LimitLoadToSessionType</key>
	<string>Aqua</string>
	<key>ProcessType</key>
	<string>Interactive</string>
</dict>
</plist>
"#,
        xml_escape(&exe.to_string_lossy())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_agent_names_the_program_escaped() {
        let p = launch_agent_plist(Path::new(
            "/Applications/my & apps.app/Contents/MacOS/myapps",
        ));
        assert!(
            p.contains("<string>/Applications/my &amp; apps.app/Contents/MacOS/myapps</string>"),
            "{p}"
        );
        assert!(p.contains("<key>RunAtLoad</key>\n\t<true/>"));
        assert!(p.contains(&format!("<string>{LAUNCH_AGENT_LABEL}</string>")));
    }
}
