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
use std::future::{ready, Future};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, Uri, Version};
use http_body_util::Full;
use rpckit_codec::PeerAddr;
use tracing::{Instrument, Span};

use crate::client_ip::TrustedProxies;
use crate::compression::{Compression, Offload};
use crate::cors::{self, CorsPolicy};
use crate::error::Rejection;
use crate::fallback::Fallback;
use crate::plain_headers::PlainHeaders;
use crate::{jsonp, post, Body, BoxError, Jsonp, RequestHeaders, ResponseHandle, Route};

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
    /// The headers of an answer no handler changed.
    pub(crate) plain_headers: PlainHeaders,
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

/// A request's answer on its way, boxed: hyper keeps room for one
/// request's future in every connection, idle or not, and a box is a
/// pointer there; the box lives only while the request does.
pub(crate) type BoxedAnswer = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

/// Answers one request. Never fails: every rejection becomes a response.
///
/// What needs no waiting is done here, when the request arrives: finding
/// its target, reading its head (codec, coding, a JSONP query), making the
/// frame's facts. The future made then holds only what the waiting needs
/// (the body, the frame, the service; not the request's head). Each `async
/// fn` keeps its arguments for its whole life, next to its own copy of
/// whatever it moves out of them, so a request handed down through the
/// `async fn`s of dispatch made a future of 3.2 KiB, moved three times on
/// its way into its box; this one is a few hundred bytes.
///
/// `span` is the request's: the answer runs in it (when a subscriber wants
/// it), and so does a rejection found here.
pub(crate) fn serve<B>(
    shared: &Arc<Shared>,
    peer: Peer,
    request: Request<B>,
    span: Span,
) -> BoxedAnswer
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let (parts, body) = request.into_parts();
    let head = RequestHead {
        method: parts.method,
        uri: parts.uri,
        version: parts.version,
        headers: RequestHeaders::new(parts.headers),
        extensions: parts.extensions,
    };
    serve_head(shared, peer, head, body, span, false)
}

/// A request's head, its headers as [`RequestHeaders`]: a map, or the
/// fields as the fast HTTP/1 connection read them.
#[derive(Debug)]
pub(crate) struct RequestHead {
    pub(crate) method: Method,
    pub(crate) uri: Uri,
    pub(crate) version: Version,
    pub(crate) headers: RequestHeaders,
    pub(crate) extensions: http::Extensions,
}

/// Whether [`serve_head`] reads the whole body of `head` (of `body_len`
/// bytes) before it answers: a `POST` to a route, in one of its codecs and
/// a known coding, no longer than the server takes. Every other answer
/// (404, 405, 413, 415, a fallback's) may come before the body does.
pub(crate) fn reads_body_first(shared: &Shared, head: &RequestHead, body_len: usize) -> bool {
    head.method == Method::POST
        && body_len <= shared.max_body_size
        && match shared.target(head.uri.path(), &head.method) {
            Some(Target::Route(route)) => post::body_form(route, &head.headers).is_ok(),
            _ => false,
        }
}

