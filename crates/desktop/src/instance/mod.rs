//! Single instance: the first start of the app listens on a local
//! socket private to the user; a later start hands its arguments (e.g. a `tel:` link
//! from the URI handler) to it and exits.
//!
//! The socket, one backend per OS behind [`LocalSocket`]: a Unix socket in
//! `$XDG_RUNTIME_DIR` (Linux; the directory is the user's alone) or in the user's cache
//! directory (macOS), a named pipe `\\.\pipe\myapps-<SID>` (Windows). Pipe names are
//! machine-wide, shared by every session of a terminal server: the pipe is named by the
//! user's security identifier (not the spoofable `USERNAME`), and a later start hands its
//! arguments over only when the pipe's server process runs as the same user
//! ([`pipe_name`], `windows.rs`).
//!
//! A hand-over is logged (target `desktop::single_instance`, log flag LDS) with the links'
//! passwords hidden ([`crate::uri::Redacted`]).
//!
//! Wire format (ours, docs/protocol.md §9): the later start writes one line of JSON,
//! `{"args":["tel:4711"]}`, the first answers `{"ok":true}` and closes.

#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

use std::io::{self, BufRead, BufReader};
use std::time::Duration;

use serde_json::{Value, json};

/// How long a later start waits for the running instance's answer.
pub const HANDOFF_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection between two starts.
pub trait Stream: io::Read + io::Write + Send {}
impl<T: io::Read + io::Write + Send> Stream for T {}

/// The per-OS local socket.
pub trait LocalSocket: Send {
    /// Waits for the next later start.
    fn accept(&mut self) -> io::Result<Box<dyn Stream>>;
}

/// What a start is.
pub enum Claim {
    /// The first: the listener for later starts ([`serve`]).
    First(Box<dyn LocalSocket>),
    /// Another instance runs and took the arguments.
    HandedOver,
}

/// Claims the instance named `name` (`myapps`), or hands `args` to the one running.
pub fn claim(name: &str, args: &[String]) -> io::Result<Claim> {
    #[cfg(unix)]
    return unix::claim(name, args);
    #[cfg(windows)]
    return windows::claim(name, args);
}

/// Hands `args` to the running instance, if one runs (`Ok(false)` when none does); never
/// becomes the instance itself. The settings window tells the app its settings changed.
pub fn tell(name: &str, args: &[String]) -> io::Result<bool> {
    #[cfg(unix)]
    return unix::tell(name, args);
    #[cfg(windows)]
    return windows::tell(name, args);
}

/// The hand-over message.
pub fn encode(args: &[String]) -> String {
    format!("{}\n", json!({ "args": args }))
}

/// Sends `args` over `stream` and waits for the acknowledgement.
pub(crate) fn hand_over(stream: &mut dyn Stream, args: &[String]) -> io::Result<()> {
    stream.write_all(encode(args).as_bytes())?;
    stream.flush()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    match serde_json::from_str::<Value>(&line) {
        Ok(v) if v["ok"] == true => Ok(()),
        _ => Err(io::Error::other(format!(
            "the running instance answered {:?}",
            line.trim()
        ))),
    }
}

/// Reads one hand-over from a later start and acknowledges it: its arguments.
pub fn receive(stream: &mut dyn Stream) -> io::Result<Vec<String>> {
    let mut line = String::new();
    // A line of arguments is short; a peer that sends megabytes is not one of us.
    BufReader::new(io::Read::take(&mut *stream, 64 * 1024)).read_line(&mut line)?;
    let v: Value = serde_json::from_str(&line)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("not JSON: {e}")))?;
    let args = v["args"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .map(|x| x.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no args array"))?;
    stream.write_all(b"{\"ok\":true}\n")?;
    stream.flush()?;
    Ok(args)
}

/// The pipe of instance `name` for the user with the string security identifier `sid`
/// (`S-1-5-21-…`, MS-DTYP §2.4.2.1): `\\.\pipe\<name>-<sid>`. A SID that is not of that
/// form is refused (a pipe name must not contain `\`).
pub fn pipe_name(name: &str, sid: &str) -> io::Result<String> {
    let well_formed = sid.strip_prefix("S-").is_some_and(|r| {
        !r.is_empty()
            && r.split('-')
                .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    });
    if !well_formed || name.is_empty() || name.contains('\\') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("no pipe name for {name:?} and SID {sid:?}"),
        ));
    }
    Ok(format!(r"\\.\pipe\{name}-{sid}"))
}

