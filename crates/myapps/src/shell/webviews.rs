//! The app's windows and their webviews: the client's (and those its pages open), and
//! the connect form. What differs per OS is in [`super::os`].

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use desktop::settings::typed::Docking;
use tao::event_loop::EventLoopWindowTarget;
use tao::window::{Window, WindowBuilder, WindowId};
use wry::{NewWindowResponse, WebView, WebViewBuilder};

use super::{Pending, UserEvent, bridge, os, policy, probe};

/// What every webview of the app is built with.
pub(super) struct WebViewSetup {
    pub script: String,
    pub user_agent: String,
    /// The origins the windows may show and that may use media devices.
    pub trusted: policy::Trusted,
    /// Links pages follow (`tel:`…), to the URI handler.
    pub links: tokio::sync::mpsc::UnboundedSender<String>,
    #[cfg(target_os = "linux")]
    pub test_ca: Option<super::linux::TestCa>,
    /// The WebRTC transport (`WEBRTC` on): its router and the runtime it runs on.
    #[cfg(target_os = "linux")]
    pub rtc: Option<super::linux::Rtc>,
    /// The same over wry's IPC (`rtc_wry`), with the way back to the event loop.
    #[cfg(not(target_os = "linux"))]
    pub rtc: Option<super::rtc_wry::Rtc>,
}

/// The app's windows.
pub(super) struct Windows {
    pub target: EventLoopWindowTarget<UserEvent>,
    /// Set once the PBX is known (the client's windows are built with it).
    pub setup: RefCell<Option<Rc<WebViewSetup>>>,
    pub open: RefCell<HashMap<WindowId, (Window, WebView)>>,
    /// The window whose closing ends the app: the client's, or the connect form.
    pub main: RefCell<Option<WindowId>>,
    /// The connect form, while it is shown.
    pub form: RefCell<Option<WindowId>>,
    /// The `SHOWINTASKBAR` setting.
    pub show_in_taskbar: Cell<bool>,
    /// A tray host shows our icon, as far as it matters: asked at start when
    /// `SHOWINTASKBAR` is off, and true once a click on the tray came.
    pub tray_host: Cell<bool>,
    /// Where the main window goes (`DOCKING`).
    pub docking: Docking,
}

/// The connect form (assets/shell/connect.html).
const CONNECT_HTML: &str = include_str!("../../../../assets/shell/connect.html");

/// The connect form in the UI language ([`service::PageL10n::fill`]).
fn connect_html() -> String {
    crate::l10n::ui().page(&["connect-"]).fill(CONNECT_HTML)
}

impl Windows {
    /// Windows stay out of the taskbar: `SHOWINTASKBAR` is off and a tray is there to
    /// come back by.
    pub fn skip_taskbar(&self) -> bool {
        !self.show_in_taskbar.get() && self.tray_host.get()
    }

    /// Shows the main window in front (a later start, the tray).
    pub fn raise(&self) {
        if let Some(id) = *self.main.borrow()
            && let Some((w, _)) = self.open.borrow().get(&id)
        {
            w.set_visible(true);
            w.set_minimized(false);
            w.set_focus();
        }
    }
}

/// Takes a window out of the taskbar or puts it back (X11 `_NET_WM_STATE_SKIP_TASKBAR`,
/// Windows `ITaskbarList`). macOS has no per-window taskbar entry: the Dock shows the app.
pub(super) fn set_skip_taskbar(window: &Window, skip: bool) {
    if let Err(e) = os::set_skip_taskbar(window, skip) {
        tracing::warn!("show in taskbar: {e}");
    }
}

