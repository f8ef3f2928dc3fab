//! Binding, accepting, and shutting down.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::{self, Future};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream, ToSocketAddrs};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::client_ip::TrustedProxies;
use crate::compression::{Compression, Offload};
use crate::cors::CorsPolicy;
use crate::dispatch::{self, Connection, Shared};
use crate::fallback::Fallback;
use crate::{Body, BoxError, Cors, HttpService, Jsonp, Route};

/// The default of [`ServerBuilder::max_body_size`]: 10 MiB.
pub const DEFAULT_MAX_BODY_SIZE: usize = 10 * 1024 * 1024;

/// The default of [`ServerBuilder::max_decompressed_size`]: 10 MiB, the same
/// as the body limit.
pub const DEFAULT_MAX_DECOMPRESSED_SIZE: usize = 10 * 1024 * 1024;

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
    /// decompressed), no trusted proxies, neither CORS nor JSONP, and
    /// compression only where methods or handlers allow it.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }
}

/// Configures a [`Server`]: its routes, limits, CORS and JSONP.
#[derive(Debug)]
pub struct ServerBuilder {
    routes: HashMap<Box<str>, Route>,
    max_body_size: usize,
    max_decompressed_size: usize,
    trusted_proxies: Vec<IpAddr>,
    cors: Option<Cors>,
    jsonp: Jsonp,
    compression: Compression,
    offload: Offload,
    fallback: Option<Fallback>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        ServerBuilder {
            routes: HashMap::new(),
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            max_decompressed_size: DEFAULT_MAX_DECOMPRESSED_SIZE,
            trusted_proxies: Vec::new(),
            cors: None,
            jsonp: Jsonp::disabled(),
            compression: Compression::default(),
            offload: Offload::default(),
            fallback: None,
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
    #[track_caller]
    pub fn route(mut self, path: &str, route: impl Into<Route>) -> Self {
        assert!(
            path.starts_with('/'),
            "route path `{path}` must start with `/`"
        );
        assert!(
            !self.routes.contains_key(path),
            "a route is already at `{path}`"
        );
        self.routes.insert(path.into(), route.into());
        self
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

    /// Calls `hook` on the blocking thread before offloaded codec work.
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

    /// Binds the listening socket now, so that a port of 0 resolves to a
    /// real one ([`BoundServer::local_addr`]) before serving starts.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> io::Result<BoundServer> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        Ok(BoundServer {
            listener,
            local_addr,
            shared: Arc::new(self.into_shared()),
        })
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
    /// the server's CORS and compression settings are for its routes; give
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
    pub fn into_service(self) -> HttpService {
        HttpService::new(self.into_shared())
    }

    /// What every request reads, from the builder's settings.
    fn into_shared(self) -> Shared {
        let allow = dispatch::allowed_methods(self.jsonp.is_enabled(), self.cors.is_some());
        Shared {
            routes: self.routes,
            max_body_size: self.max_body_size,
            max_decompressed_size: self.max_decompressed_size,
            trusted_proxies: TrustedProxies::new(self.trusted_proxies),
            cors: self.cors.map(|cors| CorsPolicy::new(cors, allow)),
            jsonp: self.jsonp,
            allow,
            compression: self.compression,
            offload: self.offload,
            fallback: self.fallback,
        }
    }
}

/// A server with its socket bound, not yet accepting.
#[derive(Debug)]
pub struct BoundServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
}

impl BoundServer {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until the process ends. Accept errors (such as running out
    /// of file descriptors) are logged and retried, not returned.
    pub async fn serve(self) -> io::Result<()> {
        accept_loop(self.listener, self.shared, future::pending()).await
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
        let task = tokio::spawn(accept_loop(self.listener, self.shared, signal));
        ServerHandle {
            local_addr: self.local_addr,
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
    local_addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, lets every in-flight request finish, and returns
    /// once all connections are closed. Idle keep-alive connections are
    /// closed at once; HTTP/2 clients get a GOAWAY.
    ///
    /// There is no deadline: a request that never finishes holds this up.
    /// Wrap the call in `tokio::time::timeout` to bound it.
    pub async fn shutdown(self) {
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
    }
}

/// Accepts connections until `shutdown` completes, then drains them.
async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The timer arms hyper's HTTP/1 header read timeout (a slowloris guard)
    // and HTTP/2 keep-alive pings.
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);

    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => serve_connection(&builder, &graceful, &shared, stream, peer),
            Err(err) if is_connection_error(&err) => {}
            Err(err) => {
                // Most likely out of file descriptors: back off instead of
                // spinning, and let connections close meanwhile.
                tracing::error!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }

    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Serves one connection on its own task.
fn serve_connection(
    builder: &auto::Builder<TokioExecutor>,
    graceful: &GracefulShutdown,
    shared: &Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
) {
    // Replies are written whole; waiting to coalesce them only adds latency.
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(%peer, error = %err, "could not set TCP_NODELAY");
    }
    let shared = Arc::clone(shared);
    let connection = Connection { peer };
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let span = tracing::debug_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            %peer,
        );
        let shared = Arc::clone(&shared);
        // Boxed, because hyper keeps room for one request's future in every
        // connection, idle or not: unboxed, that is the whole dispatch
        // future (2.7 KiB) per idle connection; boxed, a pointer, and the
        // box lives only while a request does.
        let future: Pin<Box<dyn Future<Output = _> + Send>> =
            Box::pin(
                async move {
                    Ok::<_, Infallible>(dispatch::dispatch(shared, connection, request).await)
                }
                .instrument(span),
            );
        future
    });
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .into_owned();
    let connection = graceful.watch(connection);
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(%peer, error = %err, "connection closed with an error");
        }
    });
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
