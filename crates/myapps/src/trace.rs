//! Trace files and the wiki's log flags (seed, "Troubleshooting").
//!
//! * **Flags → targets.** Each flag of the `LOGFLAGS` bitmask (App `0x1` … Signaling
//!   `0x800000000`) turns on `debug` for the tracing targets that do that job in this
//!   implementation ([`FLAGS`]); everything else logs at `info`. `RUST_LOG`, when set,
//!   replaces the whole filter (a developer's override).
//! * **Files.** `myApps.txt` in the OS's trace directory ([`log_dir`]):
//!   `%LOCALAPPDATA%\innovaphone\myApps` on Windows (the wiki's place),
//!   `~/Library/Logs/myApps` on macOS, `$XDG_STATE_HOME/myApps` (default
//!   `~/.local/state/myApps`) on Linux. Every line goes to stderr too; later starts
//!   append to the same file.
//! * **Size and rotation** ([file-rotate](https://docs.rs/file-rotate)). `--log-size=N`
//!   caps one file at about N bytes (default 10 MB): the line that crosses N is the
//!   file's last, then the file is renamed `myApps.txt.<local date>-<time>` (`.1`, `.2`
//!   … when a second has several) and a new `myApps.txt` started. The newest [`KEEP`]
//!   files are kept, older ones deleted — so a long-running client never fills the disk.
//!
//! Writing goes through one mutex-guarded file. That is fine for logging, which never
//! happens in an audio callback (the house rule: callbacks never lock, allocate or log).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use file_rotate::compression::Compression;
use file_rotate::suffix::{AppendTimestamp, DateFrom, FileLimit};
use file_rotate::{ContentLimit, FileRotate};

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

/// The trace options of the command line ([`crate::cli::TraceArgs`]).
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

impl From<crate::cli::TraceArgs> for Options {
    fn from(a: crate::cli::TraceArgs) -> Options {
        Options {
            size: a.size,
            dir: a.dir,
            flags: a.flags,
            no_file: a.no_file,
        }
    }
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
    let from_env = tracing_subscriber::EnvFilter::try_from_default_env().ok();
    // The flags follow the settings at run time unless `RUST_LOG` or `--log-flags` chose.
    let fixed = from_env.is_some() || opts.flags.is_some();
    let filter = from_env.unwrap_or_else(|| tracing_subscriber::EnvFilter::new(directives(flags)));
    let (filter, handle) = tracing_subscriber::reload::Layer::new(filter);
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
    let path = file.as_ref().map(|f| f.path.clone());
    let file_layer = file.map(|f| {
        tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(f)
    });
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(file_layer)
        .try_init();
    CURRENT.store(flags, Ordering::Relaxed);
    if !fixed {
        let _ = RELOAD.set(handle);
    }
    log_panics();
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

/// Panics go into the trace (stderr and the file) with a backtrace, then to the default
/// hook. The dist build keeps its symbol table, so the frames are named (without
/// file:line). A panic inside the trace file's own writer does not wait for itself:
/// [`Rotating`] gives up on the lock after a while when its thread is panicking.
/// Installed once per process, however often logging is started.
fn log_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let backtrace = std::backtrace::Backtrace::force_capture();
            tracing::error!(target: "myapps::panic", "{info}\n{backtrace}");
            default(info);
        }));
    });
}

/// Changes the filter of [`init`]'s subscriber.
type ReloadHandle =
    tracing_subscriber::reload::Handle<tracing_subscriber::EnvFilter, tracing_subscriber::Registry>;

/// Set by [`init`] when the flags may follow the settings.
static RELOAD: OnceLock<ReloadHandle> = OnceLock::new();
/// The flags in effect.
static CURRENT: AtomicU64 = AtomicU64::new(0);

/// The log flags in effect.
pub fn flags() -> u64 {
    CURRENT.load(Ordering::Relaxed)
}

/// Applies new log flags at once (the settings changed, e.g. the PBX forces `logFlags`),
/// unless `RUST_LOG` or `--log-flags` chose the filter at start.
pub fn set_flags(flags: u64) {
    let Some(handle) = RELOAD.get() else {
        tracing::info!(
            flags = format!("{flags:#x}"),
            "log flags changed; RUST_LOG or --log-flags keep theirs"
        );
        return;
    };
    match handle.reload(tracing_subscriber::EnvFilter::new(directives(flags))) {
        Ok(()) => {
            CURRENT.store(flags, Ordering::Relaxed);
            tracing::info!(flags = format!("{flags:#x}"), "log flags applied");
        }
        Err(e) => tracing::warn!("log flags not applied: {e}"),
    }
}

/// `LOGFLAGS` in effect (the store's, the PBX's kept `adminSettings` on top); 0 when
/// unset or unreadable.
fn stored_flags() -> u64 {
    desktop::settings::open()
        .ok()
        .and_then(|s| desktop::settings::typed::Settings::effective(s.as_ref()).ok())
        .map(|(s, _)| s.log_flags)
        .unwrap_or(0)
}

