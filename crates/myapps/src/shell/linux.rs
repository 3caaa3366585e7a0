//! WebKitGTK specifics of the shell's webviews.

use webkit2gtk::gio;
use webkit2gtk::gio::prelude::TlsCertificateExt;
use webkit2gtk::{SecurityManagerExt, SettingsExt, WebContextExt, WebViewExt};
use wry::WebViewExtUnix;

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

/// Media streams on (WebKitGTK ships with `enable-media-stream` off) and the test CA.
pub fn configure(webview: &wry::WebView, test_ca: Option<TestCa>) {
    let wv = webview.webview();
    if let Some(settings) = WebViewExt::settings(&wv) {
        settings.set_enable_media_stream(true);
        // The page's console on stdout, for debugging pages (`MYAPPS_WEBVIEW_CONSOLE=1`).
        if std::env::var_os("MYAPPS_WEBVIEW_CONSOLE").is_some() {
            settings.set_enable_write_console_messages_to_stdout(true);
        }
    }
    // The PBX's page (https) talks to the local service over ws://localhost. WebKitGTK
    // (2.50) blocks that as mixed content, loopback or not (Chromium and so WebView2 treat
    // loopback as potentially trustworthy and allow it). So `ws:` counts as secure in our
    // webviews: what mixed-content blocking guards against is a page pulling in passive
    // content over cleartext, and a websocket is opened by the page's own script. Remote
    // hosts are still reached over wss: by the client (docs/protocol.md §8).
    if let Some(security) = wv.context().and_then(|c| c.security_manager()) {
        security.register_uri_scheme_as_secure("ws");
    }
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
