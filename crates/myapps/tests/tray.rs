//! The tray icon, seen as a desktop panel sees it: the test owns the
//! session bus's `org.kde.StatusNotifierWatcher` (what KDE's, Xfce's or GNOME's
//! AppIndicator panel own), takes the item the app registers, reads its icon and menu
//! through the item's own D-Bus interfaces (StatusNotifierItem, com.canonical.dbusmenu)
//! and clicks the menu entries with dbusmenu `Event` calls, as a panel does.
//!
//! Checked: the menu's entries and check marks; the first start makes the login entry
//! follow `AUTOSTART` (on by default); "Start on login" removes and writes the XDG autostart
//! entry; the window's close button hides the window to the tray and a later start shows
//! it again; "Settings…" opens the settings window; "Show in taskbar" is stored and the next start maps the window with
//! `_NET_WM_STATE_SKIP_TASKBAR`; "Open trace folder" hands the trace folder to
//! `xdg-open` (an entry of the session's own is the default for `inode/directory`);
//! "Quit" ends the app. The second start also docks the window to the right edge
//! (`DOCKING right`), measured with xdotool. Screenshot: `target/tmp/tray-docked.png`.
//! A page of the PBX stand-in sets its app badge (`navigator.setAppBadge(3)`): the item's
//! title and tooltip show it; a foreign frame's badge is ignored.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use test_support::desktop_session::Session;

mod common;
use common::windowed::{App, NO_DEVICES};
use zbus::blocking::{Connection, Proxy};
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

/// The panel's side of the StatusNotifierItem spec: items register here.
struct Watcher {
    items: Arc<Mutex<Vec<String>>>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    fn register_status_notifier_item(
        &self,
        service: &str,
        #[zbus(header)] header: zbus::message::Header<'_>,
    ) {
        // The spec passes a bus name; some items pass an object path on their own
        // connection instead.
        let item = if service.starts_with('/') {
            let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
            format!("{sender}{service}")
        } else {
            service.to_owned()
        };
        self.items.lock().unwrap().push(item);
    }

    fn register_status_notifier_host(&self, _service: &str) {}

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items.lock().unwrap().clone()
    }

    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }
}

/// One entry of the dbusmenu layout.
#[derive(Debug)]
struct Entry {
    id: i32,
    label: String,
    /// `toggle-state` of a check mark item: 1 on, 0 off.
    checked: Option<i32>,
    separator: bool,
}

fn start_app(desk: &Session, trace_dir: &Path, log_name: &str) -> App {
    App::start(desk, log_name, |cmd| {
        cmd.arg("--demo")
            .arg(format!("--log-dir={}", trace_dir.display()))
            .args(NO_DEVICES)
            .env("RUST_LOG", "info");
    })
}

/// The panel's side on the session bus: owns `org.kde.StatusNotifierWatcher`; the items
/// that register.
fn panel(desk: &Session) -> (Connection, Arc<Mutex<Vec<String>>>) {
    let items = Arc::new(Mutex::new(Vec::new()));
    let conn = zbus::blocking::connection::Builder::address(desk.bus.as_str())
        .unwrap()
        .name("org.kde.StatusNotifierWatcher")
        .unwrap()
        .serve_at(
            "/StatusNotifierWatcher",
            Watcher {
                items: items.clone(),
            },
        )
        .unwrap()
        .build()
        .unwrap();
    (conn, items)
}

