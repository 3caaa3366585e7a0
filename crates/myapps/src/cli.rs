//! The command line: one clap definition (derive) for the app, `--headless`, `--settings`,
//! the subcommands and the trace options; `--help` is generated from it.
//!
//! Links are data, never options: the OS starts the link handler as `myapps --uri <link>`
//! ([`desktop::register::LINK_OPTION`]), and everything after `--uri` is the link, joined
//! with spaces if the OS's quoting split it (a `"` inside a link ends Windows' `"%1"`
//! early). A link such as `tel:1" --server evil.example` thus stays one link and cannot
//! add `--server`.

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
#[cfg(test)]
use clap::error::{ContextKind, ContextValue};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::{headless, shell};

const ABOUT: &str = "myApps platform services: the desktop app with the myApps client of \
the PBX, the local service (--headless), the settings store and the OS integrations.";

const AFTER_HELP: &str = "Without a subcommand: the app window with the myApps client of \
the PBX (--server, else the stored SERVER setting; the connect form when there is none), \
with the service options applying to its service. A tel:, sip:, sips: or im: link (or \
--uri LINK) is handed to the app's URI handler, or to the running instance.";

/// The whole command line.
#[derive(Parser, Debug)]
#[command(
    name = "myapps",
    // The usage line says `myapps` whatever the file is called (myapps.exe, a copy).
    bin_name = "myapps",
    version,
    about = ABOUT,
    after_help = AFTER_HELP,
    // A repeated option takes its last value, as the hand-written parsers did.
    args_override_self = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Run the local service without a window; prints one JSON line with the service
    /// URLs and secret
    #[arg(long, conflicts_with_all = ["server", "demo", "test_ca", "uri", "links"])]
    pub headless: bool,
    /// The settings window (the same settings as `settings list`)
    #[arg(long, conflicts_with_all = ["headless", "server", "demo", "test_ca", "uri", "links", "service"])]
    pub settings: bool,
    /// The PBX (host[:port][/PBX0-n][#phys=location]) instead of the stored SERVER setting
    #[arg(long, value_name = "PBX", value_parser = server)]
    pub server: Option<String>,
    /// Server certificates issued by this CA (PEM) are accepted too (tests)
    #[arg(long, value_name = "FILE", hide = true)]
    pub test_ca: Option<PathBuf>,
    /// The app window on the demo page instead of a PBX: devices, ringtones and an
    /// echo-test call (no PBX needed)
    #[arg(long)]
    pub demo: bool,
    /// A link from the OS's link handler: everything after --uri is this one link,
    /// never options
    #[arg(long, value_name = "LINK", value_parser = uri_data)]
    pub uri: Option<String>,
    /// tel:, sip:, sips: or im: links for the URI handler
    #[arg(value_name = "LINK", value_parser = link)]
    pub links: Vec<String>,
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub trace: TraceArgs,
}

