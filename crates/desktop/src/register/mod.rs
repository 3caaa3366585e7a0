//! Registering myApps as the handler of `tel:`, `sip:` and `im:` links (wiki, "URL
//! Handler"), one backend per OS behind [`UriRegistry`]:
//!
//! | OS | what is written |
//! |---|---|
//! | Linux (`linux`) | `$XDG_DATA_HOME/applications/myapps-url-handler.desktop` with `MimeType=x-scheme-handler/tel;x-scheme-handler/sip;x-scheme-handler/im;` and `Exec="<myapps>" --uri %u`, made the default with `xdg-mime default` (`$XDG_CONFIG_HOME/mimeapps.list`) |
//! | Windows (`windows`) | `HKCU\Software\Classes\{tel,sip,im}` (`URL Protocol`, `shell\open\command` = `"…\myapps.exe" --uri "%1"`), plus the ProgID `innovaphone.myApps.url` and `Capabilities\URLAssociations` under `HKCU\Software\innovaphone\myApps` listed in `HKCU\Software\RegisteredApplications`, so that Settings → Default apps offers myApps |
//! | macOS (`macos`) | the schemes are declared in the bundle's `Info.plist` ([`info_plist_url_types`], `installer/macos/Info.plist`); registering makes the running bundle the default handler with `NSWorkspace setDefaultApplicationAtURL:toOpenURLsWithScheme:` (macOS 12+) |
//!
//! Linux and Windows then start `myapps --uri <link>` ([`LINK_OPTION`]: everything after
//! it is the link); macOS hands the link to the running bundle as an Apple event, not on
//! a command line. Handing the link to a running instance is the
//! shell's single-instance job, parsing it is [`crate::uri`]'s.

#[cfg(not(any(windows, target_os = "macos")))]
pub mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(windows)]
mod windows;

use std::path::{Path, PathBuf};

/// The schemes we handle (`sips:` links are opened through `sip:` handlers' URL types on
/// no OS we know; the parser accepts them when they arrive anyway).
pub const SCHEMES: [&str; 3] = ["tel", "sip", "im"];

/// An OS integration error; the message says what failed and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Error(pub String);

/// Who handles one scheme now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemeStatus {
    /// `tel`, `sip` or `im`.
    pub scheme: &'static str,
    /// The OS's handler (desktop file id, command line, bundle), if any.
    pub handler: Option<String>,
    /// The handler is this installation.
    pub ours: bool,
}

/// The OS's link-handler registry.
pub trait UriRegistry {
    /// Registers `exe` (the myApps binary, absolute) for [`SCHEMES`] and makes it the
    /// default. Returns notes for the user (e.g. a choice the OS leaves to them).
    fn register(&self, exe: &Path) -> Result<Vec<String>, Error>;
    /// Removes what [`UriRegistry::register`] wrote; another program's registration is
    /// left alone.
    fn unregister(&self) -> Result<(), Error>;
    /// The handler of each scheme.
    fn status(&self) -> Result<Vec<SchemeStatus>, Error>;
}

/// This OS's registry.
pub fn system() -> Result<Box<dyn UriRegistry>, Error> {
    #[cfg(not(any(windows, target_os = "macos")))]
    return Ok(Box::new(linux::Xdg::from_env()?));
    #[cfg(windows)]
    return Ok(Box::new(windows::Registry));
    #[cfg(target_os = "macos")]
    return Ok(Box::new(macos::LaunchServices));
}

/// The running binary's absolute path (what the OS should start).
pub fn current_exe() -> Result<PathBuf, Error> {
    let p = std::env::current_exe()
        .map_err(|e| Error(format!("cannot find the path of this program: {e}")))?;
    // Usually absolute already (Linux reads /proc/self/exe); make sure.
    if p.is_absolute() {
        Ok(p)
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .map_err(|e| Error(format!("cannot make the program path absolute: {e}")))
    }
}

