//! Trace files and the wiki's log flags (seed, "Troubleshooting").
//!
//! * **Flags → targets.** Each flag of the `LOGFLAGS` bitmask (App `0x1` … Signaling
//!   `0x800000000`) turns on `debug` for the tracing targets that do that job in this
//!   implementation ([`FLAGS`]); everything else logs at `info`. `RUST_LOG`, when set,
//!   replaces the whole filter (a developer's override).
//! * **Files.** `myApps-<date>-<time>.txt` (UTC, `myApps-20261123-071500.txt`) in the OS's
//!   trace directory ([`log_dir`]): `%LOCALAPPDATA%\innovaphone\myApps` on Windows (the
//!   wiki's place), `~/Library/Logs/myApps` on macOS, `$XDG_STATE_HOME/myApps` (default
//!   `~/.local/state/myApps`) on Linux. Every line goes to stderr too.
//! * **Size and rotation.** `--log-size=N` caps one file at N bytes (default 10 MB); a
//!   full file is closed and a new one started. The newest [`KEEP`] files are kept, older
//!   `myApps-*.txt` files are deleted — so a long-running client never fills the disk.
//!
//! Writing goes through one mutex-guarded file. That is fine for logging, which never
//! happens in an audio callback (the house rule: callbacks never lock, allocate or log).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// One log flag: its bit, the wiki's name, and our tracing targets (prefixes) it turns on.
pub struct Flag {
    pub bit: u64,
    pub name: &'static str,
    pub targets: &'static [&'static str],
}

/// The wiki's flags and what each one traces here. Flags for parts we do not have yet
/// (Video, AppSharing, App Proxy, DNS of our own) name the targets those parts will use.
pub const FLAGS: &[Flag] = &[
    Flag {
        bit: 0x1,
        name: "App",
        targets: &["myapps", "desktop", "service::launcher", "service::server"],
    },
    Flag {
        bit: 0x8,
        name: "DNS",
        targets: &["myapps::dns", "hickory_resolver"],
    },
    Flag {
        bit: 0x80,
        name: "HTTP client",
        targets: &["myapps::http", "hyper_util::client", "reqwest"],
    },
    Flag {
        bit: 0x400,
        name: "TLS",
        targets: &["rustls"],
    },
    Flag {
        bit: 0x800,
        name: "TCP",
        targets: &["mio::net", "tokio::net"],
    },
    Flag {
        bit: 0x1000,
        name: "LDS",
        targets: &["desktop::single_instance", "myapps::single_instance"],
    },
    Flag {
        bit: 0x4000,
        name: "WebSocket client",
        targets: &["tungstenite::client", "tokio_tungstenite"],
    },
    Flag {
        bit: 0x8000,
        name: "App WebSocket",
        targets: &[
            "service::server",
            "service::auth",
            "service::relay",
            "tungstenite::protocol",
        ],
    },
    Flag {
        bit: 0x20_0000,
        name: "UDP",
        targets: &["media::driver", "media::ports"],
    },
    Flag {
        bit: 0x40_0000,
        name: "DTLS",
        targets: &["media::dtls", "rtc_dtls"],
    },
    Flag {
        bit: 0x80_0000,
        name: "Media",
        targets: &["service::media", "media::channel", "media::negotiate"],
    },
    Flag {
        bit: 0x100_0000,
        name: "Media channel",
        targets: &[
            "media::rtp",
            "media::transmit",
            "media::demux",
            "media::srtp",
            "jitter",
            "rtc_rtp",
            "rtc_rtcp",
            "rtc_srtp",
        ],
    },
    Flag {
        bit: 0x200_0000,
        name: "ICE",
        targets: &[
            "media::ice",
            "media::gather",
            "media::interfaces",
            "rtc_ice",
            "rtc_stun",
        ],
    },
    Flag {
        bit: 0x400_0000,
        name: "TURN",
        targets: &["rtc_turn"],
    },
    Flag {
        bit: 0x800_0000,
        name: "AppSharing",
        targets: &["appsharing"],
    },
    Flag {
        bit: 0x1000_0000,
        name: "Audio",
        targets: &[
            "audio",
            "codecs",
            "service::channel_audio",
            "service::ringer",
            "service::devices",
            "service::sound",
        ],
    },
    Flag {
        bit: 0x2000_0000,
        name: "Video",
        targets: &["video"],
    },
    Flag {
        bit: 0x4000_0000,
        name: "Browser",
        targets: &["myapps::shell", "wry", "tao"],
    },
    Flag {
        bit: 0x8000_0000,
        name: "AppProxy",
        targets: &["service::proxy"],
    },
    Flag {
        bit: 0x2_0000_0000,
        name: "Webserver",
        targets: &["axum", "hyper", "tower_http"],
    },
    Flag {
        bit: 0x4_0000_0000,
        name: "Browser Console",
        targets: &["myapps::console"],
    },
    Flag {
        bit: 0x8_0000_0000,
        name: "Signaling",
        targets: &["service::relay", "desktop::uri", "desktop::hotkeys"],
    },
];

