//! The command line: every flag and subcommand of README.md and the integration tests,
//! the errors, and links as data.
#![allow(clippy::unwrap_used)]

use super::*;

fn cli(a: &[&str]) -> Result<Cli, String> {
    parse_from(std::iter::once("myapps").chain(a.iter().copied())).map_err(|e| message(&e))
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn the_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn the_app_its_links_and_service_options() {
    let c = cli(&[
        "--server",
        "pbx.example.com:444",
        "--no-sound",
        "tel:4711",
        "--port",
        "0",
        "--test-ca",
        "/ca.pem",
        "sip:bob@pbx",
    ])
    .unwrap();
    assert_eq!(c.command, None);
    assert_eq!(c.server.as_deref(), Some("pbx.example.com:444"));
    assert_eq!(c.links, ["tel:4711", "sip:bob@pbx"]);
    assert_eq!(c.test_ca, Some(PathBuf::from("/ca.pem")));
    assert!(c.service.no_sound && c.service.port == Some(0));
    let c = cli(&["--demo", "--audio", "tone", "--media-address", "127.0.0.1"]).unwrap();
    assert!(c.demo && c.service.audio == Some(Audio::Tone));
    assert!(cli(&["--settings"]).unwrap().settings);
    let e = cli(&["--settings", "--port", "1"]).unwrap_err();
    assert!(e.contains("cannot be used with"), "{e}");
    let e = cli(&["--headless", "--server", "pbx"]).unwrap_err();
    assert!(e.contains("cannot be used with"), "{e}");
    let e = cli(&["--headless", "tel:1"]).unwrap_err();
    assert!(e.contains("cannot be used with"), "{e}");
    let e = cli(&["frob"]).unwrap_err();
    assert!(e.contains("neither an option nor a tel:"), "{e}");
    // The last of a repeated option counts, as before.
    assert_eq!(
        cli(&["--port", "1", "--port", "2"]).unwrap().service.port,
        Some(2)
    );
}

#[test]
fn headless_options_as_the_tests_and_the_benchmark_pass_them() {
    let c = cli(&[
        "--headless",
        "--media-address",
        "127.0.0.1",
        "--stdin-close",
        "--log-dir=/tmp/x",
        "--no-sound",
        "--audio",
        "tone",
        "--no-hotkeys",
        "--idle-seconds",
        "2",
        "--no-notifications",
        "--allow-origin",
        "https://a",
        "--allow-origin",
        "https://b",
        "--exclude-interfaces",
        "10.",
        "--exclude-vpn",
        "--max-channels",
        "3",
        "--disable-localhost",
        "--no-aec",
        "--data-dir",
        "/d",
    ])
    .unwrap();
    assert!(c.headless);
    let s = &c.service;
    assert_eq!(s.media_address, ["127.0.0.1".parse::<IpAddr>().unwrap()]);
    assert_eq!(s.allow_origin, ["https://a", "https://b"]);
    assert!(s.stdin_close && s.no_hotkeys && s.no_notifications && s.exclude_vpn);
    assert!(s.disable_localhost && s.no_aec);
    assert_eq!(s.idle_seconds, Some(Duration::from_secs(2)));
    assert_eq!(s.max_channels, Some(3));
    assert_eq!(s.data_dir, Some(PathBuf::from("/d")));
    assert_eq!(c.trace.dir, Some(PathBuf::from("/tmp/x")));
}

/// The trace options, anywhere on the command line, also after a subcommand.
#[test]
fn trace_options_anywhere() {
    let c = cli(&[
        "--headless",
        "--log-size=5000",
        "--port",
        "1",
        "--log-dir",
        "/x",
        "--log-flags=0x40000001",
    ])
    .unwrap();
    assert_eq!(c.service.port, Some(1));
    assert_eq!(
        crate::trace::Options::from(c.trace),
        crate::trace::Options {
            size: Some(5000),
            dir: Some("/x".into()),
            flags: Some(0x4000_0001),
            no_file: false
        }
    );
    let c = cli(&["settings", "list", "--no-log-file", "--log-flags", "1"]).unwrap();
    assert!(c.trace.no_file && c.trace.flags == Some(1));
    for (bad, msg) in [
        (&["--log-size=12"][..], "≥ 1000"),
        (&["--log-size", "big"], "not a number"),
        (&["--log-size", "-5"], "not a number"),
        (&["--log-flags=zz"], "not a hex"),
        (&["--log-dir"], "needs a value"),
    ] {
        let e = cli(bad).unwrap_err();
        assert!(e.contains(msg), "{bad:?}: {e}");
    }
}

#[test]
fn subcommands() {
    let sub = |a: &[&str]| cli(a).unwrap().command.unwrap();
    assert_eq!(sub(&["sdp-to-channels"]), Command::SdpToChannels);
    assert_eq!(sub(&["channels-to-sdp"]), Command::ChannelsToSdp);
    assert_eq!(
        sub(&["settings", "set", "HOTKEYDIAL", "-1"]),
        Command::Settings {
            action: SettingsAction::Set {
                name: "HOTKEYDIAL".into(),
                value: "-1".into()
            }
        }
    );
    assert_eq!(
        sub(&["settings", "get", "SERVER"]),
        Command::Settings {
            action: SettingsAction::Get {
                name: "SERVER".into()
            }
        }
    );
    assert_eq!(
        sub(&["uri", "tel:4711"]),
        Command::Uri {
            link: "tel:4711".into()
        }
    );
    assert_eq!(
        sub(&["register-uri", "--exec", "/bin/h"]),
        Command::RegisterUri {
            exec: Some("/bin/h".into()),
            status: false
        }
    );
    assert_eq!(
        sub(&["register-uri", "--status"]),
        Command::RegisterUri {
            exec: None,
            status: true
        }
    );
    assert_eq!(sub(&["unregister-uri"]), Command::UnregisterUri);
    assert_eq!(
        sub(&["autostart", "on"]),
        Command::Autostart {
            action: AutostartAction::On { exec: None }
        }
    );
    for (bad, says) in [
        (
            &["autostart", "on", "--exec", "relative/path"][..],
            "absolute path",
        ),
        (&["register-uri", "--exec", "x"], "absolute path"),
        (
            &["register-uri", "--exec", "/x", "--status"],
            "cannot be used with",
        ),
        (&["autostart", "maybe"], "unrecognized subcommand"),
        (&["unregister-uri", "x"], "unknown option"),
        (
            &["--port", "1", "settings", "list"],
            "do not go with a subcommand",
        ),
    ] {
        let e = cli(bad).unwrap_err();
        assert!(e.contains(says), "{bad:?}: {e}");
    }
    // A usage error exits with 2, as before.
    let e = parse_from(["myapps", "settings"]).unwrap_err();
    assert_eq!(e.exit_code(), 2, "{e}");
}

#[test]
fn help_and_version_are_generated() {
    let help = Cli::command().render_long_help().to_string();
    for flag in [
        "--server",
        "--headless",
        "--demo",
        "--settings",
        "--uri",
        "--port",
        "--disable-localhost",
        "--allow-origin",
        "--media-address",
        "--exclude-interfaces",
        "--exclude-vpn",
        "--max-channels",
        "--stdin-close",
        "--no-sound",
        "--audio",
        "--no-aec",
        "--data-dir",
        "--no-hotkeys",
        "--idle-seconds",
        "--no-notifications",
        "--log-size",
        "--log-flags",
        "--log-dir",
        "--no-log-file",
        "sdp-to-channels",
        "channels-to-sdp",
        "settings",
        "uri",
        "register-uri",
        "unregister-uri",
        "autostart",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
    assert!(!help.contains("--test-ca"), "a test option is hidden");
    let e = parse_from(["myapps", "--version"]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DisplayVersion);
    assert_eq!(
        e.render().to_string(),
        format!("myapps {}\n", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        parse_from(["myapps", "-h"]).unwrap_err().kind(),
        ErrorKind::DisplayHelp
    );
}

/// Splits a command line the way Windows programs do (CommandLineToArgvW / the MSVC
/// runtime): whitespace separates, `"` toggles quoting, `\` escapes only before `"`.
fn windows_argv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut started, mut slashes) = (false, false, 0usize);
    for c in line.chars() {
        match c {
            '\\' => {
                slashes += 1;
                started = true;
                continue;
            }
            '"' => {
                cur.extend(std::iter::repeat_n('\\', slashes / 2));
                if slashes % 2 == 1 {
                    cur.push('"');
                } else {
                    quoted = !quoted;
                }
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                cur.extend(std::iter::repeat_n('\\', slashes));
                if started {
                    out.push(std::mem::take(&mut cur));
                }
                started = false;
            }
            c => {
                cur.extend(std::iter::repeat_n('\\', slashes));
                cur.push(c);
                started = true;
            }
        }
        slashes = 0;
    }
    cur.extend(std::iter::repeat_n('\\', slashes));
    if started {
        out.push(cur);
    }
    out
}

/// What the app gets when Windows opens `link` with our registered command.
fn opened_on_windows(link: &str) -> Cli {
    let exe = std::path::Path::new(r"C:\Program Files\myApps\myapps.exe");
    let line = desktop::register::windows_open_command(exe).replace("%1", link);
    let argv = windows_argv(&line);
    assert_eq!(argv[0], exe.to_str().unwrap());
    parse_from(argv).unwrap()
}

#[test]
fn a_link_with_a_quote_cannot_add_options_on_windows() {
    // The quote ends Windows' "%1" early: `--server evil.example` would be two more
    // arguments. After --uri they are the link's text, never an option.
    let c = opened_on_windows(r#"tel:1" --server evil.example"#);
    assert_eq!(c.server, None);
    assert!(!c.headless && !c.settings && c.command.is_none());
    assert_eq!(c.uri.as_deref(), Some("tel:1 --server evil.example"));
    let c = opened_on_windows(r#"sip:a" --headless --settings"#);
    assert!(!c.headless && !c.settings);
    assert_eq!(c.uri.as_deref(), Some("sip:a --headless --settings"));
    // Ordinary links arrive unchanged.
    assert_eq!(
        opened_on_windows("tel:0049-7031-123").uri.as_deref(),
        Some("tel:0049-7031-123")
    );
    assert_eq!(
        opened_on_windows("sip:alice%20smith@pbx").uri.as_deref(),
        Some("sip:alice%20smith@pbx")
    );
}

#[test]
fn everything_after_uri_is_the_link() {
    let link = |a: &[&str]| cli(a).unwrap();
    // One argument (Linux: the launcher passes %u as one): kept exactly.
    let c = link(&["--uri", r#"tel:1" --server evil"#]);
    assert_eq!(
        (c.server, c.uri.as_deref()),
        (None, Some(r#"tel:1" --server evil"#))
    );
    // Split by a launcher: joined back with spaces, never options.
    let c = link(&["--uri", "sip:alice", "smith@pbx", "--server", "evil"]);
    assert_eq!(c.server, None);
    assert_eq!(c.uri.as_deref(), Some("sip:alice smith@pbx --server evil"));
    // Leading dashes, and a subcommand's name, are data too.
    for (after, want) in [
        (&["--server"][..], "--server"),
        (&["-h"], "-h"),
        (&["--version"], "--version"),
        (&["--", "--headless"], "-- --headless"),
        (&["settings", "list"], "settings list"),
        (&["--uri", "x"], "--uri x"),
    ] {
        let mut a = vec!["--uri"];
        a.extend_from_slice(after);
        let c = link(&a);
        assert_eq!(c.uri.as_deref(), Some(want), "{a:?}");
        assert!(
            c.command.is_none() && !c.headless && c.server.is_none(),
            "{a:?}"
        );
    }
    // The app's options before --uri still count; --uri=LINK works too.
    let c = link(&["--server", "pbx", "--uri=tel:1", "--demo"]);
    assert_eq!(
        (c.server.as_deref(), c.uri.as_deref(), c.demo),
        (Some("pbx"), Some("tel:1 --demo"), false)
    );
    let e = cli(&["--uri"]).unwrap_err();
    assert!(e.contains("needs a link"), "{e}");
    // A link after --uri goes to the URI handler like a plain link argument.
    let o = shell_options(&args(&["--uri", "tel:4711"])).unwrap();
    assert_eq!(o.uris, ["tel:4711"]);
}

/// `docs/man/myapps.1` is this command line's man page (clap_mangen);
/// `MYAPPS_BLESS=1` writes it anew.
#[test]
fn man_page_is_current() {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut page)
        .unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/man/myapps.1");
    if std::env::var_os("MYAPPS_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &page).unwrap();
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == page,
        "docs/man/myapps.1 is not the command line's page: run \
         MYAPPS_BLESS=1 cargo nextest run -p myapps -E 'test(man_page_is_current)'"
    );
}
