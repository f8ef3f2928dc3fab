//! The old process's side: starting a successor with our listening
//! sockets and waiting until it says it is ready.

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use command_fds::{CommandFdExt, FdMapping};
use tokio::net::UnixDatagram;
use tokio::process::Child;

use super::notify::{self, says_ready, MANAGER_NOTIFY_SOCKET};

/// The default of [`Successor::ready_timeout`]: 30 seconds.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The first fd a successor finds its sockets at (systemd's
/// `SD_LISTEN_FDS_START`).
const FIRST_FD: i32 = 3;

/// A process to hand listening sockets over to: a command, the sockets
/// (passed as fds 3, 4, … with `LISTEN_FDS` and `LISTEN_FDNAMES`), and how
/// long it may take to say it is ready.
///
/// ```no_run
/// # async fn run(listener: std::net::TcpListener) -> std::io::Result<()> {
/// use std::time::Duration;
/// use rpckit_codec::handover::Successor;
///
/// let child = Successor::current_exe()?
///     .listener("http", listener)
///     .ready_timeout(Duration::from_secs(10))
///     .spawn()
///     .await?;
/// # let _ = child;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Successor {
    command: Command,
    listeners: Vec<(String, OwnedFd)>,
    ready_timeout: Duration,
}

impl Successor {
    /// Runs `command` as the successor. Its environment, arguments,
    /// working directory and stdio are the command's (by default this
    /// process's); the hand-over sets only the variables of the
    /// [crate docs](crate).
    pub fn new(command: Command) -> Self {
        Successor {
            command,
            listeners: Vec::new(),
            ready_timeout: DEFAULT_READY_TIMEOUT,
        }
    }

    /// The program this process runs, with the same arguments: what a
    /// restart for new code wants. The program is the file at the path
    /// this process was started from, so a new build installed there
    /// (written elsewhere and renamed into place) is what runs.
    ///
    /// # Errors
    ///
    /// When the path of this process's program cannot be found.
    pub fn current_exe() -> io::Result<Self> {
        let mut command = Command::new(program_path()?);
        command.args(std::env::args_os().skip(1));
        Ok(Successor::new(command))
    }

    /// The command, to add arguments or variables.
    pub fn command_mut(&mut self) -> &mut Command {
        &mut self.command
    }

    /// Passes `listener` (a duplicate of it: both processes hold the same
    /// socket) as the next fd, named `name`. The transports name theirs
    /// `http`, `tcp` and `unix`.
    ///
    /// # Panics
    ///
    /// When `name` is empty or holds a `:` (the separator of
    /// `LISTEN_FDNAMES`) or a control character.
    #[track_caller]
    pub fn listener(mut self, name: &str, listener: impl Into<OwnedFd>) -> Self {
        assert!(
            !name.is_empty() && !name.contains(':') && !name.chars().any(char::is_control),
            "a listener name must be non-empty, without `:` or control characters: {name:?}"
        );
        self.listeners.push((name.to_owned(), listener.into()));
        self
    }

    /// How long the successor may take from starting to
    /// [`notify_ready`](super::notify_ready). Default 30 s. Past it the
    /// successor is killed and [`spawn`](Self::spawn) fails.
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// How many listeners will be passed.
    pub fn listener_count(&self) -> usize {
        self.listeners.len()
    }

    /// Starts the successor and waits until it says it is ready. From the
    /// moment it runs, it can accept on the sockets too; once this
    /// returns, shut the servers of this process down gracefully — the
    /// successor serves everything that connects from then on.
    ///
    /// This process's duplicates of the sockets are closed again when it
    /// returns; its servers' own are untouched either way, so on an error
    /// they simply keep serving.
    ///
    /// When this process runs under a service manager (systemd, a
    /// `Type=notify` unit: see the [module docs](super#under-systemd)),
    /// the manager is told `MAINPID=<the successor's pid>` and `READY=1`
    /// before this returns, so that our exit is not taken for the
    /// service's end.
    ///
    /// # Errors
    ///
    /// - the command does not start (its own error);
    /// - it exits before it is ready: [`SuccessorFailed::Exited`] in an
    ///   error of kind `Other`;
    /// - it is not ready within the [`ready_timeout`](Self::ready_timeout):
    ///   it is killed, and [`SuccessorFailed::NotReady`] in an error of kind
    ///   `TimedOut`;
    /// - the service manager cannot be told the successor's pid: it is
    ///   killed, and [`SuccessorFailed::ManagerNotTold`] in an error of the
    ///   failed send's kind.
    pub async fn spawn(self) -> io::Result<Child> {
        let Successor {
            mut command,
            listeners,
            ready_timeout,
        } = self;
        let notify = NotifySocket::bind()?;
        // Under systemd, the service manager must learn the successor's pid;
        // the successor must know whom to tell at its own hand-over.
        let manager = notify::manager_socket();
        let count = listeners.len();
        let names: Vec<&str> = listeners.iter().map(|(name, _)| name.as_str()).collect();
        command
            .env("LISTEN_FDS", count.to_string())
            .env("LISTEN_FDNAMES", names.join(":"))
            .env("NOTIFY_SOCKET", &notify.path)
            .env(MANAGER_NOTIFY_SOCKET, manager.clone().unwrap_or_default())
            // Not known before the successor runs; a stale one would make
            // it refuse the sockets.
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDS_FIRST_FD");
        let mappings = listeners
            .into_iter()
            .zip(FIRST_FD..)
            .map(|((_, parent_fd), child_fd)| FdMapping {
                parent_fd,
                child_fd,
            })
            .collect();
        command
            .fd_mappings(mappings)
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
        let mut command = tokio::process::Command::from(command);
        let mut child = command.spawn()?;
        // The command holds our duplicates of the sockets: close them.
        drop(command);
        let pid = child.id();
        tracing::info!(
            ?pid,
            listeners = count,
            "started a successor; waiting until it is ready"
        );

        let outcome = tokio::select! {
            // Readiness first: a successor that said it was ready and has
            // exited since (on a loaded machine both can be seen in one
            // poll) was ready; a random pick would call it a failure.
            biased;
            ready = tokio::time::timeout(ready_timeout, notify.ready()) => match ready {
                Ok(Ok(())) => Ok(()),
                Ok(Err(err)) => Err(err),
                Err(_) => Err(SuccessorFailed::NotReady(ready_timeout).into()),
            },
            status = child.wait() => Err(match status {
                Ok(status) => SuccessorFailed::Exited(status).into(),
                Err(err) => err,
            }),
        };
        // Before we return: our exit must not look like the service's end.
        let outcome = outcome.and_then(|()| match (&manager, pid) {
            (Some(manager), Some(pid)) => notify::tell_main_pid(manager, pid)
                .map(|()| {
                    tracing::info!(
                        pid,
                        ?manager,
                        "told the service manager the successor's pid"
                    )
                })
                .map_err(|err| SuccessorFailed::ManagerNotTold(err).into()),
            _ => Ok(()),
        });
        match outcome {
            Ok(()) => {
                tracing::info!(?pid, "the successor is ready");
                Ok(child)
            }
            Err(err) => {
                tracing::warn!(?pid, error = %err, "the hand-over failed; still serving");
                // Killed, so that a successor that hangs does not serve
                // half-ready beside us. A no-op for one that exited.
                let _ = child.start_kill();
                let _ = child.wait().await;
                Err(err)
            }
        }
    }
}

