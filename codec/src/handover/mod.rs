//! Zero-downtime restart for rpckit servers: a new process takes over the
//! listening sockets of the old one, the old one finishes its in-flight
//! calls and exits, and no connection is refused in between.
//!
//! The key decision: **the kernel's accept queue is the hand-over.** The
//! old process does not stop listening and the new one does not bind: the
//! same listening socket is open in both for a moment, so a client that
//! connects during the switch waits in one queue that either process
//! accepts from. Nothing is proxied, nothing is re-bound, and no port is
//! ever closed.
//!
//! The sockets travel the way systemd passes them (socket activation), so
//! the same successor code runs under systemd too:
//!
//! | variable | set by the old process to |
//! |---|---|
//! | `LISTEN_FDS` | how many sockets follow, as fds 3, 4, … |
//! | `LISTEN_FDNAMES` | their names, `:`-separated (`http`, `tcp`, or yours) |
//! | `LISTEN_PID` | removed: the successor's pid is not known before it runs; a `LISTEN_PID` that is set and is not ours makes the sockets not ours |
//! | `NOTIFY_SOCKET` | a Unix datagram socket of the old process's, private to it |
//! | [`RPCKIT_MANAGER_NOTIFY_SOCKET`](MANAGER_NOTIFY_SOCKET) | the service manager's `NOTIFY_SOCKET` (below), empty when there is none |
//!
//! The successor takes the sockets ([`listen_fds`], or a transport's
//! `bind_inherited`), starts serving, and calls [`notify_ready`], which
//! sends `READY=1` to `NOTIFY_SOCKET` (systemd's `sd_notify` protocol:
//! under systemd with `Type=notify` the same call tells systemd). The old
//! process's [`Successor::spawn`] returns once that message arrives; then
//! the old process shuts down gracefully and exits.
//!
//! ```no_run
//! # async fn run(fd: std::os::fd::OwnedFd) -> std::io::Result<()> {
//! use rpckit_codec::handover::Successor;
//!
//! // In the old process: the same program with the same arguments.
//! let child = Successor::current_exe()?
//!     .listener("http", fd)
//!     .spawn()
//!     .await?; // returns once the successor has called notify_ready()
//! println!("handed over to pid {:?}", child.id());
//! // ...now shut the servers down gracefully and exit.
//! # Ok(())
//! # }
//! ```
//!
//! # Under systemd
//!
//! A `Type=notify` service is one main process to systemd: when it exits,
//! the service has stopped, and systemd stops what is left of it — the
//! successor too. So the old process, once its successor is ready, tells
//! the service manager `MAINPID=<the successor's pid>` (and `READY=1`) on
//! the `NOTIFY_SOCKET` it inherited, before [`Successor::spawn`] returns;
//! it is the main process then, so the default `NotifyAccess=main` lets
//! the message through. The successor's own `NOTIFY_SOCKET` is the old
//! process's private socket (for the readiness handshake above, and gone
//! once the old process exits), so the manager's socket is passed on in
//! [`RPCKIT_MANAGER_NOTIFY_SOCKET`](MANAGER_NOTIFY_SOCKET), and the
//! successor tells the manager the same way at its own hand-over. A name
//! starting with `@` is in the abstract namespace, as systemd may use.
//! Without a service manager nothing is sent, and the variable is passed
//! on empty.
//!
//! ```ini
//! [Service]
//! Type=notify
//! ExecStart=/usr/local/bin/my-server --addr 0.0.0.0:7001
//! # SIGUSR2 (or an RPC) makes the server hand over to a new build.
//! ExecReload=/bin/kill -USR2 $MAINPID
//! ```
//!
//! The transports build on this: `rpckit_http::ServerHandle::hand_over` and
//! `rpckit_tcp::ServerHandle::hand_over` start a successor with their
//! listeners, and `bind_inherited` on their builders takes the sockets over
//! (or binds an address when nothing was inherited).
//!
//! This module lives in `rpckit-codec` because both transports build on it
//! and that is the one crate they share; it is compiled with the
//! `handover` feature, which the transports turn on.
//!
//! # Unsafe code
//!
//! None here: the workspace forbids it. The two steps that need it —
//! `dup2` between `fork` and `exec`, and adopting a raw fd — are done by
//! `command-fds` and `listenfd`, two small crates that do exactly that.
//!
//! Unix only.

mod inherit;
mod notify;
mod successor;

pub use inherit::{listen_fds, take_tcp, take_unix, Inherited, InheritedListener};
pub use notify::{notify_ready, MANAGER_NOTIFY_SOCKET};
pub use successor::{Successor, SuccessorFailed, DEFAULT_READY_TIMEOUT};