/// Polls `f` every 100 ms until it gives `Some`, for `limit` at most.
fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let t = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(t.elapsed() < limit, "no {what} after {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The item's bus name and object path as registered (`name` alone means the spec's
/// default path).
fn item_address(item: &str) -> (String, String) {
    match item.find('/') {
        Some(i) => (item[..i].to_owned(), item[i..].to_owned()),
        None => (item.to_owned(), "/StatusNotifierItem".to_owned()),
    }
}

/// dbusmenu `GetLayout` of the whole menu, flattened (top level only: ours has no
/// submenus).
fn layout(menu: &Proxy<'_>) -> Vec<Entry> {
    type Node = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);
    let (_revision, (_root, _props, children)): (u32, Node) = menu
        .call("GetLayout", &(0i32, -1i32, Vec::<String>::new()))
        .unwrap();
    children
        .into_iter()
        .map(|child| {
            let (id, props, _): Node = Node::try_from(child).unwrap();
            let text = |k: &str| {
                props
                    .get(k)
                    .and_then(|v| String::try_from(v.try_clone().unwrap()).ok())
            };
            Entry {
                id,
                label: text("label").unwrap_or_default(),
                checked: props
                    .get("toggle-state")
                    .and_then(|v| i32::try_from(v.try_clone().unwrap()).ok()),
                separator: text("type").as_deref() == Some("separator"),
            }
        })
        .collect()
}

/// Clicks the entry labelled `label` (mnemonic underscores aside), as a panel does.
fn click(menu: &Proxy<'_>, label: &str) {
    let entry = layout(menu)
        .into_iter()
        .find(|e| e.label.replace('_', "") == label)
        .unwrap_or_else(|| panic!("no menu entry {label:?}: {:?}", layout(menu)));
    let () = menu
        .call("Event", &(entry.id, "clicked", Value::I32(0), 0u32))
        .unwrap();
}

fn checked(menu: &Proxy<'_>, label: &str) -> Option<i32> {
    layout(menu)
        .into_iter()
        .find(|e| e.label.replace('_', "") == label)
        .and_then(|e| e.checked)
}

/// `_NET_WM_STATE` of the app's main window (xprop), once the window is mapped.
fn wm_state(desk: &Session) -> String {
    let id = wait_for("the myApps window", Duration::from_secs(30), || {
        let out = desk
            .command("xdotool")
            .args(["search", "--onlyvisible", "--name", "^myApps$"])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .map(str::to_owned)
    });
    desk.run("xprop", &["-id", &id, "_NET_WM_STATE"])
}

/// Connects to the item: its menu proxy, after checking the item's own properties.
fn item_menu<'a>(conn: &'a Connection, items: &Arc<Mutex<Vec<String>>>) -> Proxy<'a> {
    let item = wait_for("tray item registered", Duration::from_secs(30), || {
        items.lock().unwrap().last().cloned()
    });
    let (name, path) = item_address(&item);
    let sni = Proxy::new(conn, name.clone(), path, "org.kde.StatusNotifierItem").unwrap();
    let title: String = sni.get_property("Title").unwrap();
    assert_eq!(title, "myApps");
    let pixmaps: Vec<(i32, i32, Vec<u8>)> = sni.get_property("IconPixmap").unwrap();
    let (w, h, argb) = pixmaps.first().expect("an icon pixmap");
    assert_eq!(
        (*w, *h, argb.len()),
        (32, 32, 32 * 32 * 4),
        "icon 32×32 ARGB"
    );
    let opaque = argb.chunks(4).filter(|p| p[0] == 255).count();
    assert!(opaque > 600, "{opaque} opaque pixels: the icon is drawn");
    let menu_path: OwnedObjectPath = sni.get_property("Menu").unwrap();
    Proxy::new(conn, name, menu_path, "com.canonical.dbusmenu").unwrap()
}