/// The local service's options: `--headless` and the app's own service.
#[derive(Args, Debug, Clone, Default, PartialEq)]
#[group(id = "service", multiple = true)]
#[command(next_help_heading = "Service options (the app and --headless)")]
pub struct ServiceArgs {
    /// TCP port (default: a free one)
    #[arg(long, value_name = "N", value_parser = port, allow_negative_numbers = true)]
    pub port: Option<u16>,
    /// Name the service 127.0.0.1 instead of localhost
    #[arg(long)]
    pub disable_localhost: bool,
    /// Another origin that may use the service (repeatable)
    #[arg(long, value_name = "URL", value_parser = origin, action = clap::ArgAction::Append)]
    pub allow_origin: Vec<String>,
    /// Use this local address for media (repeatable; default: every usable interface)
    #[arg(long, value_name = "IP", value_parser = ip, action = clap::ArgAction::Append)]
    pub media_address: Vec<IpAddr>,
    /// Addresses starting with these comma-separated prefixes are not used for media
    /// (EXCLUDEINTERFACES)
    #[arg(long, value_name = "LIST", action = clap::ArgAction::Append)]
    pub exclude_interfaces: Vec<String>,
    /// No media over VPN interfaces
    #[arg(long)]
    pub exclude_vpn: bool,
    /// Channels per connection (default 16)
    #[arg(long, value_name = "N", value_parser = positive, allow_negative_numbers = true)]
    pub max_channels: Option<usize>,
    /// Stop when stdin closes
    #[arg(long)]
    pub stdin_close: bool,
    /// No sound devices (Ringer/device requests fail)
    #[arg(long)]
    pub no_sound: bool,
    /// Channel audio from the sound devices or a test tone
    #[arg(long, value_name = "devices|tone", value_parser = audio)]
    pub audio: Option<Audio>,
    /// The microphone unprocessed (no echo cancellation, noise suppression or gain
    /// control)
    #[arg(long)]
    pub no_aec: bool,
    /// User data directory (custom ringtones in DIR/ringtones)
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Do not register the hot keys of the settings HOTKEYDIAL, HOTKEYACCEPT,
    /// HOTKEYREJECT
    #[arg(long)]
    pub no_hotkeys: bool,
    /// The user is inactive after S seconds without input (default: the APPEAROFFLINE
    /// setting, 5 min; 0: never)
    #[arg(long, value_name = "S", value_parser = idle_seconds, allow_negative_numbers = true)]
    pub idle_seconds: Option<Duration>,
    /// Log local notifications instead of showing them
    #[arg(long)]
    pub no_notifications: bool,
    /// Headsets are looked for under DIR/sys/class/hidraw and opened in DIR/dev instead
    /// of the system's (tests)
    #[arg(long, value_name = "DIR", hide = true)]
    pub hidraw_root: Option<PathBuf>,
}

/// `--audio`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audio {
    Devices,
    Tone,
}

/// The trace options, accepted with every subcommand.
#[derive(Args, Debug, Clone, Default, PartialEq)]
#[command(next_help_heading = "Trace options")]
pub struct TraceArgs {
    /// Start a new trace file after N bytes (default 10 MB; the newest 10 files are kept)
    #[arg(long = "log-size", value_name = "N", global = true, value_parser = log_size, allow_negative_numbers = true)]
    pub size: Option<u64>,
    /// The wiki's log flags instead of the LOGFLAGS setting
    #[arg(long = "log-flags", value_name = "HEX", global = true, value_parser = log_flags)]
    pub flags: Option<u64>,
    /// Trace files here instead of the OS's trace directory
    #[arg(long = "log-dir", value_name = "DIR", global = true)]
    pub dir: Option<PathBuf>,
    /// Trace to stderr only
    #[arg(long = "no-log-file", global = true)]
    pub no_file: bool,
}

#[derive(Subcommand, Debug, PartialEq)]
pub enum Command {
    /// Read SDP on stdin, print the innovaphone Channels JSON object
    SdpToChannels,
    /// Read a Channels JSON object on stdin, print SDP
    ChannelsToSdp,
    /// The settings store (Windows registry HKCU\Software\innovaphone\myApps, XDG config
    /// file, macOS user defaults)
    Settings {
        #[command(subcommand)]
        action: SettingsAction,
    },
    /// Print the ApiRequest a tel:/sip:/sips:/im: link sends
    Uri {
        #[arg(value_name = "LINK", allow_hyphen_values = true)]
        link: String,
    },
    /// Make myApps (or PATH) the handler of tel:, sip: and im: links (XDG desktop entry
    /// and xdg-mime, HKCU\Software\Classes, macOS Launch Services)
    RegisterUri {
        /// Another program to start than this one (absolute path)
        #[arg(long, value_name = "PATH", value_parser = absolute, conflicts_with = "status")]
        exec: Option<PathBuf>,
        /// Say which program handles each scheme; fails unless it is myApps for all
        #[arg(long)]
        status: bool,
    },
    /// Remove that registration
    UnregisterUri,
    /// Start myApps at login (XDG autostart, HKCU Run key, LaunchAgent)
    Autostart {
        #[command(subcommand)]
        action: AutostartAction,
    },
    /// Start external application ID of EXTERNALAPPS for a call, as an app's StartApp
    /// request would (to try a configuration); prints the result
    ExternalApp {
        /// The app's `id`
        id: u32,
        /// $n: the number as dialled or received
        #[arg(long, default_value = "", allow_hyphen_values = true)]
        num: String,
        /// $d: the peer's display name
        #[arg(long, default_value = "", allow_hyphen_values = true)]
        dn: String,
        /// $u: the peer's URI name
        #[arg(long, default_value = "", allow_hyphen_values = true)]
        sip: String,
        /// $c: the conference id
        #[arg(long, default_value = "", allow_hyphen_values = true)]
        conf: String,
    },
}

