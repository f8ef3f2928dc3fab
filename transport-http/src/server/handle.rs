//! A bound server, a running one, and a stopped one that can be bound
//! again: the lifecycle `bind → spawn → shutdown → bind → ...`.

use std::future::{self, Future};
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{accept, local_addrs, Config};

/// The name ([`LISTEN_FDNAMES`](rpckit_codec::handover)) of the sockets an HTTP
/// server hands over.
#[cfg(unix)]
pub const LISTENER_NAME: &str = "http";

/// A server with its sockets bound, not yet accepting.
#[derive(Debug)]
pub struct BoundServer {
    listeners: Vec<TcpListener>,
    addrs: Vec<SocketAddr>,
    config: Arc<Config>,
    inherited: bool,
}

impl BoundServer {
    pub(super) fn new(listeners: Vec<TcpListener>, config: Arc<Config>) -> io::Result<Self> {
        let addrs = local_addrs(&listeners)?;
        Ok(BoundServer {
            listeners,
            addrs,
            config,
            inherited: false,
        })
    }

    /// Marks the listeners as taken over from another process.
    pub(super) fn inherited(mut self) -> Self {
        self.inherited = true;
        self
    }

    /// Whether the server's sockets were taken over from another process
    /// ([`bind_inherited`](crate::ServerBuilder::bind_inherited) found
    /// some) rather than bound here.
    pub fn is_inherited(&self) -> bool {
        self.inherited
    }

    /// The address the server listens on (the first, when it listens on
    /// several).
    pub fn local_addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Every address the server listens on, in the order they were given
    /// to [`bind_all`](crate::ServerBuilder::bind_all).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Serves until the process ends. Accept errors (such as running out
    /// of file descriptors) are logged and retried, not returned.
    pub async fn serve(self) -> io::Result<()> {
        accept::run(self.listeners.into(), self.config, future::pending()).await
    }

    /// Serves until `signal` completes, then shuts down gracefully as
    /// [`ServerHandle::shutdown`] does, and returns the stopped server so
    /// that it can be [bound again](StoppedServer::bind).
    ///
    /// ```no_run
    /// # async fn run(server: rpckit_http::BoundServer) -> std::io::Result<()> {
    /// let stopped = server
    ///     .serve_with_shutdown(async { tokio::signal::ctrl_c().await.unwrap() })
    ///     .await?;
    /// println!("stopped; was on {:?}", stopped.local_addrs());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn serve_with_shutdown(
        self,
        signal: impl Future<Output = ()>,
    ) -> io::Result<StoppedServer> {
        let stopped = StoppedServer {
            addrs: self.addrs.clone(),
            config: Arc::clone(&self.config),
        };
        let signal = async move {
            signal.await;
            None
        };
        accept::run(self.listeners.into(), self.config, signal).await?;
        Ok(stopped)
    }

    /// Serves on a new tokio task; the handle shuts it down.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn spawn(self) -> ServerHandle {
        let (stop, stopped) = oneshot::channel();
        // A dropped handle detaches the server, as a dropped `JoinHandle`
        // detaches its task: only `shutdown` stops it.
        let signal = async move {
            match stopped.await {
                Ok(linger) => linger,
                Err(_) => future::pending().await,
            }
        };
        let config = Arc::clone(&self.config);
        let listeners: Arc<[TcpListener]> = self.listeners.into();
        let weak = Arc::downgrade(&listeners);
        let task = tokio::spawn(accept::run(listeners, self.config, signal));
        ServerHandle {
            stopped: StoppedServer {
                addrs: self.addrs,
                config,
            },
            listeners: weak,
            stop,
            task,
        }
    }
}

/// Controls a server started with [`BoundServer::spawn`].
///
/// Dropping the handle leaves the server running.
#[derive(Debug)]
pub struct ServerHandle {
    /// What the server becomes once stopped.
    stopped: StoppedServer,
    /// The accept loop's listeners, while it has them: a hand-over
    /// duplicates them. Weak, so that a shutdown closes them at once.
    listeners: Weak<[TcpListener]>,
    /// Sends the linger time ([`Self::shutdown_lingering`]), if any.
    stop: oneshot::Sender<Option<Duration>>,
    task: JoinHandle<io::Result<()>>,
}

