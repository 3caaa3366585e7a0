//! `com.innovaphone.launcher` (docs/public-protocols.md §5): the launcher's own client API,
//! provided by an in-process endpoint of the [`crate::relay`].
//!
//! # Model (ours, §12 item 5; `docs/protocol.md`, "com.innovaphone.launcher")
//! ```json
//! {"version":1,"launcher":"myapps-rs","build":"0.1.0",
//!  "services":{"media":"ws://127.0.0.1:P/media","ringer":"ws://127.0.0.1:P/ringer",
//!              "devices":"ws://127.0.0.1:P/devices","api":"ws://127.0.0.1:P/api"},
//!  "secret":"<64 hex digits>","userActivity":{"inactive":false},"notifications":true}
//! ```
//! Apps find the launcher services and the secret for their URLs (`?secret=`) here.
//! [`Launcher::set_user_activity`] changes `userActivity` and publishes the model again.
//!
//! # Notifications
//! `AddLocalNotification` (envelope `src` = the app's notification id) is checked and
//! handed to the [`Notifier`]; a bad one is answered with an `ApiResult` whose `errorText`
//! says what is wrong (`msg` `{"mt":"AddLocalNotificationResult"}`); a good one gets no
//! answer until it is clicked. The same `src` from the same app again replaces the
//! notification. `RemoveLocalNotification` with that `src` removes it (unknown ids: nothing).
//!
//! A click ([`ClickSink::clicked`], reported by the notifier) is sent both ways §5 knows:
//! * 13r1: an `ApiResult` to the consumer that added it, `src` = the notification id,
//!   `msg` `{"mt":"LocalNotificationClicked","action":""|"accept"|"reject"|"reply","replyText"?}`;
//! * 16r1: an `ApiRequest` with the same `msg` and `src` to
//!   `com.innovaphone.notificationhandler` (which the launcher consumes), to the same
//!   client, `provider` = the adding app's consumer name (a client names an app's consumer
//!   and provider alike).
//!
//! The notification is forgotten after a click (the OS closes it).
//!
//! # Settings window (ours)
//! `ShowSettings` opens the app's settings window where the app set a way to
//! ([`Launcher::on_show_settings`]: the desktop app; not `--headless`) and is answered
//! `{"mt":"ShowSettingsResult"}`, with `errorText` when it cannot.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use protocol::api::{ApiMessage, ApiResultMsg, Model, Register, Request};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::relay::{EndpointSender, Relay};

/// The launcher's API.
pub const LAUNCHER_API: &str = "com.innovaphone.launcher";
/// Every launcher message `mt` (`msg.mt` inside the envelope): handled requests and the
/// click it sends (docs/protocol.md is checked against it).
pub const MESSAGES: &[&str] = &[
    "AddLocalNotification",
    "RemoveLocalNotification",
    "LocalNotificationClicked",
    "ShowSettings",
];
/// The API apps provide to hear of clicks (16r1).
pub const NOTIFICATION_HANDLER_API: &str = "com.innovaphone.notificationhandler";
/// The launcher's provider title.
const LAUNCHER_DN: &str = "myapps-rs launcher";
/// Notifications remembered at most (the oldest is forgotten first).
const MAX_NOTIFICATIONS: usize = 1000;
/// Longest text field of a notification, in bytes.
const MAX_FIELD: usize = 8192;

/// `type` of a notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationType {
    /// `Default`: zero, one (`buttonTitle`) or two (`acceptTitle`, `rejectTitle`) buttons.
    Default,
    /// `PhoneCall`: accept and reject, optionally a third "view" button (`buttonTitle`).
    PhoneCall,
    /// `ChatMessage`: a reply field (`replyTitle`).
    ChatMessage,
}

impl NotificationType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationType::Default => "Default",
            NotificationType::PhoneCall => "PhoneCall",
            NotificationType::ChatMessage => "ChatMessage",
        }
    }
}

