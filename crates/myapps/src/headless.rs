//! `myapps --headless`: the local service without a window, for tests, terminal servers
//! and scripting.

use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use service::{Config, Service};

use crate::cli::Audio;

/// Parsed options.
pub struct Options {
    pub(crate) config: Config,
    stdin_close: bool,
    hotkeys: bool,
    /// `--idle-seconds`: overrides the `APPEAROFFLINE` setting.
    idle: Option<Duration>,
    /// `--no-notifications`: only log them (also the `NOTIFICATIONS` setting).
    notifications: bool,
    /// No `--audio` and no `--no-sound`: [`Options::prepare`] takes the sound devices if
    /// a sound system can play (with this echo stage setting), else the test tone. Done
    /// there, once the log is open, so the choice and its reason are in the trace.
    audio_auto: Option<Option<AecConfig>>,
    /// `--hidraw-root`: where headsets are looked for (tests).
    hidraw_root: Option<std::path::PathBuf>,
}

impl Options {
    /// The service's options from the command line ([`crate::cli::ServiceArgs`]). Starts
    /// the sound devices when `--audio devices` asks for them (an error when they fail).
    pub fn from_args(args: crate::cli::ServiceArgs) -> Result<Options, String> {
        let mut config = Config::default();
        if let Some(port) = args.port {
            config.port = port;
        }
        if args.disable_localhost {
            config.use_localhost = false;
        }
        config.allowed_origins.extend(args.allow_origin);
        // Every `--exclude-interfaces` counts (each used to replace the one before).
        let lists = args.exclude_interfaces.join(",");
        config.media.filter = config.media.filter.clone().with_exclude_list(&lists);
        if args.exclude_vpn {
            config.media.filter.exclude_vpn = true;
        }
        if let Some(n) = args.max_channels {
            config.max_channels = n;
        }
        if !args.media_address.is_empty() {
            config.media.addresses = Some(args.media_address);
        }
        // The microphone chain on sound devices unless `--no-aec`: echo cancellation,
        // noise suppression and gain control, as browsers apply to a call's microphone.
        // `--no-aec` keeps the microphone as captured: for measurements, or a headset
        // whose own echo cancellation should not be doubled.
        let aec = (!args.no_aec).then(AecConfig::default);
        let sound = !args.no_sound;
        let audio_auto = match args.audio {
            Some(Audio::Tone) => None,
            Some(Audio::Devices) => {
                let devices = service::channel_audio::Devices::start(aec)
                    .map_err(|e| format!("--audio devices: {e}"))?;
                config.audio = Arc::new(devices);
                None
            }
            None => sound.then_some(aec),
        };
        if sound {
            let data_dir = args.data_dir.or_else(|| {
                directories::ProjectDirs::from("com", "innovaphone", "myApps")
                    .map(|d| d.data_dir().to_path_buf())
            });
            config.sound = Arc::new(service::sound::System::new(data_dir));
        }
        Ok(Options {
            config,
            stdin_close: args.stdin_close,
            hotkeys: !args.no_hotkeys,
            idle: args.idle_seconds,
            notifications: !args.no_notifications,
            audio_auto,
            hidraw_root: args.hidraw_root,
        })
    }
}

use service::channel_audio::AecConfig;

/// The automatic channel audio backend: the sound devices when the default speaker
/// opens, else the test tone (the service's default `Config::audio`); logs which.
fn auto_channel_audio(config: &mut Config, aec: Option<AecConfig>) {
    let speaker = match service::channel_audio::probe_speaker() {
        Ok(id) => id,
        Err(e) => {
            tracing::info!("call audio: a test tone (no sound system to play on: {e})");
            return;
        }
    };
    match service::channel_audio::Devices::start(aec) {
        Ok(devices) => {
            config.audio = Arc::new(devices);
            tracing::info!(%speaker, "call audio: the sound devices");
        }
        Err(e) => tracing::warn!("call audio: a test tone ({e})"),
    }
}

