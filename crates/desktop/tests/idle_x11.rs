//! The X11 idle source against a private Xvfb: idle time grows without input and drops
//! after an `xdotool mousemove`; a display that does not exist is an error, not a crash.
#![cfg(all(unix, not(target_os = "macos")))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use test_support::desktop_session::Session;

#[test]
fn idle_time_from_xvfb() {
    let Some(s) = Session::start("idle_time_from_xvfb", false) else {
        return;
    };
    let mut source = desktop::idle::open(Some(&s.display)).unwrap();
    eprintln!("source: {}", source.describe());
    assert!(source.describe().contains("MIT-SCREEN-SAVER"));
    let a = source.idle().unwrap();
    std::thread::sleep(Duration::from_millis(1200));
    let b = source.idle().unwrap();
    eprintln!("idle {a:?}, 1.2 s later {b:?}");
    assert!(b >= a + Duration::from_millis(1000), "{a:?} → {b:?}");
    s.run("xdotool", &["mousemove", "100", "100"]);
    let c = source.idle().unwrap();
    eprintln!("after xdotool mousemove: {c:?}");
    assert!(c < Duration::from_millis(500), "{c:?}");
}

#[test]
fn no_display_is_an_error_not_a_crash() {
    // Display 999 has no server (Xvfb picks free numbers from 0 up).
    let e = desktop::idle::open(Some(":999"))
        .err()
        .expect("no display :999");
    eprintln!("{e}");
    assert!(matches!(e, desktop::idle::Error::Unavailable(_)), "{e}");
    assert!(e.to_string().contains(":999"), "{e}");
}
