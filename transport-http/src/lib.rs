//! HTTP/1.1 and HTTP/2 transport for rpckit.
//!
//! The key decision: **the transport knows frames, not methods.** A request
//! body becomes one [`Frame`](rpckit_codec::Frame) (the bytes, the codec
//! negotiated from `Content-Type`, and what the transport knows about the
//! request in its extensions), handed to a `tower::Service` that answers
//! `Option<Frame>`. The transport never parses JSON-RPC: a JSON-RPC error is
//! a frame like any other and travels as HTTP 200, and `None` (only
//! notifications) is a `204 No Content`. Everything HTTP-specific — paths,
//! status codes, body limits, client addresses, cookies — stays here, and
//! everything RPC-specific stays behind the service, so any tower middleware
//! fits between the two.
//!
//! ```no_run
//! use std::convert::Infallible;
//! use rpckit_codec::{Codecs, Frame};
//! use rpckit_http::{Route, Server};
//!
//! # async fn run() -> std::io::Result<()> {
//! // A frame service that echoes every request back.
//! let echo = tower::service_fn(|frame: Frame| async move { Ok::<_, Infallible>(Some(frame)) });
//! let handle = Server::builder()
//!     .route("/api", Route::new(Codecs::default(), echo))
//!     .max_body_size(1024 * 1024)
//!     .bind("127.0.0.1:0")
//!     .await?
//!     .spawn();
//! println!("listening on {}", handle.local_addr());
//! handle.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # What a request gets
//!
//! | request | response |
//! |---|---|
//! | `POST` to a route, the service answers a frame | `200`, `Content-Type` = the codec's first media type |
//! | `POST`, the service answers `None` | `204 No Content` |
//! | `Content-Type` no codec of the route accepts | `415` |
//! | body over [`ServerBuilder::max_body_size`] | `413` (declared lengths refused unread) |
//! | `Content-Encoding` gzip, deflate, br, zstd | decompressed before the codec sees it |
//! | decompressed body over [`ServerBuilder::max_decompressed_size`] | `413`, found while decoding |
//! | any other `Content-Encoding` | `415` with `Accept-Encoding` |
//! | a compressed body that does not decode | `400` |
//! | the service fails with an [`HttpError`] (an auth layer's `401`) | its status, text and headers |
//! | the service fails otherwise | `500`, logged with `tracing::error!` |
//! | the request takes longer than [`ServerBuilder::request_timeout`] (60 s) | `503`, the service's future dropped |
//! | `GET <route>/<method>?<params>`, [JSONP](ServerBuilder::jsonp) on | the method's answer as JavaScript (`/**/cb(…);`) or JSON; see [`ServerBuilder::jsonp`] |
//! | `GET` with JSONP off | `405` |
//! | a JSONP callback or query that is not safe or does not decode | `400`, saying why |
//! | `OPTIONS`, [CORS](ServerBuilder::cors) on | `204`, a preflight answer when it is one |
//! | another method on a route | `405` with `Allow` (`POST`, plus `GET` with JSONP, `OPTIONS` with CORS) |
//! | the answer is allowed compression, the client accepts it | compressed ([`compression`]) |
//! | a path with no route | the [fallback](ServerBuilder::fallback)'s answer, else `404` |
//!
//! With CORS on, every answer (errors, `204`s and JSONP included) carries
//! `Vary: Origin`, and `Access-Control-Allow-Origin` when the request's
//! `Origin` is allowed; see [`Cors`].
//!
//! # Mounting, and other apps on the same port
//!
//! [`ServerBuilder::into_service`] turns the whole endpoint into an
//! [`HttpService`], a plain `tower::Service<http::Request<B>>` that nests
//! into an axum `Router` (or any server taking tower services) and answers
//! as the server would. The other way round, [`ServerBuilder::fallback`]
//! gives the server any tower service of HTTP requests (an axum `Router`,
//! tower-http's `ServeDir`) for every path its routes do not take.
//!
//! One port speaks HTTP/1.1 (keep-alive) and HTTP/2 with prior knowledge
//! (h2c), or with the `tls` feature and `ServerBuilder::tls` HTTPS
//! (HTTP/1.1 and HTTP/2 by ALPN); each connection runs on its own task and
//! each request in a `tracing` span with its method, path and peer.
//!
//! # Connections and lifecycle
//!
//! Connections are limited in number and time, with safe defaults (see
//! [`ServerBuilder`]): at most 10,000 at once (past it the server stops
//! accepting until one closes), 30 s to send a request head, 60 s idle,
//! 60 s a request. A server can listen on several addresses
//! ([`ServerBuilder::bind_all`]); [`ServerHandle::shutdown`] drains it
//! gracefully within a deadline and returns a [`StoppedServer`] that binds
//! the same addresses again with the same routes
//! ([`ServerHandle::restart`]). Several servers in one process can share a
//! [`Route`] (it is `Clone`; clones share the service's state).
//!
//! A plain-TCP connection speaks HTTP/1.1 or HTTP/2 with prior knowledge
//! (told apart by its first bytes); TLS ones say which through ALPN. HTTP/1
//! requests of the usual kind, a head with a `Content-Length` body of at
//! most 64 KiB that has arrived whole, are read by rpckit's own connection
//! (with `httparse`, their headers made into a map only if someone asks)
//! and answered with one write; the first request of any other kind
//! (chunked, `Expect`, `Upgrade`, `HEAD`, a larger or late body, a
//! malformed head) hands the connection over to hyper, which serves it from
//! then on. HTTP/2 and TLS are hyper's throughout.
//!
//! A new process can take the server over without refusing a connection
//! (on Unix): [`ServerHandle::hand_over`] starts it with the listening
//! sockets (`LISTEN_FDS`, systemd's convention), it serves on them with
//! [`ServerBuilder::bind_inherited`] and says [`notify_ready`], and the old
//! one drains with [`ServerHandle::shutdown_lingering`] and exits; see
//! [`handover`].
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `tls` | no | HTTPS through rustls (*ring* provider): `ServerBuilder::tls`, `TlsConfig` |
//! | `fuzzing` | no | internals for the fuzz targets; not a stable API |
//!
//! # What a handler can read and write
//!
//! Every frame's extensions carry [`PeerAddr`], the [`RoutePath`],
//! [`ClientIp`], [`RequestHeaders`], [`RequestCookies`] and a
//! [`ResponseHandle`] for response headers, cookies, the status, the JSONP
//! callback and permission to compress; a JSONP frame also carries a
//! [`JsonpRequest`]. Headers set through the handle win over the
//! transport's, CORS headers included. Cookies are built with the
//! re-exported [`cookie`] crate.

