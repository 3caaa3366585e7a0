//! `myapps`: the myApps platform services binary.
//!
//! Without a subcommand it is the desktop app ([`shell`]): a window with the myApps client
//! of the configured PBX and the local service in the same process. The command line is
//! one clap definition ([`cli`]; `myapps --help` lists everything):
//!
//! ```text
//! myapps [--server PBX] [service options] [tel:…]  # the app window
//! myapps --uri LINK…                       # the same, for the OS's link handler
//! myapps --demo [service options]          # the demo page: devices, ringtones, echo test
//! myapps --settings                        # the settings window
//! myapps sdp-to-channels  < offer.sdp      # SDP → innovaphone Channels JSON
//! myapps channels-to-sdp  < channels.json  # Channels JSON → SDP
//! myapps --headless [options]               # the local service without a window
//! myapps settings get|set|remove|list …      # the settings store (registry, XDG file, defaults)
//! myapps uri tel:4711                        # the ApiRequest the URI handler sends
//! myapps register-uri | unregister-uri        # handler of tel:, sip:, im: links
//! myapps autostart on|off|status             # start at login
//! ```
//!
//! `--headless` prints one JSON line (`{"version","http","media","secret","pid"}`) on
//! stdout once the service listens, then serves until SIGINT/SIGTERM or until stdin
//! closes when `--stdin-close` is given (so a parent that dies takes it along).
//!
//! Dependencies of this crate and why: see Cargo.toml (each has its reason next to it).

mod api_providers;
mod cli;
mod cli_desktop;
mod cli_os;
mod desktop_services;
mod headless;
#[cfg(target_os = "linux")]
mod headset_relay;
mod hotkey_relay;
mod l10n;
mod pbx_settings;
mod shell;
mod trace;

use std::io::Read;
use std::process::ExitCode;

use cli::Command;

fn main() -> ExitCode {
    let cli = match cli::parse_from(std::env::args_os()) {
        Ok(c) => c,
        // Help and version go to stdout with status 0, errors to stderr with status 2.
        Err(e) => e.exit(),
    };
    trace::set_options(cli.trace.clone().into());
    match cli.command {
        Some(Command::SdpToChannels) => convert("sdp-to-channels"),
        Some(Command::ChannelsToSdp) => convert("channels-to-sdp"),
        Some(Command::Settings { action }) => cli_desktop::settings(action),
        Some(Command::Uri { link }) => cli_desktop::uri(&link),
        Some(Command::RegisterUri { exec, status }) => cli_os::register_uri(exec, status),
        Some(Command::UnregisterUri) => cli_os::unregister_uri(),
        Some(Command::Autostart { action }) => cli_os::autostart(action),
        Some(Command::ExternalApp {
            id,
            num,
            dn,
            sip,
            conf,
        }) => cli_desktop::external_app(id, desktop::external_apps::Call { num, dn, sip, conf }),
        None if cli.settings => shell::settings_window::run(),
        None if cli.headless => match headless::Options::from_args(cli.service) {
            Ok(opts) => headless::run(opts),
            Err(e) => usage_error(&format!("--headless: {e}")),
        },
        None => match cli.into_shell() {
            Ok(opts) => shell::run(opts),
            Err(e) => usage_error(&e),
        },
    }
}

/// A problem with the command line that clap's checks cannot see (e.g. the sound devices
/// of `--audio devices` do not open).
fn usage_error(e: &str) -> ExitCode {
    eprintln!("myapps: {e}");
    ExitCode::from(2)
}

fn convert(cmd: &str) -> ExitCode {
    let mut input = String::new();
    let out = std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| format!("cannot read stdin: {e}"))
        .and_then(|_| {
            if cmd == "sdp-to-channels" {
                let desc = protocol::sdp::parse(&input).map_err(|e| e.to_string())?;
                serde_json::to_string_pretty(&protocol::channels::to_channels_value(&desc))
                    .map_err(|e| e.to_string())
            } else {
                let desc =
                    protocol::channels::from_channels_str(&input).map_err(|e| e.to_string())?;
                Ok(protocol::sdp::to_sdp_string(&desc))
            }
        });
    match out {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("myapps {cmd}: {e}");
            ExitCode::FAILURE
        }
    }
}
