//! A private desktop session for window tests (TESTING.md "Window under Xvfb"): Xvfb on a
//! display it picks itself (`-displayfd`), a D-Bus session bus, and `HOME`/XDG
//! directories in a temporary directory, so the app under test sees no user settings
//! and no other instance. Everything is killed on drop.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TempDir;

/// A running Xvfb + D-Bus session.
pub struct Desktop {
    dir: TempDir,
    env: Vec<(&'static str, OsString)>,
    children: Vec<Child>,
    /// `:N`.
    pub display: String,
}

impl Desktop {
    /// Starts Xvfb (1280×800×24) and a session bus.
    pub fn start(name: &str) -> Desktop {
        crate::require(&[("dbus-daemon", &["--version"]), ("import", &["-version"])]);
        if Command::new("Xvfb").arg("-help").output().is_err() {
            crate::missing("Xvfb");
        }
        let dir = TempDir::new(name);
        let sub = |n: &str| {
            let p = dir.join(n);
            std::fs::create_dir_all(&p).unwrap();
            p
        };
        let runtime = sub("xdg-runtime");
        std::fs::set_permissions(
            &runtime,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let mut xvfb = Command::new("Xvfb")
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
            .stderr(std::fs::File::create(dir.join("xvfb.log")).unwrap())
            .spawn()
            .unwrap();
        // Xvfb writes the display number it took, then a newline.
        let mut out = xvfb.stdout.take().unwrap();
        let mut num = String::new();
        let mut byte = [0u8; 1];
        while out.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
            num.push(byte[0] as char);
        }
        assert!(
            !num.is_empty(),
            "Xvfb did not start; log in {}",
            dir.join("xvfb.log").display()
        );
        let display = format!(":{}", num.trim());
        let bus = dir.join("dbus.sock");
        let env = vec![
            ("DISPLAY", OsString::from(&display)),
            ("HOME", sub("home").into_os_string()),
            ("XDG_RUNTIME_DIR", runtime.into_os_string()),
            ("XDG_CONFIG_HOME", sub("config").into_os_string()),
            // No installer settings of this machine either.
            ("XDG_CONFIG_DIRS", sub("etc-xdg").into_os_string()),
            ("XDG_DATA_HOME", sub("data").into_os_string()),
            ("XDG_CACHE_HOME", sub("cache").into_os_string()),
            ("XDG_STATE_HOME", sub("state").into_os_string()),
            (
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}", bus.display()).into(),
            ),
            // No accessibility bus to look for (TESTING.md).
            ("NO_AT_BRIDGE", "1".into()),
        ];
        let mut d = Desktop {
            dir,
            env,
            children: vec![xvfb],
            display,
        };
        let dbus = d
            .command("dbus-daemon")
            .args([
                "--session",
                "--nofork",
                &format!("--address=unix:path={}", bus.display()),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.dir.join("dbus.log")).unwrap())
            .spawn()
            .unwrap();
        d.children.push(dbus);
        let start = Instant::now();
        while !bus.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "no D-Bus socket after 5 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    /// A command with the session's environment (display, bus, HOME, XDG directories).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env_remove("WAYLAND_DISPLAY");
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// The session's directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The session's XDG config directory.
    pub fn config_dir(&self) -> PathBuf {
        self.dir.join("config")
    }

    /// Screenshot of the whole screen to `path` (PNG, ImageMagick's `import`).
    pub fn screenshot(&self, path: &Path) {
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
}

impl Drop for Desktop {
    fn drop(&mut self) {
        while let Some(mut c) = self.children.pop() {
            let _ = c.kill();
            let _ = c.wait();
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
