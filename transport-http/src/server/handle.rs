//! A bound server, a running one, and a stopped one that can be bound
//! again: the lifecycle `bind → spawn → shutdown → bind → ...`.

use std::future::{self, Future};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{accept, local_addrs, Config};

/// A server with its sockets bound, not yet accepting.
#[derive(Debug)]
pub struct BoundServer {
    listeners: Vec<TcpListener>,
    addrs: Vec<SocketAddr>,
    config: Arc<Config>,
}

impl BoundServer {
    pub(super) fn new(listeners: Vec<TcpListener>, config: Arc<Config>) -> io::Result<Self> {
        let addrs = local_addrs(&listeners)?;
        Ok(BoundServer {
            listeners,
            addrs,
            config,
        })
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
        accept::run(self.listeners, self.config, future::pending()).await
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
        accept::run(self.listeners, self.config, signal).await?;
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
            if stopped.await.is_err() {
                future::pending::<()>().await;
            }
        };
        let config = Arc::clone(&self.config);
        let task = tokio::spawn(accept::run(self.listeners, self.config, signal));
        ServerHandle {
            stopped: StoppedServer {
                addrs: self.addrs,
                config,
            },
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
    stop: oneshot::Sender<()>,
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
        // The server may be gone already (its task panicked); then there
        // is nothing to signal.
        let _ = self.stop.send(());
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

    /// Shuts the server down gracefully ([`shutdown`](Self::shutdown)),
    /// then serves again on the same addresses with the same routes and
    /// settings: flaskJSONRPCServer's restart. The routes' services are
    /// the same instances, so their state (counters, caches) lives on.
    ///
    /// Between the two, for as long as the drain takes, the port refuses
    /// connections.
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
    /// # Errors
    ///
    /// When an address cannot be bound again (another process took it in
    /// between). The server is stopped then.
    pub async fn restart(self) -> io::Result<ServerHandle> {
        Ok(self.shutdown().await.bind().await?.spawn())
    }
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
