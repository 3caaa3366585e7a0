//! The shell on Linux: GTK windows, WebKitGTK webviews.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use javascriptcore::ValueExt;
use tao::window::{Window, WindowBuilder};
use webkit2gtk::gio;
use webkit2gtk::gio::prelude::TlsCertificateExt;
use webkit2gtk::glib::prelude::{Cast, ObjectExt};
use webkit2gtk::{
    DeviceInfoPermissionRequest, NavigationPolicyDecision, NavigationPolicyDecisionExt,
    NotificationPermissionRequest, PermissionRequest, PermissionRequestExt, PolicyDecisionExt,
    PolicyDecisionType, ResponsePolicyDecision, ResponsePolicyDecisionExt, SecurityManagerExt,
    SettingsExt, URIRequestExt, UserContentInjectedFrames, UserContentManager,
    UserContentManagerExt, UserMediaPermissionRequest, UserScript, UserScriptInjectionTime,
    WebContextExt, WebViewExt,
};
use wry::{NewWindowResponse, WebViewBuilder, WebViewExtUnix};

use super::permission::{Announcements, Call, Decision};
use super::policy::{Navigation, Trusted};
use super::webviews::{WebViewSetup, Windows, open_window};

/// A CA whose server certificates are accepted besides the system's (`--test-ca`, for
/// the test PBX stand-in). Only certificates that this CA signed and that name the host
/// pass; TLS checks stay on for everything else.
#[derive(Clone)]
pub struct TestCa(gio::TlsCertificate);

impl TestCa {
    /// From PEM text.
    pub fn from_pem(pem: &str) -> Result<TestCa, String> {
        gio::TlsCertificate::from_pem(pem)
            .map(TestCa)
            .map_err(|e| format!("not a PEM certificate: {e}"))
    }
}

/// Media streams on (WebKitGTK ships with `enable-media-stream` off), `ws:` to loopback
/// only, and the test CA.
pub fn configure(webview: &wry::WebView, test_ca: Option<TestCa>, rtc: Option<&Rtc>) {
    let wv = webview.webview();
    if let Some(settings) = WebViewExt::settings(&wv) {
        settings.set_enable_media_stream(true);
        // The page's console on stdout, for debugging pages (`MYAPPS_WEBVIEW_CONSOLE=1`).
        if std::env::var_os("MYAPPS_WEBVIEW_CONSOLE").is_some() {
            settings.set_enable_write_console_messages_to_stdout(true);
        }
    }
    // The PBX's page (https) talks to the local service over ws://localhost. WebKitGTK
    // (2.50) blocks that as mixed content, loopback or not (W3C Mixed Content §4.3; Chromium
    // and so WebView2 treat loopback as potentially trustworthy, §3.2, and allow it). Its
    // only knob is per scheme, so `ws:` is registered as secure, and a script in every
    // frame gives the block back for every other host (WS_ELSEWHERE).
    if let Some(security) = wv.context().and_then(|c| c.security_manager()) {
        security.register_uri_scheme_as_secure("ws");
    }
    if let Some(ucm) = wv.user_content_manager() {
        scripts(&ucm, rtc);
    }
    // WebKitGTK does not restart a web process that ended: the window then shows nothing
    // and its page runs no more. Said loudly, or it looks like a page that hangs
    // (docs/webrtc.md, "Sessions": WebKitGTK 2.50's web process dies in a RELEASE_ASSERT
    // while a WPT file runs).
    wv.connect_web_process_terminated(|wv, reason| {
        tracing::error!(
            ?reason,
            uri = wv.uri().as_deref().unwrap_or(""),
            "the window's web process ended (WebKitGTK); its page is gone"
        );
    });
    if let Some(ca) = test_ca {
        wv.connect_load_failed_with_tls_errors(move |wv, uri, cert, errors| {
            let Some(host) = host_of(uri) else {
                return false;
            };
            let identity = gio::NetworkAddress::new(&host, 443);
            let flags = cert.verify(Some(&identity), Some(&ca.0));
            if !flags.is_empty() {
                tracing::warn!(%uri, ?errors, ?flags, "TLS error, and not a certificate of the test CA");
                return false;
            }
            tracing::info!(%uri, %host, "accepting a certificate of the test CA");
            if let Some(ctx) = wv.context() {
                ctx.allow_tls_certificate_for_host(cert, &host);
            }
            wv.load_uri(uri);
            true
        });
    }
}

