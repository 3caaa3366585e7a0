//! Helpers for integration tests and benches that work with real tools: WAV files, the
//! speech sample (`tests/tools/make_speech.sh`), PESQ scores (`tests/tools/pesq_score.py` in
//! the venv `target/pyenv`), and external programs (ffmpeg, sox, espeak-ng).
//!
//! A missing tool is a failure that names the tool and `scripts/test` (which installs
//! everything), never a silent skip. Everything here panics on failure: it only runs in
//! tests, where a panic with a clear message is the report.
#![allow(clippy::unwrap_used)]

pub mod alloc_count;
#[cfg(target_os = "linux")]
pub mod desktop_session;
#[cfg(target_os = "linux")]
pub mod eds;
pub mod headsets;
#[cfg(target_os = "linux")]
pub mod netns;
#[cfg(feature = "pbx")]
pub mod pbx;
#[cfg(target_os = "linux")]
pub mod pipewire;
pub mod signal;
pub mod wav;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python with the quality packages: `$MYAPPS_PYTHON`, else the project's venv.
pub fn python() -> PathBuf {
    std::env::var_os("MYAPPS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/pyenv/bin/python"))
}

/// Fails the test: `what` is missing.
pub fn missing(what: &str) -> ! {
    panic!("missing tool `{what}`: run `scripts/test`, which installs it")
}

/// Checks that each program runs (`program --version` style check args given).
pub fn require(tools: &[(&str, &[&str])]) {
    for (program, args) in tools {
        match Command::new(program).args(*args).output() {
            Ok(out) if out.status.success() => {}
            _ => missing(program),
        }
    }
}

/// Checks ffmpeg, sox, espeak-ng and the venv Python with pesq, numpy, soundfile, scipy.
pub fn require_speech_tools() {
    require(&[
        ("ffmpeg", &["-version"]),
        ("sox", &["--version"]),
        ("espeak-ng", &["--version"]),
    ]);
    let ok = Command::new(python())
        .args(["-c", "import pesq, numpy, soundfile, scipy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        missing(&format!(
            "{} with pesq, numpy, soundfile, scipy",
            python().display()
        ));
    }
}

/// Runs `cmd`, fails the test with its stderr unless it succeeds, returns its stdout.
pub fn run(cmd: &mut Command) -> String {
    String::from_utf8_lossy(&checked_output(cmd).stdout).into_owned()
}

/// Like [`run`], returning stdout as bytes (raw audio).
pub fn run_bytes(cmd: &mut Command) -> Vec<u8> {
    checked_output(cmd).stdout
}

/// Like [`run`], returning stderr (ffmpeg reports there).
pub fn run_stderr(cmd: &mut Command) -> String {
    String::from_utf8_lossy(&checked_output(cmd).stderr).into_owned()
}

fn checked_output(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot start {cmd:?} ({e}); run `scripts/test`, which installs the tools")
    });
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs ffmpeg quietly with `args`.
pub fn ffmpeg<S: AsRef<OsStr>>(args: &[S]) {
    run(Command::new("ffmpeg")
        .args(["-y", "-nostdin", "-loglevel", "error"])
        .args(args));
}

/// A tokio runtime for a synchronous test that drives async code: two workers (these
/// machines have two cores) and every driver.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A fresh directory for one test's files, removed on drop unless the test failed
/// (then it stays for inspection and its path is in the panic output of the caller).
pub struct TempDir(PathBuf);

