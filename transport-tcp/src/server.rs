//! Configuring, binding, accepting, and shutting down.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
#[cfg(unix)]
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::BytesMut;
use rpckit_codec::{Codec, ErrorCode, ErrorObject, PeerAddr};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
#[cfg(unix)]
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::codec::Encoder;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::connection::{self, error_reply, Info, Settings};
use crate::framing::{Framing, DEFAULT_MAX_FRAME_SIZE};
use crate::{ConnectionId, FrameService, LocalAddr, LocalPath, PeerCredentials};

/// The default of [`ServerBuilder::max_in_flight`]: 64 calls per connection.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// The default of [`ServerBuilder::max_connections`]: 4,096.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// The default of [`ServerBuilder::idle_timeout`]: 5 minutes.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// A stream server for JSON-RPC frames. Start with [`Server::builder`].
///
/// ```no_run
/// use std::convert::Infallible;
/// use rpckit_codec::{Codecs, Frame};
/// use rpckit_tcp::{FrameService, Framing, Server};
///
/// # async fn run() -> std::io::Result<()> {
/// let echo = tower::service_fn(|frame: Frame| async move { Ok::<_, Infallible>(Some(frame)) });
/// let server = Server::builder(FrameService::new(Codecs::default(), echo))
///     .framing(Framing::Newline)
///     .bind("127.0.0.1:7002")
///     .await?;
/// println!("listening on {}", server.local_addr());
/// server.serve().await
/// # }
/// ```
#[derive(Debug)]
pub struct Server {
    _private: (),
}

impl Server {
    /// A builder for a listener serving `service`: newline framing, the
    /// service's default codec, 8 MiB frames, 64 calls in flight per
    /// connection, 4,096 connections, a 5 minute idle timeout.
    ///
    /// One listener serves one service (a stream has no paths to route
    /// by), so the builder starts with it.
    pub fn builder(service: impl Into<FrameService>) -> ServerBuilder {
        ServerBuilder {
            service: service.into(),
            framing: Framing::Newline,
            codec: None,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            reuse_large_blocks: true,
        }
    }
}

/// Configures a listener: framing, codec, limits. Then [`bind`](Self::bind)
/// (TCP), [`bind_unix`](Self::bind_unix), or
/// [`serve_stream`](Self::serve_stream) (one stream, such as stdio).
#[derive(Debug)]
pub struct ServerBuilder {
    service: FrameService,
    framing: Framing,
    codec: Option<Arc<dyn Codec>>,
    max_frame_size: usize,
    max_in_flight: usize,
    max_connections: usize,
    idle_timeout: Option<Duration>,
    reuse_large_blocks: bool,
}

impl ServerBuilder {
    /// How streams are split into messages. Default [`Framing::Newline`].
    pub fn framing(mut self, framing: Framing) -> Self {
        self.framing = framing;
        self
    }

    /// The codec of every message on this listener. Default: the service's
    /// default codec (JSON for rpckit endpoints). A stream names no media
    /// type, so one listener speaks one format.
    pub fn codec(mut self, codec: Arc<dyn Codec>) -> Self {
        self.codec = Some(codec);
        self
    }

    /// Picks the codec by name (`"json"`, `"simd-json"`, `"cbor"`,
    /// `"msgpack"`) among the service's codecs.
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// use rpckit_codec::{Codecs, Frame, JsonCodec};
    /// use rpckit_tcp::{FrameService, Server};
    ///
    /// # let echo = tower::service_fn(|frame: Frame| async move { Ok::<_, Infallible>(Some(frame)) });
    /// let service = FrameService::new(Codecs::new(JsonCodec::default()), echo);
    /// assert!(Server::builder(service.clone()).codec_named("json").is_ok());
    /// let err = Server::builder(service).codec_named("cbor").unwrap_err();
    /// assert_eq!(err.to_string(), "no codec named `cbor` (the service has [\"json\"])");
    /// ```
    pub fn codec_named(mut self, name: &str) -> Result<Self, UnknownCodec> {
        let codec = self
            .service
            .codecs()
            .iter()
            .find(|codec| codec.name() == name)
            .cloned()
            .ok_or_else(|| UnknownCodec {
                name: name.to_owned(),
                available: self.service.codecs().iter().map(|c| c.name()).collect(),
            })?;
        self.codec = Some(codec);
        Ok(self)
    }

