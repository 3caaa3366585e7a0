//! The running app: what the event loop keeps, and one handler per event.

use std::rc::Rc;

use desktop::server::Server;
use tao::event::{Event, StartCause, WindowEvent};
use tao::event_loop::{ControlFlow, EventLoopProxy};
use tao::window::WindowId;

use super::webviews::{self, WebViewSetup, Windows};
use super::{Page, Pending, Running, UserEvent, bridge, policy, probe, settings_window, tray};

/// The app between events.
pub(super) struct App {
    pub windows: Rc<Windows>,
    pub rt: tokio::runtime::Runtime,
    pub proxy: EventLoopProxy<UserEvent>,
    pub tray: Option<tray::Tray>,
    /// The tray menu's check marks at start.
    pub tray_state: tray::State,
    /// What [`launch`] needs, until the PBX is known.
    pub pending: Option<Pending>,
    /// The local service, once launched.
    pub service: Option<Running>,
}

impl App {
    /// The main window's first page: the demo, the PBX, or the connect form when no PBX
    /// is known.
    pub fn start(&mut self, server: Option<Server>, demo: bool) -> Result<(), String> {
        let page = match &server {
            _ if demo => Page::Demo,
            Some(server) => Page::Pbx(server),
            None => {
                return webviews::open_connect_form(
                    &self.windows,
                    self.proxy.clone(),
                    self.rt.handle().clone(),
                    self.pending.as_ref(),
                );
            }
        };
        let pending = self.pending.take().ok_or("nothing to launch")?;
        self.service = Some(launch(&self.windows, &self.rt, &self.proxy, pending, page)?);
        Ok(())
    }

    /// One event of the loop.
    pub fn handle(&mut self, event: Event<'_, UserEvent>, control_flow: &mut ControlFlow) {
        *control_flow = ControlFlow::Wait;
        match event {
            Event::NewEvents(StartCause::Init) => self.on_init(),
            Event::UserEvent(UserEvent::Tray(action)) => self.on_tray(action, control_flow),
            Event::WindowEvent {
                window_id,
                event: WindowEvent::CloseRequested,
                ..
            } => self.on_close(window_id, control_flow),
            Event::UserEvent(UserEvent::Raise) => self.windows.raise(),
            Event::UserEvent(UserEvent::Demo) => self.on_demo(control_flow),
            #[cfg(target_os = "linux")]
            Event::UserEvent(UserEvent::Badge(badge)) => {
                if let Some(t) = &self.tray {
                    t.set_badge(badge);
                }
            }
            Event::UserEvent(UserEvent::SettingsChanged) => {
                tracing::info!("settings changed; following them");
                if let Some(running) = &self.service {
                    running.reload();
                }
            }
            Event::UserEvent(UserEvent::Probed { server, outcome }) => {
                self.on_probed(&server, &outcome, control_flow);
            }
            #[cfg(not(target_os = "linux"))]
            Event::UserEvent(UserEvent::RtcReply { window, script }) => {
                if let Some((_, wv)) = self.windows.open.borrow().get(&window)
                    && let Err(e) = wv.evaluate_script(&script)
                {
                    tracing::warn!("WebRTC transport: reply not delivered: {e}");
                }
            }
            Event::LoopDestroyed => self.on_exit(),
            _ => {}
        }
    }

    /// The loop runs: the tray icon (it needs the loop on some platforms).
    fn on_init(&mut self) {
        #[cfg(target_os = "linux")]
        super::web_platform::set_events(self.proxy.clone());
        match tray::Tray::new(self.proxy.clone(), &self.tray_state) {
            Ok(t) => self.tray = Some(t),
            Err(e) => tracing::warn!("no tray icon: {e}"),
        }
    }

