//! `myapps`: the myApps platform services binary.
//!
//! Without a subcommand it is the desktop app ([`shell`]): a window with the myApps client
//! of the configured PBX and the local service in the same process. The subcommands:
//!
//! ```text
//! myapps [--server PBX] [service options] [tel:…]  # the app window
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

mod cli_desktop;
mod cli_os;
mod desktop_services;
mod headless;
mod hotkey_relay;
mod shell;
mod trace;

use std::io::Read;
use std::process::ExitCode;

const USAGE: &str =
    "usage: myapps [--server PBX] [options] [URI] | --version | --help | sdp-to-channels |
              channels-to-sdp | --headless [options] | settings … | uri URI |
              register-uri … | unregister-uri | autostart …
  (no subcommand)   the app: a window with the myApps client of the PBX. --server PBX
                    (host[:port][/PBX0-n][#phys=location]) instead of the stored SERVER
                    setting; the --headless options below apply to its service too
  --demo            the app window on the demo page instead of a PBX: devices,
                    ringtones and an echo-test call (no PBX needed)
  --settings        the settings window (the same settings as `settings list`)
  sdp-to-channels   read SDP on stdin, print the innovaphone Channels JSON object
  channels-to-sdp   read a Channels JSON object on stdin, print SDP
  --headless        run the local service without a window; prints one JSON line with
                    the service URLs and secret. Options:
    --port N                  TCP port (default: a free one)
    --disable-localhost       name the service 127.0.0.1 instead of localhost
    --allow-origin URL        another origin that may use the service (repeatable)
    --media-address IP        use this local address for media (repeatable; default:
                              every usable interface)
    --exclude-interfaces LIST addresses starting with these comma-separated prefixes
                              are not used for media (EXCLUDEINTERFACES)
    --exclude-vpn             no media over VPN interfaces
    --max-channels N          channels per connection (default 16)
    --stdin-close             stop when stdin closes
    --no-sound                no sound devices (Ringer/device requests fail)
    --audio devices|tone      channel audio from the sound devices or a test tone
    --no-aec                  the microphone unprocessed (no echo cancellation, noise
                              suppression or gain control)
    --data-dir DIR            user data directory (custom ringtones in DIR/ringtones)
    --no-hotkeys              do not register the hot keys of the settings HOTKEYDIAL,
                              HOTKEYACCEPT, HOTKEYREJECT (e.g. CTRL + F9)
    --idle-seconds S          the user is inactive after S seconds without input (default:
                              the APPEAROFFLINE setting, 5 min; 0: never)
    --no-notifications        log local notifications instead of showing them
  trace options (anywhere on the command line):
    --log-size=N              start a new trace file after N bytes (default 10 MB;
                              the newest 10 files myApps-<date>-<time>.txt are kept)
    --log-flags=HEX           the wiki's log flags instead of the LOGFLAGS setting
    --log-dir=DIR             trace files here instead of the OS's trace directory
    --no-log-file             trace to stderr only
  settings get NAME | set NAME VALUE | remove NAME | list
                    the settings store (Windows registry HKCU\\Software\\innovaphone\\myApps,
                    XDG config file, macOS user defaults); `set` validates known names
  uri URI           print the ApiRequest a tel:/sip:/sips:/im: link sends
  register-uri [--exec PATH] | register-uri --status
                    make myApps (or PATH) the handler of tel:, sip: and im: links (XDG
                    desktop entry + xdg-mime, HKCU\\Software\\Classes, macOS Launch Services)
  unregister-uri    remove that registration
  autostart on [--exec PATH] | off | status
                    start myApps at login (XDG autostart, HKCU Run key, LaunchAgent)";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    match trace::take_options(&mut args) {
        Ok(o) => trace::set_options(o),
        Err(e) => {
            eprintln!("myapps: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    match args.first().map(String::as_str) {
        None => shell_main(&args),
        Some(a) if a.starts_with("--") && !is_subcommand(a) || shell::is_uri(a) => {
            shell_main(&args)
        }
        Some("--version" | "-V") => {
            println!("myapps {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some("--headless") => match headless::parse(&args[1..]) {
            Ok(opts) => headless::run(opts),
            Err(e) => {
                eprintln!("myapps --headless: {e}\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("--settings") if args.len() == 1 => shell::settings_window::run(),
        Some("--settings") => {
            eprintln!("myapps --settings takes no arguments\n{USAGE}");
            ExitCode::from(2)
        }
        Some("--help" | "-h") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(cmd @ ("sdp-to-channels" | "channels-to-sdp")) => match convert(cmd) {
            Ok(out) => {
                println!("{out}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("myapps {cmd}: {e}");
                ExitCode::FAILURE
            }
        },
        Some("settings") => cli_desktop::settings(&args[1..], USAGE),
        Some("uri") => cli_desktop::uri(&args[1..], USAGE),
        Some("register-uri") => cli_os::register_uri(&args[1..], USAGE),
        Some("unregister-uri") => cli_os::unregister_uri(&args[1..], USAGE),
        Some("autostart") => cli_os::autostart(&args[1..], USAGE),
        Some(other) => {
            eprintln!("myapps: unknown argument {other:?}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// First arguments that are not the app's own options.
fn is_subcommand(a: &str) -> bool {
    matches!(a, "--version" | "--help" | "--headless" | "--settings")
}

fn shell_main(args: &[String]) -> ExitCode {
    match shell::parse(args) {
        Ok(opts) => shell::run(opts),
        Err(e) => {
            eprintln!("myapps: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn convert(cmd: &str) -> Result<String, String> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| format!("cannot read stdin: {e}"))?;
    if cmd == "sdp-to-channels" {
        let desc = protocol::sdp::parse(&input).map_err(|e| e.to_string())?;
        serde_json::to_string_pretty(&protocol::channels::to_channels_value(&desc))
            .map_err(|e| e.to_string())
    } else {
        let desc = protocol::channels::from_channels_str(&input).map_err(|e| e.to_string())?;
        Ok(protocol::sdp::to_sdp_string(&desc))
    }
}
