//! The shell on macOS: WKWebView through wry.

use std::rc::Rc;

use tao::window::{Window, WindowBuilder};
use wry::{NewWindowResponse, WebViewBuilder};

use super::webviews::{WebViewSetup, Windows};

/// The opener a `window.open` gives (nothing: the system webview opens its own popup).
pub type Opener = ();

/// Whether a window can be opened: there is always a desktop to show windows on.
pub fn display_available() -> Result<(), String> {
    Ok(())
}

/// Whether a tray host shows our icon: there is always a notification area or menu bar.
pub fn tray_host() -> bool {
    true
}

/// Builds a webview into a window.
pub fn build(builder: WebViewBuilder<'_>, window: &Window) -> Result<wry::WebView, String> {
    builder.build(window).map_err(|e| format!("webview: {e}"))
}

/// Before the webview is built: permissions and navigations with wry's handlers.
pub fn prepare<'a>(
    builder: WebViewBuilder<'a>,
    setup: &WebViewSetup,
    _opener: Option<Opener>,
) -> WebViewBuilder<'a> {
    super::webviews::guarded(builder, setup)
}

/// After the webview is built: nothing more.
pub fn attach(_webview: &wry::WebView, _setup: &WebViewSetup) {}

/// `window.open` from a page: the system webview's own popup (wry's default) until the
/// hand-over to a tao window is written. Only pages of trusted origins get here.
pub fn popup(_windows: &Rc<Windows>, _features: wry::NewWindowFeatures) -> NewWindowResponse {
    NewWindowResponse::Allow
}

/// No taskbar hint: macOS has no per-window taskbar entry (the Dock shows the app).
pub fn with_skip_taskbar(builder: WindowBuilder, _skip: bool) -> WindowBuilder {
    builder
}

/// Nothing to do: see [`with_skip_taskbar`].
pub fn set_skip_taskbar(_window: &Window, _skip: bool) -> Result<(), String> {
    Ok(())
}
