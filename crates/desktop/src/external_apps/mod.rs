//! External applications started for calls (wiki, "Call an external application for
//! calls"; setting `EXTERNALAPPS`; API `com.innovaphone.externalapps`, whose messages are
//! ours: docs/external-apps.md).
//!
//! # Configuration
//! `EXTERNALAPPS` is the MSI property's JSON:
//! `{"externalApps":[{"id":0,"name":"Wireshark","path":"C:\\…\\Wireshark.exe","param":"test $I"}]}`
//! plus, optionally per app, `events` (the call events that start it through `CallEvent`;
//! default `["incoming","outgoing"]`, the wiki's "when a new call appears") and `args`, a
//! JSON array of argument templates instead of `param`.
//!
//! # One value, one argument, no shell
//! `param` is split into argument templates **once, from the administrator's text**, at
//! white space, with `"…"` grouping (a quote is written `""`); no other character is
//! special. Then the `$n $N $I $d $u $c` variables (and `$$` for `$`) are replaced inside
//! each template by the call's values, which are never split, unquoted or looked at
//! again: whatever a caller puts in a display name arrives as exactly the argument the
//! template placed it in. The program is started with `std::process::Command` and an
//! argument vector, never through `sh -c` or `cmd /c` (see [`spawn`] for Windows).
//! A value may still start with `-`; a template that must not take options from a caller
//! writes `--name=$d`, or `--` before the values.

mod spawn;

use std::path::PathBuf;

use serde_json::{Value, json};

use crate::phone_number::{BadContext, NumberContext};
pub use spawn::{SpawnError, Started, runs_through_a_shell, spawn};

/// The API these messages belong to.
pub const API: &str = "com.innovaphone.externalapps";
/// Every request `mt` (docs are checked against it).
pub const MESSAGES: &[&str] = &["StartApp", "CallEvent"];
/// The call events apps can be started on.
pub const EVENTS: &[&str] = &["incoming", "outgoing", "connected", "disconnected"];
/// Most apps configured.
const MAX_APPS: usize = 64;
/// Longest `name`, `path`, `param`, or value of a call, in bytes.
const MAX_TEXT: usize = 4096;
/// Most arguments one app gets.
const MAX_ARGS: usize = 64;
/// Programs started at most per [`START_WINDOW`], all apps together: an app in the web
/// client that loops must not fill the desktop with processes.
pub const MAX_STARTS: usize = 30;
/// The window of [`MAX_STARTS`].
pub const START_WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

/// One configured application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct App {
    /// `id`: what `StartApp` names.
    pub id: u32,
    /// `name`, shown to the user.
    pub name: String,
    /// `path`: the program, an absolute path.
    pub path: PathBuf,
    /// The argument templates, one per argument.
    pub args: Vec<String>,
    /// `events`: the call events that start it.
    pub events: Vec<String>,
}

/// The `EXTERNALAPPS` setting, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// The apps, in the setting's order.
    pub apps: Vec<App>,
}

/// What is wrong with `EXTERNALAPPS` or a request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The setting is not the expected JSON.
    #[error("EXTERNALAPPS: {0}")]
    Config(String),
    /// A request is malformed.
    #[error("{0}")]
    Request(String),
    /// No app with this id is configured.
    #[error("no external application with id {0} is configured")]
    UnknownApp(u32),
    /// The dialling context is malformed.
    #[error(transparent)]
    Context(#[from] BadContext),
    /// The program could not be started.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// Too many programs were started lately.
    #[error("{MAX_STARTS} programs were started in the last {} s: not started", START_WINDOW.as_secs())]
    TooMany,
}

fn text<'a>(v: &'a Value, field: &str, what: &str) -> Result<&'a str, Error> {
    let s = v
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Config(format!("{what}: `{field}` must be a string")))?;
    if s.len() > MAX_TEXT {
        return Err(Error::Config(format!(
            "{what}: `{field}` is longer than {MAX_TEXT} bytes"
        )));
    }
    Ok(s)
}

impl Config {
    /// Parses the setting's JSON text (empty text: no apps).
    pub fn parse(json_text: &str) -> Result<Config, Error> {
        if json_text.trim().is_empty() {
            return Ok(Config::default());
        }
        let v: Value =
            serde_json::from_str(json_text).map_err(|e| Error::Config(format!("not JSON: {e}")))?;
        let list = v
            .get("externalApps")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::Config("`externalApps` must be an array".into()))?;
        if list.len() > MAX_APPS {
            return Err(Error::Config(format!("more than {MAX_APPS} apps")));
        }
        let mut apps: Vec<App> = Vec::new();
        for (i, a) in list.iter().enumerate() {
            let app = parse_app(a, &format!("externalApps[{i}]"))?;
            if apps.iter().any(|b| b.id == app.id) {
                return Err(Error::Config(format!("id {} appears twice", app.id)));
            }
            apps.push(app);
        }
        Ok(Config { apps })
    }

    /// The API model: what apps are there, without their paths.
    pub fn model(&self) -> Value {
        let apps: Vec<Value> = self
            .apps
            .iter()
            .map(|a| json!({"id": a.id, "name": a.name, "events": a.events}))
            .collect();
        json!({ "apps": apps })
    }

    fn app(&self, id: u32) -> Result<&App, Error> {
        self.apps
            .iter()
            .find(|a| a.id == id)
            .ok_or(Error::UnknownApp(id))
    }
}