/// The X window ids of visible windows titled exactly `title`.
fn visible(desk: &Session, title: &str) -> Vec<u32> {
    let out = desk
        .command("xdotool")
        .args(["search", "--onlyvisible", "--name", &format!("^{title}$")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// The window manager's close button, as a window manager does it (ICCCM 4.2.8.1): a
/// `WM_PROTOCOLS` ClientMessage carrying `WM_DELETE_WINDOW`.
fn close_window(desk: &Session, window: u32) {
    use x11rb::protocol::xproto::{ClientMessageEvent, ConnectionExt as _, EventMask};
    let (conn, _) = x11rb::connect(Some(&desk.display)).unwrap();
    let atom = |name: &str| {
        conn.intern_atom(false, name.as_bytes())
            .unwrap()
            .reply()
            .unwrap()
            .atom
    };
    let (protocols, delete) = (atom("WM_PROTOCOLS"), atom("WM_DELETE_WINDOW"));
    let event = ClientMessageEvent::new(32, window, protocols, [delete, 0, 0, 0, 0]);
    // Checked: a round trip, so the server has delivered it when this returns.
    conn.send_event(false, window, EventMask::NO_EVENT, event)
        .unwrap()
        .check()
        .unwrap();
    eprintln!("WM_DELETE_WINDOW sent to window {window}");
}

#[test]
fn tray_menu_toggles_settings_opens_the_trace_folder_and_quits() {
    let Some(desk) = Session::start("tray", false) else {
        return;
    };
    // (xprop has no display-less check; `Session::run` names it when it is missing.)
    test_support::require(&[("xdg-mime", &["--version"]), ("xdg-open", &["--version"])]);
    let (conn, items) = panel(&desk);
    // The session's file manager: records what it was asked to open.
    let opened = desk.dir().join("opened.txt");
    let recorder = desk.dir().join("file-manager.sh");
    std::fs::write(
        &recorder,
        format!("#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n", opened.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        &recorder,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let apps = desk.dir().join("data/applications");
    std::fs::create_dir_all(&apps).unwrap();
    std::fs::write(
        apps.join("test-file-manager.desktop"),
        format!(
            "[Desktop Entry]\nType=Application\nName=Test file manager\nExec={} %f\nMimeType=inode/directory;\n",
            recorder.display()
        ),
    )
    .unwrap();
    desk.run(
        "xdg-mime",
        &["default", "test-file-manager.desktop", "inode/directory"],
    );
    let traces = desk.dir().join("traces");
    let bin = env!("CARGO_BIN_EXE_myapps");

    // First start: defaults (AUTOSTART on, so a login entry; in the taskbar; not docked).
    let entry = desk.config_dir().join("autostart/myapps.desktop");
    assert!(!entry.exists());
    let app = start_app(&desk, &traces, "app1.log");
    wait_for("the demo window", Duration::from_secs(30), || {
        app.logged("demo window open").then_some(())
    });
    let menu = item_menu(&conn, &items);
    let entries = layout(&menu);
    let labels: Vec<String> = entries
        .iter()
        .map(|e| {
            if e.separator {
                "--".to_owned()
            } else {
                e.label.replace('_', "")
            }
        })
        .collect();
    println!("tray menu: {labels:?}");
    assert_eq!(
        labels,
        [
            "Show myApps",
            "Settings…",
            "Start on login",
            "Show in taskbar",
            "Open trace folder",
            "--",
            "Quit myApps"
        ]
    );
    // The login entry, AUTOSTART and the check mark agree from the first start.
    let text = std::fs::read_to_string(&entry).expect("a login entry from the first start");
    assert!(text.contains(&format!("Exec={bin}")), "{text}");
    assert_eq!(checked(&menu, "Start on login"), Some(1));
    let status = desk.run(bin, &["autostart", "status"]);
    assert!(status.starts_with("on"), "{status}");
    // Not stored: the default (on) applies until the user chooses.
    let list = desk.run(bin, &["settings", "list"]);
    assert!(!list.contains("AUTOSTART="), "{list}");
    assert_eq!(checked(&menu, "Show in taskbar"), Some(1));
    let state = wm_state(&desk);
    assert!(!state.contains("SKIP_TASKBAR"), "{state}");

    // The close button hides the window to the tray; the app runs on.
    let window = visible(&desk, "myApps")[0];
    close_window(&desk, window);
    wait_for("the window hidden", Duration::from_secs(10), || {
        visible(&desk, "myApps").is_empty().then_some(())
    });
    assert!(app.logged("main window hidden to the tray"));
    let mut app = app;
    assert!(app.child.try_wait().unwrap().is_none(), "the app ended");
    // Starting myApps again shows it (the later start hands over and ends).
    let again = desk.command(bin).output().unwrap();
    assert!(again.status.success(), "{again:?}");
    wait_for("the window shown again", Duration::from_secs(10), || {
        (!visible(&desk, "myApps").is_empty()).then_some(())
    });

    // "Settings…": the settings window opens.
    click(&menu, "Settings…");
    let settings = wait_for("the settings window", Duration::from_secs(30), || {
        visible(&desk, "myApps settings").first().copied()
    });
    let pid = desk.run("xdotool", &["getwindowpid", &settings.to_string()]);
    println!("settings window {settings} of process {}", pid.trim());
    desk.run("kill", &[pid.trim()]);

    click(&menu, "Start on login");
    wait_for("the login entry removed", Duration::from_secs(10), || {
        (!entry.exists()).then_some(())
    });
    wait_for("the check mark off", Duration::from_secs(5), || {
        (checked(&menu, "Start on login") == Some(0)).then_some(())
    });
    assert_eq!(desk.run(bin, &["settings", "get", "AUTOSTART"]).trim(), "0");

    click(&menu, "Show in taskbar");
    wait_for("SHOWINTASKBAR stored", Duration::from_secs(10), || {
        let out = desk
            .command(bin)
            .args(["settings", "get", "SHOWINTASKBAR"])
            .output()
            .ok()?;
        (String::from_utf8_lossy(&out.stdout).trim() == "0").then_some(())
    });
    wait_for("the check mark off", Duration::from_secs(5), || {
        (checked(&menu, "Show in taskbar") == Some(0)).then_some(())
    });

    click(&menu, "Open trace folder");
    let got = wait_for("the file manager started", Duration::from_secs(10), || {
        std::fs::read_to_string(&opened)
            .ok()
            .filter(|s| !s.is_empty())
    });
    assert_eq!(Path::new(&got), traces, "opened {got}");
    assert!(traces.is_dir());

    click(&menu, "Quit myApps");
    let status = wait_for("the app to end", Duration::from_secs(15), || {
        app.child.try_wait().unwrap()
    });
    assert!(status.success(), "{status}");
    assert!(app.logged("stopping"), "the service was stopped");
    drop(app);
    items.lock().unwrap().clear();

    // Second start: out of the taskbar from the first map, docked to the right edge.
    desk.run(bin, &["settings", "set", "DOCKING", "right"]);
    let app = start_app(&desk, &traces, "app2.log");
    wait_for("the demo window", Duration::from_secs(30), || {
        app.logged("demo window open").then_some(())
    });
    let state = wm_state(&desk);
    println!("second start: {}", state.trim());
    assert!(state.contains("_NET_WM_STATE_SKIP_TASKBAR"), "{state}");
    let menu = item_menu(&conn, &items);
    assert_eq!(checked(&menu, "Start on login"), Some(0));
    assert!(!entry.exists(), "AUTOSTART off is kept: no login entry");
    assert_eq!(checked(&menu, "Show in taskbar"), Some(0));
    let geometry = desk.run(
        "xdotool",
        &[
            "search",
            "--onlyvisible",
            "--name",
            "^myApps$",
            "getwindowgeometry",
            "--shell",
        ],
    );
    let g: HashMap<&str, i64> = geometry
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
        .collect();
    println!("docked right: {g:?} on a 1280×800 screen");
    assert_eq!(
        (g["X"], g["Y"], g["WIDTH"], g["HEIGHT"]),
        (1280 - 480, 0, 480, 800),
        "{geometry}"
    );
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tray-docked.png");
    std::thread::sleep(Duration::from_secs(2));
    desk.screenshot(&shot);
    println!("screenshot {}", shot.display());
    click(&menu, "Quit myApps");
    let mut app = app;
    let status = wait_for("the app to end", Duration::from_secs(15), || {
        app.child.try_wait().unwrap()
    });
    assert!(status.success(), "{status}");
}

/// Without a tray host nothing would bring a hidden window back: the close button quits.
#[test]
fn without_a_tray_host_the_close_button_quits() {
    let Some(desk) = Session::start("tray-none", false) else {
        return;
    };
    let traces = desk.dir().join("traces");
    let app = start_app(&desk, &traces, "app.log");
    wait_for("the demo window", Duration::from_secs(30), || {
        app.logged("demo window open").then_some(())
    });
    let window = wait_for("the window mapped", Duration::from_secs(10), || {
        visible(&desk, "myApps").first().copied()
    });
    close_window(&desk, window);
    let mut app = app;
    let status = wait_for("the app to end", Duration::from_secs(15), || {
        app.child.try_wait().unwrap()
    });
    assert!(status.success(), "{status}");
    assert!(app.logged("no tray icon to come back by, quitting"));
    assert!(app.logged("stopping"), "the service was stopped");
}

/// StatusNotifierItem's `ToolTip`: icon name, icon pixmaps, title, text.
type ToolTip = (String, Vec<(i32, i32, Vec<u8>)>, String, String);

/// The PBX page sets 3, then a frame of another origin sets 99 (ignored).
const BADGE: &str = r#"(function () {
  var q = new URLSearchParams(location.search);
  if (q.get("popup")) return;
  if (q.get("frame")) {
    navigator.setAppBadge(99).then(function () { report("frame-badge", {origin: location.origin}); });
    return;
  }
  navigator.setAppBadge(-1).catch(function (e) { report("bad-badge", {name: e.name}); });
  navigator.setAppBadge(3).then(function () {
    report("badge", {n: 3});
    var f = document.createElement("iframe");
    f.src = "https://127.0.0.1:FOREIGN/PBX0/APPCLIENT/appclient.htm?frame=1";
    document.body.appendChild(f);
  });
})();"#;

#[test]
fn a_pages_app_badge_shows_in_the_tray_item() {
    let Some(desk) = Session::start("tray-badge", false) else {
        return;
    };
    let (conn, items) = panel(&desk);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pbx = rt.block_on(test_support::pbx::PbxStandIn::start(
        &desk.dir(),
        test_support::pbx::Mode::MyApps,
    ));
    pbx.set_test_script(&BADGE.replace("FOREIGN", &pbx.foreign_port.to_string()));
    let (ca, server) = (pbx.ca_file.to_str().unwrap().to_owned(), pbx.server());
    let app = App::start(&desk, "app.log", |cmd| {
        cmd.args(["--server", &server, "--test-ca", &ca])
            .args(NO_DEVICES)
            .env("RUST_LOG", "info");
    });
    let _menu = item_menu(&conn, &items);
    let wait = |kind: &str| {
        rt.block_on(pbx.wait_for(Duration::from_secs(30), |r| r["kind"] == kind))
            .unwrap_or_else(|| panic!("no {kind} report: {:?}", pbx.reports()))
    };
    assert_eq!(wait("bad-badge")["name"], "TypeError", "setAppBadge(-1)");
    wait("badge");
    wait("frame-badge");
    wait_for(
        "the foreign frame's badge judged",
        Duration::from_secs(10),
        || {
            app.logged("app badge of an untrusted frame ignored")
                .then_some(())
        },
    );
    let item = items.lock().unwrap().last().cloned().unwrap();
    let (name, path) = item_address(&item);
    let sni = Proxy::new(&conn, name, path, "org.kde.StatusNotifierItem").unwrap();
    let title = wait_for("the badge in the title", Duration::from_secs(10), || {
        let t: String = sni.get_property("Title").unwrap();
        (t != "myApps").then_some(t)
    });
    assert_eq!(title, "myApps (3)");
    let tooltip: ToolTip = sni.get_property("ToolTip").unwrap();
    println!(
        "tray item after setAppBadge(3): Title {title:?}, ToolTip title {:?}",
        tooltip.2
    );
    assert!(
        tooltip.2.contains("myApps (3)") || tooltip.3.contains("myApps (3)"),
        "{tooltip:?}"
    );
}