    /// A tray menu entry.
    fn on_tray(&mut self, action: tray::Action, control_flow: &mut ControlFlow) {
        tracing::info!(?action, "tray");
        match action {
            tray::Action::Show => self.windows.raise(),
            tray::Action::Settings => match tray::open_settings() {
                Ok(()) => tracing::info!("settings window started"),
                Err(e) => tracing::warn!("tray: settings: {e}"),
            },
            tray::Action::Autostart => self.toggle_autostart(),
            tray::Action::Taskbar => self.toggle_taskbar(),
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
                self.windows.open.borrow_mut().clear();
                *control_flow = ControlFlow::Exit;
            }
        }
    }

    /// The tray's "start at login" entry.
    fn toggle_autostart(&self) {
        let on = !super::autostart_enabled();
        if let Err(e) = settings_window::set_autostart(on) {
            tracing::warn!("tray: {e}");
        }
        if let Some(t) = &self.tray {
            t.show_autostart(super::autostart_enabled());
        }
    }

    /// The tray's "show in taskbar" entry (`SHOWINTASKBAR`).
    fn toggle_taskbar(&self) {
        let windows = &self.windows;
        // A click on the tray: a tray host is there to come back by.
        windows.tray_host.set(true);
        let show = !windows.show_in_taskbar.get();
        match desktop::settings::store_bool("SHOWINTASKBAR", show) {
            Ok(_) => {
                windows.show_in_taskbar.set(show);
                for (w, _) in windows.open.borrow().values() {
                    webviews::set_skip_taskbar(w, windows.skip_taskbar());
                }
            }
            Err(e) => tracing::warn!("tray: {e}"),
        }
        if let Some(t) = &self.tray {
            t.show_taskbar(windows.show_in_taskbar.get());
        }
    }

    /// A window's close button. The main window's hides it when a tray icon is there to
    /// bring it back (as the official client does), and ends the app otherwise.
    fn on_close(&mut self, window_id: WindowId, control_flow: &mut ControlFlow) {
        if *self.windows.main.borrow() != Some(window_id) {
            self.windows.open.borrow_mut().remove(&window_id);
            return;
        }
        // Asked now, not at start: a panel may have come or gone since.
        if self.tray.is_some() && super::os::tray_host() {
            if let Some((w, _)) = self.windows.open.borrow().get(&window_id) {
                w.set_visible(false);
            }
            tracing::info!("main window hidden to the tray");
        } else {
            tracing::info!("main window closed: no tray icon to come back by, quitting");
            self.windows.open.borrow_mut().clear();
            *control_flow = ControlFlow::Exit;
        }
    }

    /// The connect form's "Try the demo".
    fn on_demo(&mut self, control_flow: &mut ControlFlow) {
        if let Some(p) = self.pending.take() {
            let launched = launch(&self.windows, &self.rt, &self.proxy, p, Page::Demo);
            self.service = replaced_form(&self.windows, launched, control_flow);
        }
    }

    /// The connect form's check is done: its outcome to the form, and on success the
    /// PBX is stored and launched.
    fn on_probed(
        &mut self,
        server: &str,
        outcome: &probe::Outcome,
        control_flow: &mut ControlFlow,
    ) {
        tracing::info!(%server, ?outcome, "connect form: {}", outcome.message());
        let form = *self.windows.form.borrow();
        if let Some(id) = form
            && let Some((_, wv)) = self.windows.open.borrow().get(&id)
        {
            let js = format!(
                "window.myAppsConnect.result({})",
                serde_json::to_string(outcome).unwrap_or_else(|_| "{}".into())
            );
            if let Err(e) = wv.evaluate_script(&js) {
                tracing::warn!("connect form: {e}");
            }
        }
        if matches!(outcome, probe::Outcome::Ok { .. })
            && let (Ok(s), Some(p)) = (Server::parse(server), self.pending.take())
        {
            super::store_server(&s);
            let launched = launch(&self.windows, &self.rt, &self.proxy, p, Page::Pbx(&s));
            self.service = replaced_form(&self.windows, launched, control_flow);
        }
    }

    /// The loop ends: the service stops.
    fn on_exit(&mut self) {
        if let Some(s) = self.service.take() {
            tracing::info!("stopping");
            self.rt.block_on(s.stop());
        }
    }
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