/// [`serve`], for a request already in its parts. `writes_plain_heads`
/// says that the connection writes a plain answer's headers itself, from
/// its body's [`PlainHead`](crate::plain_headers::PlainHead): the fast
/// HTTP/1 connection does; hyper needs them in the map.
pub(crate) fn serve_head<B>(
    shared: &Arc<Shared>,
    peer: Peer,
    head: RequestHead,
    body: B,
    span: Span,
    writes_plain_heads: bool,
) -> BoxedAnswer
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let RequestHead {
        method,
        uri,
        version,
        headers,
        extensions,
    } = head;
    let finish = Finish {
        origin: match shared.cors {
            Some(_) => headers
                .first(&header::ORIGIN)
                .and_then(|origin| HeaderValue::from_bytes(origin).ok()),
            None => None,
        },
        handle: ResponseHandle::new(),
    };
    let not_allowed = Rejection::MethodNotAllowed {
        allow: shared.allow,
    };
    let handle = &finish.handle;
    // CORS adds to every answer's map: it would only be built late.
    let leave_plain_out = writes_plain_heads && shared.cors.is_none();
    let started = match (&method, shared.target(uri.path(), &method)) {
        (&Method::POST, Some(Target::Route(route))) => {
            post::Exchange::start(shared, route, peer, headers, body, handle)
                .map(|exchange| Started::Post(exchange.run(leave_plain_out)))
        }
        (&Method::GET, Some(Target::Route(_))) if shared.jsonp.is_enabled() => {
            Err(Rejection::NoMethod)
        }
        (&Method::GET, Some(Target::Method(route, name))) => {
            let query = uri.query().unwrap_or("");
            jsonp::Exchange::start(shared, route, name, peer, query, headers, handle)
                .map(|exchange| Started::Jsonp(exchange.run(leave_plain_out)))
        }
        (&Method::OPTIONS, Some(_)) => match &shared.cors {
            // A preflight has its CORS headers already.
            Some(cors) => {
                let response = cors.options(&headers, allow_value(shared.allow));
                return boxed(ready(response.map(Body::full)), span);
            }
            None => Err(not_allowed),
        },
        (_, Some(_)) => Err(not_allowed),
        (_, None) => match shared.services.get(uri.path()).or(shared.fallback.as_ref()) {
            // The fallback gets what the transport knows about the client
            // in its extensions (`PeerAddr`, `ClientIp`), its body type
            // erased.
            Some(service) => {
                let client_ip =
                    peer.map(|peer| (peer, shared.trusted_proxies.client_ip(peer.ip(), &headers)));
                let mut request = Request::new(Body::new(body));
                *request.method_mut() = method;
                *request.uri_mut() = uri;
                *request.version_mut() = version;
                *request.headers_mut() = headers.into_map();
                *request.extensions_mut() = extensions;
                if let Some((peer, client_ip)) = client_ip {
                    request.extensions_mut().insert(PeerAddr(peer));
                    request.extensions_mut().insert(client_ip);
                }
                return boxed(service.clone().call(request), span);
            }
            None => Err(Rejection::NotFound),
        },
    };
    match started {
        Ok(Started::Post(answer)) => boxed(Answering::new(shared, answer, finish), span),
        Ok(Started::Jsonp(answer)) => boxed(Answering::new(shared, answer, finish), span),
        Err(rejection) => {
            let response = span.in_scope(|| finish.respond(shared, Err(rejection)));
            boxed(ready(response), span)
        }
    }
}

/// A request that waits for its answer, by the way it came.
enum Started<P, J> {
    Post(P),
    Jsonp(J),
}

/// Boxes `answer`, in `span` when a subscriber wants it: the wrapper
/// enters and leaves the span on every poll and on drop.
fn boxed<F>(answer: F, span: Span) -> BoxedAnswer
where
    F: Future<Output = Response<Body>> + Send + 'static,
{
    if span.is_disabled() {
        Box::pin(answer)
    } else {
        Box::pin(answer.instrument(span))
    }
}

/// What every routed answer gets last.
struct Finish {
    /// The request's `Origin`, when CORS is on.
    origin: Option<HeaderValue>,
    handle: ResponseHandle,
}

impl Finish {
    /// Makes the response of `answer`: a rejection becomes its error
    /// response, every response gets its CORS headers (so a browser can
    /// read a timed-out request's 503 too), and a served one last the
    /// changes the handler made, so that a handler's header wins.
    fn respond(self, shared: &Shared, answer: Result<Response<Body>, Rejection>) -> Response<Body> {
        let (mut response, served) = match answer {
            Ok(response) => (response, true),
            Err(rejection) => (reject(rejection).map(Body::full), false),
        };
        if let Some(cors) = &shared.cors {
            // With CORS no plain headers are left out of the map (see
            // `leave_plain_out`), which CORS extends.
            debug_assert!(response.body().plain_head().is_none());
            cors.actual(self.origin.as_ref(), response.headers_mut());
        }
        if served {
            // A handler may still change the response after its answer was
            // made (from a task of its own): the plain headers its map left
            // out, for the fast connection to write, go into it first, so
            // that the change replaces them as it would have.
            self.handle.apply_after(&mut response, Body::unplain);
        }
        response
    }
}