/// In every frame, in the page's world: `new WebSocket` to a cleartext URL of a host that
/// is not loopback throws `SecurityError` in a secure context, as WebKit's mixed-content
/// check (which `ws:` as a secure scheme turned off) would (WHATWG WebSockets, the
/// constructor's steps; W3C Mixed Content §5.2). Remote hosts are reached over wss:.
const WS_ELSEWHERE: &str = r#"(function(){var W=window.WebSocket;if(!W)return;
function loopback(h){h=h.toLowerCase();return h==="localhost"||h==="[::1]"||/^127\.\d+\.\d+\.\d+$/.test(h);}
function WebSocket(url,protocols){var u=new URL(String(url),location.href);
if(window.isSecureContext&&(u.protocol==="ws:"||u.protocol==="http:")&&!loopback(u.hostname))
throw new DOMException("ws: to "+u.host+" is blocked as mixed content; use wss:","SecurityError");
return arguments.length>1?new W(url,protocols):new W(url);}
WebSocket.prototype=W.prototype;["CONNECTING","OPEN","CLOSING","CLOSED"].forEach(function(k){WebSocket[k]=W[k];});
Object.defineProperty(window,"WebSocket",{value:WebSocket,writable:true,configurable:true});})();"#;

/// The world our frame-origin script runs in: WebKitGTK runs an isolated-world user script
/// in every frame, and the page's own scripts see neither it nor its message handler, so
/// the origin it reports is the frame's own (checked with WebKitGTK 2.50 under Xvfb).
const WORLD: &str = "myapps";

/// In every frame, in the page's world: a call of `getUserMedia`/`getDisplayMedia`
/// first raises `myapps-media` on the document, `enumerateDevices` `myapps-devices`, for
/// [`FRAME_ORIGIN`].
const MEDIA_CALLS: &str = "(function(){var M=window.MediaDevices;if(!M)return;var p=M.prototype;\
[['getUserMedia','myapps-media'],['getDisplayMedia','myapps-media'],['enumerateDevices','myapps-devices']]\
.forEach(function(c){var n=c[0],f=p[n];if(typeof f!=='function')return;\
Object.defineProperty(p,n,{value:function(){document.dispatchEvent(new Event(c[1]));\
return f.apply(this,arguments);},writable:true,configurable:true});});})();";

/// In every frame, in our own world: on `myapps-media`/`myapps-devices`, the call and the
/// frame's own origin (read here, so a page cannot give another) go to native code as
/// `"media <origin>"` / `"devices <origin>"` ([`permission::Call::parse`]).
const FRAME_ORIGIN: &str = "['media','devices'].forEach(function(k){\
document.addEventListener('myapps-'+k,function(){\
window.webkit.messageHandlers.myappsMedia.postMessage(k+' '+String(location.origin));},true);});";

thread_local! {
    /// Frames that called for media devices or their names lately (GTK's thread).
    static ANNOUNCED_BY: RefCell<Announcements> = RefCell::new(Announcements::default());
    /// The user content managers [`scripts`] has set up.
    static SET_UP: RefCell<Vec<UserContentManager>> = const { RefCell::new(Vec::new()) };
}

