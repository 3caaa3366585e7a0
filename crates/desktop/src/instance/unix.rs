//! Linux and macOS: a Unix socket in a directory only the user can enter.

use std::io;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use super::{Claim, HANDOFF_TIMEOUT, LocalSocket, Stream, hand_over};

struct Socket {
    listener: UnixListener,
}

impl LocalSocket for Socket {
    fn accept(&mut self) -> io::Result<Box<dyn Stream>> {
        let (s, _) = self.listener.accept()?;
        // A peer that connects and says nothing must not stall the next one for long.
        s.set_read_timeout(Some(HANDOFF_TIMEOUT))?;
        Ok(Box::new(s))
    }
}

/// `$XDG_RUNTIME_DIR` (Linux: mode 0700, the user's alone, cleared at logout); macOS:
/// `$TMPDIR` (a per-user directory under /var/folders).
fn directory() -> io::Result<PathBuf> {
    let var = if cfg!(target_os = "macos") {
        "TMPDIR"
    } else {
        "XDG_RUNTIME_DIR"
    };
    match std::env::var_os(var) {
        Some(d) if !d.is_empty() => Ok(PathBuf::from(d)),
        _ => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("${var} is not set: no private directory for the single-instance socket"),
        )),
    }
}

pub fn claim(name: &str, args: &[String]) -> io::Result<Claim> {
    claim_in(&directory()?, name, args)
}

pub fn tell(name: &str, args: &[String]) -> io::Result<bool> {
    let path = directory()?.join(format!("{name}.sock"));
    match UnixStream::connect(&path) {
        Ok(mut s) => {
            s.set_read_timeout(Some(HANDOFF_TIMEOUT))?;
            s.set_write_timeout(Some(HANDOFF_TIMEOUT))?;
            hand_over(&mut s, args)?;
            Ok(true)
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// The claim in `dir`: `<name>.sock`, with `<name>.lock` held while claiming so that two
/// starts at the same moment do not both become the first.
pub fn claim_in(dir: &Path, name: &str, args: &[String]) -> io::Result<Claim> {
    let path = dir.join(format!("{name}.sock"));
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(format!("{name}.lock")))?;
    lock.lock()?;
    match UnixStream::connect(&path) {
        Ok(mut s) => {
            s.set_read_timeout(Some(HANDOFF_TIMEOUT))?;
            s.set_write_timeout(Some(HANDOFF_TIMEOUT))?;
            hand_over(&mut s, args)?;
            return Ok(Claim::HandedOver);
        }
        // No socket, or one left by an instance that is gone.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(&path)?;
    drop(lock);
    Ok(Claim::First(Box::new(Socket { listener })))
}