    /// The largest frame accepted, in bytes. Default 8 MiB
    /// ([`DEFAULT_MAX_FRAME_SIZE`]). See [`Framing`] for what each framing
    /// does with a frame over it.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// How many calls of one connection run at once (a batch counts as
    /// one). Default 64. At the limit the server stops reading from that
    /// connection until a call finishes: backpressure, not buffering.
    pub fn max_in_flight(mut self, calls: usize) -> Self {
        self.max_in_flight = calls.max(1);
        self
    }

    /// How many connections are served at once. Default 4,096. A
    /// connection over the limit gets one error reply (-32000, id null)
    /// and is closed.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections;
        self
    }

    /// Closes a connection that sends nothing while no call of it is in
    /// flight, or takes no bytes of its replies, for this long. Default 5
    /// minutes; `None` never closes an idle connection (what a language
    /// server on stdio wants).
    ///
    /// Precision is traded for speed: the timer is not moved on every
    /// frame, so a connection closes between one and two timeouts after it
    /// went quiet.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Whether glibc's malloc is made to keep large blocks for reuse when
    /// the server is bound, instead of giving the pages of large frames
    /// back to the kernel and faulting them in again on the next ones.
    /// Default `true`. The price is memory kept rather than returned after
    /// a peak; see [`rpckit_codec::heap`]. It does nothing with other
    /// allocators.
    pub fn reuse_large_blocks(mut self, reuse: bool) -> Self {
        self.reuse_large_blocks = reuse;
        self
    }

    fn settings(self) -> io::Result<Settings> {
        if self.reuse_large_blocks {
            rpckit_codec::heap::reuse_blocks_up_to(rpckit_codec::heap::MAX_REUSED_BLOCK);
        }
        let codec = self
            .codec
            .unwrap_or_else(|| Arc::clone(self.service.codecs().default_codec()));
        if !self.framing.carries_binary() && !is_text(&*codec) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                IncompatibleCodec {
                    framing: self.framing,
                    codec: codec.name(),
                },
            ));
        }
        if let Some(sink) = &self.service.sink {
            sink.mounted("tcp", None);
        }
        Ok(Settings {
            sink: self.service.sink,
            drain: self.service.drain,
            service: self.service.service,
            codec,
            framing: self.framing,
            max_frame_size: self.max_frame_size,
            max_in_flight: self.max_in_flight,
            idle_timeout: self.idle_timeout,
        })
    }

    /// Binds a TCP socket now, so that port 0 resolves to a real one
    /// ([`BoundServer::local_addr`]) before serving starts.
    ///
    /// # Errors
    ///
    /// The socket's, or `InvalidInput` carrying [`IncompatibleCodec`] when
    /// the framing cannot carry the codec (newline framing with a binary
    /// codec).
    pub async fn bind(self, addr: impl ToSocketAddrs) -> io::Result<BoundServer> {
        let max_connections = self.max_connections;
        let settings = self.settings()?;
        let listener = TcpListener::bind(addr).await?;
        Self::bound(Listener::Tcp(listener), max_connections, settings, false)
    }

    fn bound(
        listener: Listener,
        max_connections: usize,
        settings: Settings,
        inherited: bool,
    ) -> io::Result<BoundServer> {
        let local_addr = match &listener {
            Listener::Tcp(listener) => ListenAddr::Tcp(listener.local_addr()?),
            #[cfg(unix)]
            Listener::Unix(_, path) => ListenAddr::Unix(Arc::from(path.as_path())),
        };
        Ok(BoundServer {
            listener: Arc::new(listener),
            local_addr,
            settings: Arc::new(settings),
            max_connections,
            inherited,
            handed_over: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Serves on a TCP listener bound elsewhere (by hand, or taken from
    /// [`listen_fds`](crate::handover::listen_fds)); it is switched to
    /// non-blocking mode.
    ///
    /// # Errors
    ///
    /// As [`bind`](Self::bind).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn from_std_listener(self, listener: std::net::TcpListener) -> io::Result<BoundServer> {
        let max_connections = self.max_connections;
        let settings = self.settings()?;
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        Self::bound(Listener::Tcp(listener), max_connections, settings, false)
    }

    /// Serves on a Unix listener bound elsewhere (Unix only). Its socket
    /// file is not removed at shutdown: whoever bound it owns it.
    ///
    /// # Errors
    ///
    /// As [`bind`](Self::bind), or when the listener has no path (an
    /// unnamed or abstract socket).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    #[cfg(unix)]
    pub fn from_std_unix_listener(
        self,
        listener: std::os::unix::net::UnixListener,
    ) -> io::Result<BoundServer> {
        let max_connections = self.max_connections;
        let settings = self.settings()?;
        let path = listener
            .local_addr()?
            .as_pathname()
            .map(Path::to_path_buf)
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidInput, "the Unix listener has no path")
            })?;
        listener.set_nonblocking(true)?;
        let listener = UnixListener::from_std(listener)?;
        Self::bound(
            Listener::Unix(listener, path),
            max_connections,
            settings,
            true,
        )
    }

    /// Takes over the first TCP listener this process inherited
    /// (`LISTEN_FDS`: from a [hand-over](ServerHandle::hand_over) or
    /// systemd socket activation), or, when it inherited none, binds
    /// `addr` as [`bind`](Self::bind) does. [`BoundServer::is_inherited`]
    /// says which.
    ///
    /// # Errors
    ///
    /// As [`bind`](Self::bind), or when an inherited socket cannot be
    /// adopted.
    #[cfg(unix)]
    pub async fn bind_inherited(self, addr: impl ToSocketAddrs) -> io::Result<BoundServer> {
        match rpckit_codec::handover::take_tcp(None)?.into_iter().next() {
            Some(listener) => {
                let mut server = self.from_std_listener(listener)?;
                server.inherited = true;
                tracing::info!(addr = %server.local_addr, "took over an inherited listener");
                Ok(server)
            }
            None => self.bind(addr).await,
        }
    }

    /// As [`bind_inherited`](Self::bind_inherited), for a Unix listener:
    /// the first one inherited, else [`bind_unix`](Self::bind_unix) at
    /// `path`.
    ///
    /// # Errors
    ///
    /// As [`bind_unix`](Self::bind_unix), or when an inherited socket
    /// cannot be adopted.
    #[cfg(unix)]
    pub async fn bind_unix_inherited(self, path: impl AsRef<Path>) -> io::Result<BoundServer> {
        match rpckit_codec::handover::take_unix(None)?.into_iter().next() {
            Some(listener) => {
                let server = self.from_std_unix_listener(listener)?;
                tracing::info!(addr = %server.local_addr, "took over an inherited listener");
                Ok(server)
            }
            None => self.bind_unix(path).await,
        }
    }

    /// Binds a Unix socket at `path` (Unix only). The file must not exist; it is
    /// removed again when the server shuts down.
    ///
    /// # Errors
    ///
    /// As [`bind`](Self::bind).
    #[cfg(unix)]
    pub async fn bind_unix(self, path: impl AsRef<Path>) -> io::Result<BoundServer> {
        let max_connections = self.max_connections;
        let settings = self.settings()?;
        let path = path.as_ref().to_path_buf();
        let listener = UnixListener::bind(&path)?;
        Self::bound(
            Listener::Unix(listener, path),
            max_connections,
            settings,
            false,
        )
    }

    /// Serves one stream — stdin and stdout joined
    /// (`tokio::io::join(tokio::io::stdin(), tokio::io::stdout())`), a
    /// child's pipes, an in-memory duplex — until the peer closes its
    /// side; every request read by then is answered before this returns.
    /// Its frames carry a [`ConnectionId`] only.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use rpckit_codec::{Codecs, Frame};
    /// use rpckit_tcp::{FrameService, Framing, Server};
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let echo = tower::service_fn(|frame: Frame| async move { Ok::<_, Infallible>(Some(frame)) });
    /// let (mut client, server_side) = tokio::io::duplex(1024);
    /// let server = Server::builder(FrameService::new(Codecs::default(), echo))
    ///     .framing(Framing::Lsp)
    ///     .serve_stream(server_side);
    /// let server = tokio::spawn(server);
    /// client.write_all(b"Content-Length: 2\r\n\r\n[]").await?;
    /// client.shutdown().await?;
    /// let mut answer = String::new();
    /// client.read_to_string(&mut answer).await?;
    /// assert_eq!(answer, "Content-Length: 2\r\n\r\n[]");
    /// server.await.unwrap()?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// `InvalidInput` carrying [`IncompatibleCodec`], as [`bind`](Self::bind).
    pub async fn serve_stream<S>(self, stream: S) -> io::Result<()>
    where
        S: AsyncRead + AsyncWrite,
    {
        let settings = Arc::new(self.settings()?);
        let (reader, writer) = tokio::io::split(stream);
        let info = Info::new(ConnectionId::next());
        let span = tracing::debug_span!("connection", id = info.id.0);
        connection::serve(
            Arc::clone(&settings),
            info,
            reader,
            writer,
            CancellationToken::new(),
        )
        .instrument(span)
        .await;
        if let Some(drain) = &settings.drain {
            drain.run().await;
        }
        Ok(())
    }
}