fn parse_app(a: &Value, what: &str) -> Result<App, Error> {
    let id = a
        .get("id")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| Error::Config(format!("{what}: `id` must be a number 0-4294967295")))?;
    let name = text(a, "name", what)?.to_owned();
    let path = PathBuf::from(text(a, "path", what)?);
    // No search through PATH or the working directory: the program is the one named.
    if !path.is_absolute() {
        return Err(Error::Config(format!(
            "{what}: `path` must be absolute, not {}",
            path.display()
        )));
    }
    let args = match (a.get("args"), a.get("param")) {
        (Some(Value::Array(list)), _) => list
            .iter()
            .map(|x| {
                x.as_str()
                    .filter(|s| s.len() <= MAX_TEXT)
                    .map(str::to_owned)
                    .ok_or_else(|| Error::Config(format!("{what}: `args` must hold strings")))
            })
            .collect::<Result<Vec<_>, _>>()?,
        (Some(_), _) => return Err(Error::Config(format!("{what}: `args` must be an array"))),
        (None, Some(_)) => split_param(text(a, "param", what)?)
            .map_err(|e| Error::Config(format!("{what}: `param`: {e}")))?,
        (None, None) => Vec::new(),
    };
    if args.len() > MAX_ARGS {
        return Err(Error::Config(format!(
            "{what}: more than {MAX_ARGS} arguments"
        )));
    }
    for t in &args {
        check_template(t).map_err(|e| Error::Config(format!("{what}: {e}")))?;
    }
    let events = match a.get("events") {
        None => vec!["incoming".to_owned(), "outgoing".to_owned()],
        Some(Value::Array(list)) => list
            .iter()
            .map(|e| match e.as_str() {
                Some(s) if EVENTS.contains(&s) => Ok(s.to_owned()),
                _ => Err(Error::Config(format!(
                    "{what}: `events` may hold {}",
                    EVENTS.join(", ")
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(Error::Config(format!("{what}: `events` must be an array"))),
    };
    Ok(App {
        id,
        name,
        path,
        args,
        events,
    })
}

/// Splits the administrator's `param` into argument templates: white space separates,
/// `"` groups, `""` inside a group is one `"`. Nothing else is special.
pub fn split_param(param: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut started, mut quoted) = (false, false);
    let mut chars = param.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            '"' => {
                quoted = !quoted;
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                if started {
                    out.push(std::mem::take(&mut cur));
                }
                started = false;
            }
            c => {
                cur.push(c);
                started = true;
            }
        }
    }
    if quoted {
        return Err("a quote is not closed".into());
    }
    if started {
        out.push(cur);
    }
    Ok(out)
}

/// Refuses `$` followed by anything but a known variable (a typo would otherwise pass a
/// literal `$x` to the program).
fn check_template(t: &str) -> Result<(), String> {
    let mut chars = t.chars();
    while let Some(c) = chars.next() {
        if c == '$' {
            match chars.next() {
                Some('n' | 'N' | 'I' | 'd' | 'u' | 'c' | '$') => {}
                Some(x) => return Err(format!("unknown variable ${x} in {t:?} (write $$ for $)")),
                None => return Err(format!("{t:?} ends with a lone $ (write $$ for $)")),
            }
        }
    }
    Ok(())
}

/// One call's values, as the phone app gives them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Call {
    /// `num`: the number as dialled or received (`$n`).
    pub num: String,
    /// `dn`: the peer's display name (`$d`).
    pub dn: String,
    /// `sip`: the peer's URI name (`$u`).
    pub sip: String,
    /// `conf`: the conference id, the call's global id (`$c`).
    pub conf: String,
}

impl Call {
    /// The `call` object of a request: `num`, `dn`, `sip`, `conf`, all optional strings.
    pub fn from_json(v: &Value) -> Result<Call, Error> {
        if !v.is_object() {
            return Err(Error::Request("`call` must be an object".into()));
        }
        let get = |k: &str| -> Result<String, Error> {
            match v.get(k) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) if s.len() <= MAX_TEXT && !s.contains('\0') => Ok(s.clone()),
                Some(Value::String(_)) => Err(Error::Request(format!(
                    "call.{k} is longer than {MAX_TEXT} bytes or holds a NUL"
                ))),
                Some(_) => Err(Error::Request(format!("call.{k} must be a string"))),
            }
        };
        Ok(Call {
            num: get("num")?,
            dn: get("dn")?,
            sip: get("sip")?,
            conf: get("conf")?,
        })
    }
}