/// One notification to show. Text fields are `None` when absent, `null` or empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// The launcher's id for it, unique while the service runs (`n<k>`); clicks name it.
    pub id: String,
    /// The app's id for it (the envelope `src`).
    pub src: String,
    /// Layout.
    pub kind: NotificationType,
    /// `title`.
    pub title: Option<String>,
    /// `text` (e.g. the chat message).
    pub text: Option<String>,
    /// `smallIcon`.
    pub small_icon: Option<String>,
    /// `largeIcon`: a URL (e.g. an avatar).
    pub large_icon: Option<String>,
    /// `soundUrl`: a URL, or `*` for the default sound.
    pub sound_url: Option<String>,
    /// `buttonTitle`: the one button, or the third "view" button of a call.
    pub button_title: Option<String>,
    /// `acceptTitle`.
    pub accept_title: Option<String>,
    /// `rejectTitle`.
    pub reject_title: Option<String>,
    /// `replyTitle`: a chat's reply field.
    pub reply_title: Option<String>,
}

/// What the user did with a notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClickAction {
    /// Clicked the notification itself (`""`): open the chat, call, ….
    Default,
    /// `accept`.
    Accept,
    /// `reject`.
    Reject,
    /// `reply`, with a text.
    Reply,
}

impl ClickAction {
    /// The wire value of `action`.
    pub fn as_str(self) -> &'static str {
        match self {
            ClickAction::Default => "",
            ClickAction::Accept => "accept",
            ClickAction::Reject => "reject",
            ClickAction::Reply => "reply",
        }
    }
}

/// A click on a shown notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Click {
    /// [`Notification::id`].
    pub id: String,
    /// What was clicked.
    pub action: ClickAction,
    /// The reply typed, for [`ClickAction::Reply`].
    pub reply_text: Option<String>,
}

/// Why a notification could not be shown.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotifyError(pub String);

/// Where clicks go: handed to the [`Notifier`] once, at start.
#[derive(Clone)]
pub struct ClickSink(mpsc::UnboundedSender<Click>);

impl ClickSink {
    /// Reports a click. Never blocks.
    pub fn clicked(&self, click: Click) {
        let _ = self.0.send(click);
    }
}

/// The OS notification backend (the desktop crate brings the real ones).
///
/// Calls come from the launcher's task and should return quickly.
pub trait Notifier: Send + Sync {
    /// Shows `n`; an id shown before is shown anew.
    fn show(&self, n: &Notification) -> Result<(), NotifyError>;
    /// Removes the notification with this [`Notification::id`], if shown.
    fn remove(&self, id: &str);
    /// Where to report clicks; called once when the launcher starts.
    fn attach(&self, clicks: ClickSink) {
        let _ = clicks;
    }
}

/// The default backend: logs notifications, never reports clicks.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogNotifier;

impl Notifier for LogNotifier {
    fn show(&self, n: &Notification) -> Result<(), NotifyError> {
        tracing::info!(
            id = n.id,
            kind = n.kind.as_str(),
            "notification: {} {}",
            n.title.as_deref().unwrap_or(""),
            n.text.as_deref().unwrap_or("")
        );
        Ok(())
    }

    fn remove(&self, id: &str) {
        tracing::info!(id, "notification removed");
    }
}

/// Backends for tests.
pub mod testing {
    use super::*;

    /// What a [`RecordingNotifier`] was asked.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Call {
        /// [`Notifier::show`].
        Show(Box<Notification>),
        /// [`Notifier::remove`].
        Remove(String),
    }

    /// Records every call; [`RecordingNotifier::click`] plays the user.
    #[derive(Default)]
    pub struct RecordingNotifier {
        calls: Mutex<Vec<Call>>,
        sink: Mutex<Option<ClickSink>>,
        /// When set, `show` fails with this text.
        pub fail: Mutex<Option<String>>,
    }

    impl RecordingNotifier {
        /// The calls so far.
        pub fn calls(&self) -> Vec<Call> {
            self.calls
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        }

        /// The user clicks notification `id`. `false` before the launcher attached.
        pub fn click(&self, id: &str, action: ClickAction, reply_text: Option<&str>) -> bool {
            let sink = self.sink.lock().unwrap_or_else(PoisonError::into_inner);
            match &*sink {
                Some(s) => {
                    s.clicked(Click {
                        id: id.to_owned(),
                        action,
                        reply_text: reply_text.map(str::to_owned),
                    });
                    true
                }
                None => false,
            }
        }
    }

    impl Notifier for RecordingNotifier {
        fn show(&self, n: &Notification) -> Result<(), NotifyError> {
            if let Some(e) = &*self.fail.lock().unwrap_or_else(PoisonError::into_inner) {
                return Err(NotifyError(e.clone()));
            }
            self.calls
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Call::Show(Box::new(n.clone())));
            Ok(())
        }

        fn remove(&self, id: &str) {
            self.calls
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Call::Remove(id.to_owned()));
        }

        fn attach(&self, clicks: ClickSink) {
            *self.sink.lock().unwrap_or_else(PoisonError::into_inner) = Some(clicks);
        }
    }
}

