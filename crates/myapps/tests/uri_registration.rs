//! `myapps register-uri` / `unregister-uri` / `autostart` against the real xdg-utils in
//! temporary XDG directories: xdg-mime names our desktop entry as the default for
//! `x-scheme-handler/{tel,sip,im}`, and `xdg-open tel:…` starts our `Exec` line with the
//! exact link ("xdg-open tel:0049-7031-123"). The `Exec` program is a
//! wrapper script that records its argument and runs the real binary's `uri` subcommand,
//! so the JSON the link turns into is checked too. (Handing the link to a running
//! instance is the shell's single-instance part.)
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use test_support::TempDir;

/// The tools must be there (CI installs xdg-utils), except where the developer opted out.
fn tools_present() -> bool {
    let ok = ["xdg-mime", "xdg-open"].iter().all(|t| {
        Command::new(t)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !ok && std::env::var_os("MYAPPS_SKIP_DESKTOP_TESTS").is_some() {
        eprintln!("skipped: xdg-utils missing and MYAPPS_SKIP_DESKTOP_TESTS is set");
        return false;
    }
    if !ok {
        test_support::missing("xdg-mime/xdg-open (package xdg-utils)");
    }
    true
}

/// A command with only our temporary session's environment (no desktop, so xdg-utils
/// take their generic path, which reads `mimeapps.list` and runs the entry's `Exec`).
fn session(program: &str, d: &Path) -> Command {
    let mut c = Command::new(program);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", d.join("home"))
        .env("XDG_DATA_HOME", d.join("data"))
        .env("XDG_CONFIG_HOME", d.join("config"))
        .env("XDG_DATA_DIRS", d.join("sysdata"))
        .env("XDG_CONFIG_DIRS", d.join("sysconfig"))
        // xdg-open opens scheme handlers only "when a display is present" (it tests that
        // the variable is set; nothing connects to it here).
        .env("DISPLAY", ":nonexistent");
    c
}

fn myapps(d: &Path, args: &[&str]) -> Output {
    session(env!("CARGO_BIN_EXE_myapps"), d)
        .args(args)
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn wait_for_lines(path: &Path, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "{} has {} of {n} lines: {text:?}",
            path.display(),
            lines.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn xdg_open_delivers_links_to_our_exec_line() {
    if !tools_present() {
        return;
    }
    let d = TempDir::new("uri-registration");
    for sub in ["home", "data", "config", "sysdata", "sysconfig"] {
        fs::create_dir_all(d.join(sub)).unwrap();
    }
    // The handler: records the link it got, then asks the real binary what it sends.
    // (No space in its path: xdg-open's generic fallback cannot run a quoted Exec.)
    fs::create_dir_all(d.join("bin")).unwrap();
    let wrapper = d.join("bin/handler");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$#:$1:$2\" >> '{args}'\n'{exe}' uri \"$2\" >> '{json}'\n",
            args = d.join("args.txt").display(),
            exe = env!("CARGO_BIN_EXE_myapps"),
            json = d.join("requests.jsonl").display(),
        ),
    )
    .unwrap();
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();

    let out = ok(&myapps(
        d.path(),
        &["register-uri", "--exec", wrapper.to_str().unwrap()],
    ));
    eprintln!("register-uri: {out}");
    let entry = fs::read_to_string(d.join("data/applications/myapps-url-handler.desktop")).unwrap();
    eprintln!("{entry}");
    assert!(
        entry.contains("MimeType=x-scheme-handler/tel;x-scheme-handler/sip;x-scheme-handler/im;")
    );

    for scheme in ["tel", "sip", "im"] {
        let q = ok(&session("xdg-mime", d.path())
            .args(["query", "default", &format!("x-scheme-handler/{scheme}")])
            .output()
            .unwrap());
        assert_eq!(q.trim(), "myapps-url-handler.desktop", "{scheme}");
    }
    let status = ok(&myapps(d.path(), &["register-uri", "--status"]));
    assert_eq!(status.matches("(myApps)").count(), 3, "{status}");

    let links = [
        "tel:0049-7031-123",
        "sip:zkl@innovaphone.com",
        "im:zkl@innovaphone.com",
    ];
    for (i, link) in links.iter().enumerate() {
        let t0 = Instant::now();
        let o = session("xdg-open", d.path()).arg(link).output().unwrap();
        assert!(
            o.status.success(),
            "xdg-open {link}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        wait_for_lines(&d.join("requests.jsonl"), i + 1);
        eprintln!("xdg-open {link} → handler ran in {:?}", t0.elapsed());
    }
    // A link with a quote and spaces (from a web page) is still one argument after
    // --uri, the option after which everything is the link.
    let hostile = r#"tel:1" --server evil.example"#;
    let o = session("xdg-open", d.path()).arg(hostile).output().unwrap();
    // `myapps uri` rejects it as a link (a `"` is no part of a number): data, not options.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(r#"tel: invalid character '"'"#), "{err}");
    let args = wait_for_lines(&d.join("args.txt"), 4);
    let mut expected: Vec<String> = links.iter().map(|l| format!("2:--uri:{l}")).collect();
    expected.push(format!("2:--uri:{hostile}"));
    assert_eq!(args, expected, "--uri and the exact link, each");
    let requests: Vec<Value> = wait_for_lines(&d.join("requests.jsonl"), 3)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        requests[0]["msg"],
        json!({"mt":"StartCall","num":"00497031123","adjust":true})
    );
    assert_eq!(requests[0]["api"], "com.innovaphone.phone");
    assert_eq!(
        requests[1]["msg"],
        json!({"mt":"StartCall","sip":"zkl@innovaphone.com","adjust":true})
    );
    assert_eq!(
        (&requests[2]["api"], &requests[2]["msg"]),
        (
            &json!("com.innovaphone.chat"),
            &json!({"mt":"StartChat","sip":"zkl@innovaphone.com"})
        )
    );

    // Unregistering removes the entry and the defaults, and keeps others' lines.
    let list = d.join("config/mimeapps.list");
    let mut text = fs::read_to_string(&list).unwrap();
    text.push_str("text/html=firefox.desktop;\n");
    fs::write(&list, text).unwrap();
    ok(&myapps(d.path(), &["unregister-uri"]));
    assert!(
        !d.join("data/applications/myapps-url-handler.desktop")
            .exists()
    );
    let after = fs::read_to_string(&list).unwrap();
    assert!(!after.contains("myapps-url-handler"), "{after}");
    assert!(after.contains("text/html=firefox.desktop;"), "{after}");
    let status = myapps(d.path(), &["register-uri", "--status"]);
    assert!(
        !status.status.success(),
        "status after unregister must fail"
    );
}

#[test]
fn autostart_entry_on_off() {
    let d = TempDir::new("autostart");
    let file = d.join("config/autostart/myapps.desktop");
    let status = |d: &Path| ok(&myapps(d, &["autostart", "status"]));
    assert!(status(d.path()).starts_with("off"));
    ok(&myapps(d.path(), &["autostart", "on"]));
    let entry = fs::read_to_string(&file).unwrap();
    assert!(
        entry.contains(&format!("Exec={}\n", env!("CARGO_BIN_EXE_myapps"))),
        "{entry}"
    );
    assert!(entry.starts_with("[Desktop Entry]\nType=Application\n"));
    assert!(status(d.path()).starts_with("on"), "{}", status(d.path()));
    // Stored too: the app makes the entry follow AUTOSTART at each start.
    let setting = |d: &Path| ok(&myapps(d, &["settings", "get", "AUTOSTART"]));
    assert_eq!(setting(d.path()).trim(), "1");
    ok(&myapps(d.path(), &["autostart", "off"]));
    assert!(!file.exists());
    assert!(status(d.path()).starts_with("off"));
    assert_eq!(setting(d.path()).trim(), "0");
    let bad = myapps(d.path(), &["autostart", "on", "--exec", "relative/path"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("absolute path"));
}
