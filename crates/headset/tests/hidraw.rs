//! The hidraw backend below its OS layer. This kernel has no UHID and no hidraw devices,
//! so a directory tree stands in for `/sys/class/hidraw` (each device's
//! `report_descriptor` and `uevent`) and a pseudo-terminal in raw mode for `/dev/hidrawN`
//! (`test_support::headsets`): the backend opens the terminal's slave as it would open the
//! node, the test writes input reports to the master and reads what the backend writes.
//!
//! The descriptors are real headsets' of three vendors (Jabra, Plantronics, EPOS; the
//! sources are named in `test_support::headsets`), so buttons are found where those
//! devices put them and lights are written as those devices define them.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use headset::hidraw::{Change, Headsets, Roots};
use headset::{HeadsetEvent, Lights};
use test_support::headsets::{EPOS, Headset, JABRA, KEYBOARD, PLANTRONICS, plug, unplug};

fn start(root: &Path) -> (Headsets, Receiver<Change>) {
    let (tx, rx) = channel();
    let tx = Mutex::new(tx);
    let roots = Roots {
        sysfs: root.join("sys/class/hidraw"),
        dev: root.join("dev"),
    };
    let on_change = Arc::new(move |c: Change| {
        let _ = tx.lock().unwrap().send(c);
    });
    (
        Headsets::start(roots, Duration::from_millis(50), on_change),
        rx,
    )
}

fn next(rx: &Receiver<Change>) -> Change {
    rx.recv_timeout(Duration::from_secs(5)).expect("a change")
}

fn button(rx: &Receiver<Change>) -> HeadsetEvent {
    match next(rx) {
        Change::Button { event, .. } => event,
        other => panic!("not a button: {other:?}"),
    }
}

/// One real headset through the backend: found among other HID devices, its lights as its
/// descriptor defines them, its buttons decoded, its removal and return seen.
fn exercise(h: &Headset) {
    let root = tempfile::tempdir().unwrap();
    let mut dev = plug(root.path(), "hidraw3", h.descriptor, h.name);
    let _keyboard = plug(root.path(), "hidraw1", KEYBOARD, "Some keyboard");
    let (headsets, rx) = start(root.path());
    assert_eq!(
        next(&rx),
        Change::Added {
            node: "hidraw3".into(),
            name: h.name.into()
        }
    );
    assert_eq!(headsets.names(), [h.name], "the keyboard is no headset");
    // At open, the current lights (all off).
    assert_eq!(
        dev.written(h.lights_off.len()),
        h.lights_off,
        "{}: lights off",
        h.name
    );
    headsets.set_lights(Lights {
        ring: true,
        ..Lights::default()
    });
    assert_eq!(dev.written(h.ring.len()), h.ring, "{}: ring", h.name);
    headsets.set_lights(Lights {
        off_hook: true,
        mute: true,
        ..Lights::default()
    });
    let written = dev.written(h.off_hook_mute.len());
    assert_eq!(written, h.off_hook_mute, "{}: off hook and muted", h.name);

    dev.send(h.hook_on);
    assert_eq!(button(&rx), HeadsetEvent::Hook(true), "{}", h.name);
    dev.send(h.mute_pressed);
    assert_eq!(button(&rx), HeadsetEvent::Mute, "{}", h.name);
    dev.send(h.mute_released);
    // A report of an ID the device does not have, and a cut one: nothing, no panic.
    dev.send(&[0xEE, 0xFF, 0xFF, 0xFF]);
    dev.send(&h.hook_off[..1]);
    dev.send(h.hook_off);
    assert_eq!(button(&rx), HeadsetEvent::Hook(false), "{}", h.name);
    println!(
        "{}: lights {:02X?}, buttons decoded",
        h.name, h.off_hook_mute
    );

    unplug(root.path(), "hidraw3");
    drop(dev);
    assert_eq!(
        next(&rx),
        Change::Removed {
            node: "hidraw3".into(),
            name: h.name.into()
        }
    );
    assert!(headsets.names().is_empty());
    let _again = plug(root.path(), "hidraw4", h.descriptor, h.name);
    assert!(matches!(next(&rx), Change::Added { node, .. } if node == "hidraw4"));
}

#[test]
fn jabra_evolve_link_ms() {
    exercise(&JABRA);
}

#[test]
fn plantronics_blackwire_3220() {
    exercise(&PLANTRONICS);
}

#[test]
fn epos_impact_dw() {
    exercise(&EPOS);
}

/// The EPOS has its volume keys in the Telephony report.
#[test]
fn volume_keys_of_the_epos() {
    let root = tempfile::tempdir().unwrap();
    let mut dev = plug(root.path(), "hidraw0", EPOS.descriptor, EPOS.name);
    let (_headsets, rx) = start(root.path());
    assert!(matches!(next(&rx), Change::Added { .. }));
    dev.send(&[0x02, 0x02]);
    assert_eq!(button(&rx), HeadsetEvent::VolumeUp);
    dev.send(&[0x02, 0x00]);
    dev.send(&[0x02, 0x01]);
    assert_eq!(button(&rx), HeadsetEvent::VolumeDown);
}
