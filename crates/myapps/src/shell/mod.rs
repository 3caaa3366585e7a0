//! The desktop shell: `myapps` without a subcommand. A tao window with a wry webview that
//! loads the myApps client of the configured PBX (wiki, "Server configuration"), with the
//! local service running in this process exactly as `--headless` runs it, with the same
//! hot keys, idle presence and notifications ([`headless::Desktop`]).
//!
//! Only this module knows tao and wry (docs/architecture.md). [`app`] has the event loop's
//! handlers, [`webviews`] the windows, [`policy`] where they may go and who gets media
//! devices; what differs per OS is in one module per OS (`linux`: WebKitGTK, `windows`:
//! WebView2, `macos`: WKWebView), used as `os`.

mod app;
pub mod bridge;
#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "linux")]
mod permission;
mod policy;
mod probe;
mod rtc;
#[cfg(target_os = "linux")]
mod rtc_linux;
mod rtc_session;
#[cfg(not(target_os = "linux"))]
mod rtc_wry;
pub mod settings_window;
mod tray;
#[cfg(target_os = "linux")]
mod web_idle;
#[cfg(target_os = "linux")]
mod web_notify;
#[cfg(target_os = "linux")]
mod web_platform;
mod webviews;
#[cfg(windows)]
mod windows;

#[cfg(target_os = "linux")]
use linux as os;
#[cfg(target_os = "macos")]
use macos as os;
#[cfg(windows)]
use windows as os;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

use desktop::server::Server;
use desktop::settings::typed::Settings;
use tao::event_loop::EventLoopBuilder;

use crate::headless;

/// Options of the shell: its own, then every `--headless` service option.
pub struct Options {
    /// `--server`: the PBX address, instead of the stored `SERVER` setting.
    pub(crate) server: Option<String>,
    /// `--test-ca FILE` (hidden, for tests): server certificates issued by this CA (PEM)
    /// are accepted besides the system's trusted ones. Nothing else is relaxed.
    pub(crate) test_ca: Option<PathBuf>,
    /// `tel:`/`sip:`/`im:` links given on the command line.
    pub(crate) uris: Vec<String>,
    /// `--demo`: the demo page (devices, ringtones, the echo-test call) instead of a PBX.
    pub(crate) demo: bool,
    pub(crate) service: headless::Options,
}

/// `true` when `arg` is a link the URI handler takes (`tel:`, `sip:`, `sips:`, `im:`).
pub fn is_uri(arg: &str) -> bool {
    let lower = arg.to_ascii_lowercase();
    ["tel:", "sip:", "sips:", "im:"]
        .iter()
        .any(|s| lower.starts_with(s))
}

/// Parses the shell's command line (the app's part of [`crate::cli`]).
#[cfg(test)]
pub fn parse(args: &[String]) -> Result<Options, String> {
    crate::cli::shell_options(args)
}

/// What the settings window hands to the running instance after a save (not a link, so
/// never taken for one).
pub const SETTINGS_CHANGED: &str = "--settings-changed";

/// Messages to the event loop from other threads.
#[derive(Clone, Debug)]
pub enum UserEvent {
    /// Bring the main window to the front (a second start handed over its arguments).
    Raise,
    /// The connect form's "Try the demo".
    Demo,
    /// The settings window saved ([`SETTINGS_CHANGED`]).
    SettingsChanged,
    /// A trusted page set the app badge (Badging API; Linux).
    #[cfg(target_os = "linux")]
    Badge(web_platform::Badge),
    /// The connect form's check of `server` is done.
    Probed {
        server: String,
        outcome: probe::Outcome,
    },
    /// A tray menu entry.
    Tray(tray::Action),
    /// A WebRTC transport reply for the top document of `window` (`rtc_wry`).
    #[cfg(not(target_os = "linux"))]
    RtcReply {
        window: tao::window::WindowId,
        script: String,
    },
}

