//! `myapps register-uri`, `unregister-uri` and `autostart …`: the OS integrations of
//! `desktop::register` and `desktop::autostart` from the command line (installers,
//! packagers, support, tests).

use std::path::PathBuf;
use std::process::ExitCode;

use desktop::{autostart, register};

use crate::cli::AutostartAction;

/// `--exec PATH` (another program to start than this one, e.g. a wrapper script; the
/// command line checked that it is absolute), else this binary.
fn exe(exec: Option<PathBuf>) -> Result<PathBuf, String> {
    match exec {
        Some(p) => Ok(p),
        None => register::current_exe().map_err(|e| e.to_string()),
    }
}

/// `register-uri [--exec PATH] | register-uri --status`.
pub fn register_uri(exec: Option<PathBuf>, status: bool) -> ExitCode {
    let reg = match register::system() {
        Ok(r) => r,
        Err(e) => return fail("register-uri", &e.to_string()),
    };
    if status {
        return match reg.status() {
            Ok(all) => {
                let mut mine = true;
                for s in all {
                    mine &= s.ours;
                    println!(
                        "{}: {}{}",
                        s.scheme,
                        s.handler.as_deref().unwrap_or("(no handler)"),
                        if s.ours { " (myApps)" } else { "" }
                    );
                }
                if mine {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(e) => fail("register-uri", &e.to_string()),
        };
    }
    let exe = match exe(exec) {
        Ok(p) => p,
        Err(e) => return fail("register-uri", &e),
    };
    match reg.register(&exe) {
        Ok(notes) => {
            for n in notes {
                eprintln!("myapps register-uri: {n}");
            }
            println!(
                "{} handles {} links",
                exe.display(),
                register::SCHEMES.join(":, ") + ":"
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail("register-uri", &e.to_string()),
    }
}

/// `unregister-uri`.
pub fn unregister_uri() -> ExitCode {
    match register::system().and_then(|r| r.unregister()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail("unregister-uri", &e.to_string()),
    }
}

/// `autostart on [--exec PATH] | off | status`.
pub fn autostart(action: AutostartAction) -> ExitCode {
    let a = match autostart::system() {
        Ok(a) => a,
        Err(e) => return fail("autostart", &e.to_string()),
    };
    let on = matches!(action, AutostartAction::On { .. });
    let result = match action {
        AutostartAction::On { exec } => match exe(exec) {
            Ok(p) => a.enable(&p),
            Err(e) => return fail("autostart", &e),
        },
        AutostartAction::Off => a.disable(),
        AutostartAction::Status => match a.is_enabled() {
            Ok(on) => {
                println!("{} ({})", if on { "on" } else { "off" }, a.location());
                return ExitCode::SUCCESS;
            }
            Err(e) => Err(e),
        },
    };
    if let Err(e) = result {
        return fail("autostart", &e.to_string());
    }
    // The app makes the login entry follow AUTOSTART at each start: store the choice.
    match desktop::settings::store_bool("AUTOSTART", on) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => fail(
            "autostart",
            &format!("login entry changed, but AUTOSTART not stored: {e}"),
        ),
    }
}

fn fail(cmd: &str, e: &str) -> ExitCode {
    eprintln!("myapps {cmd}: {e}");
    ExitCode::FAILURE
}
