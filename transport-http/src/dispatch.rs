//! From an HTTP request to the handler for its path and method.
//!
//! Dispatch is two lookups: the path picks a [`Route`] (404 if none), the
//! method picks what to do with it (405 if nothing): `POST` is a frame in
//! the body ([`post`]), `GET` a JSONP call ([`jsonp`], when on), `OPTIONS`
//! a CORS preflight (when CORS is on). A JSONP call names its method after
//! the route's path, so for `GET` (and its preflight) a path that is no
//! route is looked up once more without its last segment.
//!
//! Every answer then gets its CORS headers, and last the changes the
//! handler made through its [`ResponseHandle`], so a handler's header wins.
//!
//! A path that names no route goes to the [fallback](Fallback) when there
//! is one, untouched (no CORS, no compression: it is another application's
//! answer), else it is a 404.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response};
use http_body_util::Full;
use rpckit_codec::PeerAddr;

use crate::client_ip::TrustedProxies;
use crate::compression::{Compression, Offload};
use crate::cors::{self, CorsPolicy};
use crate::error::Rejection;
use crate::fallback::Fallback;
use crate::{jsonp, post, Body, BoxError, Jsonp, ResponseHandle, Route};

/// What every request of a server reads: set once by the builder.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Looked up once per request: a fast hash of registered paths (see
    /// [`NameHash`](rpckit_codec::name_hash)), not SipHash.
    pub(crate) routes: Routes,
    pub(crate) max_body_size: usize,
    pub(crate) max_decompressed_size: usize,
    pub(crate) trusted_proxies: TrustedProxies,
    pub(crate) cors: Option<CorsPolicy>,
    pub(crate) jsonp: Jsonp,
    /// The methods a route answers, for `Allow`.
    pub(crate) allow: &'static [Method],
    pub(crate) compression: Compression,
    pub(crate) offload: Offload,
    /// How long one request may take; `None` for no limit.
    pub(crate) request_timeout: Option<std::time::Duration>,
    /// Answers the paths no route takes.
    pub(crate) fallback: Option<Fallback>,
    /// Other services at paths of their own (metrics, health checks).
    pub(crate) services: HashMap<Box<str>, Fallback>,
}

/// The server's routes by path.
pub(crate) type Routes = HashMap<Box<str>, Route, rpckit_codec::name_hash::NameHash>;

/// The methods a route answers: `POST`, plus `GET` with JSONP and `OPTIONS`
/// with CORS.
pub(crate) fn allowed_methods(jsonp: bool, cors: bool) -> &'static [Method] {
    const POST: &[Method] = &[Method::POST];
    const POST_GET: &[Method] = &[Method::POST, Method::GET];
    const POST_OPTIONS: &[Method] = &[Method::POST, Method::OPTIONS];
    const ALL: &[Method] = &[Method::POST, Method::GET, Method::OPTIONS];
    match (jsonp, cors) {
        (false, false) => POST,
        (true, false) => POST_GET,
        (false, true) => POST_OPTIONS,
        (true, true) => ALL,
    }
}

/// What the transport knows about a request besides the request itself.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Connection {
    pub(crate) peer: SocketAddr,
}

/// The TCP peer of a request, when the transport knows it: always behind
/// the server's own sockets, only when the request says so behind someone
/// else's (see [`HttpService`](crate::HttpService)).
pub(crate) type Peer = Option<SocketAddr>;

/// What a path names.
enum Target<'a> {
    /// A route's own path.
    Route(&'a Route),
    /// `<route path>/<method>`, for JSONP: the method segment still encoded.
    Method(&'a Route, &'a str),
}

impl Shared {
    fn target<'a>(&'a self, path: &'a str, method: &Method) -> Option<Target<'a>> {
        if let Some(route) = self.routes.get(path) {
            return Some(Target::Route(route));
        }
        let jsonp_method = *method == Method::GET || *method == Method::OPTIONS;
        if !(self.jsonp.is_enabled() && jsonp_method) {
            return None;
        }
        let (prefix, name) = path.rsplit_once('/')?;
        if name.is_empty() {
            return None;
        }
        // `/echo` names `echo` of a route at `/`.
        let prefix = if prefix.is_empty() { "/" } else { prefix };
        let route = self.routes.get(prefix)?;
        Some(Target::Method(route, name))
    }
}

/// Answers one request of the server's own sockets.
pub(crate) async fn dispatch<B>(
    shared: Arc<Shared>,
    connection: Connection,
    request: Request<B>,
) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    serve(&shared, Some(connection.peer), request).await
}