/// Runs the service until a signal (or stdin's end with `--stdin-close`).
/// The desktop services started around the local service, by `--headless` and by the
/// shell alike: hot keys, the user's idle time, external applications and the local
/// phone book (notifications are part of the service's
/// [`Config`], see [`Options::prepare`]).
pub(crate) struct Desktop {
    hotkeys: bool,
    /// Where headsets are looked for; `None`: `DISABLEHEADSETS` (or no backend here).
    headsets: Option<HeadsetRoots>,
    /// `--idle-seconds`.
    idle: Option<Duration>,
    providers: crate::api_providers::ProviderSettings,
}

/// Running desktop services; dropping them stops them.
pub(crate) struct Attached {
    /// Hot keys where they cannot follow changes (see [`Live`]).
    #[cfg(not(target_os = "linux"))]
    _hotkeys: Option<crate::hotkey_relay::Running>,
    /// Re-reads the settings in effect and follows them ([`Live::follow`]).
    reload: Arc<dyn Fn() + Send + Sync>,
    _pbx: crate::pbx_settings::Watch,
    _providers: crate::api_providers::Providers,
    #[cfg(target_os = "linux")]
    _headsets: Option<crate::headset_relay::Running>,
}

/// Where headsets are found (Linux: hidraw).
#[cfg(target_os = "linux")]
type HeadsetRoots = headset::hidraw::Roots;
/// No headset backend on this OS yet.
#[cfg(not(target_os = "linux"))]
type HeadsetRoots = ();

/// The headsets' roots, unless `DISABLEHEADSETS` turns them off (logged either way).
fn headset_roots(disabled: bool, test_root: Option<&std::path::Path>) -> Option<HeadsetRoots> {
    if disabled {
        tracing::info!("headsets off (DISABLEHEADSETS)");
        return None;
    }
    #[cfg(target_os = "linux")]
    {
        Some(match test_root {
            Some(r) => headset::hidraw::Roots {
                sysfs: r.join("sys/class/hidraw"),
                dev: r.join("dev"),
            },
            None => headset::hidraw::Roots::default(),
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = test_root;
        tracing::info!("headsets: no backend on this OS yet");
        None
    }
}

/// What follows the settings while the app runs: hot keys re-register, the idle watcher
/// restarts and the ringer's route follows `RINGINHEADSET` when the settings in effect
/// change (the settings window, `myapps settings set`, the PBX's `adminSettings`).
/// Hot keys follow on Linux only: on Windows and macOS they belong to the thread that
/// registered them (a message loop; macOS's main thread), and `Live` moves between
/// threads; there they are registered once, at start.
struct Live {
    /// Hot keys are on at all (no `--no-hotkeys`).
    hotkeys_on: bool,
    /// `--idle-seconds`, which wins over every setting.
    idle_override: Option<Duration>,
    keys: Option<desktop::settings::typed::HotKeys>,
    #[cfg(target_os = "linux")]
    hotkeys: Option<crate::hotkey_relay::Running>,
    idle_threshold: Option<Duration>,
    idle: Option<desktop::idle::Watcher>,
    log_flags: u64,
    /// Where tones ring (`RINGINHEADSET`).
    ring_route: Arc<service::ringer::RingRoute>,
}

impl Options {
    /// Picks the call audio (unless `--audio` did), reads the settings and opens the
    /// notification service. Opens the default speaker and talks to the session bus
    /// (blocking, bounded by a timeout): call it before the runtime, not on one of its
    /// threads, and once the log is open.
    pub(crate) fn prepare(&mut self) -> Desktop {
        if let Some(aec) = self.audio_auto.take() {
            auto_channel_audio(&mut self.config, aec);
        }
        let settings = user_settings();
        apply_network_settings(&mut self.config, &settings);
        self.config.ring_in_headset = settings.ring_in_headset;
        self.config.demo_l10n = Some(crate::l10n::ui().page(&["demo-"]));
        if self.notifications && settings.notifications {
            self.config.notifier = crate::desktop_services::notifier(None);
        }
        Desktop {
            headsets: headset_roots(settings.disable_headsets, self.hidraw_root.as_deref()),
            providers: crate::api_providers::ProviderSettings::from(&settings),
            hotkeys: self.hotkeys,
            idle: self.idle,
        }
    }
}

impl Desktop {
    /// Starts hot keys, the idle watcher, the PBX settings' consumer and the providers
    /// for `service`. Runs inside the tokio runtime (the hot keys spawn a task there).
    pub(crate) fn attach(&self, service: &Service) -> Attached {
        let live = Arc::new(Mutex::new(Live {
            hotkeys_on: self.hotkeys,
            idle_override: self.idle,
            keys: None,
            #[cfg(target_os = "linux")]
            hotkeys: None,
            idle_threshold: None,
            idle: None,
            log_flags: crate::trace::flags(),
            ring_route: service.ring_route(),
        }));
        let relay = service.relay();
        let launcher = service.launcher().clone();
        let settings = user_settings();
        lock(&live).follow(&settings, &relay, &launcher);
        let runtime = tokio::runtime::Handle::current();
        let for_reload = relay.clone();
        let reload: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            let (live, relay, launcher) = (live.clone(), for_reload.clone(), launcher.clone());
            // Off the runtime's threads: stopping the idle watcher joins its thread.
            runtime.spawn_blocking(move || {
                lock(&live).follow(&user_settings(), &relay, &launcher);
            });
        });
        let on_change = reload.clone();
        let pbx = crate::pbx_settings::start(&relay, move || on_change());
        #[cfg(not(target_os = "linux"))]
        let _ = &self.headsets;
        #[cfg(not(target_os = "linux"))]
        let hotkeys = if self.hotkeys {
            crate::hotkey_relay::start(&relay, &settings.hot_keys).unwrap_or_else(|e| {
                tracing::warn!("{e}");
                None
            })
        } else {
            None
        };
        Attached {
            #[cfg(not(target_os = "linux"))]
            _hotkeys: hotkeys,
            reload,
            _pbx: pbx,
            _providers: crate::api_providers::start(&service.relay(), &self.providers),
            #[cfg(target_os = "linux")]
            _headsets: self.headsets.clone().map(|roots| {
                crate::headset_relay::start(&service.relay(), service.channel_audio(), roots)
            }),
        }
    }
}