impl ServerHandle {
    /// The address the server listens on (the first, when it listens on
    /// several).
    pub fn local_addr(&self) -> SocketAddr {
        self.stopped.addrs[0]
    }

    /// Every address the server listens on.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.stopped.addrs
    }

    /// Shuts the server down gracefully and returns it stopped, ready to be
    /// [bound again](StoppedServer::bind) with the same routes and
    /// settings.
    ///
    /// 1. The listening sockets close at once: new connections are refused.
    /// 2. Idle keep-alive connections close at once; busy HTTP/1
    ///    connections close after their current request is answered;
    ///    HTTP/2 clients get a `GOAWAY` and their open streams finish.
    /// 3. Connections still busy after the
    ///    [`shutdown_timeout`](crate::ServerBuilder::shutdown_timeout)
    ///    (default 30 s) are closed mid-request; their clients see the
    ///    connection end without an answer.
    ///
    /// Returns once every connection is closed.
    pub async fn shutdown(self) -> StoppedServer {
        self.stop_with(None).await
    }

    /// Shuts down as [`shutdown`](Self::shutdown) does, but first lets
    /// every HTTP/1 connection send one more request, for up to `linger`:
    /// what to do after a [hand-over](Self::hand_over).
    ///
    /// A keep-alive client may send its next request at the very moment
    /// the server closes the connection as idle; the request is then lost
    /// (it never reached a handler, but the client cannot know that).
    /// Lingering, the server stops accepting (the successor accepts), and
    /// answers each connection's next request — or the one in flight —
    /// with `Connection: close`, so its client reconnects, to the
    /// successor, before it sends again. HTTP/2 connections get their
    /// `GOAWAY` at once. Connections still open after `linger` (clients
    /// that sent nothing meanwhile) are shut down as by `shutdown`.
    ///
    /// Returns once every connection is closed.
    pub async fn shutdown_lingering(self, linger: Duration) -> StoppedServer {
        self.stop_with(Some(linger)).await
    }

    async fn stop_with(self, linger: Option<Duration>) -> StoppedServer {
        // The server may be gone already (its task panicked); then there
        // is nothing to signal.
        let _ = self.stop.send(linger);
        match self.task.await {
            Ok(result) => {
                if let Err(err) = result {
                    tracing::error!(error = %err, "server ended with an error");
                }
            }
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            Err(_) => {}
        }
        self.stopped
    }

    /// Duplicates of the listening sockets, to pass to a successor of
    /// several servers ([`Successor::listener`](rpckit_codec::handover::Successor::listener));
    /// [`hand_over`](Self::hand_over) does it for this server alone.
    ///
    /// # Errors
    ///
    /// When the server has stopped (its sockets are closed), or a
    /// duplicate cannot be made (out of file descriptors).
    #[cfg(unix)]
    pub fn listener_fds(&self) -> io::Result<Vec<std::os::fd::OwnedFd>> {
        use std::os::fd::AsFd;
        self.serving_listeners()?
            .iter()
            .map(|listener| listener.as_fd().try_clone_to_owned())
            .collect()
    }

    /// The accept loop's listeners, while it runs.
    fn serving_listeners(&self) -> io::Result<Arc<[TcpListener]>> {
        self.listeners
            .upgrade()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the server has stopped"))
    }

    /// Starts `successor` with this server's listening sockets (as fds
    /// 3, 4, … named `http`, with `LISTEN_FDS`) and returns once it says
    /// it is ready ([`notify_ready`](crate::notify_ready)): the
    /// zero-downtime restart. The successor takes the sockets over with
    /// [`bind_inherited`](crate::ServerBuilder::bind_inherited).
    ///
    /// This server keeps serving meanwhile, and both accept from the same
    /// kernel queue, so no connection is refused. Once this returns, shut
    /// this server down — [`shutdown_lingering`](Self::shutdown_lingering)
    /// loses no request of a keep-alive client — and exit. On an error
    /// nothing has changed: this server still serves alone.
    ///
    /// ```no_run
    /// # async fn run(handle: rpckit_http::ServerHandle) -> std::io::Result<()> {
    /// use std::time::Duration;
    /// use rpckit_http::Successor;
    ///
    /// // The same program with the same arguments: new code, if a new
    /// // build was installed.
    /// let successor = handle.hand_over(Successor::current_exe()?).await?;
    /// println!("pid {:?} serves now", successor.id());
    /// handle.shutdown_lingering(Duration::from_secs(1)).await;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Successor::spawn`](rpckit_codec::handover::Successor::spawn): the
    /// successor does not start, exits, or is not ready in time (it is
    /// killed then); or as [`listener_fds`](Self::listener_fds).
    #[cfg(unix)]
    pub async fn hand_over(
        &self,
        successor: impl Into<rpckit_codec::handover::Successor>,
    ) -> io::Result<tokio::process::Child> {
        let successor = self
            .listener_fds()?
            .into_iter()
            .fold(successor.into(), |successor, fd| {
                successor.listener(LISTENER_NAME, fd)
            });
        successor.spawn().await
    }

    /// Restarts the server in place, refusing no connection and losing
    /// no request: flaskJSONRPCServer's restart, without its downtime.
    ///
    /// A new server with the same routes and settings starts accepting on
    /// the same sockets (duplicates of them) first; then this one stops
    /// accepting and shuts down as
    /// [`shutdown_lingering`](Self::shutdown_lingering) does for
    /// [`RESTART_LINGER`]: its in-flight calls finish, and each keep-alive
    /// connection's next request is answered with `Connection: close`, so
    /// its client reconnects, to the new server. The routes' services are
    /// the same instances, so their state (counters, caches, tables) lives
    /// on. Returns the new server once the old one has closed every
    /// connection. While both serve, each has its own
    /// [`max_connections`](crate::ServerBuilder::max_connections).
    ///
    /// ```no_run
    /// # async fn run(handle: rpckit_http::ServerHandle) -> std::io::Result<()> {
    /// let addr = handle.local_addr();
    /// let handle = handle.restart().await?;
    /// assert_eq!(handle.local_addr(), addr);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// To stop in between instead (the port refuses connections until it
    /// is bound again): [`shutdown`](Self::shutdown), then
    /// [`StoppedServer::bind`].
    ///
    /// # Errors
    ///
    /// When the server has stopped already, or its sockets cannot be
    /// duplicated (out of file descriptors). Nothing changed then: the
    /// server, if it was serving, still serves.
    pub async fn restart(self) -> io::Result<ServerHandle> {
        let listeners = self
            .serving_listeners()?
            .iter()
            .map(duplicate)
            .collect::<io::Result<Vec<_>>>()?;
        let next = BoundServer::new(listeners, Arc::clone(&self.stopped.config))?.spawn();
        self.shutdown_lingering(RESTART_LINGER).await;
        Ok(next)
    }
}

