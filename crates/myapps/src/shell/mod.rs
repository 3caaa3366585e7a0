//! The desktop shell: `myapps` without a subcommand. A tao window with a wry webview that
//! loads the myApps client of the configured PBX (wiki, "Server configuration"), with the
//! local service running in this process exactly as `--headless` runs it, with the same
//! hot keys, idle presence and notifications ([`headless::Desktop`]).
//!
//! Only this module knows tao and wry (docs/architecture.md). Per-OS webview details live in
//! one module per OS: [`linux`] (WebKitGTK) today; WebView2 and WKWebView use wry's
//! defaults.

pub mod bridge;
#[cfg(target_os = "linux")]
mod linux;
mod policy;
mod probe;
pub mod settings_window;
mod tray;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

use desktop::server::Server;
use desktop::settings::typed::{Docking, Settings};
use tao::event::{Event, StartCause, WindowEvent};
use tao::event_loop::{ControlFlow, EventLoopBuilder, EventLoopWindowTarget};
use tao::window::{Window, WindowBuilder, WindowId};
use wry::{NewWindowResponse, WebView, WebViewBuilder};

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

/// Messages to the event loop from other threads.
#[derive(Clone, Debug)]
pub enum UserEvent {
    /// Bring the main window to the front (a second start handed over its arguments).
    Raise,
    /// The connect form's "Try the demo".
    Demo,
    /// The connect form's check of `server` is done.
    Probed {
        server: String,
        outcome: probe::Outcome,
    },
    /// A tray menu entry.
    Tray(tray::Action),
}

/// What every webview of the app is built with.
struct WebViewSetup {
    script: String,
    user_agent: String,
    /// The origins the windows may show and that may use media devices.
    trusted: policy::Trusted,
    /// Links pages follow (`tel:`…), to the URI handler.
    links: tokio::sync::mpsc::UnboundedSender<String>,
    #[cfg(target_os = "linux")]
    test_ca: Option<linux::TestCa>,
}

/// The app's windows.
struct Windows {
    target: EventLoopWindowTarget<UserEvent>,
    /// Set once the PBX is known (the client's windows are built with it).
    setup: RefCell<Option<Rc<WebViewSetup>>>,
    open: RefCell<HashMap<WindowId, (Window, WebView)>>,
    /// The window whose closing ends the app: the client's, or the connect form.
    main: RefCell<Option<WindowId>>,
    /// The connect form, while it is shown.
    form: RefCell<Option<WindowId>>,
    /// The `SHOWINTASKBAR` setting.
    show_in_taskbar: Cell<bool>,
    /// A tray host shows our icon, as far as it matters: asked at start when
    /// `SHOWINTASKBAR` is off, and true once a click on the tray came.
    tray_host: Cell<bool>,
    /// Where the main window goes (`DOCKING`).
    docking: Docking,
}

/// The connect form (assets/shell/connect.html).
const CONNECT_HTML: &str = include_str!("../../../../assets/shell/connect.html");

/// What [`launch`] needs, kept until the PBX is known.
struct Pending {
    config: service::Config,
    desktop: headless::Desktop,
    links: tokio::sync::mpsc::UnboundedReceiver<String>,
    /// The sending end of `links`, for links pages follow.
    link_sender: tokio::sync::mpsc::UnboundedSender<String>,
    test_ca: Option<String>,
}

