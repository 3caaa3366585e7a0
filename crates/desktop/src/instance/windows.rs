//! Windows: a named pipe `\\.\pipe\<name>-<user>` (tokio's safe named-pipe API on a
//! one-worker runtime; the later start is a plain file client).

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

pub fn claim(name: &str, args: &[String]) -> io::Result<Claim> {
    let user = std::env::var("USERNAME").unwrap_or_default();
    let path = format!(r"\\.\pipe\{name}-{user}");
    let start = Instant::now();
    loop {
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
        {
            Ok(mut f) => {
                hand_over(&mut f, args)?;
                return Ok(Claim::HandedOver);
            }
            Err(e)
                if e.raw_os_error() == Some(ERROR_PIPE_BUSY)
                    && start.elapsed() < HANDOFF_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => break,
            Err(e) => return Err(e),
        }
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
            let mut f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)?;
            hand_over(&mut f, args)?;
            Ok(Claim::HandedOver)
        }
    }
}