/// The `CFBundleURLTypes` entry of the macOS bundle's `Info.plist` (a `<key>` and its
/// `<array>`), one URL type per scheme; `installer/macos/Info.plist` contains it, and a
/// test keeps the two equal.
pub fn info_plist_url_types() -> String {
    let mut s = String::from("\t<key>CFBundleURLTypes</key>\n\t<array>\n");
    for scheme in SCHEMES {
        s.push_str(&format!(
            "\t\t<dict>\n\t\t\t<key>CFBundleURLName</key>\n\t\t\t<string>com.innovaphone.myapps.{scheme}</string>\n\t\t\t<key>CFBundleURLSchemes</key>\n\t\t\t<array>\n\t\t\t\t<string>{scheme}</string>\n\t\t\t</array>\n\t\t\t<key>LSHandlerRank</key>\n\t\t\t<string>Default</string>\n\t\t</dict>\n"
        ));
    }
    s.push_str("\t</array>\n");
    s
}

/// The option before the link in every command the OS runs for a link. The link arrives
/// as data from a web page or a mail: the program treats everything after this option as
/// the link, never as options, even where the OS's quoting breaks (a `"` in a link ends
/// Windows' `"%1"` early, and what follows would be parsed as further arguments).
pub const LINK_OPTION: &str = "--uri";

/// The `shell\open\command` of our URL-protocol keys (Windows): `"<exe>" --uri "%1"`.
pub fn windows_open_command(exe: &Path) -> String {
    format!("\"{}\" {LINK_OPTION} \"%1\"", exe.display())
}

/// One argument of a desktop entry's `Exec` key (Desktop Entry spec, "The Exec key"):
/// as it is when it has none of the reserved characters (xdg-open's generic fallback
/// splits `Exec` at spaces and does not understand quotes, so plain paths stay plain),
/// else in double quotes with `"`, `` ` ``, `$` and `\` backslash-escaped; `%` doubled; then
/// the string-value escape of `\` (the file is read as a string first).
pub fn desktop_exec_arg(arg: &str) -> String {
    const RESERVED: &str = " \t\n\"'\\><~|&;$*?#()`";
    let arg = arg.replace('%', "%%");
    if !arg.is_empty() && !arg.contains(|c| RESERVED.contains(c)) {
        return arg;
    }
    let mut q = String::from("\"");
    for c in arg.chars() {
        match c {
            '"' | '`' | '$' | '\\' => {
                q.push('\\');
                q.push(c);
            }
            _ => q.push(c),
        }
    }
    q.push('"');
    // The string-type escape: every backslash written so far doubles.
    q.replace('\\', "\\\\")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_quoting_follows_the_desktop_entry_spec() {
        assert_eq!(desktop_exec_arg("/usr/bin/myapps"), "/usr/bin/myapps");
        assert_eq!(
            desktop_exec_arg("/opt/my apps/$x\"100%"),
            r#""/opt/my apps/\\$x\\"100%%""#
        );
        assert_eq!(desktop_exec_arg(r"a\b"), r#""a\\\\b""#);
    }

    #[test]
    fn links_come_after_the_link_option() {
        assert_eq!(
            windows_open_command(Path::new(r"C:\Program Files\myApps\myapps.exe")),
            r#""C:\Program Files\myApps\myapps.exe" --uri "%1""#
        );
        #[cfg(not(any(windows, target_os = "macos")))]
        {
            let entry = linux::desktop_entry(Path::new("/usr/bin/myapps"));
            assert!(
                entry.contains("\nExec=/usr/bin/myapps --uri %u\n"),
                "{entry}"
            );
        }
    }

    #[test]
    fn plist_fragment_is_in_the_bundle_template() {
        let frag = info_plist_url_types();
        for s in SCHEMES {
            assert!(frag.contains(&format!("<string>{s}</string>")));
        }
        let template = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../installer/macos/Info.plist"),
        )
        .expect("installer/macos/Info.plist");
        assert!(
            template.contains(&frag),
            "installer/macos/Info.plist must contain info_plist_url_types():\n{frag}"
        );
    }
}