/// Runs the app until its main window closes.
pub fn run(opts: Options) -> ExitCode {
    headless::init_logging();
    let settings = stored_settings();
    let server = match &opts.server {
        Some(s) => Server::parse(s).ok(),
        None => settings.server.clone(),
    };
    // One instance per user: a later start hands its links over and ends here.
    let socket = match desktop::instance::claim("myapps", &opts.uris) {
        Ok(desktop::instance::Claim::HandedOver) => {
            eprintln!("myapps: handed over to the running instance");
            return ExitCode::SUCCESS;
        }
        Ok(desktop::instance::Claim::First(s)) => Some(s),
        Err(e) => {
            tracing::warn!("single instance: {e}; going on without");
            None
        }
    };
    if let Err(e) = os::display_available() {
        eprintln!(
            "myapps: cannot open a window: {e}. `myapps --headless` runs the local service without one."
        );
        return ExitCode::FAILURE;
    }
    let event_loop = EventLoopBuilder::<UserEvent>::with_user_event().build();
    let demo = opts.demo;
    let mut app = match prepare(&event_loop, opts, socket, &settings) {
        Ok(app) => app,
        Err(code) => return code,
    };
    if let Err(e) = app.start(server, demo) {
        eprintln!("myapps: {e}");
        return ExitCode::FAILURE;
    }
    event_loop.run(move |event, _target, control_flow| app.handle(event, control_flow))
}

/// The app before its first window: the service's options read, the runtime, the links
/// (ours and later starts'), the windows' state. The exit code when that fails.
fn prepare(
    event_loop: &tao::event_loop::EventLoop<UserEvent>,
    mut opts: Options,
    socket: Option<Box<dyn desktop::instance::LocalSocket>>,
    settings: &Settings,
) -> Result<app::App, ExitCode> {
    let test_ca = match opts
        .test_ca
        .as_deref()
        .map(std::fs::read_to_string)
        .transpose()
    {
        Ok(ca) => ca,
        Err(e) => {
            eprintln!("myapps: --test-ca: {e}");
            return Err(ExitCode::from(2));
        }
    };
    #[cfg(not(target_os = "linux"))]
    if test_ca.is_some() {
        eprintln!("myapps: --test-ca is only supported on Linux");
        return Err(ExitCode::from(2));
    }
    // Hot keys, idle presence and notifications as in `--headless`.
    let desktop = opts.service.prepare();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("myapps: cannot start the runtime: {e}");
            ExitCode::FAILURE
        })?;
    // Links (ours and later starts'), in order, to the URI handler.
    let (links, links_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    for u in opts.uris {
        let _ = links.send(u);
    }
    let link_sender = links.clone();
    if let Some(socket) = socket {
        let proxy = event_loop.create_proxy();
        let served = desktop::instance::serve(socket, move |args| {
            // The settings window saved: follow, without raising the window.
            if args.iter().any(|a| a == SETTINGS_CHANGED) {
                let _ = proxy.send_event(UserEvent::SettingsChanged);
                return;
            }
            for a in args.into_iter().filter(|a| is_uri(a)) {
                // The package check (scripts/package-deb) looks for this line.
                tracing::info!(link = %desktop::uri::Redacted(&a), "link from a later start");
                let _ = links.send(a);
            }
            let _ = proxy.send_event(UserEvent::Raise);
        });
        if let Err(e) = served {
            tracing::warn!("single instance: {e}");
        }
    }
    let windows = Rc::new(webviews::Windows {
        target: (**event_loop).clone(),
        setup: RefCell::new(None),
        open: RefCell::new(HashMap::new()),
        main: RefCell::new(None),
        form: RefCell::new(None),
        show_in_taskbar: Cell::new(settings.show_in_taskbar),
        // Asked only when it matters: it is a D-Bus round trip on Linux.
        tray_host: Cell::new(!settings.show_in_taskbar && os::tray_host()),
        docking: settings.docking,
    });
    Ok(app::App {
        windows,
        rt,
        proxy: event_loop.create_proxy(),
        tray: None,
        tray_state: tray::State {
            autostart: settings_window::sync_autostart().unwrap_or_else(|e| {
                tracing::warn!("autostart: {e}");
                autostart_enabled()
            }),
            autostart_forced: settings.forced.contains("AUTOSTART"),
            taskbar: settings.show_in_taskbar,
            taskbar_forced: settings.forced.contains("SHOWINTASKBAR"),
        },
        pending: Some(Pending {
            config: opts.service.config,
            desktop,
            links: links_rx,
            link_sender,
            test_ca,
            webrtc: settings.webrtc,
            user_agent_token: settings.user_agent_token.clone(),
        }),
        service: None,
    })
}

