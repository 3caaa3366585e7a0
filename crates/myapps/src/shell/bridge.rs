//! The bridge script injected into our own webviews (docs/protocol.md §8): it gives the
//! myApps web client the local service's URLs and secret as `window.myAppsPlatform`.
//!
//! Only wry's initialization script of our windows carries it, so no browser ever sees
//! it; and the script defines the object only when the document's origin is the PBX's,
//! so a page the user navigates to elsewhere (or a foreign iframe: WebView2 runs
//! initialization scripts in subframes too) does not learn the secret.

use serde_json::{Value, json};

/// What the page gets: the launcher model's `version`, `launcher`, `build`, `services` and
/// `secret` (docs/protocol.md §7.7) plus `http`, the service's base URL.
pub fn platform(info: &Value) -> Value {
    json!({
        "version": info["version"],
        "launcher": "myapps-rs",
        "build": env!("CARGO_PKG_VERSION"),
        "http": info["http"],
        "services": {
            "media": info["media"],
            "ringer": info["ringer"],
            "devices": info["devices"],
            "api": info["api"],
        },
        "secret": info["secret"],
    })
}

/// The script: defines a frozen, read-only `window.myAppsPlatform` in documents of
/// `origin` only. `info` is [`service::Service::info`].
pub fn script(info: &Value, origin: &str) -> String {
    // Both are JSON: string and object literals that are valid JavaScript too.
    let origin = Value::from(origin);
    let platform = platform(info);
    format!(
        "(function(){{\n\
         if (window.location.origin !== {origin}) return;\n\
         var p = {platform};\n\
         Object.freeze(p.services);\n\
         Object.defineProperty(window, 'myAppsPlatform', {{value: Object.freeze(p), enumerable: false, configurable: false, writable: false}});\n\
         }})();"
    )
}

/// The user agent: a WebKit browser's, plus `token` (`USERAGENTTOKEN`, default
/// `myApps (<OS>)`): the web client's `lib1.js` recognises the launcher by `myApps` in it
/// (docs/public-protocols.md §0, docs/webrtc-evidence.md §1), and the PBX logs the same
/// words as innovaphone's clients send (`myApps (Windows)`).
pub fn user_agent(token: &str) -> String {
    let platform = if cfg!(windows) {
        "Windows NT 10.0; Win64; x64"
    } else if cfg!(target_os = "macos") {
        "Macintosh; Intel Mac OS X 10_15_7"
    } else {
        "X11; Linux x86_64"
    };
    format!(
        "Mozilla/5.0 ({platform}) AppleWebKit/605.1.15 (KHTML, like Gecko) {token} myapps-rs/{}",
        env!("CARGO_PKG_VERSION")
    )
}

/// [`user_agent`] with the default token (the connect form, the settings window, the
/// server check: before the settings matter).
pub fn default_user_agent() -> String {
    user_agent(desktop::settings::typed::default_user_agent_token())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_carries_the_service_and_checks_the_origin() {
        let info = json!({"version":1,"http":"http://localhost:4000","media":"ws://localhost:4000/media",
            "ringer":"ws://localhost:4000/ringer","devices":"ws://localhost:4000/devices",
            "api":"ws://localhost:4000/api","secret":"ab12","pid":7});
        let s = script(&info, "https://pbx.example.com:444");
        assert!(s.contains(r#"window.location.origin !== "https://pbx.example.com:444""#));
        assert!(s.contains(r#""api":"ws://localhost:4000/api""#));
        assert!(s.contains(r#""secret":"ab12""#));
        assert!(!s.contains("pid"), "only what the page needs");
        // A quote in the origin cannot break out of the string literal.
        let s = script(&info, "https://x\"+alert(1)+\"");
        assert!(s.contains(r#""https://x\"+alert(1)+\"""#));
        assert!(default_user_agent().contains("myApps ("));
        assert!(user_agent("myApps/2").contains(") myApps/2 myapps-rs/"));
    }
}
