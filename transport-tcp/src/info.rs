//! What a frame's extensions say about its connection.
//!
//! Every frame carries a [`ConnectionId`]. A TCP frame also carries
//! [`PeerAddr`](rpckit_codec::PeerAddr) and [`LocalAddr`]; a Unix socket
//! frame [`LocalPath`] and, where the OS reports them, [`PeerCredentials`].
//! rpckit handlers take any of them with `rpckit::extract::Extension<T>`
//! or as an argument of that type directly.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Identifies one connection among all this process has served: the same
/// for every frame of a connection, never reused.
///
/// ```
/// use rpckit_tcp::ConnectionId;
///
/// let (a, b) = (ConnectionId::next(), ConnectionId::next());
/// assert!(b.0 > a.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

impl ConnectionId {
    /// A fresh id, one more than the last (a process-wide counter).
    pub fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ConnectionId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// The server's own address of a TCP connection (useful behind several
/// listeners, or a wildcard bind).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LocalAddr(pub std::net::SocketAddr);

/// The path of the Unix socket a connection came in on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LocalPath(pub Arc<Path>);

/// Who is on the other end of a Unix socket, as the kernel reports it
/// (`SO_PEERCRED` on Linux): not forgeable by the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeerCredentials {
    /// The peer process's user id.
    pub uid: u32,
    /// The peer process's group id.
    pub gid: u32,
    /// The peer's process id, where the OS reports it.
    pub pid: Option<i32>,
}