/// The name of the file being written; rotated files get a time stamp appended.
pub const FILE_NAME: &str = "myApps.txt";

/// The trace file: file-rotate behind a mutex, shared by every line's writer.
#[derive(Clone)]
pub struct Rotating {
    dir: PathBuf,
    /// The file being written (`dir/myApps.txt`).
    pub path: PathBuf,
    file: Arc<Mutex<FileRotate<AppendTimestamp>>>,
}

impl Rotating {
    /// Creates `dir` if needed and opens `myApps.txt` in it, rotated at `max` bytes, the
    /// newest `keep` files kept.
    pub fn open(dir: &Path, max: u64, keep: usize) -> std::io::Result<Rotating> {
        // file-rotate panics when it cannot create or list the directory: both are
        // checked here first, so a bad --log-dir is an error message.
        std::fs::create_dir_all(dir)?;
        std::fs::read_dir(dir)?;
        let path = dir.join(FILE_NAME);
        let max = usize::try_from(max).unwrap_or(usize::MAX).max(1);
        let file = FileRotate::new(
            &path,
            AppendTimestamp::with_format(
                "%Y%m%d-%H%M%S",
                FileLimit::MaxFiles(keep.max(1) - 1),
                DateFrom::Now,
            ),
            // Lines stay whole: the one that crosses `max` ends the file.
            ContentLimit::BytesSurpassed(max),
            Compression::None,
            None,
        );
        // It opens the file lazily without saying why it could not: try it here.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        Ok(Rotating {
            dir: dir.to_owned(),
            path,
            file: Arc::new(Mutex::new(file)),
        })
    }
}

impl Write for Rotating {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // file-rotate recreates a deleted directory and panics when it cannot: make sure
        // it is there (or fail this line) before handing over.
        if !self.dir.is_dir() {
            std::fs::create_dir_all(&self.dir)?;
        }
        // A poisoned lock means a panic while writing a line; keep logging anyway.
        let mut f = if std::thread::panicking() {
            // The panic hook's line: this thread may be the one holding the lock (a
            // panic inside the writer), so wait 100 ms at most, then drop the line.
            match lock_briefly(&self.file) {
                Some(f) => f,
                None => return Ok(buf.len()),
            }
        } else {
            self.file.lock().unwrap_or_else(|p| p.into_inner())
        };
        f.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let mut f = self.file.lock().unwrap_or_else(|p| p.into_inner());
        f.flush()
    }
}

/// The lock within about 100 ms, or `None`.
fn lock_briefly<T>(m: &Mutex<T>) -> Option<std::sync::MutexGuard<'_, T>> {
    for _ in 0..100 {
        match m.try_lock() {
            Ok(g) => return Some(g),
            Err(std::sync::TryLockError::Poisoned(p)) => return Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    }
    None
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Rotating {
    type Writer = Rotating;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
    fn files_rotate_at_the_cap_and_only_the_newest_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("other.txt"), "not ours").unwrap();
        let mut r = Rotating::open(dir.path(), 1000, 3).unwrap();
        let line = [b'x'; 99];
        for _ in 0..100 {
            let mut l = line.to_vec();
            l.push(b'\n');
            r.write_all(&l).unwrap();
        }
        r.flush().unwrap();
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.contains(&"other.txt".to_owned()), "{names:?}");
        let ours: Vec<&String> = names.iter().filter(|n| n.starts_with(FILE_NAME)).collect();
        assert_eq!(ours.len(), 3, "{names:?}");
        for n in &ours {
            let len = std::fs::metadata(dir.path().join(n)).unwrap().len();
            // The line that crosses the cap is the file's last one.
            assert!(len <= 1000 + 100, "{n}: {len} bytes");
            assert_eq!(len % 100, 0, "{n}: lines stay whole");
        }
        // The file being written is myApps.txt; the others carry their rotation time.
        assert_eq!(r.path, dir.path().join(FILE_NAME));
        assert!(names.contains(&FILE_NAME.to_owned()), "{names:?}");
    }

    /// A panic reaches the trace with its message and a backtrace that names the
    /// function it happened in.
    #[test]
    fn panics_are_traced_with_a_named_backtrace() {
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || out.clone())
            .with_ansi(false)
            .finish();
        log_panics();
        #[inline(never)]
        fn deliberately_panicking_function() {
            panic!("boom for the trace");
        }
        tracing::subscriber::with_default(subscriber, || {
            assert!(std::panic::catch_unwind(deliberately_panicking_function).is_err());
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("myapps::panic"), "{text}");
        assert!(text.contains("boom for the trace"), "{text}");
        assert!(text.contains("deliberately_panicking_function"), "{text}");
    }

    #[test]
    fn a_trace_directory_that_cannot_be_made_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, "").unwrap();
        assert!(Rotating::open(&file.join("sub"), 1000, 3).is_err());
    }
}