/// Whether a codec writes text without raw newlines: the JSON ones.
fn is_text(codec: &dyn Codec) -> bool {
    codec
        .media_types()
        .iter()
        .any(|media| media.ends_with("json"))
}

/// [`ServerBuilder::codec_named`] found no codec of that name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownCodec {
    name: String,
    available: Vec<&'static str>,
}

impl fmt::Display for UnknownCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no codec named `{}` (the service has {:?})",
            self.name, self.available
        )
    }
}

impl std::error::Error for UnknownCodec {}

/// The framing cannot carry the codec's messages: newline framing with a
/// binary codec, whose messages may hold a newline byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncompatibleCodec {
    /// The framing asked for.
    pub framing: Framing,
    /// The codec's name.
    pub codec: &'static str,
}

impl fmt::Display for IncompatibleCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} framing cannot carry {} messages (use length or lsp framing)",
            self.framing, self.codec
        )
    }
}

impl std::error::Error for IncompatibleCodec {}

/// Where a server listens.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListenAddr {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix socket's path.
    Unix(Arc<Path>),
}

impl ListenAddr {
    /// The TCP address, if this is one.
    pub fn tcp(&self) -> Option<SocketAddr> {
        match self {
            ListenAddr::Tcp(addr) => Some(*addr),
            ListenAddr::Unix(_) => None,
        }
    }
}

