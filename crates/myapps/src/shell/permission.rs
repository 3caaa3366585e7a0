//! Who gets the microphone and the device names, judged per frame (no GTK here, so the
//! rule is unit-tested; `linux.rs` feeds it and carries out its answer).
//!
//! WebKitGTK's permission requests name no frame. So every frame announces its calls
//! (`getUserMedia`, `enumerateDevices`) first, with the origin that an isolated-world
//! script read from its own `location` (the page cannot forge it), and a request is
//! matched against the announcements of the last [`ANNOUNCED`]:
//!
//! - the microphone: a trusted frame's call is allowed without a prompt, as the official
//!   client does for its PBX; a call of any other origin is **asked**: the user sees a
//!   prompt that names that origin (never silent access; W3C Media Capture §9.2 leaves
//!   the prompt to the user agent, and a browser would ask too);
//! - device names (`enumerateDevices` labels): only when only trusted frames asked. A
//!   foreign frame gets the list without names, as a browser gives it before any grant
//!   (Media Capture §9.2.1, "exposing device labels").

use std::time::{Duration, Instant};

use super::policy::Trusted;

/// How long a frame's announcement stands for the request that follows it (WebKit asks
/// once it has enumerated the devices: 0.6 s here with PipeWire). A foreign frame's call
/// that WebKit refuses itself (no `allow="microphone"` delegation) leaves an announcement
/// with no request: for this long, our frames' requests are asked about too.
pub const ANNOUNCED: Duration = Duration::from_secs(5);

/// What a frame called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    /// `getUserMedia` (or `getDisplayMedia`).
    Media,
    /// `enumerateDevices`.
    Devices,
}

impl Call {
    /// From the isolated world's message: `"media <origin>"` or `"devices <origin>"`.
    pub fn parse(message: &str) -> Option<(Call, String)> {
        let (kind, origin) = message.split_once(' ')?;
        let call = match kind {
            "media" => Call::Media,
            "devices" => Call::Devices,
            _ => return None,
        };
        Some((call, origin.to_owned()))
    }
}

/// The answer to one permission request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
    /// Ask the user, naming this origin.
    Ask(String),
}

/// Recent announcements (the GTK thread's; one list for all webviews, since a window a
/// page opens shares its opener's user content manager and the messages do not say which
/// webview they came from).
#[derive(Default, Debug)]
pub struct Announcements {
    calls: Vec<(Instant, Call, String)>,
}

impl Announcements {
    /// A frame of `origin` called `call` at `now`.
    pub fn push(&mut self, now: Instant, call: Call, origin: String) {
        self.expire(now);
        self.calls.push((now, call, origin));
    }

    fn expire(&mut self, now: Instant) {
        self.calls
            .retain(|(at, _, _)| now.saturating_duration_since(*at) < ANNOUNCED);
    }

    /// A microphone request of a webview showing `page`.
    pub fn media(&mut self, now: Instant, trusted: &Trusted, page: &str) -> Decision {
        self.expire(now);
        if !trusted.url(page) {
            // Our windows never show a foreign page; should one get there, it is asked.
            return Decision::Ask(super::policy::origin_of(page).unwrap_or_else(|| page.into()));
        }
        // A foreign frame asked lately: this request may be its, so the user decides
        // (each of its announcements is answered once).
        if let Some(i) = self
            .calls
            .iter()
            .position(|(_, c, o)| *c == Call::Media && !trusted.url(o))
        {
            let (_, _, origin) = self.calls.remove(i);
            return Decision::Ask(origin);
        }
        match self
            .calls
            .iter()
            .position(|(_, c, o)| *c == Call::Media && trusted.url(o))
        {
            Some(i) => {
                self.calls.remove(i);
                Decision::Allow
            }
            // Nobody we know of asked (WebKit answering from its memory): no.
            None => Decision::Deny,
        }
    }

    /// A device-names request of a webview showing `page`: only when trusted frames
    /// alone asked lately.
    pub fn device_names(&mut self, now: Instant, trusted: &Trusted, page: &str) -> Decision {
        self.expire(now);
        let foreign = self.calls.iter().any(|(_, _, o)| !trusted.url(o));
        let ours = self.calls.iter().any(|(_, _, o)| trusted.url(o));
        if trusted.url(page) && ours && !foreign {
            Decision::Allow
        } else {
            Decision::Deny
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PBX: &str = "https://pbx.example.com";
    const EVIL: &str = "https://evil.example.net";

    fn trusted() -> Trusted {
        Trusted::new(Some(PBX), "http://127.0.0.1:4000")
    }

    #[test]
    fn messages_parse() {
        assert_eq!(
            Call::parse("media https://a.b:1"),
            Some((Call::Media, "https://a.b:1".into()))
        );
        assert_eq!(
            Call::parse("devices null"),
            Some((Call::Devices, "null".into()))
        );
        assert_eq!(Call::parse("other x"), None);
        assert_eq!(Call::parse("media"), None);
    }

    #[test]
    fn our_frames_get_the_microphone_foreign_ones_are_asked() {
        let t = trusted();
        let now = Instant::now();
        let mut a = Announcements::default();
        assert_eq!(a.media(now, &t, PBX), Decision::Deny, "nobody asked");
        a.push(now, Call::Media, PBX.into());
        assert_eq!(a.media(now, &t, PBX), Decision::Allow);
        assert_eq!(
            a.media(now, &t, PBX),
            Decision::Deny,
            "one request per call"
        );
        a.push(now, Call::Media, PBX.into());
        a.push(now, Call::Media, EVIL.into());
        assert_eq!(a.media(now, &t, PBX), Decision::Ask(EVIL.into()));
        assert_eq!(a.media(now, &t, PBX), Decision::Allow, "then ours");
        // A foreign page (never shown by our windows) is asked about by its origin.
        assert_eq!(
            a.media(now, &t, "https://evil.example.net/x"),
            Decision::Ask(EVIL.into())
        );
        // Announcements expire.
        a.push(now, Call::Media, PBX.into());
        assert_eq!(a.media(now + ANNOUNCED, &t, PBX), Decision::Deny);
    }

    #[test]
    fn device_names_only_when_only_our_frames_asked() {
        let t = trusted();
        let now = Instant::now();
        let mut a = Announcements::default();
        assert_eq!(a.device_names(now, &t, PBX), Decision::Deny);
        a.push(now, Call::Devices, PBX.into());
        assert_eq!(a.device_names(now, &t, PBX), Decision::Allow);
        a.push(now, Call::Devices, EVIL.into());
        assert_eq!(a.device_names(now, &t, PBX), Decision::Deny);
        assert_eq!(
            a.device_names(now + ANNOUNCED, &t, PBX),
            Decision::Deny,
            "and then nobody asked"
        );
    }
}
