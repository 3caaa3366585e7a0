//! The W3C web-platform-tests of WebRTC (the audio-only subset vendored in tests/wpt, see
//! tests/wpt/README.md) in our shell and in Chromium, in the same run.
//!
//! The PBX stand-in serves tests/wpt as the web root and our runner as the client page
//! (`test_support::pbx`, `Mode::Wpt`). The runner loads each test file in a same-origin
//! frame and reports every subtest to the stand-in. It runs twice:
//! (b) in Debian's Chromium (tests/tools/chromium/wpt.js), the reference;
//! (a) in our shell (`myapps --server … --test-ca …` under Xvfb with a private PipeWire),
//!     where the WebRTC shim is injected into every frame of the trusted origin.
//!
//! It prints `file | ours passed/total | chromium passed/total | both`, writes the
//! table with every subtest that did not pass to `target/tmp/wpt-webrtc.json`, and
//! asserts the acceptance goal: of the subtests Chromium passes, ours passes at least
//! 80 % ("both" over Chromium's passes; a subtest only ours passes does not count).
//! `MYAPPS_WPT_GOAL=0` reports without asserting the goal (Chromium's sanity is still
//! checked).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use test_support::desktop_session::Session;
use test_support::pbx::{PbxStandIn, wpt_test_files};

mod common;
use common::windowed::App;

/// What the runner allows one file (wpt_runner.htm's PER_FILE_MS), plus slack for
/// loading; WPT's "long" files may take up to 90 s, hence the run's extra slack.
const PER_FILE: Duration = Duration::from_secs(35);
const SLACK: Duration = Duration::from_secs(180);
/// A run that reports nothing this long has stalled: the runner reports before and
/// after every file, and allows one file at most 90 s and each request 10 s.
const STALL: Duration = Duration::from_secs(120);
/// The acceptance goal: our passes over Chromium's.
const GOAL: f64 = 0.8;

fn wpt_root() -> PathBuf {
    test_support::workspace().join("tests/wpt")
}

/// One file's results in one run.
#[derive(Clone, Default)]
struct FileResult {
    passed: usize,
    total: usize,
    /// testharness.js's harness status (`OK`, `ERROR`, `TIMEOUT`), or `missing`.
    harness: String,
    /// The names of the subtests that passed.
    passed_names: BTreeSet<String>,
    /// The subtests that did not pass, with their status and message.
    failed: Vec<Value>,
}

/// One run's results by file.
type Column = BTreeMap<String, FileResult>;

