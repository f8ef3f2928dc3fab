//! The successor's "I am ready" message: systemd's `sd_notify` protocol,
//! one datagram to the Unix socket named by `NOTIFY_SOCKET`.

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

fn notify(message: &[u8]) -> io::Result<bool> {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(false);
    };
    let socket = UnixDatagram::unbound()?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::ffi::OsStrExt;
        // systemd may name a socket in the abstract namespace: `@name`.
        if let Some(name) = target.as_bytes().strip_prefix(b"@") {
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
            socket.send_to_addr(message, &addr)?;
            return Ok(true);
        }
    }
    socket.send_to(message, &target)?;
    Ok(true)
}

/// Whether a notification datagram says `READY=1` (among its lines).
pub(crate) fn says_ready(datagram: &[u8]) -> bool {
    datagram
        .split(|&byte| byte == b'\n')
        .any(|line| line == b"READY=1")
}

#[cfg(test)]
mod tests {
    use super::says_ready;

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
