//! Configuring and binding a server; serving, stopping and restarting it
//! live in the submodules.

mod accept;
mod connection;
mod gate;
pub(crate) mod h1;
mod handle;
mod inherit;
mod open_files;
mod protocol;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, ToSocketAddrs};

use crate::client_ip::TrustedProxies;
use crate::compression::{Compression, Offload};
use crate::cors::CorsPolicy;
use crate::dispatch::{self, Shared};
use crate::fallback::Fallback;
use crate::plain_headers::PlainHeaders;
use crate::{Body, BoxError, Cors, HttpService, Jsonp, Route};

#[cfg(unix)]
pub use handle::LISTENER_NAME;
pub use handle::{BoundServer, ServerHandle, StoppedServer, RESTART_LINGER};
pub use open_files::OpenFileLimit;

/// The default of [`ServerBuilder::max_body_size`]: 10 MiB.
pub const DEFAULT_MAX_BODY_SIZE: usize = 10 * 1024 * 1024;

/// The default of [`ServerBuilder::max_decompressed_size`]: 10 MiB, the same
/// as the body limit.
pub const DEFAULT_MAX_DECOMPRESSED_SIZE: usize = 10 * 1024 * 1024;

/// The default of [`ServerBuilder::max_connections`]: 10,000 open
/// connections at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;

/// The default of [`ServerBuilder::header_read_timeout`]: 30 seconds
/// (hyper's own default).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The default of [`ServerBuilder::idle_timeout`]: 60 seconds.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The default of [`ServerBuilder::http2_keep_alive_interval`]: 30 seconds,
/// half the idle timeout, so that a dead peer is found before an idle
/// connection would be closed anyway.
pub const DEFAULT_HTTP2_KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);

/// The default of [`ServerBuilder::http2_keep_alive_timeout`]: 20 seconds
/// (hyper's own default).
pub const DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// The default of [`ServerBuilder::request_timeout`]: 60 seconds.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// The default of [`ServerBuilder::shutdown_timeout`]: 30 seconds.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP server for JSON-RPC frames. Start with [`Server::builder`].
///
/// ```no_run
/// use std::convert::Infallible;
/// use rpckit_codec::{Codecs, Frame};
/// use rpckit_http::{Route, Server};
///
/// # async fn run() -> std::io::Result<()> {
/// let echo = tower::service_fn(|frame: Frame| async move { Ok::<_, Infallible>(Some(frame)) });
/// let server = Server::builder()
///     .route("/api", Route::new(Codecs::default(), echo))
///     .bind("127.0.0.1:8080")
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
    /// A builder with no routes, 10 MiB body limits (as received and
    /// decompressed), no trusted proxies, neither CORS nor JSONP,
    /// compression only where methods or handlers allow it, and the
    /// connection limits and timeouts of the `DEFAULT_*` constants: 10,000
    /// connections, 30 s to send a request head, 60 s idle, an HTTP/2
    /// `PING` after 30 s of silence that must be answered within 20 s,
    /// 60 s a request, 30 s to drain at shutdown. The open-file limit is left alone.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }
}

/// Configures a [`Server`]: its routes, limits, timeouts, CORS, JSONP and
/// TLS.
///
/// Every limit has a default safe against hostile clients:
///
/// | setting | default | past it |
/// |---|---|---|
/// | [`max_body_size`](Self::max_body_size) | 10 MiB | `413` |
/// | [`max_decompressed_size`](Self::max_decompressed_size) | 10 MiB | `413` |
/// | an HTTP/1 request head (fixed) | about 64 KiB | `431` |
/// | [`max_connections`](Self::max_connections) | 10,000 | no more accepted until one closes |
/// | [`header_read_timeout`](Self::header_read_timeout) | 30 s | connection closed |
/// | [`idle_timeout`](Self::idle_timeout) | 60 s | connection closed (HTTP/2: `GOAWAY`) |
/// | [`http2_keep_alive_interval`](Self::http2_keep_alive_interval) | 30 s | an HTTP/2 `PING` after this long without a frame from the client |
/// | [`http2_keep_alive_timeout`](Self::http2_keep_alive_timeout) | 20 s | connection closed when the `PING` is not answered |
/// | [`request_timeout`](Self::request_timeout) | 60 s | `503` |
/// | [`shutdown_timeout`](Self::shutdown_timeout) | 30 s | connections closed mid-request |
///
/// ```
/// use std::time::Duration;
/// use rpckit_http::Server;
///
/// let builder = Server::builder()
///     .max_connections(1_000)
///     .header_read_timeout(Duration::from_secs(5))
///     .idle_timeout(Duration::from_secs(30))
///     .request_timeout(None) // no limit: some methods run for hours
///     .shutdown_timeout(Duration::from_secs(10));
/// # let _ = builder;
/// ```
#[derive(Debug)]
pub struct ServerBuilder {
    routes: crate::dispatch::Routes,
    services: HashMap<Box<str>, Fallback>,
    max_body_size: usize,
    max_decompressed_size: usize,
    trusted_proxies: Vec<IpAddr>,
    cors: Option<Cors>,
    jsonp: Jsonp,
    compression: Compression,
    offload: Offload,
    fallback: Option<Fallback>,
    request_timeout: Option<Duration>,
    connections: ConnectionSettings,
    open_files: OpenFileLimit,
    reuse_large_blocks: bool,
    #[cfg(feature = "tls")]
    tls: Option<crate::TlsConfig>,
}