impl TempDir {
    /// Makes `$TMPDIR/myapps-<name>-<pid>-<nanos>`.
    pub fn new(name: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("myapps-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// A path inside the directory.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Writes the speech sample (≈10.7 s, mono 16-bit) at `rate` Hz to `path` and returns
/// its samples.
pub fn speech(path: &Path, rate: u32) -> Vec<i16> {
    talker(path, rate, "a")
}

/// Another talker (another voice and sentences, ≈9.6 s): the far end of a call whose
/// near end says [`speech`]. Both ends saying the same sentence would be an echo to an
/// echo canceller, which then rightly removes it.
pub fn far_speech(path: &Path, rate: u32) -> Vec<i16> {
    talker(path, rate, "b")
}

fn talker(path: &Path, rate: u32, which: &str) -> Vec<i16> {
    run(Command::new("bash")
        .arg(workspace().join("tests/tools/make_speech.sh"))
        .arg(path)
        .arg(rate.to_string())
        .arg(which));
    wav::read_mono(path, rate)
}

/// PESQ of `degraded` against `reference`: `wb` (P.862.2) or `nb` (P.862).
pub fn pesq(reference: &Path, degraded: &Path, mode: &str) -> f64 {
    let out = run(Command::new(python())
        .arg(workspace().join("tests/tools/pesq_score.py"))
        .arg(reference)
        .arg(degraded)
        .arg(mode));
    out.trim()
        .parse()
        .unwrap_or_else(|e| panic!("pesq_score.py printed {out:?}: {e}"))
}

/// Signal-to-noise ratio of `test` against `reference`, in dB.
pub fn snr_db(reference: &[i16], test: &[i16]) -> f64 {
    let (mut s, mut e) = (0.0f64, 0.0f64);
    for (a, b) in reference.iter().zip(test) {
        s += f64::from(*a).powi(2);
        e += (f64::from(*a) - f64::from(*b)).powi(2);
    }
    10.0 * (s / e.max(1e-9)).log10()
}

/// The lag (in samples, ≥ 0) at which `degraded` best matches `reference`, searched up to
/// `max_lag` samples: cross-correlation on 8× decimated signals, then refined at full rate.
/// Received audio starts after connection set-up and buffering; PESQ's own alignment
/// copes with small offsets only.
pub fn best_lag(reference: &[i16], degraded: &[i16], max_lag: usize) -> usize {
    let dec = |x: &[i16]| -> Vec<f64> {
        x.chunks(8)
            .map(|c| c.iter().map(|&s| f64::from(s)).sum::<f64>())
            .collect()
    };
    let (r, d) = (dec(reference), dec(degraded));
    let corr = |r: &[f64], d: &[f64], lag: usize| -> f64 {
        r.iter().zip(d.iter().skip(lag)).map(|(a, b)| a * b).sum()
    };
    let coarse = (0..=(max_lag / 8).min(d.len()))
        .max_by(|&a, &b| corr(&r, &d, a).total_cmp(&corr(&r, &d, b)))
        .unwrap_or(0)
        * 8;
    let rf: Vec<f64> = reference.iter().map(|&s| f64::from(s)).collect();
    let df: Vec<f64> = degraded.iter().map(|&s| f64::from(s)).collect();
    (coarse.saturating_sub(8)..=(coarse + 8).min(df.len()))
        .max_by(|&a, &b| corr(&rf, &df, a).total_cmp(&corr(&rf, &df, b)))
        .unwrap_or(coarse)
}

/// `degraded` shifted to line up with `reference` (see [`best_lag`]) and cut or padded to
/// its length.
pub fn aligned(reference: &[i16], degraded: &[i16], max_lag: usize) -> Vec<i16> {
    let lag = best_lag(reference, degraded, max_lag);
    let mut out: Vec<i16> = degraded
        .iter()
        .skip(lag)
        .copied()
        .take(reference.len())
        .collect();
    out.resize(reference.len(), 0);
    out
}

/// `received` lined up with `reference` when the sender played `reference` in a loop and
/// the received audio starts anywhere in it (Chromium's fake microphone loops its file):
/// finds the circular shift that matches best, then takes each reference position from
/// one pass of `reference.len()` samples in the middle of `received` (all of it when it is
/// shorter; positions never received stay silent).
///
/// Why the middle: a window may begin or end past the sender's talking (a microphone
/// switched off at the end of its turn, silence before the first packet). A rule such as
/// "the later copy wins" let 100 ms of that trailing silence overwrite speech and cost
/// PESQ-WB 0.4 in one run; the middle pass is clear of both ends, and it is chosen without
/// looking at the content, so no copy is picked for scoring better.
pub fn aligned_circular(reference: &[i16], received: &[i16]) -> Vec<i16> {
    let n = reference.len();
    if n == 0 {
        return Vec::new();
    }
    let dec = |x: &[i16]| -> Vec<f64> {
        x.chunks(8)
            .map(|c| c.iter().map(|&s| f64::from(s)).sum::<f64>())
            .collect()
    };
    // The pass, decimated from its own start: block i is samples 8i.. of the pass, so the
    // shift found maps the pass's sample k to reference (k + shift) mod n.
    let first = received.len().saturating_sub(n) / 2;
    let pass = &received[first..received.len().min(first + n)];
    let (r, d) = (dec(reference), dec(pass));
    let m = r.len();
    let corr = |shift: usize| -> f64 {
        d.iter()
            .take(m)
            .enumerate()
            .map(|(i, b)| r[(i + shift) % m] * b)
            .sum()
    };
    let coarse = (0..m)
        .max_by(|&a, &b| corr(a).total_cmp(&corr(b)))
        .unwrap_or(0)
        * 8;
    // To the sample: the blocks only place it within ±8.
    let fine = |shift: usize| -> f64 {
        pass.iter()
            .enumerate()
            .map(|(k, &s)| f64::from(s) * f64::from(reference[(k + shift) % n]))
            .sum()
    };
    let shift = (0..=16)
        .map(|d| (coarse + n + d).saturating_sub(8) % n)
        .max_by(|&a, &b| fine(a).total_cmp(&fine(b)))
        .unwrap_or(coarse % n);
    let mut out = vec![0i16; n];
    for (k, &s) in pass.iter().enumerate() {
        out[(k + shift) % n] = s;
    }
    out
}

#[cfg(test)]
mod tests {
    /// A looped sender heard from the middle of a pass, with silence before its first
    /// packet and after its microphone went off: every position comes back from speech.
    #[test]
    fn aligned_circular_takes_one_pass_clear_of_both_ends() {
        let n = 16_003;
        let mut x: u32 = 7;
        let reference: Vec<i16> = (0..n)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                ((x >> 16) as i16) / 4
            })
            .collect();
        let mut received = vec![0i16; 3_000];
        received.extend((0..n * 8 / 5).map(|k| reference[(5_000 + k) % n]));
        received.extend(std::iter::repeat_n(0, 1_600));
        assert_eq!(super::aligned_circular(&reference, &received), reference);
    }
}