impl Attached {
    /// The settings changed (the settings window saved): hot keys, the idle watcher and
    /// the log flags follow them at once.
    pub(crate) fn reload(&self) {
        (self.reload)();
    }
}

fn lock(live: &Mutex<Live>) -> std::sync::MutexGuard<'_, Live> {
    live.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Live {
    /// Brings hot keys, the idle watcher and the log flags in line with `s`; what did
    /// not change is left running.
    fn follow(
        &mut self,
        s: &desktop::settings::typed::Settings,
        relay: &service::relay::Relay,
        launcher: &service::launcher::Launcher,
    ) {
        // Hot keys work without the window (wiki, "Hot keys"); a session without X11 or a
        // taken key is a warning, not a reason to stop the service.
        #[cfg(target_os = "linux")]
        if self.hotkeys_on && self.keys.as_ref() != Some(&s.hot_keys) {
            self.hotkeys = None;
            self.hotkeys = crate::hotkey_relay::start(relay, &s.hot_keys).unwrap_or_else(|e| {
                tracing::warn!("{e}");
                None
            });
            self.keys = Some(s.hot_keys.clone());
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (relay, &self.keys, self.hotkeys_on);
        let threshold = self.idle_override.unwrap_or_else(|| s.appear_offline());
        if self.idle_threshold != Some(threshold) {
            self.idle = None;
            self.idle = crate::desktop_services::idle_watcher(launcher.clone(), threshold);
            self.idle_threshold = Some(threshold);
        }
        if s.log_flags != self.log_flags {
            crate::trace::set_flags(s.log_flags);
            self.log_flags = s.log_flags;
        }
        self.ring_route.set_in_headset(s.ring_in_headset);
    }
}

pub fn run(mut opts: Options) -> ExitCode {
    init_logging();
    let desktop = opts.prepare();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("myapps --headless: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        let service = match Service::start(opts.config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("myapps --headless: {e}");
                return ExitCode::FAILURE;
            }
        };
        let attached = desktop.attach(&service);
        println!("{}", service.info());
        tracing::info!(url = %service.base_url(), "service running (headless)");
        wait_for_stop(opts.stdin_close).await;
        drop(attached);
        tracing::info!("stopping");
        service.stop().await;
        ExitCode::SUCCESS
    })
}