/// Our scripts and message handler, once per user content manager (a window that
/// `window.open` made shares its opener's).
fn scripts(ucm: &UserContentManager, rtc: Option<&Rtc>) {
    if SET_UP.with_borrow(|done| done.contains(ucm)) {
        return;
    }
    SET_UP.with_borrow_mut(|done| done.push(ucm.clone()));
    let all = UserContentInjectedFrames::AllFrames;
    let start = UserScriptInjectionTime::Start;
    ucm.add_script(&UserScript::new(WS_ELSEWHERE, all, start, &[], &[]));
    ucm.register_script_message_handler_in_world("myappsMedia", WORLD);
    ucm.connect_script_message_received(Some("myappsMedia"), move |_, result| {
        let message = result.js_value().map(|v| v.to_str().to_string());
        match message.as_deref().and_then(Call::parse) {
            Some((call, origin)) => {
                tracing::debug!(%origin, ?call, "a frame asks for media devices");
                ANNOUNCED_BY.with_borrow_mut(|a| a.push(Instant::now(), call, origin));
            }
            None => tracing::warn!(?message, "unexpected frame announcement"),
        }
    });
    ucm.add_script(&UserScript::new(MEDIA_CALLS, all, start, &[], &[]));
    // The Badging API, IdleDetector and notification actions (`web_platform`), judged by
    // the frame's own origin.
    ucm.register_script_message_handler_in_world("myappsPlatform", WORLD);
    ucm.connect_script_message_received(Some("myappsPlatform"), |_, result| {
        if let Some(m) = result.js_value().map(|v| v.to_str().to_string()) {
            super::web_platform::platform_message(&m);
        }
    });
    // Each API's script in the page's world, its forwarder in ours.
    for (page, ours) in [
        (
            super::web_platform::BADGE_CALLS,
            super::web_platform::BADGE_FORWARDER,
        ),
        (
            super::web_idle::IDLE_DETECTOR,
            super::web_idle::IDLE_FORWARDER,
        ),
        (
            super::web_notify::NOTIFICATION_ACTIONS,
            super::web_notify::ACTIONS_FORWARDER,
        ),
    ] {
        ucm.add_script(&UserScript::new(page, all, start, &[], &[]));
        ucm.add_script(&UserScript::for_world(ours, all, start, WORLD, &[], &[]));
    }
    ucm.add_script(&UserScript::for_world(
        FRAME_ORIGIN,
        all,
        start,
        WORLD,
        &[],
        &[],
    ));
    if let Some((router, rt)) = rtc {
        let page = router.page_script();
        super::rtc_linux::install(ucm, WORLD, &page, router.clone(), rt.clone());
    }
}

/// The WebRTC transport's router and the runtime it runs on.
pub type Rtc = (super::rtc::Router, tokio::runtime::Handle);

/// Who may use the microphone and camera, and where a window may go: the trusted
/// origins of [`super::policy`], judged per webview and per frame. `links` takes our
/// `tel:`/`sip:`/`im:` links.
pub fn guard(
    webview: &wry::WebView,
    trusted: &Trusted,
    links: tokio::sync::mpsc::UnboundedSender<String>,
) {
    let wv = webview.webview();
    let t = trusted.clone();
    wv.connect_permission_request(move |wv, request| {
        permission(&t, wv, request);
        true
    });
    // Page notifications (WHATWG Notifications API) of a trusted page become OS
    // notifications; the same origins may set the app badge and detect idleness.
    super::web_platform::trust(trusted.origins());
    super::web_idle::register(&wv);
    let t = trusted.clone();
    wv.connect_show_notification(move |wv, n| {
        let page = wv.uri().map(|u| u.to_string()).unwrap_or_default();
        if !t.url(&page) {
            tracing::info!(%page, "page notification of an untrusted page dropped");
            return true;
        }
        super::web_notify::show(wv, n)
    });
    let t = trusted.clone();
    wv.connect_decide_policy(move |_, decision, kind| match kind {
        PolicyDecisionType::NavigationAction => refused_navigation(&t, decision, &links),
        PolicyDecisionType::Response => refused_page(&t, decision),
        _ => false,
    });
}

/// Answers a permission request of `wv` ([`permission`] has the rule): media devices
/// for frames of trusted origins, a prompt naming the origin for any other; device names
/// for trusted frames only; nothing else.
fn permission(trusted: &Trusted, wv: &webkit2gtk::WebView, request: &PermissionRequest) {
    let page = wv.uri().map(|u| u.to_string()).unwrap_or_default();
    let now = Instant::now();
    let (what, decision) = if request.is::<UserMediaPermissionRequest>() {
        let d = ANNOUNCED_BY.with_borrow_mut(|a| a.media(now, trusted, &page));
        ("media devices", d)
    } else if request.is::<DeviceInfoPermissionRequest>() {
        let d = ANNOUNCED_BY.with_borrow_mut(|a| a.device_names(now, trusted, &page));
        ("device names", d)
    } else if request.is::<NotificationPermissionRequest>() {
        // `Notification.requestPermission()`: granted to the PBX's and our own pages (a
        // page the window shows; WebKit asks per page, not per frame).
        let d = if trusted.url(&page) {
            Decision::Allow
        } else {
            Decision::Deny
        };
        ("notifications", d)
    } else {
        // Geolocation, pointer lock…: WebKit's default (no) for ours too.
        ("other", Decision::Deny)
    };
    tracing::info!(%page, what, ?decision, "permission request");
    match decision {
        Decision::Allow => request.allow(),
        Decision::Deny => request.deny(),
        Decision::Ask(origin) => ask(wv, request.clone(), &origin),
    }
}