/// Waits for the `run`'s `wpt-done` and collects its `wpt-file` reports. A run that
/// reports nothing for [`STALL`] is given up (its files so far count; the rest count as
/// missing, with no passes).
async fn collect(pbx: &PbxStandIn, run: &str) -> Column {
    let (mut seen, mut news) = (0, Instant::now());
    let done = loop {
        let mine: Vec<Value> = pbx
            .reports()
            .into_iter()
            .filter(|r| r["run"] == run)
            .collect();
        if mine.iter().any(|r| r["kind"] == "wpt-done") {
            break true;
        }
        if mine.len() != seen {
            (seen, news) = (mine.len(), Instant::now());
        } else if news.elapsed() > STALL {
            let last = mine.iter().rfind(|r| r["kind"] == "wpt-progress");
            eprintln!(
                "{run}: the runner stalled: nothing for {STALL:?}; last file started: {}",
                last.map_or(Value::Null, |r| r["file"].clone())
            );
            break false;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let mut col = Column::new();
    for r in pbx.reports() {
        if r["kind"] != "wpt-file" || r["run"] != run {
            continue;
        }
        let tests = r["tests"].as_array().cloned().unwrap_or_default();
        let (pass, failed): (Vec<Value>, Vec<Value>) =
            tests.into_iter().partition(|t| t["status"] == "PASS");
        let result = FileResult {
            passed: pass.len(),
            passed_names: pass
                .iter()
                .filter_map(|t| Some(t["name"].as_str()?.to_owned()))
                .collect(),
            total: pass.len() + failed.len(),
            harness: format!(
                "{} {}",
                r["harness"].as_str().unwrap_or("?"),
                r["message"].as_str().unwrap_or("")
            )
            .trim()
            .to_owned(),
            failed,
        };
        col.insert(r["file"].as_str().unwrap().to_owned(), result);
    }
    println!("{run}: {} files reported, finished: {done}", col.len());
    col
}

/// Runs the runner page in Chromium; its results go to the stand-in.
async fn chromium(pbx: &PbxStandIn, files: usize) -> Column {
    test_support::require(&[("chromium", &["--version"]), ("node", &["--version"])]);
    let dir = test_support::workspace().join("tests/tools/chromium");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "tests/tools/chromium/node_modules is missing: run scripts/test (it runs npm install)"
    );
    let url = format!(
        "https://{}/PBX0/APPCLIENT/appclient.htm?run=chromium",
        pbx.server()
    );
    let secs = (PER_FILE * u32::try_from(files).unwrap() + SLACK).as_secs();
    let mut child = tokio::process::Command::new("node")
        .arg(dir.join("wpt.js"))
        .arg(&url)
        .arg(secs.to_string())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let col = collect(pbx, "chromium").await;
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    println!("chromium driver: {status:?}");
    col
}

/// Runs the runner page in our shell (it loads the stand-in's client page itself).
async fn shell(desk: &Session, pbx: &PbxStandIn) -> (Column, Value) {
    let sound = test_support::pipewire::Session::start();
    let runtime = sound.dir().join("xdg");
    let ca = pbx.ca_file.to_str().unwrap().to_owned();
    let server = pbx.server();
    let _app = App::start(desk, "app.log", |cmd| {
        cmd.args(["--server", &server, "--test-ca", &ca])
            .args(["--media-address", "127.0.0.1"])
            .env("RUST_LOG", "info,myapps=debug")
            .env("MYAPPS_WEBVIEW_CONSOLE", "1")
            // The service's and the webview's audio find the private PipeWire.
            .env(
                "PULSE_SERVER",
                format!("unix:{}", runtime.join("pulse/native").display()),
            )
            .env("PIPEWIRE_RUNTIME_DIR", &runtime);
    });
    let start = pbx
        .wait_for(Duration::from_secs(60), |r| {
            r["kind"] == "wpt-start" && r["run"] == "shell"
        })
        .await
        .expect("the runner page loaded in the shell");
    (collect(pbx, "shell").await, start)
}

/// Sums over the files.
#[derive(Default)]
struct Totals {
    ours_passed: usize,
    ours_total: usize,
    chromium_passed: usize,
    chromium_total: usize,
    /// Subtests that pass in both.
    both: usize,
}

/// Prints `file | ours | chromium | both` and returns the rows as JSON and the totals.
fn table(files: &[String], ours: &Column, theirs: &Column) -> (Vec<Value>, Totals) {
    let mut rows = Vec::new();
    let mut sum = Totals::default();
    println!(
        "{:<64} | {:>9} | {:>9} | {:>5}",
        "file", "ours", "chromium", "both"
    );
    let missing = || FileResult {
        harness: "missing".into(),
        ..FileResult::default()
    };
    for file in files {
        let o = ours.get(file).cloned().unwrap_or_else(missing);
        let c = theirs.get(file).cloned().unwrap_or_else(missing);
        let both = o.passed_names.intersection(&c.passed_names).count();
        println!(
            "{file:<64} | {:>9} | {:>9} | {both:>5}",
            format!("{}/{}", o.passed, o.total),
            format!("{}/{}", c.passed, c.total),
        );
        sum.ours_passed += o.passed;
        sum.ours_total += o.total;
        sum.chromium_passed += c.passed;
        sum.chromium_total += c.total;
        sum.both += both;
        let side = |r: &FileResult| json!({"passed": r.passed, "total": r.total, "harness": r.harness, "failed": r.failed});
        rows.push(json!({"file": file, "ours": side(&o), "chromium": side(&c), "both": both}));
    }
    println!(
        "{:<64} | {:>9} | {:>9} | {:>5}",
        "TOTAL",
        format!("{}/{}", sum.ours_passed, sum.ours_total),
        format!("{}/{}", sum.chromium_passed, sum.chromium_total),
        sum.both
    );
    (rows, sum)
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

#[tokio::test(flavor = "multi_thread")]
async fn wpt_webrtc_in_the_shell_and_in_chromium() {
    let Some(desk) = Session::start("wpt-webrtc", false) else {
        return;
    };
    let files = wpt_test_files(&wpt_root());
    assert!(
        files.len() >= 10,
        "tests/wpt/webrtc has the vendored files: {files:?}"
    );
    let pbx = PbxStandIn::start_wpt(&desk.dir(), &wpt_root()).await;
    let t0 = Instant::now();
    let theirs = chromium(&pbx, files.len()).await;
    let chromium_time = t0.elapsed();
    let t1 = Instant::now();
    let (ours, start) = shell(&desk, &pbx).await;
    let shell_time = t1.elapsed();

    let (rows, t) = table(&files, &ours, &theirs);
    let share = ratio(t.both, t.chromium_passed);
    println!(
        "ours passes {:.1} % of Chromium's passes (goal {:.0} %); RTCPeerConnection in the \
         shell's runner page: {}; Chromium run {chromium_time:?}, shell run {shell_time:?}",
        share * 100.0,
        GOAL * 100.0,
        start["rtc"]
    );
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wpt-webrtc.json");
    let summary = json!({
        "files": rows,
        "total": {
            "ours": {"passed": t.ours_passed, "total": t.ours_total},
            "chromium": {"passed": t.chromium_passed, "total": t.chromium_total},
            "both": t.both,
        },
        "share_of_chromium": share,
        "goal": GOAL,
        "shell_has_rtcpeerconnection": start["rtc"],
        "seconds": {"chromium": chromium_time.as_secs_f64(), "shell": shell_time.as_secs_f64()},
    });
    std::fs::write(&out, serde_json::to_string_pretty(&summary).unwrap()).unwrap();
    println!("results: {}", out.display());

    // The reference is sane: Chromium ran every file and passed most subtests (a broken
    // harness or server shows here first).
    assert_eq!(theirs.len(), files.len(), "Chromium reported every file");
    assert!(
        ratio(t.chromium_passed, t.chromium_total) >= 0.7,
        "Chromium passed only {}/{}: the harness is broken",
        t.chromium_passed,
        t.chromium_total
    );
    // A file the shell did not report (a stalled run) counts with no passes.
    if std::env::var("MYAPPS_WPT_GOAL").is_ok_and(|v| v == "0") {
        return;
    }
    assert!(
        share >= GOAL,
        "ours passes {} of Chromium's {} passing subtests: {:.1} % < {:.0} % \
         (RTCPeerConnection in the shell: {})",
        t.both,
        t.chromium_passed,
        share * 100.0,
        GOAL * 100.0,
        start["rtc"]
    );
}
