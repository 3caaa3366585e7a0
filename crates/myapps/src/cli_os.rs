//! `myapps register-uri`, `unregister-uri` and `autostart …`: the OS integrations of
//! `desktop::register` and `desktop::autostart` from the command line (installers,
//! packagers, support, tests).

use std::path::PathBuf;
use std::process::ExitCode;

use desktop::{autostart, register};

/// `--exec PATH` (another program to start than this one, e.g. a wrapper script), else
/// this binary.
fn exe(args: &[&str]) -> Result<PathBuf, String> {
    match args {
        [] => register::current_exe().map_err(|e| e.to_string()),
        ["--exec", p] => {
            let p = PathBuf::from(p);
            if !p.is_absolute() {
                return Err(format!("--exec {}: give an absolute path", p.display()));
            }
            Ok(p)
        }
        _ => Err(format!("unexpected arguments {args:?}")),
    }
}

/// `register-uri [--exec PATH] | register-uri --status`.
pub fn register_uri(args: &[String], usage: &str) -> ExitCode {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let reg = match register::system() {
        Ok(r) => r,
        Err(e) => return fail("register-uri", &e.to_string()),
    };
    if args == ["--status"] {
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
    let exe = match exe(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("myapps register-uri: {e}\n{usage}");
            return ExitCode::from(2);
        }
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
pub fn unregister_uri(args: &[String], usage: &str) -> ExitCode {
    if !args.is_empty() {
        eprintln!("myapps unregister-uri: no arguments expected\n{usage}");
        return ExitCode::from(2);
    }
    match register::system().and_then(|r| r.unregister()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail("unregister-uri", &e.to_string()),
    }
}

/// `autostart on [--exec PATH] | off | status`.
pub fn autostart(args: &[String], usage: &str) -> ExitCode {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let a = match autostart::system() {
        Ok(a) => a,
        Err(e) => return fail("autostart", &e.to_string()),
    };
    let result = match args.as_slice() {
        ["on", rest @ ..] => match exe(rest) {
            Ok(p) => a.enable(&p),
            Err(e) => {
                eprintln!("myapps autostart: {e}\n{usage}");
                return ExitCode::from(2);
            }
        },
        ["off"] => a.disable(),
        ["status"] => match a.is_enabled() {
            Ok(on) => {
                println!("{} ({})", if on { "on" } else { "off" }, a.location());
                return ExitCode::SUCCESS;
            }
            Err(e) => Err(e),
        },
        _ => {
            eprintln!("myapps autostart: expected on, off or status\n{usage}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail("autostart", &e.to_string()),
    }
}

fn fail(cmd: &str, e: &str) -> ExitCode {
    eprintln!("myapps {cmd}: {e}");
    ExitCode::FAILURE
}
