//! `myapps settings` and `myapps uri` as a user runs them (Linux: the XDG file backend in a
//! temporary `XDG_CONFIG_HOME`).

use std::process::Command;

fn run(cfg: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_myapps"))
        .args(args)
        .env("XDG_CONFIG_HOME", cfg)
        .env("XDG_CONFIG_DIRS", cfg.join("none"))
        .output()
        .expect("run myapps");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn uri_prints_the_seed_json() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = run(dir.path(), &["uri", "tel:4711"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "{\"mt\":\"ApiRequest\",\"api\":\"com.innovaphone.phone\",\"msg\":{\"mt\":\"StartCall\",\"num\":\"4711\",\"adjust\":true}}\n"
    );
    let (code, out, _) = run(dir.path(), &["uri", "im:zkl@innovaphone.com"]);
    assert_eq!(code, 0);
    assert!(out.contains(
        r#""api":"com.innovaphone.chat","msg":{"mt":"StartChat","sip":"zkl@innovaphone.com"}"#
    ));
    let (code, out, err) = run(dir.path(), &["uri", "mailto:x@y"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "myapps uri: unsupported scheme \"mailto\": expected tel:, sip:, sips: or im:\n"
    );
}

#[test]
fn settings_set_get_list_remove_and_corrupt_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path();
    assert_eq!(run(cfg, &["settings", "get", "SERVER"]).0, 1);
    assert_eq!(
        run(cfg, &["settings", "set", "SERVER", "pbx.example.com"]).0,
        0
    );
    assert_eq!(
        run(cfg, &["settings", "set", "disablelocalhost", "true"]).0,
        0
    );
    assert_eq!(
        run(cfg, &["settings", "get", "server"]).1,
        "pbx.example.com\n"
    );
    assert_eq!(
        run(cfg, &["settings", "list"]).1,
        "DISABLELOCALHOST=1\t(user)\nSERVER=pbx.example.com\t(user)\n"
    );
    let (code, _, err) = run(cfg, &["settings", "set", "SERVER", "https://pbx"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("SERVER: \"https://pbx\": give the host name only"),
        "{err}"
    );
    assert_eq!(run(cfg, &["settings", "remove", "DISABLELOCALHOST"]).0, 0);

    let file = cfg.join("myApps/settings.json");
    std::fs::write(&file, "{oops").unwrap();
    let (code, _, err) = run(cfg, &["settings", "get", "SERVER"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("is corrupt (not JSON") && err.contains("has not been changed"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{oops");
    let (code, _, err) = run(cfg, &["settings", "set", "SERVER", "pbx2.example.com"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("was corrupt and has been moved to"), "{err}");
    assert_eq!(
        run(cfg, &["settings", "get", "SERVER"]).1,
        "pbx2.example.com\n"
    );
    let moved = std::fs::read_dir(cfg.join("myApps"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".corrupt-")
        })
        .count();
    assert_eq!(moved, 1);
}
