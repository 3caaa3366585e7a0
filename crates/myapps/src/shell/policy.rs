//! Where the app's windows may go and which pages get the microphone and camera.
//!
//! The app's windows show the PBX's myApps client, the App Proxy's apps and the local
//! service's own pages: the *trusted origins* (RFC 6454 origins: scheme, host, port).
//! A page of any other origin is foreign:
//!
//! - it never gets media devices silently: the user is asked, in a prompt naming its
//!   origin, and it never gets device names (each webview and each frame is judged by
//!   its own origin, not by the main window's; `permission.rs`);
//! - a window does not navigate to it: an `http(s)` link goes to the system browser
//!   ([`open_in_browser`]), our `tel:`/`sip:`/`sips:`/`im:` links go to the URI handler,
//!   every other scheme is refused.
//!
//! The App Proxy is a part of the local service (wiki, "App Proxy"), so its origin is
//! the service's.

use std::process::Command;

/// The origins the app's windows may show.
#[derive(Clone, Debug)]
pub struct Trusted {
    origins: Vec<String>,
}

impl Trusted {
    /// The PBX's origin (`None` for the demo, which has no PBX) and the local service's.
    pub fn new(pbx: Option<&str>, service: &str) -> Trusted {
        let origins = pbx
            .into_iter()
            .chain([service])
            .filter_map(origin_of)
            .collect();
        Trusted { origins }
    }

    /// The origins, as `location.origin` serialises them (RFC 6454 §6.2).
    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    /// Whether the document at `url` has one of our origins (`url` may be an origin, as
    /// `location.origin` gives it).
    pub fn url(&self, url: &str) -> bool {
        origin_of(url).is_some_and(|o| self.origins.contains(&o))
    }

    /// What a window does with a navigation (or `window.open`) to `url`.
    pub fn navigation(&self, url: &str) -> Navigation {
        if self.url(url) || is_blank(url) {
            return Navigation::Stay;
        }
        if super::is_uri(url) {
            return Navigation::Link;
        }
        match url::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Navigation::Browser,
            _ => Navigation::Refuse,
        }
    }
}

/// What becomes of a navigation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Navigation {
    /// A trusted page (or `about:blank`, where `window.open` starts): the window loads it.
    Stay,
    /// A foreign web page: the system browser opens it, the window stays.
    Browser,
    /// A `tel:`/`sip:`/`sips:`/`im:` link: the URI handler takes it.
    Link,
    /// Anything else (`file:`, `javascript:`, custom schemes): nothing happens.
    Refuse,
}

/// `about:blank` (HTML §7.1.1: a new browsing context starts there; `window.open` of a
/// page's own origin goes through it).
fn is_blank(url: &str) -> bool {
    url.eq_ignore_ascii_case("about:blank")
}

/// The ASCII serialisation of a URL's origin (RFC 6454 §6.2): scheme and host in lower
/// case, the scheme's default port left out. `None` for URLs with an opaque origin
/// (`about:`, `data:`, `tel:`) or no URL at all.
pub fn origin_of(url: &str) -> Option<String> {
    let origin = url::Url::parse(url).ok()?.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// The program that opens web pages: `MYAPPS_URL_OPENER` when set (tests record what it
/// is given), otherwise the OS's opener.
fn opener() -> Command {
    match std::env::var_os("MYAPPS_URL_OPENER") {
        Some(p) => Command::new(p),
        None => system_opener(),
    }
}

/// The OS's opener of pages and folders: `xdg-open`, `open`, `explorer.exe`.
pub(crate) fn system_opener() -> Command {
    #[cfg(windows)]
    return Command::new("explorer.exe");
    #[cfg(target_os = "macos")]
    return Command::new("open");
    #[cfg(not(any(windows, target_os = "macos")))]
    Command::new("xdg-open")
}

/// Starts `cmd` with `arg` as its one argument (no shell). It is reaped in the background:
/// an opener may run as long as the browser or file manager does.
pub(crate) fn spawn_detached(mut cmd: Command, arg: &std::ffi::OsStr) -> Result<(), String> {
    let mut child = cmd
        .arg(arg)
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(())
}

/// Opens an `http(s)` page in the system browser: the opener runs with the URL as its one
/// argument (no shell). Other schemes are refused.
pub fn open_in_browser(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{url:?}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{url:?}: not a web page"));
    }
    spawn_detached(opener(), parsed.as_str().as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_navigations() {
        let t = Trusted::new(Some("https://PBX.example.com:443"), "http://localhost:4000");
        assert!(t.url("https://pbx.example.com/PBX0/APPCLIENT/appclient.htm#x"));
        assert!(t.url("https://pbx.example.com"));
        assert!(t.url("http://localhost:4000/demo.html"));
        assert!(!t.url("http://localhost:4001/"));
        assert!(!t.url("https://pbx.example.com.evil.example/"));
        assert!(
            !t.url("http://pbx.example.com/"),
            "another scheme, another origin"
        );
        assert!(!t.url("null"));
        use Navigation::*;
        assert_eq!(t.navigation("https://pbx.example.com/x"), Stay);
        assert_eq!(t.navigation("about:blank"), Stay);
        assert_eq!(t.navigation("https://www.example.org/"), Browser);
        assert_eq!(t.navigation("TEL:+497031"), Link);
        assert_eq!(t.navigation("sip:a@b"), Link);
        assert_eq!(t.navigation("file:///etc/passwd"), Refuse);
        assert_eq!(t.navigation("javascript:alert(1)"), Refuse);
        assert_eq!(t.navigation("data:text/html,x"), Refuse);
        assert_eq!(t.navigation("not a url"), Refuse);
        assert_eq!(origin_of("about:blank"), None);
        assert_eq!(
            origin_of("https://pbx:444/PBX0/APPCLIENT/appclient.htm#phys=x").as_deref(),
            Some("https://pbx:444")
        );
        let demo = Trusted::new(None, "http://localhost:4000");
        assert!(demo.url("http://localhost:4000/demo.html"));
    }

    #[test]
    fn only_web_pages_go_to_the_browser() {
        assert!(open_in_browser("file:///etc/passwd").is_err());
        assert!(open_in_browser("javascript:alert(1)").is_err());
    }
}
