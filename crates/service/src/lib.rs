//! The local service of the myApps platform services: a loopback HTTP and websocket
//! server through which apps in the myApps client reach what a browser cannot give them.
//!
//! | path | protocol | module |
//! |---|---|---|
//! | `/media` | Media protocol: RTP channels (`AllocChannel` …) | [`media`] |
//! | `/ringer` | Ringer protocol: `StartRinging`, `StopRinging`, ringtones | [`ringer`] |
//! | `/devices` | device protocol: microphones, speakers, ringers, hot-plug news | [`devices`] |
//! | `/api` | ApiRelay: client APIs between the web client and native components | [`relay`], [`launcher`], [`provider`] |
//! | `/` , `/assets/…` | our own pages and the JS client library | [`server`] |
//!
//! Every message is documented in `docs/protocol.md` (version [`PROTOCOL_VERSION`]).
//!
//! # Closed to foreign web pages
//! A local web server that any page can drive is how CVE-2019-13450 (Zoom) happened. Every
//! websocket upgrade here passes three checks before a websocket exists ([`auth`]):
//! the `Host` header names our loopback listener (DNS rebinding), the `Origin` is one we
//! serve (our own pages, the configured PBX, the App Proxy) or absent (native clients), and
//! the query carries the secret made at start (256 random bits, compared in constant
//! time). Refusals are answered with 403 and logged with the reason, at a bounded rate
//! ([`refusal_log`]); nothing is allocated for a refused peer. URLs name `127.0.0.1`,
//! never `localhost`, which may lead to `::1`, where another user may listen.
//!
//! # Bad input
//! Frames that are not JSON, name an unknown `mt` or have a field of the wrong type get
//! an error reply naming the fault ([`errors`]); the connection and its other channels go
//! on. (On `/media`, `/ringer` and `/devices` every
//! request gets exactly one reply; on `/api` results travel as the envelope routes them.) A closed connection
//! frees its channels.
//!
//! # Limits
//! What a peer can make the service hold is bounded, each limit answered with its code:
//! a message over [`Config::max_message`] closes the connection (refused from its frame
//! header, before it is buffered); so does a peer that lets more than
//! [`conn::OUTBOX_LIMIT`] bytes wait; websockets beyond [`Config::max_connections`] are
//! refused with 503; `AllocChannel` takes [`media::MAX_ICE_URLS`] STUN/TURN URLs.

#![forbid(unsafe_code)]

pub mod audio_bridge;
pub mod auth;
pub mod channel_audio;
pub mod conn;
pub mod devices;
pub mod errors;
pub mod launcher;
pub mod local;
pub mod media;
pub mod provider;
pub mod refusal_log;
pub mod relay;
pub mod ringer;
pub mod server;
pub mod sound;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use ::media::interfaces::InterfaceFilter;
use ::media::negotiate::Settings;
use ::media::ports::{PortAllocator, PortRange};
use protocol::media_protocol::ChannelKind;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Version of our protocols (`docs/protocol.md`); sent in the headless line and the
/// launcher model.
pub const PROTOCOL_VERSION: u32 = 1;

/// What the service is started with.
#[derive(Clone)]
pub struct Config {
    /// The `DISABLELOCALHOST` setting. It no longer changes anything: URLs always name
    /// `127.0.0.1`, because `localhost` may resolve to `::1`, where another local user
    /// can listen on our port and would be handed the secret.
    pub use_localhost: bool,
    /// TCP port; 0 picks a free one.
    pub port: u16,
    /// Origins besides our own that may open websockets (the PBX: `https://pbx.example.com`,
    /// the App Proxy). Compared exactly, scheme and port included.
    pub allowed_origins: Vec<String>,
    /// Channels one connection may hold at once.
    pub max_channels: usize,
    /// Connections open at once (websockets of all paths and in-process connections,
    /// [`local`]); more websockets are refused with HTTP 503 and
    /// code `TooManyConnections`.
    pub max_connections: usize,
    /// Largest message (and frame) read; a larger one closes the connection with status
    /// 1009 and code `TooLarge`, refused from its header before it is buffered.
    pub max_message: usize,
    /// Media settings.
    pub media: MediaConfig,
    /// Where channel audio comes from and goes to.
    pub audio: Arc<dyn channel_audio::ChannelAudio>,
    /// Devices, ringtones and ringing for the Ringer and device protocols.
    pub sound: Arc<dyn sound::Sound>,
    /// Shows the apps' local notifications (`com.innovaphone.launcher`).
    pub notifier: Arc<dyn launcher::Notifier>,
    /// `RINGINHEADSET` at start ([`Service::ring_route`] follows changes).
    pub ring_in_headset: bool,
    /// The demo page's words in the app's language (`None`: the page's English).
    pub demo_l10n: Option<PageL10n>,
}

