//! Serving on sockets made elsewhere: a `std` listener of the caller's,
//! or those a predecessor or systemd passed through `LISTEN_FDS`.

use std::io;

use tokio::net::{TcpListener, ToSocketAddrs};

use super::{BoundServer, ServerBuilder};

impl ServerBuilder {
    /// Serves on listeners bound elsewhere: by hand (`socket2` options,
    /// a privileged port bound before dropping privileges), or taken from
    /// [`listen_fds`](crate::handover::listen_fds). They are switched to
    /// non-blocking mode.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let server = rpckit_http::Server::builder().from_std_listeners([listener])?;
    /// assert_eq!(server.local_addr(), addr);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// When `listeners` is empty, or a listener cannot be made
    /// non-blocking.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn from_std_listeners(
        self,
        listeners: impl IntoIterator<Item = std::net::TcpListener>,
    ) -> io::Result<BoundServer> {
        self.raise_open_files()?;
        let listeners = listeners
            .into_iter()
            .map(|listener| {
                listener.set_nonblocking(true)?;
                TcpListener::from_std(listener)
            })
            .collect::<io::Result<Vec<_>>>()?;
        if listeners.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "from_std_listeners was given no listener",
            ));
        }
        BoundServer::new(listeners, self.into_config())
    }

    /// Takes over every TCP listener this process inherited (`LISTEN_FDS`:
    /// from a [hand-over](crate::ServerHandle::hand_over) or systemd
    /// socket activation), or, when it inherited none, binds `addr` as
    /// [`bind`](Self::bind) does. [`BoundServer::is_inherited`] says which.
    ///
    /// The way to start a server that can be restarted without downtime:
    ///
    /// ```no_run
    /// # async fn run(builder: rpckit_http::ServerBuilder) -> std::io::Result<()> {
    /// let server = builder.bind_inherited("127.0.0.1:7001").await?;
    /// let handle = server.spawn();
    /// rpckit_http::notify_ready()?; // the predecessor may go now
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// With several servers in one process, give each its sockets by name
    /// instead: `from_std_listeners(rpckit_http::handover::take_tcp(Some("admin"))?)`.
    ///
    /// # Errors
    ///
    /// As [`bind`](Self::bind), or when an inherited socket cannot be
    /// adopted.
    #[cfg(unix)]
    pub async fn bind_inherited(self, addr: impl ToSocketAddrs) -> io::Result<BoundServer> {
        let inherited = rpckit_codec::handover::take_tcp(None)?;
        if inherited.is_empty() {
            return self.bind(addr).await;
        }
        let server = self.from_std_listeners(inherited)?.inherited();
        tracing::info!(addrs = ?server.local_addrs(), "took over inherited listeners");
        Ok(server)
    }
}