/// The connect form (first start, no `SERVER`): its IPC posts `{"mt":"Connect","server"}`,
/// the check runs on the runtime, its outcome comes back as [`UserEvent::Probed`]. It
/// posts `{"mt":"Ready"}` once its field has the keyboard focus and `{"mt":"Shown","kind"}`
/// once an outcome is on screen (both logged).
pub(super) fn open_connect_form(
    windows: &Rc<Windows>,
    proxy: tao::event_loop::EventLoopProxy<UserEvent>,
    rt: tokio::runtime::Handle,
    pending: Option<&Pending>,
) -> Result<(), String> {
    let test_ca = pending.and_then(|p| p.test_ca.clone());
    let window = builder_for(windows)
        .with_title(crate::l10n::ui().get("connect-title"))
        .with_inner_size(tao::dpi::LogicalSize::new(760.0, 600.0))
        .build(&windows.target)
        .map_err(|e| format!("window: {e}"))?;
    let builder = WebViewBuilder::new()
        .with_html(connect_html())
        .with_user_agent(bridge::default_user_agent())
        .with_ipc_handler(move |req| {
            let body = req.body();
            let msg = serde_json::from_str::<serde_json::Value>(body).unwrap_or_default();
            if msg["mt"] == "Ready" {
                tracing::info!("connect form ready: the field has the keyboard focus");
                return;
            }
            if msg["mt"] == "Demo" {
                let _ = proxy.send_event(UserEvent::Demo);
                return;
            }
            if msg["mt"] == "Shown" {
                tracing::info!("connect form shows {}", msg["kind"].as_str().unwrap_or("?"));
                return;
            }
            let server = Some(msg)
                .filter(|v| v["mt"] == "Connect")
                .and_then(|v| v["server"].as_str().map(str::to_owned));
            let Some(server) = server else {
                tracing::warn!("connect form: unexpected message {body:?}");
                return;
            };
            let proxy = proxy.clone();
            let ca = test_ca.clone();
            rt.spawn(async move {
                let outcome = probe::probe(&server, ca.as_deref()).await;
                let _ = proxy.send_event(UserEvent::Probed { server, outcome });
            });
        });
    let webview = os::build(builder, &window)?;
    show(windows, &window);
    let id = window.id();
    windows.open.borrow_mut().insert(id, (window, webview));
    *windows.main.borrow_mut() = Some(id);
    *windows.form.borrow_mut() = Some(id);
    tracing::info!("connect form open");
    Ok(())
}

/// A window builder with what every window of the app shares: the taskbar entry. A
/// window kept out of the taskbar starts hidden and [`show`] maps it once the hint is
/// set: tao applies it from its event loop, and a window manager reads `_NET_WM_STATE`
/// when the window is mapped (a change afterwards is a request it may ignore).
fn builder_for(windows: &Windows) -> WindowBuilder {
    let skip = windows.skip_taskbar();
    os::with_skip_taskbar(WindowBuilder::new().with_visible(!skip), skip)
}

/// Shows a window [`builder_for`] left hidden.
fn show(windows: &Windows, window: &Window) {
    if windows.skip_taskbar() {
        window.set_visible(true);
    }
}

/// Opens a window with a webview: the main one (`url`) or one the page asked for with
/// `window.open` (`opener`; the webview then loads the page itself).
pub(super) fn open_window(
    windows: &Rc<Windows>,
    url: Option<&str>,
    opener: Option<os::Opener>,
) -> Result<WindowId, String> {
    let mut wb = builder_for(windows)
        .with_title("myApps")
        .with_inner_size(tao::dpi::LogicalSize::new(1100.0, 760.0));
    // The main window (the one given a URL) docks; windows the page opens do not.
    if url.is_some()
        && let Some((pos, size)) = docked_geometry(windows)
    {
        tracing::info!(
            docking = windows.docking.as_str(),
            x = pos.x,
            y = pos.y,
            width = size.width,
            height = size.height,
            "docked"
        );
        wb = wb.with_position(pos).with_inner_size(size);
    }
    let window = wb
        .build(&windows.target)
        .map_err(|e| format!("window: {e}"))?;
    let setup = windows
        .setup
        .borrow()
        .clone()
        .ok_or("the PBX is not known yet")?;
    let mut builder = WebViewBuilder::new()
        .with_user_agent(&setup.user_agent)
        .with_initialization_script_for_main_only(&setup.script, true)
        .with_clipboard(true);
    if let Some(url) = url {
        builder = builder.with_url(url);
    }
    let weak = Rc::downgrade(windows);
    let (trusted, links) = (setup.trusted.clone(), setup.links.clone());
    builder = builder.with_new_window_req_handler(move |url, features| {
        tracing::info!(%url, "window.open");
        let Some(windows) = weak.upgrade() else {
            return NewWindowResponse::Deny;
        };
        if !followed(&trusted, &links, &url) {
            return NewWindowResponse::Deny;
        }
        os::popup(&windows, features)
    });
    // WebRTC where wry's IPC carries it (on Linux, WebKitGTK's messages: `os::attach`).
    #[cfg(not(target_os = "linux"))]
    if let Some(rtc) = &setup.rtc {
        builder = super::rtc_wry::with_transport(builder, rtc, &setup.trusted, window.id());
    }
    // Permissions and navigations: on Linux per frame with WebKitGTK's own signals;
    // elsewhere per webview, with what wry gives ([`guarded`]).
    let builder = os::prepare(builder, &setup, opener);
    let webview = os::build(builder, &window)?;
    os::attach(&webview, &setup);
    show(windows, &window);
    let id = window.id();
    windows.open.borrow_mut().insert(id, (window, webview));
    Ok(id)
}

