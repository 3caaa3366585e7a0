//! Linux: headsets as hidraw devices (the kernel's raw HID interface, no driver or
//! vendor SDK). Each `/sys/class/hidraw/hidrawN` has the device's report descriptor
//! (`device/report_descriptor`) and name (`device/uevent`, `HID_NAME`); `/dev/hidrawN`
//! gives one input report per `read` and takes an output report per `write` (the
//! kernel's Documentation/hid/hidraw.rst).
//!
//! [`Headsets`] looks at the sysfs directory once per poll interval: a new telephony
//! device is opened (a reader thread per device) and gets the current lights; one whose
//! directory went, or whose reader ended (a read error: unplugged), is dropped. Access
//! needs read and write permission on the node: the .deb's udev rule gives it to the
//! logged-in user for the headset makers' devices (docs/packaging.md). A node that cannot
//! be opened yet (udev sets its permission a moment after it appears) is tried again at
//! the next look; one that is no headset is not read again until it goes.
//!
//! The roots are parameters, so tests give a directory tree of their own and a
//! pseudo-terminal standing in for the node.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::decoder::HidDecoder;
use crate::layout::Layout;
use crate::{Error, HeadsetEvent, Lights};

/// How often the device list is looked at: one wake-up a second while idle.
pub const POLL: Duration = Duration::from_secs(1);
/// A read buffer larger than any report a headset sends (hidraw's own limit is 16 KiB,
/// telephony reports are a few bytes; a longer one is cut, and then not decoded).
const READ_BUFFER: usize = 512;

/// Where devices are found and opened.
#[derive(Clone, Debug)]
pub struct Roots {
    /// `/sys/class/hidraw`.
    pub sysfs: PathBuf,
    /// `/dev`.
    pub dev: PathBuf,
}

impl Default for Roots {
    fn default() -> Roots {
        Roots {
            sysfs: PathBuf::from("/sys/class/hidraw"),
            dev: PathBuf::from("/dev"),
        }
    }
}

/// A telephony device found under [`Roots::sysfs`].
#[derive(Debug)]
struct Found {
    /// The device's name (`HID_NAME`), or the node's.
    name: String,
    /// Its buttons and lights.
    layout: Layout,
}

/// What happened, for the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A headset was opened.
    Added {
        /// `hidrawN`.
        node: String,
        /// Its name.
        name: String,
    },
    /// A headset went (unplugged, or its node can no longer be read).
    Removed {
        /// `hidrawN`.
        node: String,
        /// Its name.
        name: String,
    },
    /// A button of a headset.
    Button {
        /// Its name.
        name: String,
        /// What was pressed.
        event: HeadsetEvent,
    },
}

/// Receives [`Change`]s, on the watcher's or a reader's thread; must not block for long.
pub type OnChange = Arc<dyn Fn(Change) + Send + Sync>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// One device's descriptor and name; `Ok(None)` for a HID device that is no headset.
fn read_device(dir: &Path, node: &str) -> Result<Option<Found>, Error> {
    let path = dir.join("device/report_descriptor");
    let mut descriptor = Vec::new();
    File::open(&path)
        .and_then(|f| {
            f.take(crate::descriptor::MAX_DESCRIPTOR as u64)
                .read_to_end(&mut descriptor)
        })
        .map_err(io(&path))?;
    let Some(layout) = Layout::parse(&descriptor)? else {
        return Ok(None);
    };
    let uevent = std::fs::read_to_string(dir.join("device/uevent")).unwrap_or_default();
    let name = uevent
        .lines()
        .find_map(|l| l.strip_prefix("HID_NAME="))
        .map_or_else(|| node.to_owned(), str::to_owned);
    Ok(Some(Found { name, layout }))
}

/// The `hidrawN` entries of the sysfs directory now (none when it cannot be read).
fn nodes(sysfs: &Path) -> Vec<String> {
    std::fs::read_dir(sysfs)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .filter(|n| n.starts_with("hidraw"))
                .collect()
        })
        .unwrap_or_default()
}

/// An open headset.
struct Open {
    name: String,
    layout: Arc<Layout>,
    writer: File,
    /// Set by its reader when a read failed (unplugged).
    gone: Arc<AtomicBool>,
}

struct Inner {
    roots: Roots,
    on_change: OnChange,
    lights: Mutex<Lights>,
    devices: Mutex<HashMap<String, Open>>,
    /// Nodes that are no headset (or whose descriptor cannot be read), not read again
    /// until they go.
    skipped: Mutex<HashMap<String, String>>,
    /// Headsets that could not be opened, said once each (they are tried again).
    warned: Mutex<HashSet<String>>,
    /// Set when [`Headsets`] is dropped: readers report nothing more.
    stopping: Arc<AtomicBool>,
}