/// Files kept in the trace directory (the newest).
pub const KEEP: usize = 10;
/// Default cap of one file.
pub const DEFAULT_SIZE: u64 = 10_000_000;

/// The tracing filter for a flag mask: `info` overall, `debug` for every flagged target.
pub fn directives(flags: u64) -> String {
    let mut d = vec!["info".to_owned()];
    for f in FLAGS.iter().filter(|f| flags & f.bit != 0) {
        d.extend(f.targets.iter().map(|t| format!("{t}=debug")));
    }
    d.join(",")
}

/// The OS's place for our trace files (see the module docs); `None` without a home.
pub fn log_dir() -> Option<PathBuf> {
    let base = directories::BaseDirs::new()?;
    if cfg!(windows) {
        Some(base.data_local_dir().join("innovaphone").join("myApps"))
    } else if cfg!(target_os = "macos") {
        Some(base.home_dir().join("Library").join("Logs").join("myApps"))
    } else {
        let state = base
            .state_dir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| base.home_dir().join(".local").join("state"));
        Some(state.join("myApps"))
    }
}

/// The trace options, taken off the command line before anything else parses it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// `--log-size=N`: bytes per file.
    pub size: Option<u64>,
    /// `--log-dir=DIR`: instead of [`log_dir`] (tests, portable installs).
    pub dir: Option<PathBuf>,
    /// `--log-flags=HEX`: instead of the `LOGFLAGS` setting.
    pub flags: Option<u64>,
    /// `--no-log-file`: stderr only.
    pub no_file: bool,
}

/// Removes the trace options (`--log-size=N` or `--log-size N`, `--log-dir`, `--log-flags`,
/// `--no-log-file`) from `args` wherever they are; errors name the bad value.
pub fn take_options(args: &mut Vec<String>) -> Result<Options, String> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let (name, inline) = match args[i].split_once('=') {
            Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
            None => (args[i].clone(), None),
        };
        if !matches!(
            name.as_str(),
            "--log-size" | "--log-dir" | "--log-flags" | "--no-log-file"
        ) {
            i += 1;
            continue;
        }
        args.remove(i);
        if name == "--no-log-file" {
            o.no_file = true;
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None if i < args.len() => args.remove(i),
            None => return Err(format!("{name} needs a value")),
        };
        match name.as_str() {
            "--log-size" => {
                o.size = Some(value.parse().ok().filter(|n| *n >= 1000).ok_or_else(|| {
                    format!("--log-size {value:?} is not a number of bytes ≥ 1000")
                })?)
            }
            "--log-dir" => o.dir = Some(value.into()),
            _ => {
                let hex = value
                    .strip_prefix("0x")
                    .or_else(|| value.strip_prefix("0X"))
                    .unwrap_or(&value);
                o.flags = Some(
                    u64::from_str_radix(hex, 16)
                        .map_err(|_| format!("--log-flags {value:?} is not a hex number"))?,
                );
            }
        }
    }
    Ok(o)
}

static OPTIONS: OnceLock<Options> = OnceLock::new();

/// Remembers the command line's trace options for [`init`].
pub fn set_options(o: Options) {
    let _ = OPTIONS.set(o);
}

/// The folder trace files go to (`--log-dir`, else [`log_dir`]): the tray's "Open trace
/// folder". `None` without a home directory.
pub fn folder() -> Option<PathBuf> {
    OPTIONS.get().and_then(|o| o.dir.clone()).or_else(log_dir)
}