impl From<Command> for Successor {
    fn from(command: Command) -> Self {
        Successor::new(command)
    }
}

/// Why a hand-over failed, inside the `io::Error` of
/// [`Successor::spawn`] (`err.get_ref()` and `downcast_ref`).
#[derive(Debug)]
#[non_exhaustive]
pub enum SuccessorFailed {
    /// The successor exited before it said it was ready.
    Exited(ExitStatus),
    /// The successor did not say it was ready within this long; it was
    /// killed.
    NotReady(Duration),
    /// The successor was ready, but the service manager this process was
    /// started by (its `NOTIFY_SOCKET`, or
    /// [`MANAGER_NOTIFY_SOCKET`](super::MANAGER_NOTIFY_SOCKET) in a
    /// successor) could not be told its pid: the successor was killed,
    /// since the manager would take our exit for the service's end.
    ManagerNotTold(io::Error),
}

impl fmt::Display for SuccessorFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SuccessorFailed::Exited(status) => {
                write!(f, "the successor exited ({status}) before it was ready")
            }
            SuccessorFailed::NotReady(timeout) => {
                write!(f, "the successor was not ready within {timeout:?}")
            }
            SuccessorFailed::ManagerNotTold(err) => {
                write!(
                    f,
                    "could not tell the service manager the successor's pid: {err}"
                )
            }
        }
    }
}

impl std::error::Error for SuccessorFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SuccessorFailed::ManagerNotTold(err) => Some(err),
            _ => None,
        }
    }
}

impl From<SuccessorFailed> for io::Error {
    fn from(failed: SuccessorFailed) -> Self {
        let kind = match &failed {
            SuccessorFailed::Exited(_) => io::ErrorKind::Other,
            SuccessorFailed::NotReady(_) => io::ErrorKind::TimedOut,
            SuccessorFailed::ManagerNotTold(err) => err.kind(),
        };
        io::Error::new(kind, failed)
    }
}

/// The path of this process's program. On Linux `current_exe` reads
/// `/proc/self/exe`, which says `<path> (deleted)` once a new build has
/// replaced the file: the new build at `<path>` is the one wanted.
fn program_path() -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    if exe.exists() {
        return Ok(exe);
    }
    let text = exe.to_string_lossy();
    match text.strip_suffix(" (deleted)") {
        Some(path) if Path::new(path).exists() => Ok(PathBuf::from(path)),
        _ => Ok(exe),
    }
}

/// A Unix datagram socket of ours for the successor's `READY=1`, in a
/// directory only this user can enter; removed again on drop.
#[derive(Debug)]
struct NotifySocket {
    dir: PathBuf,
    path: PathBuf,
    socket: UnixDatagram,
}

impl NotifySocket {
    fn bind() -> io::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("rpckit-handover-{}-{n}", std::process::id()));
        // A leftover of an earlier process that had our pid.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let path = dir.join("notify");
        let socket = match UnixDatagram::bind(&path) {
            Ok(socket) => socket,
            Err(err) => {
                let _ = std::fs::remove_dir(&dir);
                return Err(err);
            }
        };
        Ok(NotifySocket { dir, path, socket })
    }

    /// Completes when a datagram says `READY=1`; others (`STATUS=...`)
    /// are ignored.
    async fn ready(&self) -> io::Result<()> {
        let mut buffer = [0u8; 4096];
        loop {
            let n = self.socket.recv(&mut buffer).await?;
            if says_ready(&buffer[..n]) {
                return Ok(());
            }
        }
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.dir);
    }
}
