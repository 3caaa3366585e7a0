//! Windows: a named pipe `\\.\pipe\<name>-<SID>` (tokio's safe named-pipe API on a
//! one-worker runtime; the later start is a plain file client). Pipe names are one
//! namespace for the whole machine (every session of a terminal server), so the name
//! carries the user's SID, and a later start hands over only to a pipe whose server
//! process runs as the same user: another user who created the name first gets nothing.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::windows::named_pipe::{NamedPipeServer, ServerOptions};

use super::{Claim, HANDOFF_TIMEOUT, LocalSocket, Stream, hand_over};

/// winerror.h ERROR_PIPE_BUSY: every instance of the pipe is in use; try again.
const ERROR_PIPE_BUSY: i32 = 231;

struct Pipe {
    rt: tokio::runtime::Runtime,
    name: String,
    next: Option<NamedPipeServer>,
}

/// One connected pipe, used blocking.
struct SyncPipe {
    handle: tokio::runtime::Handle,
    pipe: NamedPipeServer,
}

impl Read for SyncPipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let pipe = &mut self.pipe;
        self.handle.block_on(async {
            tokio::time::timeout(HANDOFF_TIMEOUT, pipe.read(buf))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no hand-over"))?
        })
    }
}

impl Write for SyncPipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let pipe = &mut self.pipe;
        self.handle.block_on(pipe.write(buf))
    }
    fn flush(&mut self) -> io::Result<()> {
        let pipe = &mut self.pipe;
        self.handle.block_on(pipe.flush())
    }
}

impl LocalSocket for Pipe {
    fn accept(&mut self) -> io::Result<Box<dyn Stream>> {
        let _guard = self.rt.enter();
        let server = match self.next.take() {
            Some(s) => s,
            None => ServerOptions::new().create(&self.name)?,
        };
        self.rt.block_on(server.connect())?;
        // The next instance exists before this one is handed out: no moment without one.
        self.next = Some(ServerOptions::new().create(&self.name)?);
        Ok(Box::new(SyncPipe {
            handle: self.rt.handle().clone(),
            pipe: server,
        }))
    }
}

/// Opens the pipe as a client and checks that its server runs as this user.
fn open_ours(path: &str, me: &str) -> io::Result<std::fs::File> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)?;
    let owner = sid::pipe_server_user(&f)?;
    if owner != me {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{path} is served by another user ({owner}); not handing links to it"),
        ));
    }
    Ok(f)
}

pub fn tell(name: &str, args: &[String]) -> io::Result<bool> {
    let me = sid::current_user()?;
    let path = super::pipe_name(name, &me)?;
    hand_to_running(&path, &me, args)
}

/// Hands `args` to the instance serving `path` (waiting while its pipe is busy); `false`
/// when none serves it.
fn hand_to_running(path: &str, me: &str, args: &[String]) -> io::Result<bool> {
    let start = Instant::now();
    loop {
        match open_ours(path, me) {
            Ok(mut f) => {
                hand_over(&mut f, args)?;
                return Ok(true);
            }
            Err(e)
                if e.raw_os_error() == Some(ERROR_PIPE_BUSY)
                    && start.elapsed() < HANDOFF_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        }
    }
}

