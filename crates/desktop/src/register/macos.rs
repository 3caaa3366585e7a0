//! macOS: Launch Services learns the schemes from the bundle's `Info.plist`
//! (`CFBundleURLTypes`, see [`super::info_plist_url_types`]) when the app is installed;
//! `register` makes the running bundle the default with NSWorkspace
//! `setDefaultApplicationAtURL:toOpenURLsWithScheme:` (macOS 12+; macOS may ask the user
//! to confirm). A binary outside an `.app` bundle cannot be registered.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use block2::RcBlock;
use objc2_app_kit::NSWorkspace;
use objc2_foundation::{NSBundle, NSError, NSString, NSURL};

use super::{Error, SCHEMES, SchemeStatus, UriRegistry};

/// Launch Services of the current user.
pub(super) struct LaunchServices;

fn bundle_url() -> Result<objc2::rc::Retained<NSURL>, Error> {
    let url = NSBundle::mainBundle().bundleURL();
    let path = url.path().map(|p| p.to_string()).unwrap_or_default();
    if !path.ends_with(".app") {
        return Err(Error(format!(
            "{path} is not an application bundle: only myApps.app (with the URL types in its Info.plist) can handle links"
        )));
    }
    Ok(url)
}

fn handler_of(scheme: &str) -> Option<String> {
    let probe = NSURL::URLWithString(&NSString::from_str(&format!("{scheme}:1")))?;
    NSWorkspace::sharedWorkspace()
        .URLForApplicationToOpenURL(&probe)
        .and_then(|u| u.path())
        .map(|p| p.to_string())
}

impl UriRegistry for LaunchServices {
    fn register(&self, _exe: &Path) -> Result<Vec<String>, Error> {
        let app = bundle_url()?;
        let ws = NSWorkspace::sharedWorkspace();
        let mut notes = Vec::new();
        for scheme in SCHEMES {
            let (tx, rx) = mpsc::channel::<bool>();
            let done = RcBlock::new(move |e: *mut NSError| {
                let _ = tx.send(e.is_null());
            });
            ws.setDefaultApplicationAtURL_toOpenURLsWithScheme_completionHandler(
                &app,
                &NSString::from_str(scheme),
                Some(&done),
            );
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(true) => {}
                Ok(false) => notes.push(format!(
                    "{scheme}: macOS did not make myApps the default (declined?)"
                )),
                Err(_) => notes.push(format!(
                    "{scheme}: no answer from macOS yet (a confirmation may be waiting)"
                )),
            }
        }
        Ok(notes)
    }

    fn unregister(&self) -> Result<(), Error> {
        // Launch Services has no "no default": another app must be chosen (FaceTime →
        // Settings → Default for phone calls, see the wiki's URL Handler section), or the
        // bundle removed.
        Err(Error(
            "macOS cannot unset a default link handler: choose another app (FaceTime → Settings → Default for phone calls) or remove myApps.app".into(),
        ))
    }

    fn status(&self) -> Result<Vec<SchemeStatus>, Error> {
        let ours = bundle_url()
            .ok()
            .and_then(|u| u.path())
            .map(|p| p.to_string());
        Ok(SCHEMES
            .iter()
            .map(|&scheme| {
                let handler = handler_of(scheme);
                SchemeStatus {
                    scheme,
                    ours: handler.is_some() && handler == ours,
                    handler,
                }
            })
            .collect())
    }
}
