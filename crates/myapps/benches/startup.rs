//! Startup and idle memory of the app: `myapps` with no `SERVER` stored opens
//! the connect form; the time from the process start to the form's "ready" (its field
//! focused, one frame painted after that: `assets/shell/connect.html`) is measured five
//! times on a private Xvfb and session bus (`test_support::desktop_session`), then the
//! resident memory after 3 s idle: of the app process alone and with WebKit's helper
//! processes (web and network process), which a user's task manager also shows.
//!
//! Run: `cargo bench -p myapps --bench startup` (needs Xvfb, dbus-daemon, xdotool:
//! `scripts/test` installs them). Prints median and spread; no pass or fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("startup: needs Linux with Xvfb");
}

#[cfg(target_os = "linux")]
mod linux {
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    use test_support::desktop_session::Session;

    const RUNS: usize = 5;

    pub fn main() {
        let mut startup = Vec::new();
        let mut rss_app = Vec::new();
        let mut rss_all = Vec::new();
        for run in 0..RUNS {
            // A fresh session each time: no stored SERVER, a cold WebKit cache.
            let Some(desk) = Session::start("startup", false) else {
                return;
            };
            let log = desk.dir().join(format!("app-{run}.log"));
            let file = std::fs::File::create(&log).unwrap();
            let t0 = Instant::now();
            let mut child = desk
                .command(env!("CARGO_BIN_EXE_myapps"))
                .args(["--no-sound", "--audio", "tone", "--no-hotkeys"])
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(file.try_clone().unwrap())
                .stderr(file)
                .spawn()
                .unwrap();
            let ready = loop {
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                if text.contains("connect form ready") {
                    break t0.elapsed();
                }
                assert!(
                    t0.elapsed() < Duration::from_secs(60),
                    "no connect form within 60 s:\n{text}"
                );
                std::thread::sleep(Duration::from_millis(5));
            };
            std::thread::sleep(Duration::from_secs(3));
            let pid = child.id();
            let app = rss_kib(pid);
            let all: u64 = descendants(pid).into_iter().map(rss_kib).sum::<u64>() + app;
            let _ = child.kill();
            let _ = child.wait();
            println!(
                "run {run}: connect form ready after {:.0} ms; RSS after 3 s idle: app {:.1} MiB, \
                 with WebKit's processes {:.1} MiB",
                ready.as_secs_f64() * 1000.0,
                app as f64 / 1024.0,
                all as f64 / 1024.0
            );
            startup.push(ready.as_secs_f64() * 1000.0);
            rss_app.push(app as f64 / 1024.0);
            rss_all.push(all as f64 / 1024.0);
        }
        let (m, _) = test_support::signal::median_p95(&mut startup);
        let (a, _) = test_support::signal::median_p95(&mut rss_app);
        let (b, _) = test_support::signal::median_p95(&mut rss_all);
        println!(
            "startup to the painted connect form: median {m:.0} ms (min {:.0}, max {:.0}) of {RUNS}; \
             idle RSS: app {a:.1} MiB, with WebKit's processes {b:.1} MiB (medians)",
            startup.iter().copied().fold(f64::MAX, f64::min),
            startup.iter().copied().fold(0.0, f64::max),
        );
    }

    /// VmRSS of a process in KiB (0 when it is gone).
    fn rss_kib(pid: u32) -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// Every process below `pid` (WebKit's web and network processes).
    fn descendants(pid: u32) -> Vec<u32> {
        let mut parents = std::collections::HashMap::<u32, Vec<u32>>::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            // /proc/PID/stat: "pid (comm) state ppid …"; comm may hold spaces.
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
            if let Some(pp) = ppid {
                parents.entry(pp).or_default().push(p);
            }
        }
        let mut out = Vec::new();
        let mut stack = vec![pid];
        while let Some(p) = stack.pop() {
            for &c in parents.get(&p).into_iter().flatten() {
                out.push(c);
                stack.push(c);
            }
        }
        out
    }
}
