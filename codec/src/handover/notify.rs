//! The successor's "I am ready" message: systemd's `sd_notify` protocol,
//! one datagram to the Unix socket named by `NOTIFY_SOCKET`.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::net::UnixDatagram;

/// Tells whoever started this process that it is ready: serving on the
/// sockets it took over. Sends `READY=1` to the Unix datagram socket
/// named in `NOTIFY_SOCKET`: the old process of a hand-over
/// ([`Successor::spawn`](super::Successor::spawn) returns then), or
/// systemd for a `Type=notify` service. `Ok(false)` when `NOTIFY_SOCKET`
/// is not set: nobody is waiting.
///
/// Call it once the servers are bound (or have taken their sockets over)
/// and spawned, not before: the old process starts to shut down as soon
/// as it gets the message.
///
/// ```no_run
/// # fn run() -> std::io::Result<()> {
/// // ...the servers are serving (`bind_inherited(addr).await?.spawn()`)...
/// if rpckit_codec::handover::notify_ready()? {
///     println!("told the old process (or systemd) that we are ready");
/// }
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// When the message cannot be sent (the socket is gone: the old process
/// gave up waiting).
pub fn notify_ready() -> io::Result<bool> {
    notify(b"READY=1\n")
}

/// The variable in which a successor finds the `NOTIFY_SOCKET` of the
/// service manager (systemd) that started the first process of a chain of
/// hand-overs; empty when there is none. A successor's own
/// `NOTIFY_SOCKET` is its predecessor's private socket, gone once that
/// process has exited, so the manager's travels in this one.
pub const MANAGER_NOTIFY_SOCKET: &str = "RPCKIT_MANAGER_NOTIFY_SOCKET";

fn notify(message: &[u8]) -> io::Result<bool> {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(false);
    };
    send(&target, message)?;
    Ok(true)
}

/// The `NOTIFY_SOCKET` of this process's service manager, if it has one:
/// [`MANAGER_NOTIFY_SOCKET`] in a successor (empty: none), `NOTIFY_SOCKET`
/// in a process that no hand-over started.
pub(crate) fn manager_socket() -> Option<OsString> {
    manager_socket_of(
        std::env::var_os(MANAGER_NOTIFY_SOCKET),
        std::env::var_os("NOTIFY_SOCKET"),
    )
}

fn manager_socket_of(passed: Option<OsString>, own: Option<OsString>) -> Option<OsString> {
    match passed {
        // Set by a predecessor: authoritative, even when empty (our own
        // NOTIFY_SOCKET is then the predecessor's, not a manager's).
        Some(passed) => Some(passed),
        None => own,
    }
    .filter(|socket| !socket.is_empty())
}

/// Tells the service manager at `manager` that `pid` is the service's
/// main process from now on (and that the service is ready), as a
/// process of a `Type=notify` unit that hands over to a successor must:
/// otherwise systemd takes our exit for the service's end and stops the
/// successor with it.
pub(crate) fn tell_main_pid(manager: &OsStr, pid: u32) -> io::Result<()> {
    send(manager, format!("MAINPID={pid}\nREADY=1\n").as_bytes())
}

/// One datagram to the socket at `target`: a path, or on Linux `@name`
/// for the abstract namespace.
fn send(target: &OsStr, message: &[u8]) -> io::Result<()> {
    let socket = UnixDatagram::unbound()?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::ffi::OsStrExt;
        // systemd may name a socket in the abstract namespace: `@name`.
        if let Some(name) = target.as_bytes().strip_prefix(b"@") {
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            socket.send_to_addr(message, &addr)?;
            return Ok(());
        }
    }
    socket.send_to(message, target)?;
    Ok(())
}

/// Whether a notification datagram says `READY=1` (among its lines).
pub(crate) fn says_ready(datagram: &[u8]) -> bool {
    datagram
        .split(|&byte| byte == b'\n')
        .any(|line| line == b"READY=1")
}

#[cfg(test)]
mod tests {
    use super::{manager_socket_of, says_ready};
    use std::ffi::OsString;

    fn some(text: &str) -> Option<OsString> {
        Some(text.into())
    }

    #[test]
    fn the_manager_is_the_passed_socket_or_else_our_own() {
        // Started by systemd.
        assert_eq!(
            manager_socket_of(None, some("/run/systemd/notify")),
            some("/run/systemd/notify")
        );
        assert_eq!(
            manager_socket_of(None, some("@abstract")),
            some("@abstract")
        );
        // A successor: the predecessor's private socket is not a manager.
        assert_eq!(
            manager_socket_of(some("/run/systemd/notify"), some("/tmp/private")),
            some("/run/systemd/notify")
        );
        assert_eq!(manager_socket_of(some(""), some("/tmp/private")), None);
        assert_eq!(manager_socket_of(None, None), None);
        assert_eq!(manager_socket_of(None, some("")), None);
    }

    #[test]
    fn ready_is_one_line_among_others() {
        assert!(says_ready(b"READY=1"));
        assert!(says_ready(b"READY=1\n"));
        assert!(says_ready(b"STATUS=serving\nREADY=1\n"));
        assert!(!says_ready(b"STATUS=READY=1"));
        assert!(!says_ready(b"READY=0\n"));
        assert!(!says_ready(b""));
    }
}