/// Who added a notification.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Origin {
    client: String,
    consumer: String,
    src: String,
}

struct State {
    services: Value,
    secret: String,
    inactive: bool,
    next: u64,
    notes: BTreeMap<u64, Origin>,
    by_origin: HashMap<Origin, u64>,
}

/// Opens the settings window (set by the desktop app).
pub type ShowSettings = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

struct Inner {
    state: Mutex<State>,
    endpoint: EndpointSender,
    notifier: Arc<dyn Notifier>,
    show_settings: Mutex<Option<ShowSettings>>,
}

/// The running `com.innovaphone.launcher` provider. Cloning gives another handle.
#[derive(Clone)]
pub struct Launcher(Arc<Inner>);

impl Launcher {
    /// Joins `relay`, registers the API with its model, consumes
    /// `com.innovaphone.notificationhandler`, and serves until the task is aborted.
    /// `services`: `{"media": url, "api": url, …}`.
    pub fn start(
        relay: &Relay,
        services: Value,
        secret: String,
        notifier: Arc<dyn Notifier>,
    ) -> (Launcher, tokio::task::JoinHandle<()>) {
        let mut endpoint = relay.attach();
        let (tx, mut clicks) = mpsc::unbounded_channel();
        notifier.attach(ClickSink(tx.clone()));
        let launcher = Launcher(Arc::new(Inner {
            state: Mutex::new(State {
                services,
                secret,
                inactive: false,
                next: 1,
                notes: BTreeMap::new(),
                by_origin: HashMap::new(),
            }),
            endpoint: endpoint.sender(),
            notifier,
            show_settings: Mutex::new(None),
        }));
        launcher.send(ApiMessage::RegisterApi(Register {
            api: LAUNCHER_API.into(),
            dn: Some(LAUNCHER_DN.into()),
            consumer: None,
        }));
        launcher.publish();
        launcher.send(ApiMessage::ConsumeApi(Register {
            api: NOTIFICATION_HANDLER_API.into(),
            dn: None,
            consumer: None,
        }));
        let l = launcher.clone();
        let task = tokio::spawn(async move {
            // Keeps the click channel open however the notifier treats its sink.
            let _tx = tx;
            loop {
                tokio::select! {
                    m = endpoint.recv() => match m {
                        Some(m) => l.on_message(m),
                        None => break,
                    },
                    Some(c) = clicks.recv() => l.on_click(c),
                }
            }
        });
        (launcher, task)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing under this lock panics; a poisoned state is still usable.
        self.0.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn send(&self, msg: ApiMessage) {
        // Our own messages are valid for a native endpoint; an error would be a bug here.
        if let Err(e) = self.0.endpoint.send(msg) {
            tracing::error!("launcher: relay refused a message: {}", e.text);
        }
    }

    /// The relay name of the launcher's provider (`@local-<n>`).
    pub fn name(&self) -> &str {
        self.0.endpoint.name()
    }

    /// The model as published now.
    pub fn model(&self) -> Value {
        let s = self.lock();
        json!({
            "version": crate::PROTOCOL_VERSION,
            "launcher": "myapps-rs",
            "build": env!("CARGO_PKG_VERSION"),
            "services": s.services,
            "secret": s.secret,
            "userActivity": {"inactive": s.inactive},
            "notifications": true,
        })
    }

    fn publish(&self) {
        self.send(ApiMessage::ApiModel(Model {
            api: LAUNCHER_API.into(),
            model: self.model(),
            client: None,
        }));
    }

    /// The user became inactive (`true`) or active again; publishes the model when this
    /// changes it.
    pub fn set_user_activity(&self, inactive: bool) {
        let changed = {
            let mut s = self.lock();
            std::mem::replace(&mut s.inactive, inactive) != inactive
        };
        if changed {
            self.publish();
        }
    }

    /// How `ShowSettings` opens the settings window (the desktop app sets it).
    pub fn on_show_settings(&self, f: ShowSettings) {
        *self
            .0
            .show_settings
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(f);
    }

    /// `ShowSettings`: the window opens, or the reason it cannot.
    fn show_settings(&self, r: &Request) {
        let f = self
            .0
            .show_settings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let outcome = match f {
            Some(f) => f(),
            None => Err("this launcher runs without windows (--headless)".to_owned()),
        };
        let mut res = ApiResultMsg::answering(r, None, json!({"mt": "ShowSettingsResult"}));
        if let Err(e) = outcome {
            res.error_text = Some(format!("the settings window cannot open: {e}"));
        }
        self.send(ApiMessage::ApiResult(res));
    }

    /// Reports a click as a notifier would (for backends that hold a [`Launcher`] rather
    /// than a [`ClickSink`]).
    pub fn clicked(&self, click: Click) {
        self.on_click(click);
    }

    fn on_message(&self, m: ApiMessage) {
        match m {
            ApiMessage::ApiRequest(r) if r.api == LAUNCHER_API => {
                let mt = r.msg.get("mt").and_then(Value::as_str).unwrap_or("");
                let answer = match mt {
                    "AddLocalNotification" => self.add(&r),
                    "RemoveLocalNotification" => {
                        self.remove(&r);
                        Ok(())
                    }
                    "ShowSettings" => {
                        self.show_settings(&r);
                        Ok(())
                    }
                    other => Err(NotificationError::UnknownMessage(other.to_owned())),
                };
                if let Err(e) = answer {
                    let text = e.to_string();
                    let mut res = ApiResultMsg::answering(&r, None, json!({}));
                    if !mt.is_empty() {
                        res.msg = json!({"mt": format!("{mt}Result")});
                    }
                    res.error_text = Some(text);
                    self.send(ApiMessage::ApiResult(res));
                }
            }
            // Results of clicks sent to notification handlers, their providers' updates,
            // consumers that closed (their notifications stay: 16r1 can still deliver).
            other => tracing::trace!("launcher: {} ignored", other.mt()),
        }
    }

    fn origin(r: &Request) -> Result<Origin, NotificationError> {
        let src = r
            .src
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or(NotificationError::NoSrc)?;
        Ok(Origin {
            // The relay always sets `client`; a consumer the client always names.
            client: r.client.clone().unwrap_or_default(),
            consumer: r.consumer.clone().unwrap_or_default(),
            src,
        })
    }

    fn add(&self, r: &Request) -> Result<(), NotificationError> {
        let origin = Self::origin(r)?;
        let mut n = parse_notification(&r.msg)?;
        let mut s = self.lock();
        if let Some(old) = s.by_origin.remove(&origin) {
            s.notes.remove(&old);
            self.0.notifier.remove(&format!("n{old}"));
        }
        let key = s.next;
        s.next += 1;
        n.id = format!("n{key}");
        n.src = origin.src.clone();
        self.0
            .notifier
            .show(&n)
            .map_err(|e| NotificationError::Show(e.to_string()))?;
        if s.notes.len() >= MAX_NOTIFICATIONS
            && let Some((_, oldest)) = s.notes.pop_first()
        {
            s.by_origin.remove(&oldest);
        }
        s.notes.insert(key, origin.clone());
        s.by_origin.insert(origin, key);
        Ok(())
    }

    fn remove(&self, r: &Request) {
        let Ok(origin) = Self::origin(r) else { return };
        let mut s = self.lock();
        if let Some(key) = s.by_origin.remove(&origin) {
            s.notes.remove(&key);
            self.0.notifier.remove(&format!("n{key}"));
        }
    }

    fn on_click(&self, c: Click) {
        let origin = {
            let mut s = self.lock();
            let key = c.id.strip_prefix('n').and_then(|k| k.parse::<u64>().ok());
            let Some(origin) = key.and_then(|k| s.notes.remove(&k)) else {
                tracing::debug!("launcher: click on unknown notification {}", c.id);
                return;
            };
            s.by_origin.remove(&origin);
            origin
        };
        let mut msg = Map::new();
        msg.insert("mt".into(), json!("LocalNotificationClicked"));
        msg.insert("action".into(), json!(c.action.as_str()));
        if let Some(t) = c.reply_text {
            msg.insert("replyText".into(), json!(t));
        }
        let msg = Value::Object(msg);
        // 13r1: the result on the consumer that added it.
        self.send(ApiMessage::ApiResult(ApiResultMsg {
            api: LAUNCHER_API.into(),
            provider: None,
            consumer: Some(origin.consumer.clone()),
            client: Some(origin.client.clone()),
            src: Some(origin.src.clone()),
            msg: msg.clone(),
            error_text: None,
        }));
        // 16r1: a request to the app's notification handler.
        self.send(ApiMessage::ApiRequest(Request {
            api: NOTIFICATION_HANDLER_API.into(),
            provider: Some(origin.consumer),
            consumer: None,
            client: Some(origin.client),
            src: Some(origin.src),
            title: None,
            msg,
        }));
    }
}

/// Why a launcher request is refused (the `errorText` of its result).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    /// No `src`: the notification has no id.
    #[error("src (the notification id) is missing")]
    NoSrc,
    /// A text field over 8192 bytes.
    #[error("{0}: longer than {MAX_FIELD} bytes")]
    TooLong(&'static str),
    /// A text field that is not a string.
    #[error("{0}: must be a string")]
    NotAString(&'static str),
    /// `type` is not one we know.
    #[error("type: {0:?} is not Default, PhoneCall or ChatMessage")]
    UnknownType(String),
    /// Neither `title` nor `text`.
    #[error("a notification needs a title or a text")]
    Empty,
    /// The desktop's notification service refused it.
    #[error("the notification could not be shown: {0}")]
    Show(String),
    /// An `mt` the launcher API does not have.
    #[error(
        "{0:?} is not a message of {LAUNCHER_API} (AddLocalNotification, RemoveLocalNotification)"
    )]
    UnknownMessage(String),
}