/// Runs the app until its main window closes.
pub fn run(mut opts: Options) -> ExitCode {
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
    if let Err(e) = display_available() {
        eprintln!(
            "myapps: cannot open a window: {e}. `myapps --headless` runs the local service without one."
        );
        return ExitCode::FAILURE;
    }
    let test_ca = match opts
        .test_ca
        .as_deref()
        .map(std::fs::read_to_string)
        .transpose()
    {
        Ok(ca) => ca,
        Err(e) => {
            eprintln!("myapps: --test-ca: {e}");
            return ExitCode::from(2);
        }
    };
    #[cfg(not(target_os = "linux"))]
    if test_ca.is_some() {
        eprintln!("myapps: --test-ca is only supported on Linux");
        return ExitCode::from(2);
    }
    // Hot keys, idle presence and notifications as in `--headless`.
    let desktop = opts.service.prepare();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("myapps: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };

    let event_loop = EventLoopBuilder::<UserEvent>::with_user_event().build();
    let proxy = event_loop.create_proxy();
    // Links (ours and later starts'), in order, to the URI handler.
    let (links, links_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    for u in opts.uris {
        let _ = links.send(u);
    }
    let link_sender = links.clone();
    if let Some(socket) = socket {
        let proxy = event_loop.create_proxy();
        let served = desktop::instance::serve(socket, move |args| {
            for a in args.into_iter().filter(|a| is_uri(a)) {
                let _ = links.send(a);
            }
            let _ = proxy.send_event(UserEvent::Raise);
        });
        if let Err(e) = served {
            tracing::warn!("single instance: {e}");
        }
    }
    let windows = Rc::new(Windows {
        target: (*event_loop).clone(),
        setup: RefCell::new(None),
        open: RefCell::new(HashMap::new()),
        main: RefCell::new(None),
        form: RefCell::new(None),
        show_in_taskbar: Cell::new(settings.show_in_taskbar),
        // Asked only when it matters: it is a D-Bus round trip on Linux.
        tray_host: Cell::new(!settings.show_in_taskbar && tray_host()),
        docking: settings.docking,
    });
    let tray_state = tray::State {
        autostart: autostart_enabled(),
        autostart_forced: settings.forced.contains("AUTOSTART"),
        taskbar: settings.show_in_taskbar,
        taskbar_forced: settings.forced.contains("SHOWINTASKBAR"),
    };
    let mut tray = None;
    let mut pending = Some(Pending {
        config: opts.service.config,
        desktop,
        links: links_rx,
        link_sender,
        test_ca,
    });
    let mut service = None;
    let first = match server {
        _ if opts.demo => pending
            .take()
            .ok_or_else(|| "nothing to launch".to_owned())
            .and_then(|p| launch(&windows, &rt, p, Page::Demo))
            .map(|s| service = Some(s)),
        Some(server) => pending
            .take()
            .ok_or_else(|| "nothing to launch".to_owned())
            .and_then(|p| launch(&windows, &rt, p, Page::Pbx(&server)))
            .map(|s| service = Some(s)),
        None => open_connect_form(
            &windows,
            proxy.clone(),
            rt.handle().clone(),
            pending.as_ref(),
        ),
    };
    if let Err(e) = first {
        eprintln!("myapps: {e}");
        if let Some(s) = service.take() {
            rt.block_on(s.stop());
        }
        return ExitCode::FAILURE;
    }

    event_loop.run(move |event, _target, control_flow| {
        *control_flow = ControlFlow::Wait;
        match event {
            Event::NewEvents(StartCause::Init) => match tray::Tray::new(proxy.clone(), &tray_state)
            {
                Ok(t) => tray = Some(t),
                Err(e) => tracing::warn!("no tray icon: {e}"),
            },
            Event::UserEvent(UserEvent::Tray(action)) => {
                tracing::info!(?action, "tray");
                match action {
                    tray::Action::Show => raise(&windows),
                    tray::Action::Autostart => {
                        let on = !autostart_enabled();
                        if let Err(e) = settings_window::set_autostart(on) {
                            tracing::warn!("tray: {e}");
                        }
                        if let Some(t) = &tray {
                            t.show_autostart(autostart_enabled());
                        }
                    }
                    tray::Action::Taskbar => {
                        // A click on the tray: a tray host is there to come back by.
                        windows.tray_host.set(true);
                        let show = !windows.show_in_taskbar.get();
                        match settings_window::store_bool("SHOWINTASKBAR", show) {
                            Ok(_) => {
                                windows.show_in_taskbar.set(show);
                                for (w, _) in windows.open.borrow().values() {
                                    set_skip_taskbar(w, windows.skip_taskbar());
                                }
                            }
                            Err(e) => tracing::warn!("tray: {e}"),
                        }
                        if let Some(t) = &tray {
                            t.show_taskbar(windows.show_in_taskbar.get());
                        }
                    }
                    tray::Action::TraceFolder => {
                        let opened = crate::trace::folder()
                            .ok_or_else(|| "no home directory for traces".to_owned())
                            .and_then(|d| tray::open_folder(&d).map(|()| d));
                        match opened {
                            Ok(d) => tracing::info!(folder = %d.display(), "trace folder opened"),
                            Err(e) => tracing::warn!("tray: trace folder: {e}"),
                        }
                    }
                    tray::Action::Quit => {
                        windows.open.borrow_mut().clear();
                        *control_flow = ControlFlow::Exit;
                    }
                }
            }
            Event::WindowEvent {
                window_id,
                event: WindowEvent::CloseRequested,
                ..
            } => {
                if *windows.main.borrow() == Some(window_id) {
                    windows.open.borrow_mut().clear();
                    *control_flow = ControlFlow::Exit;
                } else {
                    windows.open.borrow_mut().remove(&window_id);
                }
            }
            Event::UserEvent(UserEvent::Raise) => raise(&windows),
            Event::UserEvent(UserEvent::Demo) => {
                if let Some(p) = pending.take() {
                    service =
                        replaced_form(&windows, launch(&windows, &rt, p, Page::Demo), control_flow);
                }
            }
            Event::UserEvent(UserEvent::Probed { server, outcome }) => {
                tracing::info!(%server, ?outcome, "connect form: {}", outcome.message());
                let form = *windows.form.borrow();
                if let Some(id) = form
                    && let Some((_, wv)) = windows.open.borrow().get(&id)
                {
                    let js = format!(
                        "window.myAppsConnect.result({})",
                        serde_json::to_string(&outcome).unwrap_or_else(|_| "{}".into())
                    );
                    if let Err(e) = wv.evaluate_script(&js) {
                        tracing::warn!("connect form: {e}");
                    }
                }
                if matches!(outcome, probe::Outcome::Ok { .. })
                    && let (Ok(s), Some(p)) = (Server::parse(&server), pending.take())
                {
                    store_server(&s);
                    service = replaced_form(
                        &windows,
                        launch(&windows, &rt, p, Page::Pbx(&s)),
                        control_flow,
                    );
                }
            }
            Event::LoopDestroyed => {
                if let Some(s) = service.take() {
                    tracing::info!("stopping");
                    rt.block_on(s.stop());
                }
            }
            _ => {}
        }
    })
}

impl Windows {
    /// Windows stay out of the taskbar: `SHOWINTASKBAR` is off and a tray is there to
    /// come back by.
    fn skip_taskbar(&self) -> bool {
        !self.show_in_taskbar.get() && self.tray_host.get()
    }
}

/// Shows the main window in front (a later start, the tray).
fn raise(windows: &Windows) {
    if let Some(id) = *windows.main.borrow()
        && let Some((w, _)) = windows.open.borrow().get(&id)
    {
        w.set_visible(true);
        w.set_minimized(false);
        w.set_focus();
    }
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

/// Whether a tray host shows our icon (Linux: a StatusNotifierWatcher on the session
/// bus; Windows and macOS always have a notification area or menu bar).
fn tray_host() -> bool {
    #[cfg(target_os = "linux")]
    return linux::tray_host();
    #[cfg(not(target_os = "linux"))]
    true
}

/// Takes a window out of the taskbar or puts it back (X11 `_NET_WM_STATE_SKIP_TASKBAR`,
/// Windows `ITaskbarList`). macOS has no per-window taskbar entry: the Dock shows the app.
fn set_skip_taskbar(window: &Window, skip: bool) {
    #[cfg(target_os = "linux")]
    let r = tao::platform::unix::WindowExtUnix::set_skip_taskbar(window, skip);
    #[cfg(windows)]
    let r = tao::platform::windows::WindowExtWindows::set_skip_taskbar(window, skip);
    #[cfg(not(any(target_os = "linux", windows)))]
    let r: Result<(), String> = {
        let _ = (window, skip);
        Ok(())
    };
    if let Err(e) = r {
        tracing::warn!("show in taskbar: {e:?}");
    }
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

/// After the connect form launched the app (the PBX, or the demo): the form closes, or,
/// when the launch failed, the app ends with the error logged.
fn replaced_form(
    windows: &Windows,
    launched: Result<Running, String>,
    control_flow: &mut ControlFlow,
) -> Option<Running> {
    match launched {
        Ok(svc) => {
            if let Some(id) = windows.form.borrow_mut().take() {
                windows.open.borrow_mut().remove(&id);
            }
            Some(svc)
        }
        Err(e) => {
            tracing::error!("{e}");
            *control_flow = ControlFlow::Exit;
            None
        }
    }
}

/// The running local service and the desktop services around it.
struct Running {
    service: service::Service,
    desktop: headless::Attached,
}

impl Running {
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

/// Starts the service and opens the main window on `page`.
fn launch(
    windows: &Rc<Windows>,
    rt: &tokio::runtime::Runtime,
    pending: Pending,
    page: Page<'_>,
) -> Result<Running, String> {
    let mut config = pending.config;
    if let Page::Pbx(server) = page {
        config.allowed_origins.push(server.origin());
    }
    let service = rt
        .block_on(service::Service::start(config))
        .map_err(|e| e.to_string())?;
    let info = service.info();
    let (origin, url, pbx) = match page {
        Page::Pbx(server) => {
            tracing::info!(url = %service.base_url(), pbx = %server, "service running");
            rt.spawn(uri_handler(service.relay(), pending.links));
            (
                server.origin(),
                server.appclient_url(),
                Some(server.origin()),
            )
        }
        Page::Demo => {
            let origin = service.base_url();
            let url = format!("{origin}/demo.html");
            (origin, url, None)
        }
    };
    let desktop = {
        let _in_runtime = rt.enter();
        pending.desktop.attach(&service)
    };
    // The test CA is for the PBX stand-in's pages only.
    #[cfg(target_os = "linux")]
    let test_ca = match pending.test_ca.as_deref().map(linux::TestCa::from_pem) {
        _ if matches!(page, Page::Demo) => None,
        Some(Ok(ca)) => Some(ca),
        Some(Err(e)) => return Err(format!("--test-ca: {e}")),
        None => None,
    };
    *windows.setup.borrow_mut() = Some(Rc::new(WebViewSetup {
        script: bridge::script(&info, &origin),
        user_agent: bridge::user_agent(),
        trusted: policy::Trusted::new(pbx.as_deref(), &service.base_url()),
        links: pending.link_sender,
        #[cfg(target_os = "linux")]
        test_ca,
    }));
    let id = open_window(windows, Some(&url), None)
        .map_err(|e| format!("cannot open the window: {e}"))?;
    *windows.main.borrow_mut() = Some(id);
    match page {
        Page::Pbx(_) => tracing::info!(%url, "window open"),
        Page::Demo => tracing::info!(%url, "demo window open"),
    }
    Ok(Running { service, desktop })
}

/// The connect form (first start, no `SERVER`): its IPC posts `{"mt":"Connect","server"}`,
/// the check runs on the runtime, its outcome comes back as [`UserEvent::Probed`]. It
/// posts `{"mt":"Ready"}` once its field has the keyboard focus and `{"mt":"Shown","kind"}`
/// once an outcome is on screen (both logged).
fn open_connect_form(
    windows: &Rc<Windows>,
    proxy: tao::event_loop::EventLoopProxy<UserEvent>,
    rt: tokio::runtime::Handle,
    pending: Option<&Pending>,
) -> Result<(), String> {
    let test_ca = pending.and_then(|p| p.test_ca.clone());
    let window = builder_for(windows)
        .with_title("myApps: connect to your PBX")
        .with_inner_size(tao::dpi::LogicalSize::new(760.0, 600.0))
        .build(&windows.target)
        .map_err(|e| format!("window: {e}"))?;
    let builder = WebViewBuilder::new()
        .with_html(CONNECT_HTML)
        .with_user_agent(bridge::user_agent())
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
    let webview = build(builder, &window)?;
    show(windows, &window);
    let id = window.id();
    windows.open.borrow_mut().insert(id, (window, webview));
    *windows.main.borrow_mut() = Some(id);
    *windows.form.borrow_mut() = Some(id);
    tracing::info!("connect form open");
    Ok(())
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

/// A window builder with what every window of the app shares: the taskbar entry. A
/// window kept out of the taskbar starts hidden and [`show`] maps it once the hint is
/// set: tao applies it from its event loop, and a window manager reads `_NET_WM_STATE`
/// when the window is mapped (a change afterwards is a request it may ignore).
fn builder_for(windows: &Windows) -> WindowBuilder {
    let skip = windows.skip_taskbar();
    let builder = WindowBuilder::new().with_visible(!skip);
    #[cfg(target_os = "linux")]
    return tao::platform::unix::WindowBuilderExtUnix::with_skip_taskbar(builder, skip);
    #[cfg(windows)]
    return tao::platform::windows::WindowBuilderExtWindows::with_skip_taskbar(builder, skip);
    #[cfg(not(any(target_os = "linux", windows)))]
    builder
}

/// Shows a window [`builder_for`] left hidden.
fn show(windows: &Windows, window: &Window) {
    if windows.skip_taskbar() {
        window.set_visible(true);
    }
}

/// Builds a webview into a window (GTK box on Linux, for X11 and Wayland alike).
fn build(builder: WebViewBuilder<'_>, window: &Window) -> Result<WebView, String> {
    #[cfg(target_os = "linux")]
    let webview = {
        use tao::platform::unix::WindowExtUnix;
        use wry::WebViewBuilderExtUnix;
        let vbox = window
            .default_vbox()
            .ok_or("the window has no GTK box for the webview")?;
        builder.build_gtk(vbox)
    };
    #[cfg(not(target_os = "linux"))]
    let webview = builder.build(window);
    webview.map_err(|e| format!("webview: {e}"))
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

/// The stored settings (each broken one logged and left at its default).
fn stored_settings() -> Settings {
    let loaded = desktop::settings::open()
        .and_then(|store| Settings::load(store.as_ref()))
        .map_err(|e| tracing::warn!("settings: {e}"));
    let Ok((settings, problems)) = loaded else {
        return Settings::default();
    };
    for p in problems {
        tracing::warn!("settings: {p}");
    }
    settings
}

/// Whether a window can be opened: tao panics when GTK finds no display, so ask GTK
/// first. Windows and macOS always have a desktop to show windows on.
fn display_available() -> Result<(), String> {
    #[cfg(target_os = "linux")]
    return gtk::init().map_err(|e| format!("{e} (is DISPLAY or WAYLAND_DISPLAY set?)"));
    #[cfg(not(target_os = "linux"))]
    Ok(())
}

/// The opener a `window.open` gives: the new webview must be related to it.
#[cfg(target_os = "linux")]
type Opener = webkit2gtk::WebView;
#[cfg(not(target_os = "linux"))]
type Opener = ();

/// Opens a window with a webview: the main one (`url`) or one the page asked for with
/// `window.open` (`opener`; the webview then loads the page itself).
fn open_window(
    windows: &Rc<Windows>,
    url: Option<&str>,
    opener: Option<Opener>,
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
    // Permissions and navigations: on Linux per frame with WebKitGTK's own signals
    // (linux::guard); elsewhere per webview, with what wry gives.
    #[cfg(not(target_os = "linux"))]
    {
        builder = guarded(builder, &setup);
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
        new_window(&windows, features)
    });
    #[cfg(target_os = "linux")]
    if let Some(o) = opener {
        use wry::WebViewBuilderExtUnix;
        builder = builder.with_related_view(o);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = opener;
    let webview = build(builder, &window)?;
    #[cfg(target_os = "linux")]
    {
        linux::configure(&webview, setup.test_ca.clone());
        linux::guard(&webview, &setup.trusted, setup.links.clone());
    }
    show(windows, &window);
    let id = window.id();
    windows.open.borrow_mut().insert(id, (window, webview));
    Ok(id)
}

/// `window.open` from a page: another tao window (multi-windowing). On Linux the new
/// webview is handed to WebKit, which loads the page into it; WebView2 and WKWebView
/// open their own popup (wry's default) until their hand-over is written.
fn new_window(windows: &Rc<Windows>, features: wry::NewWindowFeatures) -> NewWindowResponse {
    #[cfg(target_os = "linux")]
    {
        use wry::WebViewExtUnix;
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
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (windows, features);
        NewWindowResponse::Allow
    }
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
fn guarded<'a>(builder: WebViewBuilder<'a>, setup: &WebViewSetup) -> WebViewBuilder<'a> {
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