/// `tcp://127.0.0.1:7002` or `unix:/run/app.sock`.
impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(addr) => write!(f, "tcp://{addr}"),
            ListenAddr::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

#[derive(Debug)]
enum Listener {
    Tcp(TcpListener),
    #[cfg(unix)]
    Unix(UnixListener, PathBuf),
}

/// A server with its socket bound, not yet accepting.
#[derive(Debug)]
pub struct BoundServer {
    listener: Arc<Listener>,
    local_addr: ListenAddr,
    settings: Arc<Settings>,
    max_connections: usize,
    /// Taken over from another process (or given by the caller, for a
    /// Unix socket): then its socket file is not ours to remove.
    inherited: bool,
    /// Set once the socket was handed to a successor, which still
    /// listens on it: its file must stay.
    handed_over: Arc<AtomicBool>,
}

impl BoundServer {
    /// Where the server listens.
    pub fn local_addr(&self) -> &ListenAddr {
        &self.local_addr
    }

    /// Whether the server's socket was taken over from another process
    /// ([`bind_inherited`](ServerBuilder::bind_inherited) found one) rather
    /// than bound here.
    pub fn is_inherited(&self) -> bool {
        self.inherited
    }

    /// Serves until the process ends. Accept errors (such as running out
    /// of file descriptors) are logged and retried, not returned.
    pub async fn serve(self) -> io::Result<()> {
        accept_loop(self, CancellationToken::new()).await
    }