pin_project_lite::pin_project! {
    /// A routed request's answer, under the request timeout, then
    /// [finished](Finish::respond). The fallback is another application,
    /// with its own layers: it is not timed here.
    struct Answering<F> {
        #[pin]
        answer: Within<F>,
        shared: Arc<Shared>,
        finish: Option<Finish>,
    }
}

impl<F> Answering<F> {
    fn new(shared: &Arc<Shared>, answer: F, finish: Finish) -> Self {
        Answering {
            answer: within(shared.request_timeout, answer),
            shared: Arc::clone(shared),
            finish: Some(finish),
        }
    }
}

impl<F> Future for Answering<F>
where
    F: Future<Output = Result<Response<Body>, Rejection>>,
{
    type Output = Response<Body>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let answer = std::task::ready!(this.answer.poll(cx));
        let finish = this.finish.take().expect("an answer is finished once");
        Poll::Ready(finish.respond(this.shared, answer))
    }
}

/// Awaits `future` for at most `limit` from now (if there is a limit); a
/// [`Rejection::Timeout`] when it took longer. Like `tokio::time::timeout`,
/// but the timer is only made when the first poll did not answer: most
/// requests are answered in it, and a timer made, never polled and
/// dropped costs them about 150 instructions. The deadline is still
/// counted from the call, not from the first poll.
fn within<F>(limit: Option<Duration>, future: F) -> Within<F> {
    Within {
        future,
        timer: None,
        limit: limit.map(|limit| (limit, tokio::time::Instant::now() + limit)),
    }
}

pin_project_lite::pin_project! {
    /// [`within`]'s future.
    struct Within<F> {
        #[pin]
        future: F,
        #[pin]
        timer: Option<tokio::time::Sleep>,
        // The limit, and the deadline it makes.
        limit: Option<(Duration, tokio::time::Instant)>,
    }
}

impl<F, T> Future for Within<F>
where
    F: Future<Output = Result<T, Rejection>>,
{
    type Output = Result<T, Rejection>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(output);
        }
        let Some((limit, deadline)) = *this.limit else {
            return Poll::Pending;
        };
        if this.timer.is_none() {
            this.timer.set(Some(tokio::time::sleep_until(deadline)));
        }
        let timer = this.timer.as_pin_mut().expect("the timer was just set");
        timer.poll(cx).map(|()| Err(Rejection::Timeout { limit }))
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

#[cfg(test)]
mod tests {
    use rpckit_codec::{Codecs, JsonCodec};

    use super::*;

    fn plain_answer() -> Response<Body> {
        let plain = PlainHeaders::new(Codecs::new(JsonCodec::default()).iter(), true);
        let head = plain.head(&JsonCodec::default());
        Response::new(Body::plain(Bytes::from_static(b"{}"), head))
    }

    /// As `Finish::respond` applies a handler's changes.
    fn apply_changes(handle: &ResponseHandle, response: &mut Response<Body>) {
        handle.apply_after(response, Body::unplain);
    }

    #[test]
    fn a_late_change_replaces_the_plain_headers_as_it_would_have() {
        let handle = ResponseHandle::new();
        let mut untouched = plain_answer();
        apply_changes(&handle, &mut untouched);
        assert!(untouched.body().plain_head().is_some());
        assert!(untouched.headers().is_empty());

        handle.insert_header(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        let mut changed = plain_answer();
        apply_changes(&handle, &mut changed);
        assert_eq!(changed.body().plain_head(), None);
        let types: Vec<_> = changed
            .headers()
            .get_all(header::CONTENT_TYPE)
            .iter()
            .collect();
        assert_eq!(types, ["text/plain"]);
        assert_eq!(changed.headers()[header::VARY], "accept-encoding");
    }
}