pub fn claim(name: &str, args: &[String]) -> io::Result<Claim> {
    let me = sid::current_user()?;
    let path = super::pipe_name(name, &me)?;
    if hand_to_running(&path, &me, args)? {
        return Ok(Claim::HandedOver);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let first = {
        let _guard = rt.enter();
        // Fails when another start created the pipe a moment ago.
        ServerOptions::new()
            .first_pipe_instance(true)
            .reject_remote_clients(true)
            .create(&path)
    };
    match first {
        Ok(server) => Ok(Claim::First(Box::new(Pipe {
            rt,
            name: path,
            next: Some(server),
        }))),
        Err(_) => {
            let mut f = open_ours(&path, &me)?;
            hand_over(&mut f, args)?;
            Ok(Claim::HandedOver)
        }
    }
}

/// The user a process runs as, as a string SID (`S-1-5-21-…`). The Win32 calls have no
/// safe binding; each `unsafe` block says why it is sound.
#[allow(unsafe_code)]
mod sid {
    use std::io;
    use std::os::windows::io::AsRawHandle;

    use windows_sys::Win32::Foundation::{CloseHandle, HANDLE, LocalFree};
    use windows_sys::Win32::Security::Authorization::ConvertSidToStringSidW;
    use windows_sys::Win32::Security::{GetTokenInformation, TOKEN_QUERY, TOKEN_USER, TokenUser};
    use windows_sys::Win32::System::Pipes::GetNamedPipeServerProcessId;
    use windows_sys::Win32::System::Threading::{
        GetCurrentProcess, OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION,
    };

    /// A handle closed on drop.
    struct Owned(HANDLE);

    impl Drop for Owned {
        fn drop(&mut self) {
            // SAFETY: the handle came from a successful Open* call and is closed once.
            unsafe { CloseHandle(self.0) };
        }
    }

    /// This process's user.
    pub(super) fn current_user() -> io::Result<String> {
        // SAFETY: GetCurrentProcess returns a pseudo handle; it needs no closing.
        let process = unsafe { GetCurrentProcess() };
        token_user(process)
    }

    /// The user of the process serving the pipe `f` is connected to.
    pub(super) fn pipe_server_user(f: &std::fs::File) -> io::Result<String> {
        let mut pid = 0u32;
        // SAFETY: `f` is an open pipe handle for the duration of the call; `pid` is a
        // valid u32 to write to.
        if unsafe { GetNamedPipeServerProcessId(f.as_raw_handle() as HANDLE, &mut pid) } == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: plain call; a null result is checked below.
        let process = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
        if process.is_null() {
            return Err(io::Error::last_os_error());
        }
        let process = Owned(process);
        token_user(process.0)
    }

    /// The token user of `process` as a string SID.
    fn token_user(process: HANDLE) -> io::Result<String> {
        let mut token: HANDLE = std::ptr::null_mut();
        // SAFETY: `process` is a valid process handle; `token` receives a new handle.
        if unsafe { OpenProcessToken(process, TOKEN_QUERY, &mut token) } == 0 {
            return Err(io::Error::last_os_error());
        }
        let token = Owned(token);
        // TOKEN_USER plus the SID it points into: SECURITY_MAX_SID_SIZE (68) bytes is
        // the largest SID; u64 elements keep the buffer aligned for TOKEN_USER.
        let mut buf = [0u64; 16];
        let mut len = 0u32;
        // SAFETY: `buf` is writable for the size given and aligned for TOKEN_USER.
        let ok = unsafe {
            GetTokenInformation(
                token.0,
                TokenUser,
                buf.as_mut_ptr().cast(),
                std::mem::size_of_val(&buf) as u32,
                &mut len,
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: GetTokenInformation succeeded, so `buf` starts with a TOKEN_USER whose
        // SID pointer points into `buf`.
        let user = unsafe { &*buf.as_ptr().cast::<TOKEN_USER>() };
        let mut text: *mut u16 = std::ptr::null_mut();
        // SAFETY: the SID is valid (above); `text` receives a LocalAlloc'ed string.
        if unsafe { ConvertSidToStringSidW(user.User.Sid, &mut text) } == 0 {
            return Err(io::Error::last_os_error());
        }
        let mut n = 0;
        // SAFETY: `text` is a NUL-terminated UTF-16 string from ConvertSidToStringSidW.
        while unsafe { *text.add(n) } != 0 {
            n += 1;
        }
        // SAFETY: `n` u16s before the NUL are readable (counted above).
        let sid = String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(text, n) });
        // SAFETY: `text` was allocated by ConvertSidToStringSidW with LocalAlloc.
        unsafe { LocalFree(text.cast()) };
        Ok(sid)
    }
}