/// A page's words in one language: `{id: text}` with `{$name}` placeholders the page
/// fills, and the language's tag for `<html lang>`. Our pages (the demo here, the
/// shell's connect form) carry a `{/*L10N*/}` placeholder inside a JSON script element
/// and start with `<html lang="en">`; [`PageL10n::fill`] puts both in.
#[derive(Clone, Debug)]
pub struct PageL10n {
    /// `en`, `de`.
    pub lang: String,
    /// The strings, a JSON object.
    pub strings: serde_json::Value,
}

impl PageL10n {
    /// `html` with these words and this language: the strings as one JSON object with
    /// `<` escaped, so that no text can end the script element it stands in.
    pub fn fill(&self, html: &str) -> String {
        let strings = self.strings.to_string().replace('<', "\\u003c");
        html.replace("{/*L10N*/}", &strings).replace(
            "<html lang=\"en\">",
            &format!("<html lang=\"{}\">", self.lang),
        )
    }
}

impl Default for PageL10n {
    /// No words (the page keeps its own English).
    fn default() -> PageL10n {
        PageL10n {
            lang: "en".into(),
            strings: serde_json::Value::Object(serde_json::Map::new()),
        }
    }
}

/// Media settings of the service.
#[derive(Clone, Debug)]
pub struct MediaConfig {
    /// Codecs and security modes offered and accepted.
    pub settings: Settings,
    /// Which host interfaces give candidates (VPN exclusion, `EXCLUDEINTERFACES`).
    pub filter: InterfaceFilter,
    /// Fixed local addresses instead of enumerating interfaces (tests, scripting:
    /// `--media-address 127.0.0.1`).
    pub addresses: Option<Vec<IpAddr>>,
    /// Audio ports (default 50000–50099).
    pub audio_ports: PortRange,
    /// Video ports (default 50100–50199), for app sharing once video channels exist.
    pub video_ports: PortRange,
    /// How long an `AllocChannel` with STUN/TURN servers waits for their candidates before
    /// it answers (later ones are trickled as `LocalCandidate`).
    pub gather_wait: std::time::Duration,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            settings: Settings::default(),
            filter: InterfaceFilter::default(),
            addresses: None,
            audio_ports: PortRange::for_kind(ChannelKind::Audio),
            video_ports: PortRange::for_kind(ChannelKind::Video),
            gather_wait: std::time::Duration::from_secs(2),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            use_localhost: true,
            port: 0,
            allowed_origins: Vec::new(),
            max_channels: 16,
            max_connections: 64,
            max_message: 1 << 20,
            media: MediaConfig::default(),
            audio: Arc::new(channel_audio::Tone),
            sound: Arc::new(sound::NoSound),
            notifier: Arc::new(launcher::LogNotifier),
            ring_in_headset: false,
            demo_l10n: None,
        }
    }
}

/// State shared by all connections.
pub(crate) struct Shared {
    pub config: Config,
    pub secret: String,
    /// The ApiRelay hub (`/api` and in-process endpoints).
    pub relay: relay::Relay,
    pub port: u16,
    pub audio_ports: Mutex<PortAllocator>,
    /// Channels open on all connections (for the service info and tests).
    pub channels: std::sync::atomic::AtomicUsize,
    /// Channels allocated since start.
    pub allocated: std::sync::atomic::AtomicU64,
    /// Websocket handshakes refused since start.
    pub refused: std::sync::atomic::AtomicU64,
    /// The rate-limited log of those refusals.
    pub refusal_log: Arc<refusal_log::RefusalLog>,
    /// Websockets open now.
    pub connections: std::sync::atomic::AtomicUsize,
    /// Device news for every device-protocol connection.
    pub device_news: tokio::sync::broadcast::Sender<Value>,
    /// Set when the service stops: in-process connections ([`local`]) end.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// Where tones ring ("ring in headset").
    pub ring_route: Arc<ringer::RingRoute>,
}

/// A running service.
pub struct Service {
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    /// The device watcher (stops with the service).
    _watcher: Option<Box<dyn sound::Running>>,
    launcher: launcher::Launcher,
    launcher_task: tokio::task::JoinHandle<()>,
}

/// Why the service did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

