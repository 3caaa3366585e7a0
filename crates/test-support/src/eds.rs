//! A private session bus for Evolution Data Server tests: `dbus-daemon` with the standard
//! session service directories (so `evolution-source-registry` and
//! `evolution-addressbook-factory` start by D-Bus activation, as on a desktop), `HOME` and
//! the XDG directories in a temporary directory (so the address books are this test's
//! own and empty). The EDS processes leave when the bus goes, which happens on drop.
//!
//! Unlike [`crate::desktop_session`] (which has no service directories, so nothing is
//! activated behind a test's back) this bus activates every installed session service.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::TempDir;

const DBUS_CONFIG: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>ADDRESS</listen>
  <auth>EXTERNAL</auth>
  <standard_session_servicedirs/>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#;

/// The EDS programs the tests need (Debian package `evolution-data-server`).
pub const PROGRAMS: &[&str] = &[
    "/usr/libexec/evolution-source-registry",
    "/usr/libexec/evolution-addressbook-factory",
];

/// A private bus; killed on drop (EDS follows).
pub struct Bus {
    dir: TempDir,
    /// The bus address, for `DBUS_SESSION_BUS_ADDRESS` or a D-Bus client.
    pub address: String,
    daemon: Child,
}

impl Bus {
    /// Starts the bus. Fails the test when EDS or dbus-daemon is missing.
    pub fn start() -> Bus {
        for p in PROGRAMS {
            if !std::path::Path::new(p).is_file() {
                crate::missing(&format!("{p} (evolution-data-server)"));
            }
        }
        crate::require(&[("dbus-daemon", &["--version"])]);
        let dir = TempDir::new("eds");
        for d in ["home", "conf", "data", "cache", "xdg"] {
            std::fs::create_dir_all(dir.join(d)).unwrap();
        }
        std::fs::set_permissions(
            dir.join("xdg"),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let socket = dir.join("bus");
        let address = format!("unix:path={}", socket.display());
        let config = dir.join("dbus.conf");
        std::fs::write(&config, DBUS_CONFIG.replace("ADDRESS", &address)).unwrap();
        let log = std::fs::File::create(dir.join("dbus-daemon.log")).unwrap();
        let daemon = Command::new("dbus-daemon")
            .arg("--nofork")
            .arg(format!("--config-file={}", config.display()))
            // Activated services inherit the daemon's environment.
            .env("HOME", dir.join("home"))
            .env("XDG_CONFIG_HOME", dir.join("conf"))
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("XDG_CACHE_HOME", dir.join("cache"))
            .env("XDG_RUNTIME_DIR", dir.join("xdg"))
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            // EDS reaches for GSettings; the memory backend keeps dconf out of it.
            .env("GSETTINGS_BACKEND", "memory")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|_| crate::missing("dbus-daemon"));
        let mut bus = Bus {
            dir,
            address,
            daemon,
        };
        // The socket file appears at bind(), before listen(): wait for a connect.
        let t0 = Instant::now();
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            if let Ok(Some(s)) = bus.daemon.try_wait() {
                panic!(
                    "dbus-daemon exited ({s}); log in {}",
                    bus.dir.path().display()
                );
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "no D-Bus socket after 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        bus
    }

    /// The session's directory (the bus's log is `dbus-daemon.log`).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}
