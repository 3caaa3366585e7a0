//! Startup and idle memory of the app: `myapps` with no `SERVER` stored opens
//! the connect form; the time from the process start to the form's "ready" (its field
//! focused, one frame painted after that: `assets/shell/connect.html`) is measured five
//! times on a private Xvfb and session bus (`test_support::desktop_session`), then the
//! resident memory after 3 s idle: of the app process alone and with WebKit's helper
//! processes (web and network process), which a user's task manager also shows; then
//! over the next 5 s of idling, the app process's CPU share and its wake-ups per second
//! (context switches of all its threads, `/proc/PID/task/*/status`), with the threads
//! that woke most: a busy timer shows up there by name.
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
    /// How long the idle app's CPU and wake-ups are counted.
    const IDLE_WINDOW: Duration = Duration::from_secs(5);

    pub fn main() {
        let mut startup = Vec::new();
        let mut rss_app = Vec::new();
        let mut rss_all = Vec::new();
        let (mut idle_cpu, mut idle_wakeups) = (Vec::new(), Vec::new());
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
            let (cpu0, threads0) = (cpu_ticks(pid), switches(pid));
            std::thread::sleep(IDLE_WINDOW);
            let (cpu1, threads1) = (cpu_ticks(pid), switches(pid));
            let secs = IDLE_WINDOW.as_secs_f64();
            // USER_HZ is 100 on Linux (proc(5), /proc/PID/stat utime/stime).
            let cpu_pct = (cpu1 - cpu0) as f64 / 100.0 / secs * 100.0;
            let mut woke: Vec<(String, u64)> = threads1
                .iter()
                .map(|(tid, (name, n))| {
                    let before = threads0.get(tid).map_or(0, |(_, b)| *b);
                    (name.clone(), n.saturating_sub(before))
                })
                .collect();
            woke.sort_by_key(|w| std::cmp::Reverse(w.1));
            let total: u64 = woke.iter().map(|(_, n)| n).sum();
            let top: Vec<String> = woke
                .iter()
                .take(4)
                .filter(|(_, n)| *n > 0)
                .map(|(name, n)| format!("{name} {:.1}/s", *n as f64 / secs))
                .collect();
            println!(
                "run {run}: idle app process over {secs:.0} s: CPU {cpu_pct:.2} %, {:.1} wake-ups/s \
                 (most: {})",
                total as f64 / secs,
                top.join(", ")
            );
            idle_cpu.push(cpu_pct);
            idle_wakeups.push(total as f64 / secs);
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
        let (c, _) = test_support::signal::median_p95(&mut idle_cpu);
        let (w, _) = test_support::signal::median_p95(&mut idle_wakeups);
        println!(
            "startup to the painted connect form: median {m:.0} ms (min {:.0}, max {:.0}) of {RUNS}; \
             idle RSS: app {a:.1} MiB, with WebKit's processes {b:.1} MiB; idle app process: \
             CPU {c:.2} %, {w:.1} wake-ups/s (medians)",
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

    /// utime + stime of a process, in clock ticks (0 when it is gone).
    fn cpu_ticks(pid: u32) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // After "(comm)": state is field 3; utime and stime are fields 14 and 15.
        let rest: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, r)| r.split_whitespace().collect())
            .unwrap_or_default();
        let field = |n: usize| {
            rest.get(n - 3)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        field(14) + field(15)
    }

    /// Each thread's name and context switches (voluntary and not) so far.
    fn switches(pid: u32) -> std::collections::HashMap<u32, (String, u64)> {
        let mut out = std::collections::HashMap::new();
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return out;
        };
        for t in tasks.flatten() {
            let Some(tid) = t.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
            let count = |key: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(key))
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(0)
            };
            let name = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            out.insert(
                tid,
                (
                    name.trim().to_owned(),
                    count("voluntary_ctxt_switches:") + count("nonvoluntary_ctxt_switches:"),
                ),
            );
        }
        out
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