impl Service {
    /// Binds the loopback listener and starts serving on the current tokio runtime.
    ///
    /// Only `127.0.0.1`, and every URL names it: `[::1]` with our port may belong to
    /// another user (nothing stops them binding it first), and a client that resolved
    /// `localhost` to `::1` would hand them the secret.
    pub async fn start(config: Config) -> Result<Service, StartError> {
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), config.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?
            .port();
        let ring_route = Arc::new(ringer::RingRoute::default());
        ring_route.set_in_headset(config.ring_in_headset);
        let shared = Arc::new(Shared {
            audio_ports: Mutex::new(PortAllocator::new(config.media.audio_ports)),
            secret: auth::new_secret(),
            relay: relay::Relay::new(),
            port,
            config,
            channels: std::sync::atomic::AtomicUsize::new(0),
            allocated: std::sync::atomic::AtomicU64::new(0),
            refused: std::sync::atomic::AtomicU64::new(0),
            refusal_log: refusal_log::RefusalLog::new(),
            connections: std::sync::atomic::AtomicUsize::new(0),
            device_news: tokio::sync::broadcast::channel(64).0,
            stopping: tokio::sync::watch::Sender::new(false),
            ring_route,
        });
        let watcher = devices::watch(&shared, shared.device_news.clone());
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(server::serve(shared.clone(), listener, stopped));
        let ws = shared.ws_base();
        let (launcher, launcher_task) = launcher::Launcher::start(
            &shared.relay,
            json!({
                "media": format!("{ws}/media"),
                "ringer": format!("{ws}/ringer"),
                "devices": format!("{ws}/devices"),
                "api": format!("{ws}/api"),
            }),
            shared.secret.clone(),
            shared.config.notifier.clone(),
        );
        Ok(Service {
            shared,
            stop: Some(stop),
            task,
            _watcher: watcher,
            launcher,
            launcher_task,
        })
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.shared.port
    }

    /// The secret every websocket must present (`?secret=`).
    pub fn secret(&self) -> &str {
        &self.shared.secret
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.shared.base_url()
    }

    /// Channels open right now, on all connections.
    pub fn open_channels(&self) -> usize {
        self.shared
            .channels
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Channels allocated since start, on all connections.
    pub fn channels_allocated(&self) -> u64 {
        self.shared
            .allocated
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Websocket handshakes refused since start (wrong Host, Origin or secret).
    pub fn refusals(&self) -> u64 {
        self.shared
            .refused
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// What `myapps --headless` prints: version, URLs, secret.
    pub fn info(&self) -> Value {
        let ws = self.shared.ws_base();
        json!({
            "version": PROTOCOL_VERSION,
            "http": self.base_url(),
            "media": format!("{ws}/media"),
            "ringer": format!("{ws}/ringer"),
            "devices": format!("{ws}/devices"),
            "api": format!("{ws}/api"),
            "secret": self.secret(),
            "pid": std::process::id(),
        })
    }

    /// The ApiRelay hub: [`relay::Relay::attach`] joins a native component in this
    /// process (hot keys, the URI handler) without a socket.
    pub fn relay(&self) -> relay::Relay {
        self.shared.relay.clone()
    }

    /// The channel audio backend (a headset's mute button mutes its microphone).
    pub fn channel_audio(&self) -> Arc<dyn channel_audio::ChannelAudio> {
        self.shared.config.audio.clone()
    }

    /// Where tones ring: [`ringer::RingRoute::set_in_headset`] follows `RINGINHEADSET`.
    pub fn ring_route(&self) -> Arc<ringer::RingRoute> {
        self.shared.ring_route.clone()
    }

    /// The `com.innovaphone.launcher` provider: user activity, notification clicks.
    pub fn launcher(&self) -> &launcher::Launcher {
        &self.launcher
    }

    /// An in-process connection to the Media protocol (§2 of docs/protocol.md), for the
    /// shell's WebRTC transport: no websocket, no secret (the caller has judged the frame a
    /// message comes from by its origin). It counts against `max_connections`, and its
    /// channels against `max_channels`, as a websocket's do. Needs a tokio runtime.
    pub fn media_connection(&self) -> Result<local::LocalConnection, local::LocalError> {
        local::open(&self.shared, local::Proto::Media)
    }

    /// An in-process connection to the device protocol (§6), as [`Self::media_connection`].
    pub fn devices_connection(&self) -> Result<local::LocalConnection, local::LocalError> {
        local::open(&self.shared, local::Proto::Devices)
    }

    /// Opens in-process connections later, without a borrow of the service.
    pub fn connector(&self) -> local::Connector {
        local::Connector(self.shared.clone())
    }

    /// Connections open now (websockets and in-process ones).
    pub fn open_connections(&self) -> usize {
        self.shared
            .connections
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Stops accepting, closes every connection (freeing its channels) and waits.
    pub async fn stop(mut self) {
        self.launcher_task.abort();
        self.shared.stopping.send_replace(true);
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
        self.shared.refusal_log.flush();
    }
}

impl Shared {
    pub(crate) fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn ws_base(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }
}