/// Starts logging to stderr and (unless `--no-log-file` or no directory) to a trace file.
/// Returns the file's path. Problems with the file are reported on stderr, never fatal.
pub fn init() -> Option<PathBuf> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let opts = OPTIONS.get().cloned().unwrap_or_default();
    let flags = opts.flags.unwrap_or_else(stored_flags);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(directives(flags)));
    let dir = if opts.no_file {
        None
    } else {
        opts.dir.clone().or_else(log_dir)
    };
    let file =
        dir.and_then(
            |d| match Rotating::open(&d, opts.size.unwrap_or(DEFAULT_SIZE), KEEP) {
                Ok(r) => Some(r),
                Err(e) => {
                    eprintln!("myapps: no trace file in {}: {e}", d.display());
                    None
                }
            },
        );
    let path = file.as_ref().map(|f| f.path());
    let file_layer = file.map(|f| {
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(RotatingWriter(std::sync::Arc::new(Mutex::new(f))))
    });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(file_layer)
        .try_init();
    if let Some(p) = &path {
        let on: Vec<&str> = FLAGS
            .iter()
            .filter(|f| flags & f.bit != 0)
            .map(|f| f.name)
            .collect();
        tracing::info!(file = %p.display(), flags = format!("{flags:#x} {on:?}"), "trace file");
    }
    path
}

/// `LOGFLAGS` from the settings store; 0 when unset or unreadable.
fn stored_flags() -> u64 {
    desktop::settings::open()
        .ok()
        .and_then(|s| desktop::settings::typed::Settings::load(s.as_ref()).ok())
        .map(|(s, _)| s.log_flags)
        .unwrap_or(0)
}

/// A trace file that starts a new one when full and deletes the oldest beyond `keep`.
pub struct Rotating {
    dir: PathBuf,
    max: u64,
    keep: usize,
    file: File,
    path: PathBuf,
    written: u64,
    /// The last file's time stamp and same-second number: numbers only grow within a
    /// second, even after pruning deleted the earlier names.
    last: (String, u32),
}

impl Rotating {
    /// Creates `dir` if needed and opens a new file in it.
    pub fn open(dir: &Path, max: u64, keep: usize) -> std::io::Result<Rotating> {
        std::fs::create_dir_all(dir)?;
        let mut last = (String::new(), 0);
        let (file, path) = new_file(dir, &mut last)?;
        let r = Rotating {
            dir: dir.to_owned(),
            max,
            keep: keep.max(1),
            file,
            path,
            written: 0,
            last,
        };
        r.prune();
        Ok(r)
    }

    /// The file being written.
    pub fn path(&self) -> PathBuf {
        self.path.clone()
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let (file, path) = new_file(&self.dir, &mut self.last)?;
        self.file = file;
        self.path = path;
        self.written = 0;
        self.prune();
        Ok(())
    }