mod body;
mod boxed_body;
mod client_ip;
pub mod compression;
mod cookies;
mod cors;
mod dispatch;
mod error;
mod facts;
mod fallback;
mod headers;
mod http_error;
mod jsonp;
mod plain_headers;
mod post;
mod response;
mod route;
mod server;
pub mod service;
#[cfg(feature = "tls")]
mod tls;

pub use boxed_body::Body;
pub use client_ip::ClientIp;
pub use compression::Compression;
pub use cookie;
pub use cookies::RequestCookies;
pub use cors::Cors;
pub use error::BoxError;
pub use headers::RequestHeaders;
pub use http_error::HttpError;
pub use jsonp::{InvalidCallback, Jsonp, JsonpRequest, QueryCodec, MAX_CALLBACK_LEN};
pub use response::ResponseHandle;
pub use route::{Route, RoutePath};
pub use rpckit_codec::PeerAddr;
pub use server::{
    BoundServer, OpenFileLimit, Server, ServerBuilder, ServerHandle, StoppedServer,
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_HTTP2_KEEP_ALIVE_INTERVAL,
    DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_BODY_SIZE,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_DECOMPRESSED_SIZE, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SHUTDOWN_TIMEOUT, RESTART_LINGER,
};
pub use service::HttpService;

/// Zero-downtime restart (`rpckit_codec::handover`): taking sockets
/// over through `LISTEN_FDS`, starting a successor with them.
#[cfg(unix)]
pub use rpckit_codec::handover;
#[cfg(unix)]
pub use rpckit_codec::handover::{notify_ready, Successor};
#[cfg(unix)]
pub use server::LISTENER_NAME;

/// The fast HTTP/1 connection's head reader, for the fuzz targets.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use server::h1::fuzzing as http1_fuzzing;
#[cfg(feature = "tls")]
pub use tls::{TlsConfig, TlsError, TlsErrorKind};