/// A prompt over `wv`'s window: "`origin` wants to use your microphone", Block (the
/// default, also on Escape or closing) or Allow. WebKit waits for the answer.
fn ask(wv: &webkit2gtk::WebView, request: PermissionRequest, origin: &str) {
    use gtk::prelude::{DialogExt, GtkWindowExt, MessageDialogExt, WidgetExt};
    let parent = wv.toplevel().and_then(|w| w.downcast::<gtk::Window>().ok());
    let dialog = gtk::MessageDialog::new(
        parent.as_ref(),
        gtk::DialogFlags::MODAL | gtk::DialogFlags::DESTROY_WITH_PARENT,
        gtk::MessageType::Question,
        gtk::ButtonsType::None,
        &format!("{origin} wants to use your microphone"),
    );
    dialog.set_title("myApps: microphone");
    dialog.set_secondary_text(Some(
        "This page is not your PBX's. Allow it only if you trust it.",
    ));
    dialog.add_button("_Block", gtk::ResponseType::Reject);
    dialog.add_button("_Allow", gtk::ResponseType::Accept);
    dialog.set_default_response(gtk::ResponseType::Reject);
    let origin = origin.to_owned();
    dialog.connect_response(move |d, response| {
        let allow = response == gtk::ResponseType::Accept;
        tracing::info!(%origin, allow, "the user answered the microphone prompt");
        if allow {
            request.allow();
        } else {
            request.deny();
        }
        d.close();
    });
    tracing::info!("microphone prompt shown");
    dialog.show_all();
}

/// `decide-policy` for a navigation (main frame or sub-frame: WebKitGTK does not say
/// which): our links go to the URI handler and other non-web schemes are refused here;
/// web pages are left to [`refused_page`], which knows the main frame. `true` when
/// the navigation was refused.
fn refused_navigation(
    trusted: &Trusted,
    decision: &webkit2gtk::PolicyDecision,
    links: &tokio::sync::mpsc::UnboundedSender<String>,
) -> bool {
    let Some(nav) = decision.downcast_ref::<NavigationPolicyDecision>() else {
        return false;
    };
    let Some(url) = nav
        .navigation_action()
        .and_then(|a| a.request())
        .and_then(|r| r.uri())
    else {
        return false;
    };
    let url = url.to_string();
    let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
    // Documents frames are made of (HTML §7.1: about:blank, srcdoc; data: and blob: URLs).
    let web = matches!(
        scheme.as_deref(),
        Some("http" | "https" | "about" | "data" | "blob")
    );
    match trusted.navigation(&url) {
        Navigation::Link => {
            tracing::info!(%url, "link from a page: to the URI handler");
            let _ = links.send(url);
        }
        _ if web => return false,
        _ => tracing::warn!(%url, "navigation refused: not a web page"),
    }
    decision.ignore();
    true
}

/// `decide-policy` for a response: the main frame's page (after redirects) of another
/// origin is not shown, the window stays where it was, and a web page goes to the system
/// browser instead. (Navigation decisions do not say whether they are the main frame's.)
/// `true` when the page was refused.
fn refused_page(trusted: &Trusted, decision: &webkit2gtk::PolicyDecision) -> bool {
    let Some(response) = decision.downcast_ref::<ResponsePolicyDecision>() else {
        return false;
    };
    if !response.is_main_frame_main_resource() {
        return false;
    }
    let Some(url) = response.request().and_then(|r| r.uri()) else {
        return false;
    };
    let url = url.to_string();
    match trusted.navigation(&url) {
        Navigation::Stay => return false,
        Navigation::Browser => match super::policy::open_in_browser(&url) {
            Ok(()) => tracing::info!(%url, "foreign page: opened in the system browser"),
            Err(e) => tracing::warn!(%url, "foreign page not opened: {e}"),
        },
        _ => tracing::warn!(%url, "page refused"),
    }
    decision.ignore();
    true
}