/// Answers one request. Never fails: every rejection becomes a response.
pub(crate) async fn serve<B>(shared: &Shared, peer: Peer, request: Request<B>) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let origin = match shared.cors {
        Some(_) => request.headers().get(header::ORIGIN).cloned(),
        None => None,
    };
    // A cheap clone (shared bytes), so the target can borrow from it while
    // the request moves on.
    let uri = request.uri().clone();
    let handle = ResponseHandle::new();
    let answer = match shared.target(uri.path(), request.method()) {
        Some(target) => {
            let answer = answer(shared, target, peer, request, &handle);
            // Here, so that a timed-out request's 503 gets CORS headers
            // like every other answer (a browser could not read it
            // otherwise). The fallback is another application, with its
            // own layers: it is not timed here.
            match shared.request_timeout {
                Some(limit) => within(limit, answer)
                    .await
                    .unwrap_or(Err(Rejection::Timeout { limit })),
                None => answer.await,
            }
        }
        None => match shared.services.get(uri.path()).or(shared.fallback.as_ref()) {
            Some(service) => return service.call(fallback_request(shared, peer, request)).await,
            None => Err(Rejection::NotFound),
        },
    };
    let (mut response, served) = match answer {
        Ok(Answer::Served(response)) => (response, true),
        // A preflight has its CORS headers already.
        Ok(Answer::Options(response)) => return response.map(Body::full),
        Err(rejection) => (reject(rejection), false),
    };
    if let Some(cors) = &shared.cors {
        cors.actual(origin.as_ref(), response.headers_mut());
    }
    if served {
        handle.apply(&mut response);
    }
    response.map(Body::full)
}

/// Awaits `future` for at most `limit` from now; `None` when it took
/// longer. Like `tokio::time::timeout`, but the timer is only made when
/// the first poll did not answer: most requests are answered in it, and a
/// timer made, never polled and dropped costs them about 150 instructions.
/// The deadline is still counted from the call, not from the first poll.
fn within<F: Future>(limit: Duration, future: F) -> Within<F> {
    Within {
        future,
        timer: None,
        deadline: tokio::time::Instant::now() + limit,
    }
}

pin_project_lite::pin_project! {
    /// [`within`]'s future. A struct, not an `async fn`: that would move
    /// the request's future (kilobytes) once more, into its frame.
    struct Within<F> {
        #[pin]
        future: F,
        #[pin]
        timer: Option<tokio::time::Sleep>,
        deadline: tokio::time::Instant,
    }
}

impl<F: Future> Future for Within<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Some(output));
        }
        if this.timer.is_none() {
            this.timer
                .set(Some(tokio::time::sleep_until(*this.deadline)));
        }
        let timer = this.timer.as_pin_mut().expect("the timer was just set");
        timer.poll(cx).map(|()| None)
    }
}

/// The request as the fallback gets it: what the transport knows about the
/// client in its extensions ([`PeerAddr`], [`ClientIp`](crate::ClientIp)),
/// its body type erased.
fn fallback_request<B>(shared: &Shared, peer: Peer, request: Request<B>) -> Request<Body>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let (mut parts, body) = request.into_parts();
    if let Some(peer) = peer {
        let client_ip = shared.trusted_proxies.client_ip(peer.ip(), &parts.headers);
        parts.extensions.insert(PeerAddr(peer));
        parts.extensions.insert(client_ip);
    }
    Request::from_parts(parts, Body::new(body))
}

enum Answer {
    /// The frame service answered.
    Served(Response<Full<Bytes>>),
    /// An `OPTIONS`, answered by the CORS policy.
    Options(Response<Full<Bytes>>),
}

async fn answer<B>(
    shared: &Shared,
    target: Target<'_>,
    peer: Peer,
    request: Request<B>,
    handle: &ResponseHandle,
) -> Result<Answer, Rejection>
where
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    let not_allowed = Rejection::MethodNotAllowed {
        allow: shared.allow,
    };
    match (request.method().clone(), target) {
        (Method::POST, Target::Route(route)) => post::handle(shared, route, peer, request, handle)
            .await
            .map(Answer::Served),
        (Method::GET, Target::Route(_)) if shared.jsonp.is_enabled() => Err(Rejection::NoMethod),
        (Method::GET, Target::Method(route, name)) => {
            jsonp::handle(shared, route, name, peer, request, handle)
                .await
                .map(Answer::Served)
        }
        (Method::OPTIONS, _) => match &shared.cors {
            Some(cors) => Ok(Answer::Options(
                cors.options(request.headers(), allow_value(shared.allow)),
            )),
            None => Err(not_allowed),
        },
        _ => Err(not_allowed),
    }
}

fn allow_value(methods: &[Method]) -> HeaderValue {
    cors::list(methods.iter().map(Method::as_str))
}

fn reject(rejection: Rejection) -> Response<Full<Bytes>> {
    match &rejection {
        Rejection::Service(_) | Rejection::Internal(_) => {
            tracing::error!(error = %rejection, "request failed")
        }
        Rejection::Timeout { .. } => tracing::warn!(error = %rejection, "request timed out"),
        _ => tracing::debug!(error = %rejection, "request rejected"),
    }
    rejection.into_response()
}