/// The headsets, followed as they come and go. Dropping it stops the watcher and the
/// readers' reports; a reader blocked in `read` ends at the device's next report or
/// removal (a blocking read of a device node cannot be interrupted without unsafe code).
pub struct Headsets {
    inner: Arc<Inner>,
    watcher: Option<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Headsets {
    /// Starts watching `roots` every `poll`, the first look at once, on the watcher's
    /// thread (opening devices never blocks the caller).
    pub fn start(roots: Roots, poll: Duration, on_change: OnChange) -> Headsets {
        let inner = Arc::new(Inner {
            roots,
            on_change,
            lights: Mutex::new(Lights::default()),
            devices: Mutex::new(HashMap::new()),
            skipped: Mutex::new(HashMap::new()),
            warned: Mutex::new(HashSet::new()),
            stopping: Arc::new(AtomicBool::new(false)),
        });
        let i = inner.clone();
        let watcher = std::thread::Builder::new()
            .name("headsets".into())
            .spawn(move || {
                while !i.stopping.load(Ordering::Relaxed) {
                    i.look();
                    std::thread::park_timeout(poll);
                }
            })
            .inspect_err(|e| tracing::warn!("headsets: no watcher thread ({e}); not followed"))
            .ok();
        Headsets { inner, watcher }
    }

    /// Sets every headset's lights (and those of headsets plugged in later). Writes to
    /// the devices: call it where blocking briefly is fine (not on an async runtime).
    pub fn set_lights(&self, lights: Lights) {
        *lock(&self.inner.lights) = lights;
        for (node, d) in lock(&self.inner.devices).iter_mut() {
            write_lights(node, d, &lights);
        }
    }

    /// The names of the open headsets.
    pub fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = lock(&self.inner.devices)
            .values()
            .map(|d| d.name.clone())
            .collect();
        n.sort();
        n
    }
}

impl Drop for Headsets {
    fn drop(&mut self) {
        self.inner.stopping.store(true, Ordering::Relaxed);
        if let Some(w) = self.watcher.take() {
            w.thread().unpark();
            let _ = w.join();
        }
        lock(&self.inner.devices).clear();
    }
}

fn write_lights(node: &str, d: &mut Open, lights: &Lights) {
    for report in d.layout.light_reports(lights) {
        if let Err(e) = d.writer.write_all(&report) {
            tracing::debug!(node, "headset lights not written: {e}");
        }
    }
}

impl Inner {
    /// One look at the device directory: opens what came, drops what went.
    fn look(self: &Arc<Self>) {
        let present = nodes(&self.roots.sysfs);
        let gone: Vec<(String, String)> = {
            let mut devices = lock(&self.devices);
            let gone: Vec<String> = devices
                .iter()
                .filter(|(n, d)| !present.contains(n) || d.gone.load(Ordering::Relaxed))
                .map(|(n, _)| n.clone())
                .collect();
            gone.into_iter()
                .filter_map(|n| devices.remove(&n).map(|d| (n, d.name)))
                .collect()
        };
        lock(&self.skipped).retain(|n, _| present.contains(n));
        lock(&self.warned).retain(|n| present.contains(n));
        for (node, name) in gone {
            tracing::info!(%node, %name, "headset removed");
            (self.on_change)(Change::Removed { node, name });
        }
        for node in present {
            let known =
                lock(&self.devices).contains_key(&node) || lock(&self.skipped).contains_key(&node);
            if !known {
                self.open(&node);
            }
        }
    }

    fn open(self: &Arc<Self>, node: &str) {
        let found = match read_device(&self.roots.sysfs.join(node), node) {
            Ok(Some(f)) => f,
            Ok(None) => {
                tracing::debug!(node, "not a headset: no telephony buttons");
                lock(&self.skipped).insert(node.to_owned(), "no telephony buttons".into());
                return;
            }
            Err(e) => {
                tracing::debug!(node, "not a headset we can read: {e}");
                lock(&self.skipped).insert(node.to_owned(), e.to_string());
                return;
            }
        };
        let path = self.roots.dev.join(node);
        let opened = File::options()
            .read(true)
            .write(true)
            .open(&path)
            .and_then(|f| Ok((f.try_clone()?, f)));
        let (reader, writer) = match opened {
            Ok(pair) => pair,
            Err(e) => {
                // Tried again at the next look; worth one line: a headset is there and we
                // cannot use it (no udev rule for it?).
                if lock(&self.warned).insert(node.to_owned()) {
                    tracing::warn!(%node, name = %found.name, "headset not opened (tried again each second): {}: {e}", path.display());
                }
                return;
            }
        };
        let layout = Arc::new(found.layout);
        let gone = Arc::new(AtomicBool::new(false));
        let spawned = {
            let (layout, gone, inner, name) = (
                layout.clone(),
                gone.clone(),
                self.clone(),
                found.name.clone(),
            );
            std::thread::Builder::new()
                .name(format!("headset {node}"))
                .spawn(move || {
                    read_loop(
                        reader,
                        &layout,
                        &name,
                        &inner.on_change,
                        &inner.stopping,
                        &gone,
                    )
                })
        };
        if let Err(e) = spawned {
            tracing::warn!(%node, "headset not read: no reader thread: {e}");
            return;
        }
        tracing::info!(%node, name = %found.name, lights = ?layout.lights(), "headset opened");
        // Into the list first, its lights written under the list's lock: a `set_lights`
        // in between cannot be lost.
        {
            let mut devices = lock(&self.devices);
            let open = devices.entry(node.to_owned()).or_insert(Open {
                name: found.name.clone(),
                layout,
                writer,
                gone,
            });
            write_lights(node, open, &lock(&self.lights));
        }
        (self.on_change)(Change::Added {
            node: node.to_owned(),
            name: found.name,
        });
    }
}

/// Reads reports until the device goes: hidraw gives one report per `read` (the layout
/// cuts a longer one to the descriptor's length and drops a shorter one).
fn read_loop(
    mut file: File,
    layout: &Layout,
    name: &str,
    on_change: &OnChange,
    stopping: &AtomicBool,
    gone: &AtomicBool,
) {
    let mut decoder = HidDecoder::new();
    let mut buf = [0u8; READ_BUFFER];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if stopping.load(Ordering::Relaxed) {
            return;
        }
        for event in layout.decode(&mut decoder, &buf[..n]) {
            tracing::info!(headset = %name, ?event, "headset button");
            on_change(Change::Button {
                name: name.to_owned(),
                event,
            });
        }
    }
    gone.store(true, Ordering::Relaxed);
}