/// The host of `https://host[:port]/…` (IPv6 without brackets).
fn host_of(uri: &str) -> Option<String> {
    let rest = uri.split_once("://")?.1;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split_once(']').map(|(h, _)| h.to_owned());
    }
    Some(
        authority
            .rsplit_once(':')
            .map_or(authority, |(h, _)| h)
            .to_owned(),
    )
}

/// The opener a `window.open` gives: the new webview must be related to it.
pub type Opener = webkit2gtk::WebView;

/// Whether a window can be opened: tao panics when GTK finds no display, so ask GTK
/// first.
pub fn display_available() -> Result<(), String> {
    gtk::init().map_err(|e| format!("{e} (is DISPLAY or WAYLAND_DISPLAY set?)"))
}

/// The taskbar hint of a window to be built (`_NET_WM_STATE_SKIP_TASKBAR`).
pub fn with_skip_taskbar(builder: WindowBuilder, skip: bool) -> WindowBuilder {
    tao::platform::unix::WindowBuilderExtUnix::with_skip_taskbar(builder, skip)
}

/// Takes a window out of the taskbar or puts it back.
pub fn set_skip_taskbar(window: &Window, skip: bool) -> Result<(), String> {
    tao::platform::unix::WindowExtUnix::set_skip_taskbar(window, skip).map_err(|e| format!("{e:?}"))
}

/// Builds a webview into a window's GTK box (for X11 and Wayland alike).
pub fn build(builder: WebViewBuilder<'_>, window: &Window) -> Result<wry::WebView, String> {
    use tao::platform::unix::WindowExtUnix;
    use wry::WebViewBuilderExtUnix;
    let vbox = window
        .default_vbox()
        .ok_or("the window has no GTK box for the webview")?;
    builder.build_gtk(vbox).map_err(|e| format!("webview: {e}"))
}

/// Before the webview is built: a window a page opened is related to its opener's
/// webview (WebKit loads the page into it, and `window.opener` works).
pub fn prepare<'a>(
    builder: WebViewBuilder<'a>,
    _setup: &WebViewSetup,
    opener: Option<Opener>,
) -> WebViewBuilder<'a> {
    use wry::WebViewBuilderExtUnix;
    match opener {
        Some(o) => builder.with_related_view(o),
        None => builder,
    }
}

/// After the webview is built: its settings and [`guard`].
pub fn attach(webview: &wry::WebView, setup: &WebViewSetup) {
    configure(webview, setup.test_ca.clone(), setup.rtc.as_ref());
    guard(webview, &setup.trusted, setup.links.clone());
}

/// `window.open` from a page: another tao window (multi-windowing), whose webview is
/// handed to WebKit, which loads the page into it.
pub fn popup(windows: &Rc<Windows>, features: wry::NewWindowFeatures) -> NewWindowResponse {
    match open_window(windows, None, Some(features.opener.webview)) {
        Ok(id) => match windows.open.borrow().get(&id) {
            Some((_, wv)) => NewWindowResponse::Create {
                webview: wv.webview(),
            },
            None => NewWindowResponse::Deny,
        },
        Err(e) => {
            tracing::warn!("window.open: {e}");
            NewWindowResponse::Deny
        }
    }
}

/// Whether a tray host is on the session bus (a StatusNotifierWatcher, which panels
/// implementing the StatusNotifierItem spec own). Without one the tray icon shows nowhere,
/// so the shell keeps the windows in the taskbar whatever `SHOWINTASKBAR` says.
pub fn tray_host() -> bool {
    let owned = || -> zbus::Result<bool> {
        let conn = zbus::blocking::Connection::session()?;
        let dbus = zbus::blocking::fdo::DBusProxy::new(&conn)?;
        Ok(dbus.name_has_owner(zbus::names::BusName::try_from(
            "org.kde.StatusNotifierWatcher",
        )?)?)
    };
    owned().unwrap_or_else(|e| {
        tracing::info!("no tray host: {e}");
        false
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn hosts() {
        use super::host_of;
        assert_eq!(
            host_of("https://127.0.0.1:4431/PBX0/x").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(host_of("https://[::1]:4431/").as_deref(), Some("::1"));
        assert_eq!(host_of("https://pbx#phys=x").as_deref(), Some("pbx"));
        assert_eq!(host_of("about:blank"), None);
    }
}