/// Whether a window follows a link to `url` ([`policy::Trusted::navigation`]): a
/// foreign web page goes to the system browser, our links to the URI handler instead.
fn followed(
    trusted: &policy::Trusted,
    links: &tokio::sync::mpsc::UnboundedSender<String>,
    url: &str,
) -> bool {
    match trusted.navigation(url) {
        policy::Navigation::Stay => return true,
        policy::Navigation::Browser => match policy::open_in_browser(url) {
            Ok(()) => tracing::info!(%url, "foreign page: opened in the system browser"),
            Err(e) => tracing::warn!(%url, "foreign page not opened: {e}"),
        },
        policy::Navigation::Link => {
            tracing::info!(%url, "link from a page: to the URI handler");
            let _ = links.send(url.to_owned());
        }
        policy::Navigation::Refuse => tracing::warn!(%url, "navigation refused"),
    }
    false
}

/// Media permissions and navigations with wry's handlers (WebView2, WKWebView): they
/// name no frame, so each webview is judged by the origin of its own page.
#[cfg(not(target_os = "linux"))]
pub(super) fn guarded<'a>(builder: WebViewBuilder<'a>, setup: &WebViewSetup) -> WebViewBuilder<'a> {
    use std::sync::{Arc, Mutex, PoisonError};
    use wry::{PermissionKind, PermissionResponse};
    let page = Arc::new(Mutex::new(String::new()));
    let (trusted, links) = (setup.trusted.clone(), setup.links.clone());
    let seen = page.clone();
    let builder = builder.with_navigation_handler(move |url| {
        // WebView2 asks for main-frame navigations only; WKWebView for frames too, so
        // there a foreign page may load (it may be an app's frame).
        if cfg!(target_os = "macos") && trusted.navigation(&url) == policy::Navigation::Browser {
            return true;
        }
        followed(&trusted, &links, &url)
    });
    // The page the webview shows (main frame), as its page-load events name it.
    let builder = builder.with_on_page_load_handler(move |ev, url| {
        if matches!(ev, wry::PageLoadEvent::Started) {
            *seen.lock().unwrap_or_else(PoisonError::into_inner) = url;
        }
    });
    let trusted = setup.trusted.clone();
    builder.with_permission_handler(move |kind| {
        let ours = trusted.url(&page.lock().unwrap_or_else(PoisonError::into_inner));
        match kind {
            PermissionKind::Microphone | PermissionKind::Camera if ours => {
                PermissionResponse::Allow
            }
            _ if ours => PermissionResponse::Default,
            _ => PermissionResponse::Deny,
        }
    })
}

/// The main window's place and size for `DOCKING` left or right: the full height of the
/// primary monitor at its edge, 480 logical pixels wide (half the monitor at most), as
/// the myApps client's narrow layout needs. `None` for no docking or no monitor. It is
/// where the window starts; the window manager may still move it (the official client's
/// persistent docking is a Windows app bar).
fn docked_geometry(
    windows: &Windows,
) -> Option<(tao::dpi::PhysicalPosition<i32>, tao::dpi::PhysicalSize<u32>)> {
    let left = match windows.docking {
        Docking::Left => true,
        Docking::Right => false,
        Docking::None => return None,
    };
    let monitor = windows
        .target
        .primary_monitor()
        .or_else(|| windows.target.available_monitors().next())?;
    let (pos, size) = (monitor.position(), monitor.size());
    let wanted = tao::dpi::LogicalSize::new(480.0, 0.0).to_physical::<u32>(monitor.scale_factor());
    let width = wanted.width.min(size.width / 2).max(1);
    let x = if left {
        pos.x
    } else {
        pos.x + i32::try_from(size.width - width).unwrap_or(0)
    };
    Some((
        tao::dpi::PhysicalPosition::new(x, pos.y),
        tao::dpi::PhysicalSize::new(width, size.height),
    ))
}