    /// Deletes our oldest files beyond `keep` (names sort by time).
    fn prune(&self) {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut ours: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("myApps-") && n.ends_with(".txt"))
            })
            .collect();
        // By time, then by the same-second suffix (plain names would put `-001` first).
        ours.sort_by_key(|p| age_key(p.file_name().and_then(|n| n.to_str()).unwrap_or_default()));
        let excess = ours.len().saturating_sub(self.keep);
        for p in ours.into_iter().take(excess) {
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Write for Rotating {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // A line goes whole into one file: rotate before it would cross the cap.
        if self.written > 0 && self.written + buf.len() as u64 > self.max {
            self.rotate()?;
        }
        self.file.write_all(buf)?;
        self.written += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Sorts our file names by age: `myApps-<date>-<time>` as `…-000`.
fn age_key(name: &str) -> String {
    let stem = name.trim_end_matches(".txt");
    match stem.matches('-').count() {
        2 => format!("{stem}-000"),
        _ => stem.to_owned(),
    }
}

/// A new `myApps-<date>-<time>[-n].txt` (the suffix when a second already has one).
fn new_file(dir: &Path, last: &mut (String, u32)) -> std::io::Result<(File, PathBuf)> {
    let stamp = utc_stamp(SystemTime::now());
    let first = if last.0 == stamp { last.1 + 1 } else { 0 };
    for n in first..first + 1000 {
        let name = if n == 0 {
            format!("myApps-{stamp}.txt")
        } else {
            format!("myApps-{stamp}-{n:03}.txt")
        };
        let path = dir.join(name);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => {
                *last = (stamp, n);
                return Ok((f, path));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(
        "1000 trace files started within one second",
    ))
}

/// `YYYYMMDD-HHMMSS` in UTC (civil-from-days, H. Hinnant's algorithm).
fn utc_stamp(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[derive(Clone)]
struct RotatingWriter(std::sync::Arc<Mutex<Rotating>>);

impl Write for RotatingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // A poisoned lock means a panic while writing a line; keep logging anyway.
        let mut f = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let mut f = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f.flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for RotatingWriter {
    type Writer = RotatingWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn flags_turn_on_debug_for_their_targets() {
        assert_eq!(directives(0), "info");
        let d = directives(0x1 | 0x1000_0000);
        assert!(d.starts_with("info,myapps=debug,"), "{d}");
        assert!(
            d.contains("audio=debug") && d.contains("service::ringer=debug"),
            "{d}"
        );
        assert!(!d.contains("rtc_ice"), "{d}");
        // Every flag of the wiki, each bit once, all within the settings' mask.
        let all: u64 = FLAGS.iter().map(|f| f.bit).sum();
        assert_eq!(
            all,
            FLAGS.iter().fold(0, |a, f| a | f.bit),
            "a bit used twice"
        );
        assert_eq!(all & !desktop::settings::typed::LOG_FLAGS_MASK, 0);
        assert_eq!(FLAGS.len(), 22);
        // The filter parses.
        tracing_subscriber::EnvFilter::try_new(directives(all)).unwrap();
    }

    #[test]
    fn options_come_off_the_command_line() {
        let mut a = args(&[
            "--headless",
            "--log-size=5000",
            "--port",
            "1",
            "--log-dir",
            "/x",
            "--log-flags=0x40000001",
        ]);
        let o = take_options(&mut a).unwrap();
        assert_eq!(a, args(&["--headless", "--port", "1"]));
        assert_eq!(
            o,
            Options {
                size: Some(5000),
                dir: Some("/x".into()),
                flags: Some(0x4000_0001),
                no_file: false
            }
        );
        for (bad, msg) in [
            (&["--log-size=12"][..], "≥ 1000"),
            (&["--log-size", "big"], "not a number"),
            (&["--log-flags=zz"], "not a hex"),
            (&["--log-dir"], "needs a value"),
        ] {
            let e = take_options(&mut args(bad)).unwrap_err();
            assert!(e.contains(msg), "{bad:?}: {e}");
        }
    }

    #[test]
    fn stamps_are_utc_calendar_dates() {
        let at = |s: u64| utc_stamp(UNIX_EPOCH + std::time::Duration::from_secs(s));
        assert_eq!(at(0), "19700101-000000");
        assert_eq!(at(951_782_400), "20000229-000000"); // a leap day
        assert_eq!(at(1_795_418_100), "20261123-071500");
    }

    #[test]
    fn files_rotate_at_the_cap_and_only_the_newest_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("other.txt"), "not ours").unwrap();
        let mut r = Rotating::open(dir.path(), 1000, 3).unwrap();
        let line = [b'x'; 99];
        for _ in 0..100 {
            r.write_all(&line).unwrap();
            r.write_all(b"\n").unwrap();
        }
        r.flush().unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.contains(&"other.txt".to_owned()), "{names:?}");
        let ours: Vec<&String> = names.iter().filter(|n| n.starts_with("myApps-")).collect();
        assert_eq!(ours.len(), 3, "{names:?}");
        for n in &ours {
            let len = std::fs::metadata(dir.path().join(n)).unwrap().len();
            assert!(len <= 1000, "{n}: {len} bytes");
        }
        // The file being written is the newest of those kept.
        let current = r.path().file_name().unwrap().to_str().unwrap().to_owned();
        assert!(ours.contains(&&current), "{current} deleted: {names:?}");
        let newest = ours.iter().map(|n| age_key(n)).max().unwrap();
        assert_eq!(age_key(&current), newest, "{names:?}");
    }
}
