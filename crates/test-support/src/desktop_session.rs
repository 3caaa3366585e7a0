//! A private desktop session for tests of OS integration and windows:
//! an Xvfb display (number chosen by Xvfb itself, `-displayfd`), a private D-Bus session
//! bus, `HOME` and XDG directories in a temporary directory (so the app under test sees
//! no user or installer settings and no other instance) and, when asked, `dunst` as the
//! notification server. Everything is killed on drop.
//!
//! dunst's context menu (`dunstctl context`) runs the configured `dmenu` command with
//! one line per action, `#<label> (<summary>) [<server id>,<action key>]`, and invokes the
//! action of the line the command prints: here a script prints the first line containing
//! the text given to [`Session::choose`]. That is a real action invocation on the server,
//! with the server's own `ActionInvoked` signal.
//!
//! `MYAPPS_SKIP_DESKTOP_TESTS=1` (developer machines without these tools) makes
//! [`Session::start`] return `None`; otherwise a missing tool fails the test.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TempDir;

const DBUS_CONFIG: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>ADDRESS</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#;

/// A running session; killed on drop.
pub struct Session {
    dir: TempDir,
    /// The X display (`:N`).
    pub display: String,
    /// The session bus address.
    pub bus: String,
    /// Started in this order, killed in reverse.
    children: Vec<(&'static str, Child)>,
    /// The accessibility bus runs ([`Session::with_accessibility`]): programs get GTK's
    /// AT-SPI bridge.
    accessible: bool,
}

/// `true` when desktop tests are to be skipped (and says so).
pub fn skipped(test: &str) -> bool {
    let skip = std::env::var_os("MYAPPS_SKIP_DESKTOP_TESTS").is_some_and(|v| v == "1");
    if skip {
        eprintln!("{test}: skipped (MYAPPS_SKIP_DESKTOP_TESTS=1)");
    }
    skip
}

impl Session {
    /// Starts Xvfb and a session bus, and dunst when `dunst` is set. `None` when desktop
    /// tests are skipped.
    pub fn start(test: &str, dunst: bool) -> Option<Session> {
        if skipped(test) {
            return None;
        }
        let mut tools: Vec<(&str, &[&str])> = vec![
            ("Xvfb", &["-help"]),
            ("dbus-daemon", &["--version"]),
            ("xdotool", &["--version"]),
        ];
        if dunst {
            tools.extend([("dunst", &["--version"][..]), ("dunstctl", &["help"][..])]);
        }
        crate::require(&tools);
        let dir = TempDir::new("desktop");
        for d in [
            "home",
            "conf/dunst",
            "xdg",
            "etc-xdg",
            "data",
            "cache",
            "state",
        ] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        std::fs::set_permissions(
            dir.join("xdg"),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let (xvfb, n) = start_xvfb(&dir);
        let bus_path = dir.join("bus");
        let mut s = Session {
            display: format!(":{n}"),
            bus: format!("unix:path={}", bus_path.display()),
            dir,
            children: vec![("Xvfb", xvfb)],
            accessible: false,
        };
        // A session bus without service directories: nothing is started by D-Bus
        // activation (Debian's dunst package would otherwise start a dunst on the first
        // call to org.freedesktop.Notifications).
        let config = s.dir.join("dbus.conf");
        std::fs::write(&config, DBUS_CONFIG.replace("ADDRESS", &s.bus)).unwrap();
        let config = format!("--config-file={}", config.display());
        s.spawn("dbus-daemon", &["--nofork", &config]);
        // The socket file appears at bind(), before listen(): a connect in between is
        // refused (seen in CI), so wait until one is accepted.
        s.wait_for("the D-Bus socket", |_| {
            std::os::unix::net::UnixStream::connect(&bus_path).is_ok()
        });
        if dunst {
            let script = s.dir.join("dmenu.sh");
            std::fs::write(
                &script,
                format!(
                    "#!/bin/sh\ncat > '{menu}'\ngrep -m1 -F -- \"$(cat '{choice}')\" '{menu}'\n",
                    menu = s.dir.join("menu.txt").display(),
                    choice = s.dir.join("choice.txt").display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
            let rc = s.dir.join("conf/dunst/dunstrc");
            // `markup = full` as in the dunstrc Debian ships: dunst then reads bodies as
            // markup and says so (`body-markup`); without it, it still reads them but
            // does not say so.
            std::fs::write(
                &rc,
                format!("[global]\nmarkup = full\ndmenu = {}\n", script.display()),
            )
            .unwrap();
            let rc = rc.display().to_string();
            s.spawn("dunst", &["-config", &rc]);
            s.wait_for("dunst on the bus", |s| {
                s.command("dunstctl")
                    .arg("is-paused")
                    .output()
                    .is_ok_and(|o| o.status.success())
            });
        }
        Some(s)
    }

    /// A command with the session's environment (display, bus, HOME, XDG directories).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("DISPLAY", &self.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .env("HOME", self.dir.join("home"))
            .env("XDG_CONFIG_HOME", self.dir.join("conf"))
            .env("XDG_RUNTIME_DIR", self.dir.join("xdg"))
            // No installer settings of this machine either.
            .env("XDG_CONFIG_DIRS", self.dir.join("etc-xdg"))
            .env("XDG_DATA_HOME", self.dir.join("data"))
            .env("XDG_CACHE_HOME", self.dir.join("cache"))
            .env("XDG_STATE_HOME", self.dir.join("state"))
            .env_remove("WAYLAND_DISPLAY");
        // GTK skips the accessibility bridge (AT-SPI) unless the session has its bus.
        if !self.accessible {
            c.env("NO_AT_BRIDGE", "1");
        }
        c
    }

    /// Runs `program args` in the session and returns its stdout; fails the test when it
    /// fails.
    pub fn run(&self, program: &str, args: &[&str]) -> String {
        crate::run(self.command(program).args(args))
    }

    /// The action dunst's context menu picks next: the first line containing `text`
    /// (e.g. `,accept]`).
    pub fn choose(&self, text: &str) {
        std::fs::write(self.dir.join("choice.txt"), text).unwrap();
    }

    /// How many notifications dunst shows now (`dunstctl count displayed`).
    pub fn displayed(&self) -> u32 {
        let count = self.run("dunstctl", &["count", "displayed"]);
        count
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("dunstctl count displayed: {count:?}"))
    }

    /// The lines dunst's context menu offered last.
    pub fn menu(&self) -> String {
        std::fs::read_to_string(self.dir.join("menu.txt")).unwrap_or_default()
    }

    /// The session's directory (logs: `<program>.log`).
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// The session's `XDG_CONFIG_HOME`.
    pub fn config_dir(&self) -> PathBuf {
        self.dir.join("conf")
    }

    /// Screenshot of the whole screen to `path` (PNG, ImageMagick's `import`).
    pub fn screenshot(&self, path: &Path) {
        crate::require(&[("import", &["-version"])]);
        let out = self
            .command("import")
            .args(["-window", "root"])
            .arg(path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the accessibility bus as a desktop does (at-spi2-core's bus launcher, which
    /// owns `org.a11y.Bus` on the session bus and starts the registry on its own bus):
    /// programs started after this expose their UI to AT-SPI clients such as
    /// `tests/tools/atspi_tree.py` (run with `/usr/bin/python3`, python3-pyatspi).
    pub fn with_accessibility(mut self) -> Session {
        let launcher = "/usr/libexec/at-spi-bus-launcher";
        if !Path::new(launcher).is_file() {
            crate::missing("at-spi2-core (/usr/libexec/at-spi-bus-launcher)");
        }
        self.accessible = true;
        self.spawn(launcher, &["--launch-immediately"]);
        self.wait_for("the accessibility bus", |s| {
            s.command("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.a11y.Bus",
                    "/org/a11y/bus",
                    "org.a11y.Bus.GetAddress",
                ])
                .output()
                .is_ok_and(|o| o.status.success())
        });
        self
    }

    fn spawn(&mut self, program: &'static str, args: &[&str]) {
        let base = Path::new(program)
            .file_name()
            .map_or(program.into(), |b| b.to_string_lossy());
        let log = std::fs::File::create(self.dir.join(format!("{base}.log"))).unwrap();
        let child = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|_| crate::missing(program));
        self.children.push((program, child));
    }

    fn wait_for(&mut self, what: &str, ready: impl Fn(&Session) -> bool) {
        let start = Instant::now();
        while !ready(self) {
            for (name, child) in &mut self.children {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!(
                        "{name} exited ({status}) while waiting for {what}; log: {}",
                        self.dir
                            .join(format!("{}.log", name.rsplit('/').next().unwrap_or(name)))
                            .display()
                    );
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "desktop session: no {what} after 10 s; logs in {}",
                self.dir.path().display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Starts Xvfb on a display of this process's own and returns it with the number.
///
/// `-displayfd` alone makes concurrent starts (nextest runs desktop tests in parallel)
/// race for the lowest free number, and Xvfb's check of a stale `/tmp/.X<n>-lock` is not
/// atomic: two servers started at once could both take `:n`, and a client then got "Can't
/// open display" (seen in the hot-keys test next to the shell tests). So each process
/// starts at a number derived from its pid and goes up while a display is taken (Xvfb
/// exits at once then); `-displayfd` still says when the server is ready.
fn start_xvfb(dir: &TempDir) -> (Child, u32) {
    let first = 100 + (std::process::id() % 400) * 8;
    for n in first..first + 64 {
        let mut xvfb = Command::new("Xvfb")
            .arg(format!(":{n}"))
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("Xvfb.log")).unwrap())
            .spawn()
            .unwrap_or_else(|_| crate::missing("Xvfb"));
        let mut line = String::new();
        BufReader::new(xvfb.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if let Ok(shown) = line.trim().parse::<u32>() {
            return (xvfb, shown);
        }
        // Nothing printed: it exited, the display is taken; try the next one.
        let _ = xvfb.wait();
    }
    panic!(
        "Xvfb found no free display from :{first} to :{}; last log in {}",
        first + 63,
        dir.join("Xvfb.log").display()
    )
}

impl Drop for Session {
    /// SIGTERM first, so Xvfb removes its lock file and socket (a SIGKILLed one leaves
    /// them behind for the next start to check); SIGKILL after 2 s.
    fn drop(&mut self) {
        while let Some((_, mut child)) = self.children.pop() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let start = Instant::now();
            while matches!(child.try_wait(), Ok(None)) && start.elapsed() < Duration::from_secs(2) {
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The standard deviation of the pixels in `crop` (ImageMagick geometry, `WxH+X+Y`) of
/// an image (0–1): near 0 for a blank area, clearly above for one showing text.
pub fn pixel_deviation(path: &Path, crop: &str) -> f64 {
    let out = Command::new("convert")
        .arg(path)
        .args(["-crop", crop, "+repage"])
        .args([
            "-colorspace",
            "Gray",
            "-format",
            "%[fx:standard_deviation]",
            "info:",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("convert said {text:?} for {}", path.display()))
}