    /// Serves on a new tokio task; the handle shuts it down.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn spawn(self) -> ServerHandle {
        let stop = CancellationToken::new();
        let local_addr = self.local_addr.clone();
        let listener = Arc::downgrade(&self.listener);
        let handed_over = Arc::clone(&self.handed_over);
        let task = tokio::spawn(accept_loop(self, stop.clone()));
        ServerHandle {
            local_addr,
            listener,
            handed_over,
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
    local_addr: ListenAddr,
    /// The accept loop's listener, while it has it: a hand-over
    /// duplicates it. Weak, so that a shutdown closes it at once.
    listener: Weak<Listener>,
    handed_over: Arc<AtomicBool>,
    stop: CancellationToken,
    task: JoinHandle<io::Result<()>>,
}

impl ServerHandle {
    /// Where the server listens.
    pub fn local_addr(&self) -> &ListenAddr {
        &self.local_addr
    }

    /// A duplicate of the listening socket, to pass to a successor of
    /// several servers ([`Successor::listener`](crate::Successor::listener));
    /// [`hand_over`](Self::hand_over) does it for this server alone.
    ///
    /// # Errors
    ///
    /// When the server has stopped (its socket is closed), or a duplicate
    /// cannot be made (out of file descriptors).
    #[cfg(unix)]
    pub fn listener_fd(&self) -> io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        let listener = self
            .listener
            .upgrade()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the server has stopped"))?;
        match &*listener {
            Listener::Tcp(listener) => listener.as_fd().try_clone_to_owned(),
            Listener::Unix(listener, _) => listener.as_fd().try_clone_to_owned(),
        }
    }

    /// Starts `successor` with this server's listening socket (as fd 3,
    /// named `tcp` or `unix`, with `LISTEN_FDS`) and returns once it says
    /// it is ready ([`notify_ready`](crate::notify_ready)): the
    /// zero-downtime restart. The successor takes the socket over with
    /// [`bind_inherited`](ServerBuilder::bind_inherited) (or
    /// [`bind_unix_inherited`](ServerBuilder::bind_unix_inherited)).
    ///
    /// Both processes accept from the same kernel queue meanwhile, so no
    /// connection is refused. Once this returns, [`shutdown`](Self::shutdown)
    /// this server (a Unix socket's file stays: the successor listens on
    /// it) and exit. On an error nothing has changed.
    ///
    /// # Errors
    ///
    /// As [`Successor::spawn`](crate::Successor::spawn), or as
    /// [`listener_fd`](Self::listener_fd).
    #[cfg(unix)]
    pub async fn hand_over(
        &self,
        successor: impl Into<rpckit_codec::handover::Successor>,
    ) -> io::Result<tokio::process::Child> {
        let name = match self.local_addr {
            ListenAddr::Tcp(_) => "tcp",
            ListenAddr::Unix(_) => "unix",
        };
        let successor = successor.into().listener(name, self.listener_fd()?);
        // Set before the successor runs: from then on it may be serving.
        self.handed_over.store(true, Ordering::SeqCst);
        let child = successor.spawn().await;
        if child.is_err() {
            self.handed_over.store(false, Ordering::SeqCst);
        }
        child
    }

    /// Stops accepting, stops reading, answers every request already read
    /// (those in flight and those whole in a connection's read buffer),
    /// and returns once every connection is closed. Idle connections close
    /// at once.
    ///
    /// There is no deadline of its own: a call that never finishes holds
    /// this up (a peer that never reads is closed after the idle timeout).
    /// Wrap it in `tokio::time::timeout` to bound it.
    pub async fn shutdown(self) {
        self.stop.cancel();
        match self.task.await {
            Ok(Err(err)) => tracing::error!(error = %err, "server ended with an error"),
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            _ => {}
        }
    }
}

