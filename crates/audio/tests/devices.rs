//! Device enumeration and hot-plug against a private PipeWire (through its PulseAudio
//! protocol, the host cpal uses on Linux): see `test_support::pipewire`.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used)]

use std::sync::mpsc;
use std::time::{Duration, Instant};

use audio::devices::{self, DeviceEvent, DeviceKind, DeviceWatcher};
use test_support::pipewire::{SINK, SOURCE, in_session, pactl};

#[test]
fn list_shows_null_sink_as_default_speaker() {
    in_session("list_shows_null_sink_as_default_speaker", || {
        let list = devices::list().unwrap();
        eprintln!("{list:#?}");
        let find = |id: &str, kind| {
            list.iter()
                .find(|d| d.id == format!("pulseaudio:{id}") && d.kind == kind)
                .unwrap_or_else(|| panic!("no {kind} `{id}` in {list:#?}"))
        };
        let sink = find(SINK, DeviceKind::Speaker);
        assert_eq!(sink.name, "Test Sink");
        assert!(sink.default, "the only sink is the default one");
        let mic = find(SOURCE, DeviceKind::Microphone);
        assert_eq!(mic.name, "Test Microphone");
        // A sink's monitor records what it plays: no microphone.
        assert!(
            list.iter().all(|d| !d.id.ends_with(".monitor")),
            "monitor listed: {list:#?}"
        );
        assert_eq!(list.len(), 2, "exactly the two test devices: {list:#?}");
        // Ids are stable: a second enumeration (a fresh host) gives the same list.
        assert_eq!(devices::list().unwrap(), list);
    });
}

#[test]
fn probe_opens_the_default_speaker() {
    in_session("probe_opens_the_default_speaker", || {
        let id = audio::engine::probe_speaker(None).unwrap();
        assert_eq!(id, format!("pulseaudio:{SINK}"));
        assert_eq!(
            audio::engine::probe_speaker(Some(&id)).unwrap(),
            id,
            "by its id"
        );
        let gone = audio::engine::probe_speaker(Some("pulseaudio:unplugged")).unwrap_err();
        assert!(
            matches!(gone, audio::AudioError::DeviceNotFound { .. }),
            "{gone:?}"
        );
        // The sink no longer has a playing stream: the probe closed what it opened.
        let inputs = pactl(&["list", "short", "sink-inputs"]);
        assert!(inputs.trim().is_empty(), "left open: {inputs}");
    });
}

#[test]
fn watcher_reports_hot_plug() {
    in_session("watcher_reports_hot_plug", || {
        let (tx, rx) = mpsc::channel();
        let watcher = DeviceWatcher::start(Duration::from_millis(200), move |event| {
            let _ = tx.send((Instant::now(), event));
        });
        let wanted = "pulseaudio:hp_test";

        let plugged = Instant::now();
        let module = pactl(&["load-module", "module-null-sink", "sink_name=hp_test"]);
        let (at, event) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        let DeviceEvent::Added(info) = event else {
            panic!("expected Added, got {event:?}")
        };
        assert_eq!((info.id.as_str(), info.kind), (wanted, DeviceKind::Speaker));
        eprintln!("Added({info:?}) {:?} after load-module", at - plugged);
        // Only the sink: its monitor is no microphone.
        assert!(rx.recv_timeout(Duration::from_millis(600)).is_err());

        let unplugged = Instant::now();
        pactl(&["unload-module", module.trim()]);
        let (at, event) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(event, DeviceEvent::Removed(info));
        eprintln!("Removed {:?} after unload-module", at - unplugged);
        assert!(rx.recv_timeout(Duration::from_millis(600)).is_err());

        // Dropping the watcher stops its thread: the callback's sender goes with it.
        drop(watcher);
        assert!(matches!(
            rx.recv_timeout(Duration::from_secs(1)),
            Err(mpsc::RecvTimeoutError::Disconnected)
        ));
    });
}