/// How long [`ServerHandle::restart`] keeps the old server's idle
/// keep-alive connections open for their next request: long enough for a
/// request already on the wire, short enough not to hold a restart up.
pub const RESTART_LINGER: Duration = Duration::from_secs(2);

/// A second handle on the same listening socket: both accept from one
/// kernel queue, so a connection is accepted by one or the other, never
/// refused.
fn duplicate(listener: &TcpListener) -> io::Result<TcpListener> {
    #[cfg(unix)]
    let socket = {
        use std::os::fd::AsFd;
        listener.as_fd().try_clone_to_owned()?
    };
    #[cfg(windows)]
    let socket = {
        use std::os::windows::io::AsSocket;
        listener.as_socket().try_clone_to_owned()?
    };
    let listener = std::net::TcpListener::from(socket);
    listener.set_nonblocking(true)?;
    TcpListener::from_std(listener)
}

/// A server that was shut down, with its routes and settings: bind it to
/// serve again.
#[derive(Debug)]
pub struct StoppedServer {
    addrs: Vec<SocketAddr>,
    config: Arc<Config>,
}

impl StoppedServer {
    /// The addresses the server listened on; [`bind`](Self::bind) binds
    /// them again. A port that was given as 0 is the port it got.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Binds the addresses the server listened on before.
    ///
    /// # Errors
    ///
    /// When an address does not bind (another process took it).
    pub async fn bind(self) -> io::Result<BoundServer> {
        let mut listeners = Vec::with_capacity(self.addrs.len());
        for addr in &self.addrs {
            listeners.push(TcpListener::bind(addr).await?);
        }
        BoundServer::new(listeners, self.config)
    }
}
