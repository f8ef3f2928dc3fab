//! The successor's side: taking over the listening sockets passed through
//! `LISTEN_FDS`.
//!
//! The sockets belong to the process, not to a server, so they are taken
//! from one process-wide store: the first call reads the environment
//! (and removes the variables, so that our own children do not think the
//! sockets are theirs), and each socket can be taken once, by whichever
//! server asks for it first.

use std::io;
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

/// A listening socket passed to this process, with the name it was given
/// (`LISTEN_FDNAMES`; systemd's `FileDescriptorName=`).
#[derive(Debug)]
pub struct Inherited {
    name: Option<String>,
    listener: InheritedListener,
}

impl Inherited {
    /// The name given to the socket, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The socket.
    pub fn listener(&self) -> &InheritedListener {
        &self.listener
    }

    /// The socket, to hand to a transport's `from_std_listener`.
    pub fn into_listener(self) -> InheritedListener {
        self.listener
    }
}

/// The kinds of listening socket a server can take over.
#[derive(Debug)]
#[non_exhaustive]
pub enum InheritedListener {
    /// A TCP listener (IPv4 or IPv6).
    Tcp(TcpListener),
    /// A Unix stream listener.
    Unix(UnixListener),
}

/// Takes every inherited listening socket not taken yet, in fd order
/// (fd 3 first). Empty when the process inherited none — it was not
/// started by a hand-over or by systemd socket activation, or
/// `LISTEN_PID` names another process.
///
/// A passed fd that is neither a TCP nor a Unix stream socket is left
/// alone (and logged).
///
/// The environment is read on the first call of any function of this
/// module, and `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES` are removed
/// then; call it early, before other threads read the environment
/// through C code.
///
/// # Errors
///
/// When a socket cannot be marked close-on-exec (it stays in place).
pub fn listen_fds() -> io::Result<Vec<Inherited>> {
    let mut slots = slots();
    let mut taken = Vec::new();
    for index in 0..slots.names.len() {
        let name = slots.names[index].clone();
        if let Some(listener) = take_if_tcp(&mut slots, index)? {
            taken.push(Inherited {
                name,
                listener: InheritedListener::Tcp(listener),
            });
        } else if let Some(listener) = take_if_unix(&mut slots, index)? {
            taken.push(Inherited {
                name,
                listener: InheritedListener::Unix(listener),
            });
        } else if slots.untaken(index) {
            tracing::warn!(
                fd = 3 + index,
                "an inherited fd is neither a TCP nor a Unix stream socket; left alone"
            );
        }
    }
    Ok(taken)
}

/// Takes every inherited TCP listener not taken yet, of any name (`None`)
/// or of the name `name`. See [`listen_fds`].
///
/// # Errors
///
/// As [`listen_fds`].
pub fn take_tcp(name: Option<&str>) -> io::Result<Vec<TcpListener>> {
    let mut slots = slots();
    let mut taken = Vec::new();
    for index in slots.named(name) {
        taken.extend(take_if_tcp(&mut slots, index)?);
    }
    Ok(taken)
}

/// Takes every inherited Unix stream listener not taken yet, of any name
/// (`None`) or of the name `name`. See [`listen_fds`].
///
/// # Errors
///
/// As [`listen_fds`].
pub fn take_unix(name: Option<&str>) -> io::Result<Vec<UnixListener>> {
    let mut slots = slots();
    let mut taken = Vec::new();
    for index in slots.named(name) {
        taken.extend(take_if_unix(&mut slots, index)?);
    }
    Ok(taken)
}

/// The process's inherited fds and their names.
struct Slots {
    fds: listenfd::ListenFd,
    /// One per fd; `None` where no (or an empty) name was given.
    names: Vec<Option<String>>,
    /// Which fds have been taken.
    taken: Vec<bool>,
}

impl Slots {
    fn from_env() -> Self {
        // Read before listenfd reads and removes LISTEN_FDS and LISTEN_PID.
        let names = std::env::var("LISTEN_FDNAMES").ok();
        let fds = listenfd::ListenFd::from_env();
        std::env::remove_var("LISTEN_FDNAMES");
        let mut names: Vec<Option<String>> = names
            .as_deref()
            .unwrap_or("")
            .split(':')
            .map(|name| (!name.is_empty()).then(|| name.to_owned()))
            .collect();
        names.resize(fds.len(), None);
        let taken = vec![false; fds.len()];
        if !taken.is_empty() {
            tracing::debug!(count = taken.len(), ?names, "inherited listening sockets");
        }
        Slots { fds, names, taken }
    }

    /// The indexes of the fds named `name` (all, for `None`).
    fn named(&self, name: Option<&str>) -> Vec<usize> {
        (0..self.names.len())
            .filter(|&index| name.is_none() || self.names[index].as_deref() == name)
            .collect()
    }

    fn untaken(&self, index: usize) -> bool {
        !self.taken[index]
    }
}

fn slots() -> MutexGuard<'static, Slots> {
    static SLOTS: OnceLock<Mutex<Slots>> = OnceLock::new();
    SLOTS
        .get_or_init(|| Mutex::new(Slots::from_env()))
        .lock()
        // The store is consistent after any panic: each take is one step.
        .unwrap_or_else(PoisonError::into_inner)
}

/// Takes fd `index` if it is a TCP socket; `None` if it is taken or of
/// another kind.
fn take_if_tcp(slots: &mut Slots, index: usize) -> io::Result<Option<TcpListener>> {
    let taken = of_kind(slots.fds.take_tcp_listener(index))?;
    slots.taken[index] |= taken.is_some();
    Ok(taken)
}

/// As [`take_if_tcp`], for a Unix stream socket.
fn take_if_unix(slots: &mut Slots, index: usize) -> io::Result<Option<UnixListener>> {
    let taken = of_kind(slots.fds.take_unix_listener(index))?;
    slots.taken[index] |= taken.is_some();
    Ok(taken)
}

/// listenfd answers `InvalidInput` for an fd of another kind (and leaves
/// it in place): that is not an error here, only not a match.
fn of_kind<T>(taken: io::Result<Option<T>>) -> io::Result<Option<T>> {
    match taken {
        Err(err) if err.kind() == io::ErrorKind::InvalidInput => Ok(None),
        other => other,
    }
}