/// The argument vector of `app` for `call`: each template with its variables replaced;
/// `$N`/`$I` from `ctx` (equal to `$n` when the number has no area code).
pub fn expand(app: &App, call: &Call, ctx: &NumberContext) -> Vec<String> {
    let national = ctx.national(&call.num).unwrap_or_else(|| call.num.clone());
    let international = ctx
        .international(&call.num)
        .unwrap_or_else(|| call.num.clone());
    app.args
        .iter()
        .map(|t| {
            let mut out = String::with_capacity(t.len());
            let mut chars = t.chars();
            while let Some(c) = chars.next() {
                if c != '$' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('n') => out.push_str(&call.num),
                    Some('N') => out.push_str(&national),
                    Some('I') => out.push_str(&international),
                    Some('d') => out.push_str(&call.dn),
                    Some('u') => out.push_str(&call.sip),
                    Some('c') => out.push_str(&call.conf),
                    Some('$') => out.push('$'),
                    // check_template refused everything else when the setting was read.
                    Some(x) => {
                        out.push('$');
                        out.push(x);
                    }
                    None => out.push('$'),
                }
            }
            out
        })
        .collect()
}

/// The `com.innovaphone.externalapps` provider's logic, without the relay.
pub struct Provider {
    config: Config,
    context: NumberContext,
    starts: std::sync::Mutex<std::collections::VecDeque<std::time::Instant>>,
}

impl Provider {
    /// Apps from `config`; `context` for `$N`/`$I` when a request brings none.
    pub fn new(config: Config, context: NumberContext) -> Provider {
        Provider {
            config,
            context,
            starts: std::sync::Mutex::new(std::collections::VecDeque::new()),
        }
    }

    /// Starts `app` for `call`, within [`MAX_STARTS`] per [`START_WINDOW`].
    fn start(&self, app: &App, call: &Call, ctx: &NumberContext) -> Result<Started, Error> {
        {
            let mut starts = self
                .starts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = std::time::Instant::now();
            while starts
                .front()
                .is_some_and(|t| now.duration_since(*t) > START_WINDOW)
            {
                starts.pop_front();
            }
            if starts.len() >= MAX_STARTS {
                return Err(Error::TooMany);
            }
            starts.push_back(now);
        }
        Ok(spawn(&app.path, &expand(app, call, ctx))?)
    }

    /// The API model.
    pub fn model(&self) -> Value {
        self.config.model()
    }

    /// Answers one request `msg` with the result's `msg`, or the error text.
    ///
    /// * `StartApp {id, call}` → `StartAppResult {id, pid}`
    /// * `CallEvent {event, call}` → `CallEventResult {started:[{id,pid}], failed:[{id,error}]}`
    ///
    /// Both take the dialling context's fields (`country`, `area`, `prefixIntl`, …) as
    /// phonelookup does.
    pub fn handle(&self, msg: &Value) -> Result<Value, Error> {
        let mt = msg.get("mt").and_then(Value::as_str).unwrap_or("");
        let call = match msg.get("call") {
            None | Some(Value::Null) => Call::default(),
            Some(c) => Call::from_json(c)?,
        };
        let ctx = NumberContext::from_json(msg, &self.context)?;
        match mt {
            "StartApp" => {
                let id = msg
                    .get("id")
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| Error::Request("StartApp needs a numeric `id`".into()))?;
                let app = self.config.app(id)?;
                let started = self.start(app, &call, &ctx)?;
                tracing::info!(id, name = %app.name, pid = started.pid, "external app started");
                Ok(json!({"mt": "StartAppResult", "id": id, "pid": started.pid}))
            }
            "CallEvent" => {
                let event = msg
                    .get("event")
                    .and_then(Value::as_str)
                    .filter(|e| EVENTS.contains(e))
                    .ok_or_else(|| {
                        Error::Request(format!("CallEvent needs `event`: {}", EVENTS.join(", ")))
                    })?;
                let (mut started, mut failed) = (Vec::new(), Vec::new());
                for app in self
                    .config
                    .apps
                    .iter()
                    .filter(|a| a.events.iter().any(|e| e == event))
                {
                    match self.start(app, &call, &ctx) {
                        Ok(s) => started.push(json!({"id": app.id, "pid": s.pid})),
                        Err(e) => {
                            tracing::warn!(id = app.id, name = %app.name, "external app: {e}");
                            failed.push(json!({"id": app.id, "error": e.to_string()}));
                        }
                    }
                }
                Ok(json!({"mt": "CallEventResult", "started": started, "failed": failed}))
            }
            other => Err(Error::Request(format!(
                "unknown request {other:?}: {} are known",
                MESSAGES.join(", ")
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