/// What `app::launch` needs, kept until the PBX is known.
struct Pending {
    config: service::Config,
    desktop: headless::Desktop,
    links: tokio::sync::mpsc::UnboundedReceiver<String>,
    /// The sending end of `links`, for links pages follow.
    link_sender: tokio::sync::mpsc::UnboundedSender<String>,
    test_ca: Option<String>,
    /// `WEBRTC`: the WebRTC transport in the app's windows.
    webrtc: bool,
    /// `USERAGENTTOKEN`.
    user_agent_token: String,
}

/// Whether the OS starts myApps at login now (the tray's check mark).
fn autostart_enabled() -> bool {
    desktop::autostart::system()
        .and_then(|a| a.is_enabled())
        .unwrap_or_else(|e| {
            tracing::warn!("autostart: {e}");
            false
        })
}

/// The running local service and the desktop services around it.
struct Running {
    service: service::Service,
    desktop: headless::Attached,
}

impl Running {
    /// The settings changed: the desktop services follow.
    fn reload(&self) {
        self.desktop.reload();
    }

    async fn stop(self) {
        drop(self.desktop);
        self.service.stop().await;
    }
}

/// What the main window shows.
#[derive(Clone, Copy)]
enum Page<'a> {
    /// The myApps client of this PBX.
    Pbx(&'a Server),
    /// `--demo`: the service's demo page (assets/service/demo.html), with the bridge for
    /// the service's own origin. No PBX is involved; links and hot keys have no one to
    /// go to.
    Demo,
}

/// Stores `SERVER` (the user's settings) so that the next start goes to the PBX at once.
fn store_server(server: &Server) {
    let stored = desktop::settings::open().and_then(|mut store| {
        let (def, value) = desktop::settings::typed::parse_input("SERVER", &server.to_string())?;
        store.set(def.name, value)
    });
    if let Err(e) = stored {
        tracing::warn!("cannot store SERVER: {e}");
    }
}

/// The URI handler (wiki, "URL Handler"): each link becomes the ApiRequest of
/// [`desktop::uri`], sent through the ApiRelay to the web client (docs/protocol.md
/// §7.6). A link that comes before the client has connected waits for it (2 minutes).
async fn uri_handler(
    relay: service::relay::Relay,
    mut links: tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    const WAIT: std::time::Duration = std::time::Duration::from_secs(120);
    let mut endpoint = relay.attach();
    let log_results = |endpoint: &mut service::relay::Endpoint| {
        while let Some(m) = endpoint.try_recv() {
            if let protocol::api::ApiMessage::ApiResult(r) = m {
                tracing::info!(result = %protocol::api::ApiMessage::ApiResult(r).to_value(), "URI handler");
            }
        }
    };
    while let Some(link) = links.recv().await {
        let action = match desktop::uri::parse(&link) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(link = %desktop::uri::Redacted(&link), "not a link we take: {e}");
                continue;
            }
        };
        let since = std::time::Instant::now();
        while relay.clients().is_empty() && since.elapsed() < WAIT {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        match endpoint.request(action.request()) {
            Ok(()) => {
                tracing::info!(link = %desktop::uri::Redacted(&link), "sent to the web client")
            }
            Err(e) => tracing::warn!(link = %desktop::uri::Redacted(&link), "cannot send: {e:?}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        log_results(&mut endpoint);
    }
}

/// The settings in effect, the PBX's kept `adminSettings` included (each broken one
/// logged and left at its default).
fn stored_settings() -> Settings {
    let loaded = desktop::settings::open()
        .and_then(|store| Settings::effective(store.as_ref()))
        .map_err(|e| tracing::warn!("settings: {e}"));
    let Ok((settings, problems)) = loaded else {
        return Settings::default();
    };
    for p in problems {
        tracing::warn!("settings: {p}");
    }
    settings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn options_and_origins() {
        let o = parse(&args(&[
            "--server",
            "pbx.example.com:444",
            "--no-sound",
            "tel:4711",
            "--port",
            "0",
        ]))
        .unwrap();
        assert_eq!(o.server.as_deref(), Some("pbx.example.com:444"));
        assert_eq!(o.uris, ["tel:4711"]);
        let e = parse(&args(&["--server", "https://x"])).err().unwrap();
        assert!(
            e.contains("--server") && e.contains("without a protocol"),
            "{e}"
        );
        let e = parse(&args(&["--frob"])).err().unwrap();
        assert!(e.contains("unknown option"), "{e}");
        assert!(is_uri("TEL:1") && is_uri("im:a@b") && !is_uri("https://x"));
    }
}