/// Starts the service and opens the main window on `page`.
fn launch(
    windows: &Rc<Windows>,
    rt: &tokio::runtime::Runtime,
    proxy: &EventLoopProxy<UserEvent>,
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
            rt.spawn(super::uri_handler(service.relay(), pending.links));
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
    // The launcher API's `ShowSettings` (docs/protocol.md §7.7) opens the settings window
    // as the tray does.
    service
        .launcher()
        .on_show_settings(std::sync::Arc::new(super::tray::open_settings));
    let desktop = {
        let _in_runtime = rt.enter();
        pending.desktop.attach(&service)
    };
    // The test CA is for the PBX stand-in's pages only.
    #[cfg(target_os = "linux")]
    let test_ca = match pending
        .test_ca
        .as_deref()
        .map(super::linux::TestCa::from_pem)
    {
        _ if matches!(page, Page::Demo) => None,
        Some(Ok(ca)) => Some(ca),
        Some(Err(e)) => return Err(format!("--test-ca: {e}")),
        None => None,
    };
    let trusted = policy::Trusted::new(pbx.as_deref(), &service.base_url());
    let rtc = webrtc(pending.webrtc, rt, &service, &trusted, proxy);
    *windows.setup.borrow_mut() = Some(Rc::new(WebViewSetup {
        script: bridge::script(&info, &origin),
        user_agent: bridge::user_agent(&pending.user_agent_token),
        trusted,
        links: pending.link_sender,
        #[cfg(target_os = "linux")]
        test_ca,
        rtc,
    }));
    let id = webviews::open_window(windows, Some(&url), None)
        .map_err(|e| format!("cannot open the window: {e}"))?;
    *windows.main.borrow_mut() = Some(id);
    match page {
        Page::Pbx(_) => tracing::info!(%url, "window open"),
        Page::Demo => tracing::info!(%url, "demo window open"),
    }
    Ok(Running { service, desktop })
}

/// The WebRTC router of the trusted origins, its idle-session reaper running on `rt`
/// (the same on every OS; only the transport in front of it differs).
fn router(
    rt: &tokio::runtime::Runtime,
    service: &service::Service,
    trusted: &policy::Trusted,
) -> super::rtc::Router {
    let router = super::rtc::Router::new(trusted.clone(), service.connector());
    let _in_runtime = rt.enter();
    router.start_reaper();
    router
}

/// The WebRTC transport's router when `WEBRTC` is on (Linux: WebKitGTK's script messages;
/// on Windows and macOS the transport is not built yet, and the setting is only logged).
#[cfg(target_os = "linux")]
fn webrtc(
    on: bool,
    rt: &tokio::runtime::Runtime,
    service: &service::Service,
    trusted: &policy::Trusted,
    _proxy: &EventLoopProxy<UserEvent>,
) -> Option<super::linux::Rtc> {
    if !on {
        tracing::info!("WebRTC in the app window: off (WEBRTC)");
        return None;
    }
    let router = router(rt, service, trusted);
    tracing::info!(origins = ?trusted.origins(), "WebRTC in the app window: on, for these origins");
    Some((router, rt.handle().clone()))
}

/// On Windows and macOS the transport goes over wry's IPC (`rtc_wry`); it has not been run
/// there yet, so `WEBRTC` is off by default and says so when on.
#[cfg(not(target_os = "linux"))]
fn webrtc(
    on: bool,
    rt: &tokio::runtime::Runtime,
    service: &service::Service,
    trusted: &policy::Trusted,
    proxy: &EventLoopProxy<UserEvent>,
) -> Option<super::rtc_wry::Rtc> {
    if !on {
        tracing::info!("WebRTC in the app window: off (WEBRTC); the system webview's own");
        return None;
    }
    let router = router(rt, service, trusted);
    tracing::warn!(
        origins = ?trusted.origins(),
        "WebRTC in the app window: ours, over wry's IPC (not yet run on this OS)"
    );
    Some((router, rt.handle().clone(), proxy.clone()))
}