async fn wait_for_stop(stdin_close: bool) {
    let stdin_end = async {
        if stdin_close {
            use tokio::io::AsyncReadExt;
            let mut buf = [0u8; 256];
            let mut stdin = tokio::io::stdin();
            while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
        } else {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
        _ = stdin_end => {}
    }
}

/// The stored network settings (the user's, else the installer's; reference page, "MSI
/// parameters") join the command line's: `EXCLUDEINTERFACES` prefixes add to
/// `--exclude-interfaces`, and `EXCLUDEVPN` or `--exclude-vpn` excludes VPNs. Every channel
/// allocated from then on follows them. (`DISABLELOCALHOST` needs nothing: the service's
/// URLs always name `127.0.0.1`, see `service::Config::use_localhost`.)
fn apply_network_settings(config: &mut Config, s: &desktop::settings::typed::Settings) {
    let filter = &mut config.media.filter;
    for prefix in &s.exclude_interfaces {
        if !filter.exclude_prefixes.contains(prefix) {
            filter.exclude_prefixes.push(prefix.clone());
        }
    }
    filter.exclude_vpn |= s.exclude_vpn;
    config.use_localhost &= !s.disable_localhost;
    if !filter.exclude_prefixes.is_empty() || filter.exclude_vpn {
        tracing::info!(
            prefixes = ?filter.exclude_prefixes,
            vpn = filter.exclude_vpn,
            "media: interfaces excluded"
        );
    }
}

/// The settings in effect: the user's (else the installer's) with the PBX's kept
/// `adminSettings` on top (defaults when the store cannot be read; problems logged).
pub(crate) fn user_settings() -> desktop::settings::typed::Settings {
    let loaded = desktop::settings::open()
        .and_then(|store| desktop::settings::typed::Settings::effective(store.as_ref()));
    match loaded {
        Ok((s, problems)) => {
            for p in problems {
                tracing::warn!("settings: {p}");
            }
            s
        }
        Err(e) => {
            tracing::warn!("settings cannot be read ({e}); defaults apply");
            desktop::settings::typed::Settings::default()
        }
    }
}

pub(crate) fn init_logging() {
    crate::trace::init();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The options after `--headless`, through the command line's parser.
    fn parse(a: &[String]) -> Result<Options, String> {
        crate::cli::headless_options(a)
    }

    #[test]
    fn options_parse_and_errors_say_what_is_wrong() {
        let o = parse(&args(&[
            "--port",
            "4000",
            "--disable-localhost",
            "--media-address",
            "127.0.0.1",
            "--allow-origin",
            "https://pbx.example.com",
            "--exclude-interfaces",
            "10.,172",
            "--exclude-interfaces",
            "192.168",
            "--exclude-vpn",
            "--max-channels",
            "3",
            "--no-sound",
            "--audio",
            "tone",
            "--idle-seconds",
            "2.5",
            "--no-notifications",
        ]))
        .unwrap();
        assert_eq!(o.idle, Some(Duration::from_millis(2500)));
        assert!(!o.notifications);
        assert_eq!(o.config.audio.name(), "tone");
        assert_eq!(o.config.port, 4000);
        assert!(!o.config.use_localhost);
        assert_eq!(o.config.max_channels, 3);
        assert!(o.config.media.filter.exclude_vpn);
        assert_eq!(
            o.config.media.filter.exclude_prefixes,
            vec!["10.", "172", "192.168"]
        );
        assert_eq!(o.config.allowed_origins, vec!["https://pbx.example.com"]);
        for (bad, says) in [
            (&["--port", "x"][..], "not a port"),
            (&["--port"][..], "needs a value"),
            (&["--media-address", "host"][..], "not an IP"),
            (&["--allow-origin", "pbx"][..], "not an origin"),
            (&["--max-channels", "0"][..], "positive"),
            (&["--frobnicate"][..], "unknown option"),
            (&["--audio", "alsa"][..], "neither"),
            (&["--idle-seconds", "-1"][..], "seconds"),
            (&["--idle-seconds", "soon"][..], "seconds"),
        ] {
            let e = parse(&args(bad)).err().unwrap();
            assert!(e.contains(says), "{bad:?}: {e}");
        }
    }
}
