//! The whole HTTP endpoint as a plain `tower::Service`, to mount into
//! another server (an axum `Router`, a hyper server of your own).

mod future;

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Extensions, Request, Response};
use rpckit_codec::PeerAddr;
use tower::Service;

pub use self::future::ResponseFuture;
use crate::dispatch::{self, Shared};
use crate::{Body, BoxError};

/// How a mounted service learns the TCP peer of a request.
type PeerLookup = Arc<dyn Fn(&Extensions) -> Option<SocketAddr> + Send + Sync>;

/// An rpckit HTTP endpoint as a `tower::Service<http::Request<B>>`, built by
/// [`ServerBuilder::into_service`](crate::ServerBuilder::into_service).
///
/// It answers a request exactly as a [`Server`](crate::Server) built from
/// the same builder would: routes, JSONP, CORS, compression both ways,
/// cookies and headers, body limits, the [fallback](crate::ServerBuilder::fallback).
/// What belongs to connections — accepting, HTTP/1 and HTTP/2, keep-alive,
/// connection limits and timeouts — is the business of whoever serves it.
/// Any body of [`Bytes`] is accepted (hyper's `Incoming`, axum's `Body`);
/// the response is never an error. Clones are cheap (two `Arc`s) and share
/// everything.
///
/// # Paths
///
/// Routes match the request's path as the service sees it. Mounted with
/// axum's `Router::route_service("/rpc", service)` that is the whole path,
/// so the route is `/rpc`. Mounted with `Router::nest_service("/rpc",
/// service)`, axum strips the prefix first: `/rpc` and `/rpc/` arrive as
/// `/`, `/rpc/api` as `/api`, so the routes are `/` and `/api`, and JSONP's
/// `GET /rpc/echo?…` finds `echo` of the route at `/`.
///
/// # The client's address
///
/// Behind someone else's server the transport knows the TCP peer only if
/// the request says so: by default it reads a [`PeerAddr`] or a plain
/// [`SocketAddr`] from the request's extensions (insert either in a layer
/// of yours), and [`peer_addr_from`](Self::peer_addr_from) reads anything
/// else — axum's `ConnectInfo<SocketAddr>`, set when the app is served with
/// `into_make_service_with_connect_info::<SocketAddr>()`. Without a peer,
/// frames carry neither [`PeerAddr`] nor [`ClientIp`](crate::ClientIp)
/// (handlers asking for them get an error; ask for an `Option` to cope),
/// and `X-Forwarded-For` / `X-Real-IP` are not believed, since no trusted
/// proxy can be recognised.
///
/// ```
/// use std::net::SocketAddr;
///
/// use axum::extract::ConnectInfo;
/// use axum::routing::get;
/// use rpckit_codec::{Codecs, Frame};
/// use rpckit_http::{Route, Server};
///
/// # async fn run() -> std::io::Result<()> {
/// let echo = tower::service_fn(|frame: Frame| async move {
///     Ok::<_, std::convert::Infallible>(Some(frame))
/// });
/// let rpc = Server::builder()
///     // nested at `/rpc`, so `/rpc` arrives here as `/`
///     .route("/", Route::new(Codecs::default(), echo))
///     .into_service()
///     .peer_addr_from(|extensions| {
///         extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0)
///     });
/// let app = axum::Router::new()
///     .route("/health", get(|| async { "ok" }))
///     .nest_service("/rpc", rpc);
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
/// # }
/// ```
///
/// Without sockets, as in a test:
///
/// ```
/// use bytes::Bytes;
/// use http::{Request, StatusCode};
/// use http_body_util::Full;
/// use rpckit_codec::{Codecs, Frame};
/// use rpckit_http::{Route, Server};
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let echo = tower::service_fn(|frame: Frame| async move {
///     Ok::<_, std::convert::Infallible>(Some(frame))
/// });
/// let service = Server::builder()
///     .route("/api", Route::new(Codecs::default(), echo))
///     .into_service();
/// let request = Request::post("/api")
///     .header("content-type", "application/json")
///     .body(Full::new(Bytes::from_static(b"[]")))
///     .unwrap();
/// let response = service.clone().oneshot(request).await.unwrap();
/// assert_eq!(response.status(), StatusCode::OK);
/// let missing = Request::get("/nothing").body(Full::<Bytes>::default()).unwrap();
/// assert_eq!(service.oneshot(missing).await.unwrap().status(), StatusCode::NOT_FOUND);
/// # }
/// ```
#[derive(Clone)]
pub struct HttpService {
    shared: Arc<Shared>,
    peer: PeerLookup,
}

impl HttpService {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        HttpService {
            shared,
            peer: Arc::new(default_peer),
        }
    }

    /// Reads the TCP peer of a request from its extensions with `lookup`
    /// instead of looking for a [`PeerAddr`] or a [`SocketAddr`]; see
    /// [the client's address](Self#the-clients-address).
    pub fn peer_addr_from<F>(mut self, lookup: F) -> Self
    where
        F: Fn(&Extensions) -> Option<SocketAddr> + Send + Sync + 'static,
    {
        self.peer = Arc::new(lookup);
        self
    }
}

/// The peer as a layer of the user's (or rpckit's own server) recorded it.
fn default_peer(extensions: &Extensions) -> Option<SocketAddr> {
    extensions
        .get::<PeerAddr>()
        .map(|peer| peer.0)
        .or_else(|| extensions.get::<SocketAddr>().copied())
}

impl<B> Service<Request<B>> for HttpService
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    /// Always ready: every request is answered on its own.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> ResponseFuture {
        let peer = (self.peer)(request.extensions());
        let span = tracing::debug_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            peer = ?peer,
        );
        ResponseFuture::new(dispatch::serve(&self.shared, peer, request, span))
    }
}

impl fmt::Debug for HttpService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpService")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}