/// Checks an `AddLocalNotification` message. `id` and `src` are left empty.
fn parse_notification(msg: &Value) -> Result<Notification, NotificationError> {
    let text = |field: &'static str| -> Result<Option<String>, NotificationError> {
        match msg.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.len() > MAX_FIELD => Err(NotificationError::TooLong(field)),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(NotificationError::NotAString(field)),
        }
    };
    let kind = match text("type")?.as_deref() {
        None | Some("Default") => NotificationType::Default,
        Some("PhoneCall") => NotificationType::PhoneCall,
        Some("ChatMessage") => NotificationType::ChatMessage,
        Some(other) => return Err(NotificationError::UnknownType(other.to_owned())),
    };
    let n = Notification {
        id: String::new(),
        src: String::new(),
        kind,
        title: text("title")?,
        text: text("text")?,
        small_icon: text("smallIcon")?,
        large_icon: text("largeIcon")?,
        sound_url: text("soundUrl")?,
        button_title: text("buttonTitle")?,
        accept_title: text("acceptTitle")?,
        reject_title: text("rejectTitle")?,
        reply_title: text("replyTitle")?,
    };
    if n.title.is_none() && n.text.is_none() {
        return Err(NotificationError::Empty);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::testing::{Call, RecordingNotifier};
    use super::*;

    #[test]
    fn notifications_are_checked() {
        let n = parse_notification(&json!({"mt":"AddLocalNotification","title":"Call by Bob",
            "text":null,"acceptTitle":"Connect","rejectTitle":"Reject","largeIcon":"https://x/a.png"}))
        .unwrap();
        assert_eq!(n.kind, NotificationType::Default);
        assert_eq!(
            (
                n.title.as_deref(),
                n.text,
                n.accept_title.as_deref(),
                n.large_icon.as_deref()
            ),
            (
                Some("Call by Bob"),
                None,
                Some("Connect"),
                Some("https://x/a.png")
            )
        );
        let n = parse_notification(
            &json!({"type":"ChatMessage","text":"hi","replyTitle":"Reply","soundUrl":"*"}),
        )
        .unwrap();
        assert_eq!(
            (n.kind, n.sound_url.as_deref()),
            (NotificationType::ChatMessage, Some("*"))
        );
        for (bad, says) in [
            (json!({"type":"Toast","title":"t"}), "type"),
            (json!({"type":1,"title":"t"}), "type"),
            (json!({"title":5}), "title"),
            (json!({"title":"t","replyTitle":[]}), "replyTitle"),
            (json!({"text":""}), "title or a text"),
            (json!({"title":"x".repeat(MAX_FIELD + 1)}), "longer"),
        ] {
            let e = parse_notification(&bad).unwrap_err();
            assert!(e.to_string().contains(says), "{bad}: {e}");
        }
    }

    fn request(msg: Value, src: Option<&str>) -> ApiMessage {
        ApiMessage::ApiRequest(Request {
            api: LAUNCHER_API.into(),
            provider: Some("*".into()),
            consumer: Some("app".into()),
            client: Some("@client-9".into()),
            src: src.map(str::to_owned),
            title: None,
            msg,
        })
    }

    /// The launcher alone on a relay: model on start and on activity change; add,
    /// replace, remove, bad requests answered, clicks sent both ways.
    #[tokio::test]
    async fn launcher_without_sockets() {
        let relay = Relay::new();
        let rec = Arc::new(RecordingNotifier::default());
        let (launcher, task) = Launcher::start(
            &relay,
            json!({"media":"ws://127.0.0.1:1/media"}),
            "s3cret".into(),
            rec.clone(),
        );
        assert_eq!(launcher.model()["userActivity"]["inactive"], false);
        assert_eq!(launcher.model()["secret"], "s3cret");
        launcher.set_user_activity(true);
        assert_eq!(launcher.model()["userActivity"]["inactive"], true);

        // Drive `on_message` directly (no client on this relay to route from).
        launcher.on_message(request(
            json!({"mt":"AddLocalNotification","title":"a"}),
            Some("1"),
        ));
        launcher.on_message(request(
            json!({"mt":"AddLocalNotification","title":"b"}),
            Some("1"),
        ));
        launcher.on_message(request(
            json!({"mt":"AddLocalNotification","title":"c"}),
            Some("2"),
        ));
        launcher.on_message(request(json!({"mt":"RemoveLocalNotification"}), Some("2")));
        launcher.on_message(request(
            json!({"mt":"RemoveLocalNotification"}),
            Some("nope"),
        ));
        let calls = rec.calls();
        let shown: Vec<_> = calls
            .iter()
            .filter_map(|c| match c {
                Call::Show(n) => Some((n.id.as_str(), n.src.as_str(), n.title.as_deref())),
                Call::Remove(_) => None,
            })
            .collect();
        assert_eq!(
            shown,
            vec![
                ("n1", "1", Some("a")),
                ("n2", "1", Some("b")),
                ("n3", "2", Some("c"))
            ]
        );
        let removed: Vec<_> = calls
            .iter()
            .filter_map(|c| match c {
                Call::Remove(id) => Some(id.as_str()),
                Call::Show(_) => None,
            })
            .collect();
        assert_eq!(removed, vec!["n1", "n3"]);
        assert_eq!(launcher.lock().notes.len(), 1);
        // A click on n2: the origin is forgotten; a second click does nothing.
        launcher.on_click(Click {
            id: "n2".into(),
            action: ClickAction::Reply,
            reply_text: Some("ok".into()),
        });
        assert!(launcher.lock().notes.is_empty());
        launcher.on_click(Click {
            id: "n2".into(),
            action: ClickAction::Accept,
            reply_text: None,
        });
        // Failing backend: the error is kept, nothing remembered.
        *rec.fail.lock().unwrap() = Some("denied".into());
        assert!(
            launcher
                .add(
                    &match request(json!({"mt":"AddLocalNotification","title":"x"}), Some("3")) {
                        ApiMessage::ApiRequest(r) => r,
                        _ => unreachable!(),
                    }
                )
                .unwrap_err()
                .to_string()
                .contains("denied")
        );
        assert!(launcher.lock().notes.is_empty());
        task.abort();
    }
}