/// Serves later starts on a thread of its own: each one's arguments go to `got`. The
/// thread logs to the caller's tracing subscriber.
pub fn serve(
    mut socket: Box<dyn LocalSocket>,
    got: impl Fn(Vec<String>) + Send + 'static,
) -> io::Result<std::thread::JoinHandle<()>> {
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    std::thread::Builder::new()
        .name("single-instance".into())
        .spawn(move || {
            let _log = tracing::dispatcher::set_default(&dispatch);
            loop {
                match socket.accept() {
                    Ok(mut s) => match receive(s.as_mut()) {
                        Ok(args) => {
                            let shown: Vec<_> =
                                args.iter().map(|a| crate::uri::Redacted(a)).collect();
                            tracing::info!(
                                target: "desktop::single_instance",
                                args = ?shown,
                                "a later start handed over"
                            );
                            got(args)
                        }
                        Err(e) => eprintln!("myapps: a later start sent garbage: {e}"),
                    },
                    Err(e) => {
                        eprintln!("myapps: single-instance socket: {e}");
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_start_hands_over_and_the_first_gets_the_args() {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("test-{}", std::process::id());
        let first = unix_or_windows_claim(dir.path(), &name, &[]);
        let Claim::First(socket) = first else {
            panic!("nothing runs yet: the first start must be the first")
        };
        let (tx, rx) = std::sync::mpsc::channel();
        serve(socket, move |a| tx.send(a).unwrap()).unwrap();
        let args = vec!["tel:0049-7031-123".to_owned()];
        let second = unix_or_windows_claim(dir.path(), &name, &args);
        assert!(matches!(second, Claim::HandedOver));
        assert_eq!(rx.recv_timeout(HANDOFF_TIMEOUT).unwrap(), args);
    }

    #[cfg(unix)]
    fn unix_or_windows_claim(dir: &std::path::Path, name: &str, args: &[String]) -> Claim {
        unix::claim_in(dir, name, args).unwrap()
    }

    #[cfg(windows)]
    fn unix_or_windows_claim(_: &std::path::Path, name: &str, args: &[String]) -> Claim {
        windows::claim(name, args).unwrap()
    }

    #[test]
    fn pipes_are_named_by_the_sid() {
        let sid = "S-1-5-21-3623811015-3361044348-30300820-1013";
        assert_eq!(
            pipe_name("myapps", sid).unwrap(),
            r"\\.\pipe\myapps-S-1-5-21-3623811015-3361044348-30300820-1013"
        );
        // Two users, two pipes, whatever their user names.
        assert_ne!(
            pipe_name("myapps", sid).unwrap(),
            pipe_name("myapps", "S-1-5-21-3623811015-3361044348-30300820-1014").unwrap()
        );
        for bad in ["", "S-", "alice", r"S-1-5\..\x", "S-1--5", "S-1-5-"] {
            assert!(pipe_name("myapps", bad).is_err(), "{bad:?}");
        }
    }

    /// The first instance's log of a hand-over: the link, without its password.
    #[cfg(unix)]
    #[test]
    fn hand_over_log_hides_link_passwords() {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let writer = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let dir = tempfile::tempdir().unwrap();
        let name = format!("log-{}", std::process::id());
        let link = "sip:alice:secret@pbx".to_owned();
        let got = tracing::subscriber::with_default(subscriber, || {
            let Claim::First(socket) = unix::claim_in(dir.path(), &name, &[]).unwrap() else {
                panic!("nothing runs yet")
            };
            let (tx, rx) = std::sync::mpsc::channel();
            serve(socket, move |a| tx.send(a).unwrap()).unwrap();
            let second = unix::claim_in(dir.path(), &name, std::slice::from_ref(&link));
            assert!(matches!(second.unwrap(), Claim::HandedOver));
            rx.recv_timeout(HANDOFF_TIMEOUT).unwrap()
        });
        // The running instance gets the link as it was; the log does not.
        assert_eq!(got, [link]);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("a later start handed over"), "{text}");
        assert!(text.contains("sip:alice:***@pbx"), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn garbage_is_refused() {
        let mut c = io::Cursor::new(b"hello\n".to_vec());
        let mut s = Both(&mut c, Vec::new());
        assert!(receive(&mut s).is_err());
        let mut c = io::Cursor::new(b"{\"args\":[\"tel:1\"]}\n".to_vec());
        let mut s = Both(&mut c, Vec::new());
        assert_eq!(receive(&mut s).unwrap(), ["tel:1"]);
        assert_eq!(s.1, b"{\"ok\":true}\n");
    }

    struct Both<'a>(&'a mut io::Cursor<Vec<u8>>, Vec<u8>);
    impl io::Read for Both<'_> {
        fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
            self.0.read(b)
        }
    }
    impl io::Write for Both<'_> {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.1.write(b)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}