#[derive(Subcommand, Debug, PartialEq)]
pub enum SettingsAction {
    /// Print a setting's value
    Get { name: String },
    /// Store a setting (known names are validated)
    Set {
        name: String,
        #[arg(allow_hyphen_values = true)]
        value: String,
    },
    /// Remove a setting
    Remove { name: String },
    /// Every setting with its source
    List,
}

#[derive(Subcommand, Debug, PartialEq)]
pub enum AutostartAction {
    /// Start myApps (or PATH) at login
    On {
        /// Another program to start than this one (absolute path)
        #[arg(long, value_name = "PATH", value_parser = absolute)]
        exec: Option<PathBuf>,
    },
    /// Do not start at login
    Off,
    /// Say whether it starts at login
    Status,
}

/// Parses a command line (`args[0]` is the program).
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let args = link_is_data(args.into_iter().map(Into::into).collect());
    let mut cmd = Cli::command();
    let matches = cmd.try_get_matches_from_mut(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    if cli.command.is_some() && cli.app_options_given() {
        return Err(cmd.error(
            ErrorKind::ArgumentConflict,
            "the app's options (--server, --headless, service options, links) do not go with a subcommand",
        ));
    }
    Ok(cli)
}

/// Everything after the first `--uri` (before any subcommand) becomes the one value
/// `--uri=<the rest joined with spaces>`: clap takes a value given with `=` as is, so no
/// part of it is parsed as an option.
fn link_is_data(mut args: Vec<OsString>) -> Vec<OsString> {
    let subcommands: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    let mut at = None;
    for (i, a) in args.iter().enumerate().skip(1) {
        let a = a.to_string_lossy();
        if subcommands.iter().any(|s| *s == a) {
            break;
        }
        if a == "--uri" || a.starts_with("--uri=") {
            at = Some(i);
            break;
        }
    }
    let Some(at) = at else { return args };
    let rest = args.split_off(at);
    let mut pieces: Vec<String> = Vec::new();
    // `--uri=x` keeps its inline part; a bare `--uri` contributes nothing.
    if let Some(inline) = rest[0].to_string_lossy().strip_prefix("--uri=")
        && !inline.is_empty()
    {
        pieces.push(inline.to_owned());
    }
    pieces.extend(rest[1..].iter().map(|a| a.to_string_lossy().into_owned()));
    args.push(format!("--uri={}", pieces.join(" ")).into());
    args
}

impl Cli {
    /// Whether an option of the app or the service was given.
    fn app_options_given(&self) -> bool {
        self.headless
            || self.settings
            || self.server.is_some()
            || self.test_ca.is_some()
            || self.demo
            || self.uri.is_some()
            || !self.links.is_empty()
            || self.service != ServiceArgs::default()
    }

    /// The app's options (no subcommand, neither `--headless` nor `--settings`).
    pub fn into_shell(self) -> Result<shell::Options, String> {
        let mut uris = self.links;
        uris.extend(self.uri);
        Ok(shell::Options {
            server: self.server,
            test_ca: self.test_ca,
            uris,
            demo: self.demo,
            service: headless::Options::from_args(self.service)?,
        })
    }
}