/// Accepts until `stop` fires, then waits for every connection.
async fn accept_loop(server: BoundServer, stop: CancellationToken) -> io::Result<()> {
    let BoundServer {
        listener,
        settings,
        max_connections,
        inherited,
        handed_over,
        ..
    } = server;
    let connections = TaskTracker::new();
    let permits = Arc::new(Semaphore::new(max_connections));
    loop {
        let accepted = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            accepted = accept(&listener) => accepted,
        };
        let (stream, info) = match accepted {
            Ok(accepted) => accepted,
            Err(err) if is_connection_error(&err) => continue,
            Err(err) => {
                // Most likely out of file descriptors: back off instead of
                // spinning, and let connections close meanwhile.
                tracing::error!(error = %err, "accept failed");
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        let span =
            tracing::debug_span!("connection", id = info.id.0, peer = ?info.peer.map(|p| p.0));
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tracing::warn!(parent: &span, max_connections, "too many connections; refusing one");
            connections.spawn(refuse(Arc::clone(&settings), stream).instrument(span));
            continue;
        };
        let settings = Arc::clone(&settings);
        let stop = stop.clone();
        connections.spawn(
            async move {
                match stream {
                    Stream::Tcp(stream) => {
                        let (reader, writer) = stream.into_split();
                        connection::serve(settings, info, reader, writer, stop).await;
                    }
                    #[cfg(unix)]
                    Stream::Unix(stream) => {
                        let (reader, writer) = stream.into_split();
                        connection::serve(settings, info, reader, writer, stop).await;
                    }
                }
                drop(permit);
            }
            .instrument(span),
        );
    }

    // The file goes with the socket: not when the socket lives on in a
    // successor, nor when it was not ours.
    #[cfg(unix)]
    if let Listener::Unix(_, path) = &*listener {
        if inherited || handed_over.load(Ordering::SeqCst) {
            tracing::debug!(path = %path.display(), "leaving the socket file in place");
        } else if let Err(err) = std::fs::remove_file(path) {
            tracing::debug!(path = %path.display(), error = %err, "could not remove the socket file");
        }
    }
    drop(listener);
    connections.close();
    connections.wait().await;
    // The service's background work (queued notifications).
    if let Some(drain) = &settings.drain {
        drain.run().await;
    }
    Ok(())
}

enum Stream {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
}

async fn accept(listener: &Listener) -> io::Result<(Stream, Info)> {
    let mut info = Info::new(ConnectionId::next());
    match listener {
        Listener::Tcp(listener) => {
            let (stream, peer) = listener.accept().await?;
            // Replies are flushed whole; waiting to coalesce adds latency.
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!(%peer, error = %err, "could not set TCP_NODELAY");
            }
            info.peer = Some(PeerAddr(peer));
            info.local = stream.local_addr().ok().map(LocalAddr);
            Ok((Stream::Tcp(stream), info))
        }
        #[cfg(unix)]
        Listener::Unix(listener, path) => {
            let (stream, _) = listener.accept().await?;
            info.path = Some(LocalPath(Arc::from(path.as_path())));
            info.credentials = stream.peer_cred().ok().map(|cred| PeerCredentials {
                uid: cred.uid(),
                gid: cred.gid(),
                pid: cred.pid(),
            });
            Ok((Stream::Unix(stream), info))
        }
    }
}

/// Tells a connection over the limit why it is closed, within a second.
async fn refuse(settings: Arc<Settings>, stream: Stream) {
    let error = ErrorObject::new(
        ErrorCode::ServerError(-32000),
        "Server error: too many connections, try again later",
    );
    let mut wire = BytesMut::new();
    if settings
        .framer()
        .encode(error_reply(&*settings.codec, error), &mut wire)
        .is_err()
    {
        return;
    }
    let write = async {
        match stream {
            Stream::Tcp(mut stream) => {
                stream.write_all(&wire).await?;
                stream.shutdown().await
            }
            #[cfg(unix)]
            Stream::Unix(mut stream) => {
                stream.write_all(&wire).await?;
                stream.shutdown().await
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), write).await;
}

/// Errors that concern one connection, not the listener.
fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