/// What the accept loop and every connection read: set once by the builder.
#[derive(Clone, Debug)]
pub(crate) struct ConnectionSettings {
    pub(crate) max_connections: usize,
    pub(crate) header_read_timeout: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) http2_keep_alive_interval: Option<Duration>,
    pub(crate) http2_keep_alive_timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        ConnectionSettings {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: Some(DEFAULT_HEADER_READ_TIMEOUT),
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            http2_keep_alive_interval: Some(DEFAULT_HTTP2_KEEP_ALIVE_INTERVAL),
            http2_keep_alive_timeout: DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder {
            routes: crate::dispatch::Routes::default(),
            services: HashMap::new(),
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            max_decompressed_size: DEFAULT_MAX_DECOMPRESSED_SIZE,
            trusted_proxies: Vec::new(),
            cors: None,
            jsonp: Jsonp::disabled(),
            compression: Compression::default(),
            offload: Offload::default(),
            fallback: None,
            request_timeout: Some(DEFAULT_REQUEST_TIMEOUT),
            connections: ConnectionSettings::default(),
            open_files: OpenFileLimit::Keep,
            reuse_large_blocks: true,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl ServerBuilder {
    /// Serves `route` at `path`, matched exactly (no prefix, no trailing
    /// slash folding). A server can have any number of routes.
    ///
    /// # Panics
    ///
    /// When `path` does not start with `/` (it could never match a request),
    /// or when a route is already at `path` (one of the two would be silently
    /// lost). Both are programming errors, caught at startup.
    ///
    /// ```should_panic
    /// # use std::convert::Infallible;
    /// # use rpckit_codec::{Codecs, Frame};
    /// # use rpckit_http::{Route, Server};
    /// let echo = tower::service_fn(|frame: Frame| async move { Ok::<_, Infallible>(Some(frame)) });
    /// let route = Route::new(Codecs::default(), echo);
    /// Server::builder()
    ///     .route("/api", route.clone())
    ///     .route("/api", route); // panics: `/api` is taken
    /// ```
    ///
    /// The route's [`StatsSink`](rpckit_codec::StatsSink), if it has one,
    /// is told the path now, and about every connection of the server and
    /// every answer of the route it compresses.
    #[track_caller]
    pub fn route(mut self, path: &str, route: impl Into<Route>) -> Self {
        self.check_free(path);
        let mut route = route.into();
        if let Some(sink) = &route.sink {
            sink.mounted("http", Some(path));
        }
        route.path = Some(crate::RoutePath::new(path));
        self.routes.insert(path.into(), route);
        self
    }

    /// Answers every request for exactly `path` (any method) with
    /// `service`: a metrics endpoint (rpckit's `Stats::prometheus_service`),
    /// a health check. Like the [fallback](Self::fallback), its answer is
    /// sent untouched (no CORS, no compression, no request timeout), with
    /// [`PeerAddr`](crate::PeerAddr) and [`ClientIp`](crate::ClientIp) in
    /// the request's extensions, and its errors are logged `500`s.
    ///
    /// # Panics
    ///
    /// As [`route`](Self::route): when `path` does not start with `/` or
    /// is taken by a route or a service.
    ///
    /// ```
    /// use http::{Request, Response};
    /// use rpckit_http::Server;
    ///
    /// let health = tower::service_fn(|_: Request<rpckit_http::Body>| async {
    ///     Ok::<_, std::convert::Infallible>(Response::new("ok".to_owned()))
    /// });
    /// let builder = Server::builder().service("/health", health);
    /// # let _ = builder;
    /// ```
    #[track_caller]
    pub fn service<S, B>(mut self, path: &str, service: S) -> Self
    where
        S: tower::Service<http::Request<Body>, Response = http::Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.check_free(path);
        self.services.insert(path.into(), Fallback::new(service));
        self
    }

    #[track_caller]
    fn check_free(&self, path: &str) {
        assert!(
            path.starts_with('/'),
            "route path `{path}` must start with `/`"
        );
        assert!(
            !self.routes.contains_key(path) && !self.services.contains_key(path),
            "a route is already at `{path}`"
        );
    }

    /// The largest request body accepted, in bytes; larger ones get 413
    /// Payload Too Large. Default 10 MiB.
    ///
    /// A body that declares its length is refused before any of it is read;
    /// a chunked body is cut off as soon as it crosses the limit. The limit is
    /// on the bytes as received: decoding limits (nesting, batch length) are
    /// the codec layer's.
    pub fn max_body_size(mut self, bytes: usize) -> Self {
        self.max_body_size = bytes;
        self
    }

    /// The largest request body accepted after decompressing a body sent
    /// with `Content-Encoding` (gzip, deflate, br, zstd); larger ones get
    /// 413 Payload Too Large. Default 10 MiB.
    ///
    /// Decoding stops as soon as the output would pass the limit, so a
    /// decompression bomb costs at most this much memory.
    /// [`max_body_size`](Self::max_body_size) still limits the compressed
    /// bytes as received.
    pub fn max_decompressed_size(mut self, bytes: usize) -> Self {
        self.max_decompressed_size = bytes;
        self
    }

    /// How responses are compressed. Default [`Compression::default`]:
    /// every algorithm, for bodies of 1 KiB or more, but only where a
    /// method's settings or a handler allow it. Turn it on for every method
    /// with `Compression::default().enabled_by_default(true)`, or off
    /// entirely with [`Compression::disabled`]. See
    /// [`compression`](crate::compression) for the rules.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Calls `hook` on the background thread before offloaded codec work.
    #[cfg(test)]
    pub(crate) fn offload_hook(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.offload.hook = Some(Arc::new(hook));
        self
    }

    /// The reverse proxies whose `X-Real-IP` and `X-Forwarded-For` headers
    /// decide the [`ClientIp`](crate::ClientIp). Default: none, so the
    /// client IP is always the TCP peer's and forwarding headers, which any
    /// client can forge, are ignored.
    pub fn trusted_proxies(mut self, proxies: impl IntoIterator<Item = IpAddr>) -> Self {
        self.trusted_proxies = proxies.into_iter().collect();
        self
    }

    /// Lets web pages of other origins call the server from a browser;
    /// see [`Cors`]. Off by default: a browser then lets no other origin
    /// read an answer, and `OPTIONS` is `405`.
    ///
    /// ```
    /// use rpckit_http::{Cors, Server};
    ///
    /// let builder = Server::builder()
    ///     .cors(Cors::allow_origins(["https://app.example"]).allow_credentials(true));
    /// # let _ = builder;
    /// ```
    pub fn cors(mut self, cors: Cors) -> Self {
        self.cors = Some(cors);
        self
    }

    /// Turns JSONP on (`true`, or a [`Jsonp`] naming the callback
    /// parameters) or off (`false`, the default) for every route:
    /// `GET /api/echo?data=x&jsonp=cb` calls `echo` of the route at `/api`
    /// with named params and answers `/**/cb(<result>);`.
    ///
    /// JSONP lets any web page read answers made with the visitor's
    /// cookies: turn it on only for methods that are fine with that, and
    /// switch it off for the others per method (`rpckit`'s
    /// `MethodSettings::jsonp(false)`, answered `403`). Off, a `GET` on a
    /// route is `405`.
    ///
    /// | request | answer |
    /// |---|---|
    /// | `GET /api/echo?data=x&jsonp=cb` | `200`, `/**/cb("x");`, `application/javascript; charset=utf-8`, `X-Content-Type-Options: nosniff` |
    /// | `GET /api/echo?data=x` (no callback) | `200`, `"x"`, `application/json` |
    /// | the method fails | `200`, `/**/cb({"error":{"code":..,"message":..}});` (a script tag cannot read a status) |
    /// | callback not letters, digits, `_ $ . [ ]`, or over 128 characters | `400`, plain text saying why |
    /// | a `%` escape that is not two hex digits, or bytes that are not UTF-8 | `400` |
    /// | `GET /api` (no method) | `400` |
    pub fn jsonp(mut self, jsonp: impl Into<Jsonp>) -> Self {
        self.jsonp = jsonp.into();
        self
    }

    /// The most connections open at once. Default 10,000
    /// ([`DEFAULT_MAX_CONNECTIONS`]).
    ///
    /// At the limit the server **stops accepting** until a connection
    /// closes: new clients wait in the kernel's listen backlog (and connect
    /// once there is room, or time out on their side) instead of being
    /// accepted and dropped. Each connection costs a file descriptor, so
    /// keep the limit below the open-file limit
    /// ([`open_file_limit`](Self::open_file_limit)).
    ///
    /// # Panics
    ///
    /// When `connections` is 0 (the server could never answer).
    #[track_caller]
    pub fn max_connections(mut self, connections: usize) -> Self {
        assert!(connections > 0, "max_connections must be at least 1");
        self.connections.max_connections = connections;
        self
    }

    /// How long an HTTP/1 client has to send a whole request head (request
    /// line and headers), after which the connection is closed without an
    /// answer. Default 30 s; `None` waits forever.
    ///
    /// This is the guard against slowloris clients that open connections
    /// and trickle bytes to hold them. The clock also runs while a
    /// keep-alive connection waits for its next request, so an idle HTTP/1
    /// connection is closed after the shorter of this and
    /// [`idle_timeout`](Self::idle_timeout). With TLS, the handshake must
    /// also finish within this time. (HTTP/2 multiplexes streams over one
    /// connection; its idle connections are closed by `idle_timeout`.)
    pub fn header_read_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.connections.header_read_timeout = timeout.into();
        self
    }

    /// How long a connection may stay open with no request in flight: past
    /// it an HTTP/1 connection is closed and an HTTP/2 client gets a
    /// `GOAWAY`. Default 60 s; `None` keeps idle connections open (until
    /// the client closes them, or for HTTP/1 the
    /// [`header_read_timeout`](Self::header_read_timeout)).
    ///
    /// The clock starts when the last request on the connection is
    /// answered; a request that takes longer than this is not cut off (see
    /// [`request_timeout`](Self::request_timeout) for that).
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.connections.idle_timeout = timeout.into();
        self
    }

    /// How long an HTTP/2 connection may go without a frame from the
    /// client before the server sends a `PING` to see whether it is still
    /// there. Default 30 s ([`DEFAULT_HTTP2_KEEP_ALIVE_INTERVAL`]); `None`
    /// sends no pings.
    ///
    /// A peer can vanish without closing its connection (a NAT or a
    /// firewall forgets it, the machine loses power): no `FIN` ever comes,
    /// and nothing is written to the connection that could fail. The
    /// [`idle_timeout`](Self::idle_timeout) closes such a connection only
    /// when no request is in flight, and even then HTTP/2's graceful close
    /// waits for the peer to answer a `PING`; a long request from a dead
    /// peer, with the idle and request timeouts off, would hold its
    /// connection forever. A peer that does not answer within the
    /// [`http2_keep_alive_timeout`](Self::http2_keep_alive_timeout) is
    /// disconnected. Pings go out whether or not a request is in flight,
    /// and do not count as activity for the idle timeout. HTTP/1 has no
    /// ping: its idle connections are closed by the idle timeout alone.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rpckit_http::Server;
    ///
    /// let builder = Server::builder()
    ///     .http2_keep_alive_interval(Duration::from_secs(10))
    ///     .http2_keep_alive_timeout(Duration::from_secs(5));
    /// # let _ = builder;
    /// ```
    pub fn http2_keep_alive_interval(mut self, interval: impl Into<Option<Duration>>) -> Self {
        self.connections.http2_keep_alive_interval = interval.into();
        self
    }

    /// How long an HTTP/2 peer has to answer a keep-alive `PING` (see
    /// [`http2_keep_alive_interval`](Self::http2_keep_alive_interval))
    /// before its connection is closed. Default 20 s
    /// ([`DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT`]).
    ///
    /// It also bounds the graceful close of an idle HTTP/2 connection:
    /// after the `GOAWAY` the server waits for one `PING` round trip (so
    /// that a request the client sent meanwhile is not lost), and a peer
    /// that has not answered within this time is disconnected.
    pub fn http2_keep_alive_timeout(mut self, timeout: Duration) -> Self {
        self.connections.http2_keep_alive_timeout = timeout;
        self
    }

    /// How long one request may take, from its head being read to its
    /// answer being ready (reading the body included, so a client that
    /// trickles its body is cut off too). Past it the frame service's work
    /// is dropped (its future is cancelled) and the client gets `503
    /// Service Unavailable` with a plain-text body naming the limit.
    /// Default 60 s; `None` lets requests run as long as they like.
    ///
    /// This is the whole HTTP request: a batch is one request. The
    /// transport knows frames, not calls, so it answers with an HTTP
    /// status, not a JSON-RPC error; to limit single calls, put a tower
    /// timeout at the call level (around `rpckit`'s router), which answers
    /// a late call with -32603 and leaves the rest of its batch alone.
    pub fn request_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.request_timeout = timeout.into();
        self
    }

    /// How long [`ServerHandle::shutdown`] lets in-flight requests finish
    /// before it closes their connections anyway. Default 30 s.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.connections.shutdown_timeout = timeout;
        self
    }

    /// Raises the process's open-file limit (`RLIMIT_NOFILE`) when the
    /// server is bound, so that it can hold many connections: flaskJSONRPCServer's
    /// `tweakDescriptors`. Default [`OpenFileLimit::Keep`]: a library does
    /// not change process-wide limits unasked.
    ///
    /// ```
    /// use rpckit_http::{OpenFileLimit, Server};
    ///
    /// // Raise the soft limit as far as the hard limit allows.
    /// let builder = Server::builder().open_file_limit(OpenFileLimit::Hard);
    /// # let _ = builder;
    /// ```
    pub fn open_file_limit(mut self, limit: OpenFileLimit) -> Self {
        self.open_files = limit;
        self
    }

    /// Whether glibc's malloc is made to keep large blocks for reuse when
    /// the server is built, instead of giving their pages back to the
    /// kernel and faulting them in again on the next large request (which
    /// it may or may not do, depending on what the process freed before:
    /// 57 page faults a request on a 128 KiB echo, a tenth to a quarter of
    /// the throughput). Default `true`.
    ///
    /// The price is memory kept rather than returned after a peak: up to
    /// 64 MiB free per heap; see [`rpckit_codec::heap`]. It does nothing
    /// with other allocators.
    ///
    /// ```
    /// // A server that must give memory back as soon as it can.
    /// let builder = rpckit_http::Server::builder().reuse_large_blocks(false);
    /// # let _ = builder;
    /// ```
    pub fn reuse_large_blocks(mut self, reuse: bool) -> Self {
        self.reuse_large_blocks = reuse;
        self
    }

    /// Serves HTTPS instead of plain HTTP: every connection starts with a
    /// TLS handshake (which must finish within the
    /// [`header_read_timeout`](Self::header_read_timeout)), then speaks
    /// HTTP/1.1 or HTTP/2 as negotiated by ALPN. A plain-HTTP client gets
    /// its connection closed.
    ///
    /// ```no_run
    /// use rpckit_http::{Server, TlsConfig};
    ///
    /// # fn run() -> Result<(), rpckit_http::TlsError> {
    /// let builder = Server::builder().tls(TlsConfig::from_pem_files("cert.pem", "key.pem")?);
    /// # let _ = builder;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Answers every request that no route takes — any other path — with
    /// `service` instead of `404`, on the same port: an axum `Router`, a
    /// tower-http `ServeDir`, any `tower::Service` of HTTP requests.
    ///
    /// A path is the server's when it is a route's path, or, with JSONP
    /// on, `<route path>/<name>` for a `GET` or `OPTIONS` (a JSONP call);
    /// every other request goes to the fallback as it came, with its body
    /// as a [`Body`], and with [`PeerAddr`](crate::PeerAddr) and
    /// [`ClientIp`](crate::ClientIp) in its extensions (axum handlers read
    /// them with `Extension<PeerAddr>`). A method a route does not answer
    /// stays the route's `405`. The fallback's answer is sent untouched:
    /// the server's CORS and compression settings and its
    /// [`request_timeout`](Self::request_timeout) are for its routes; give
    /// the fallback its own layers. An error of the fallback is a `500`,
    /// logged.
    ///
    /// ```
    /// use axum::routing::get;
    /// use rpckit_http::Server;
    ///
    /// let site = axum::Router::new().route("/", get(|| async { "<h1>hello</h1>" }));
    /// let builder = Server::builder().fallback(site);
    /// # let _ = builder;
    /// ```
    pub fn fallback<S, B>(mut self, service: S) -> Self
    where
        S: tower::Service<http::Request<Body>, Response = http::Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.fallback = Some(Fallback::new(service));
        self
    }

    /// The server as a `tower::Service` of HTTP requests instead of a
    /// listening socket, to mount into another server — an axum `Router`
    /// (`nest_service`, `route_service`), a hyper server of your own. See
    /// [`HttpService`] for how paths and the client's address work there.
    /// Of the settings, what concerns connections (limits, timeouts other
    /// than [`request_timeout`](Self::request_timeout), TLS, the open-file
    /// limit) is the outer server's business and unused here.
    pub fn into_service(self) -> HttpService {
        HttpService::new(Arc::clone(&self.into_config().shared))
    }

    /// Binds the listening socket now, so that a port of 0 resolves to a
    /// real one ([`BoundServer::local_addr`]) before serving starts.
    ///
    /// When `addr` resolves to several addresses (a host name), the first
    /// that binds is used; [`bind_all`](Self::bind_all) listens on several.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> io::Result<BoundServer> {
        self.raise_open_files()?;
        let listener = TcpListener::bind(addr).await?;
        BoundServer::new(vec![listener], self.into_config())
    }

    /// Binds one listening socket per item of `addrs` (each bound as by
    /// [`bind`](Self::bind)); one server then accepts on all of them, with
    /// one connection limit and one shutdown.
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let server = rpckit_http::Server::builder()
    ///     .bind_all(["127.0.0.1:7001", "[::1]:7001"])
    ///     .await?;
    /// assert_eq!(server.local_addrs().len(), 2);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// When any address does not bind (the others are closed again), or
    /// when `addrs` is empty.
    pub async fn bind_all<A: ToSocketAddrs>(
        self,
        addrs: impl IntoIterator<Item = A>,
    ) -> io::Result<BoundServer> {
        self.raise_open_files()?;
        let mut listeners = Vec::new();
        for addr in addrs {
            listeners.push(TcpListener::bind(addr).await?);
        }
        if listeners.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "bind_all was given no address",
            ));
        }
        BoundServer::new(listeners, self.into_config())
    }

    fn raise_open_files(&self) -> io::Result<()> {
        open_files::apply(self.open_files)
    }

    fn into_config(self) -> Arc<Config> {
        if self.reuse_large_blocks {
            rpckit_codec::heap::reuse_blocks_up_to(rpckit_codec::heap::MAX_REUSED_BLOCK);
        }
        let allow = dispatch::allowed_methods(self.jsonp.is_enabled(), self.cors.is_some());
        // Each sink once, however many routes share it.
        let mut sinks: Vec<Arc<dyn rpckit_codec::StatsSink>> = Vec::new();
        for sink in self.routes.values().filter_map(|route| route.sink.as_ref()) {
            if !sinks.iter().any(|known| Arc::ptr_eq(known, sink)) {
                sinks.push(Arc::clone(sink));
            }
        }
        let plain_headers = PlainHeaders::new(
            self.routes.values().flat_map(|route| route.codecs.iter()),
            self.compression.varies(),
        );
        Arc::new(Config {
            sinks: sinks.into(),
            shared: Arc::new(Shared {
                routes: self.routes,
                max_body_size: self.max_body_size,
                max_decompressed_size: self.max_decompressed_size,
                trusted_proxies: TrustedProxies::new(self.trusted_proxies),
                cors: self.cors.map(|cors| CorsPolicy::new(cors, allow)),
                jsonp: self.jsonp,
                allow,
                plain_headers,
                compression: self.compression,
                offload: self.offload,
                fallback: self.fallback,
                services: self.services,
                request_timeout: self.request_timeout,
            }),
            connections: self.connections,
            #[cfg(feature = "tls")]
            tls: self.tls,
        })
    }
}

/// A built server, without sockets: what a restart binds again.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) shared: Arc<Shared>,
    /// Told about every connection: the routes' stats sinks.
    pub(crate) sinks: Arc<[Arc<dyn rpckit_codec::StatsSink>]>,
    pub(crate) connections: ConnectionSettings,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::TlsConfig>,
}

/// The addresses `listeners` listen on, in order.
fn local_addrs(listeners: &[TcpListener]) -> io::Result<Vec<SocketAddr>> {
    listeners.iter().map(TcpListener::local_addr).collect()
}