/// A short message for a parse error (the parts the hand-written parsers said).
#[cfg(test)]
pub fn message(e: &clap::Error) -> String {
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    match e.kind() {
        ErrorKind::UnknownArgument => format!("unknown option {arg:?}"),
        ErrorKind::InvalidValue if matches!(e.get(ContextKind::InvalidValue), Some(ContextValue::String(v)) if v.is_empty()) =>
        {
            let name = arg.split_whitespace().next().unwrap_or_default();
            format!("{name} needs a value")
        }
        _ => e.render().to_string().trim_end().to_owned(),
    }
}

/// The app's options from its arguments (without the program name).
#[cfg(test)]
pub fn shell_options(args: &[String]) -> Result<shell::Options, String> {
    let argv = std::iter::once("myapps".to_owned()).chain(args.iter().cloned());
    parse_from(argv).map_err(|e| message(&e))?.into_shell()
}

/// The `--headless` options from the arguments after `--headless`.
#[cfg(test)]
pub fn headless_options(args: &[String]) -> Result<headless::Options, String> {
    let argv = ["myapps", "--headless"]
        .into_iter()
        .map(str::to_owned)
        .chain(args.iter().cloned());
    headless::Options::from_args(parse_from(argv).map_err(|e| message(&e))?.service)
}

// Value checks: each message names the option and says what is wrong.

fn server(v: &str) -> Result<String, String> {
    desktop::server::Server::parse(v).map_err(|e| format!("--server: {e}"))?;
    Ok(v.to_owned())
}

fn link(v: &str) -> Result<String, String> {
    if shell::is_uri(v) {
        Ok(v.to_owned())
    } else {
        Err(format!(
            "{v:?} is neither an option nor a tel:, sip:, sips: or im: link"
        ))
    }
}

fn uri_data(v: &str) -> Result<String, String> {
    if v.trim().is_empty() {
        return Err("--uri needs a link".into());
    }
    Ok(v.to_owned())
}

fn port(v: &str) -> Result<u16, String> {
    v.parse()
        .map_err(|_| format!("--port {v:?} is not a port number (0-65535)"))
}

fn origin(v: &str) -> Result<String, String> {
    if v.starts_with("https://") || v.starts_with("http://") {
        Ok(v.to_owned())
    } else {
        Err(format!(
            "--allow-origin {v:?} is not an origin (https://host[:port])"
        ))
    }
}

fn ip(v: &str) -> Result<IpAddr, String> {
    v.parse()
        .map_err(|_| format!("--media-address {v:?} is not an IP address"))
}

fn positive(v: &str) -> Result<usize, String> {
    v.parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("--max-channels {v:?} is not a positive number"))
}

fn audio(v: &str) -> Result<Audio, String> {
    match v {
        "devices" => Ok(Audio::Devices),
        "tone" => Ok(Audio::Tone),
        _ => Err(format!("--audio {v:?} is neither `devices` nor `tone`")),
    }
}

fn idle_seconds(v: &str) -> Result<Duration, String> {
    v.parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && *s >= 0.0 && *s <= 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("--idle-seconds {v:?} is not a number of seconds (0-86400)"))
}

fn log_size(v: &str) -> Result<u64, String> {
    v.parse()
        .ok()
        .filter(|n| *n >= 1000)
        .ok_or_else(|| format!("--log-size {v:?} is not a number of bytes ≥ 1000"))
}

fn log_flags(v: &str) -> Result<u64, String> {
    let hex = v
        .strip_prefix("0x")
        .or_else(|| v.strip_prefix("0X"))
        .unwrap_or(v);
    u64::from_str_radix(hex, 16).map_err(|_| format!("--log-flags {v:?} is not a hex number"))
}

fn absolute(v: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(v);
    if p.is_absolute() {
        Ok(p)
    } else {
        Err(format!("--exec {}: give an absolute path", p.display()))
    }
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
