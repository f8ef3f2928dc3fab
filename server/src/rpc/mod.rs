//! JSON-RPC semantics between the codec and the router: batches,
//! notifications, invalid entries, panics.

mod direct;
mod layer;

use std::any::Any;
use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use futures_util::{FutureExt, StreamExt};
use rpckit_codec::{Codec, Entry, ErrorObject, Extensions, Id, Message, Reply, Request, Response};
use tower::{BoxError, Service, ServiceExt};
use tracing::{Instrument, Span};

pub use layer::RpcLayer;

use crate::{Call, Outcome, Router};

/// A decoded frame on its way to the [`RpcService`]: the message, the codec
/// that decoded it, and the transport's facts.
pub struct Incoming {
    /// What the codec decoded.
    pub message: Message,
    /// The codec of the frame.
    pub codec: Arc<dyn Codec>,
    /// Connection and request facts from the transport.
    pub extensions: Extensions,
}

impl fmt::Debug for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("message", &self.message)
            .field("codec", &self.codec.name())
            .finish_non_exhaustive()
    }
}

/// Turns a [`Message`] into calls on the inner service and their outcomes
/// into a [`Reply`]: the specification's semantics in one place.
///
/// - A batch runs its calls concurrently, at most `batch_concurrency` at a
///   time, and answers in request order.
/// - Notifications run, and are never answered; a batch of only
///   notifications gets no reply (`None`).
/// - Invalid entries are answered with their error and id `null`.
/// - A handler that panics answers -32603 for its call alone.
/// - An error from the inner service (a tower middleware's, say) answers
///   -32603 with its text.
///
/// When the inner service is a [`Router`] itself (an
/// [`Endpoint`](crate::Endpoint)'s stack), the calls of a request run
/// straight on it, with the same semantics: one table snapshot per
/// request, each call started in place, a task only for calls that do not
/// answer in their first poll.
#[derive(Clone, Debug)]
pub struct RpcService<S> {
    inner: S,
    batch_concurrency: usize,
}

impl<S> RpcService<S> {
    /// Wraps `inner` with at most `batch_concurrency` calls of a batch in
    /// flight at once (at least one).
    pub fn new(inner: S, batch_concurrency: usize) -> Self {
        RpcService {
            inner,
            batch_concurrency: batch_concurrency.max(1),
        }
    }
}

impl<S> Service<Incoming> for RpcService<S>
where
    S: Service<Call, Response = Outcome> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Option<Reply>;
    type Error = Infallible;
    type Future = RpcFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Readiness is asked of the inner service per call, by `oneshot`.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, incoming: Incoming) -> RpcFuture {
        let Incoming {
            message,
            codec,
            extensions,
        } = incoming;
        // The endpoint's own stack: the router's direct path.
        if let Some(router) = (&self.inner as &dyn Any).downcast_ref::<Router>() {
            let router = router.clone();
            return match message {
                Message::Single(entry) => RpcFuture(Serving::Single(direct::Single::new(
                    router, entry, codec, extensions,
                ))),
                Message::Batch(entries) => {
                    let limit = self.batch_concurrency;
                    RpcFuture(Serving::Boxed(Box::pin(async move {
                        direct::serve_batch(&router, entries, codec, extensions, limit).await
                    })))
                }
            };
        }
        let inner = self.inner.clone();
        match message {
            Message::Single(entry) => RpcFuture(Serving::Boxed(Box::pin(async move {
                run_entry(inner, entry, codec, extensions)
                    .await
                    .map(Reply::Single)
            }))),
            Message::Batch(entries) => {
                let limit = self.batch_concurrency;
                RpcFuture(Serving::Boxed(Box::pin(async move {
                    let responses: Vec<Response> = futures_util::stream::iter(entries)
                        .map(move |entry| {
                            run_entry(inner.clone(), entry, codec.clone(), extensions.clone())
                        })
                        .buffered(limit)
                        .filter_map(std::future::ready)
                        .collect()
                        .await;
                    (!responses.is_empty()).then_some(Reply::Batch(responses))
                })))
            }
        }
    }
}

/// The future of an [`RpcService`]: the reply to one message, if any.
///
/// A single call on a [`Router`] (an endpoint's stack) is served by a
/// future of its own, not a boxed `async` block: the codec layer's future
/// holds it in place, and a small call allocates nothing for the rpc layer.
/// Batches, and calls through other services, are boxed.
pub struct RpcFuture(Serving);

enum Serving {
    /// One call straight on a router.
    Single(direct::Single),
    /// A batch, or a call through another service.
    Boxed(BoxFuture<'static, Option<Reply>>),
}

impl Future for RpcFuture {
    type Output = Result<Option<Reply>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().0 {
            Serving::Single(single) => Pin::new(single).poll(cx).map(Ok),
            Serving::Boxed(boxed) => boxed.as_mut().poll(cx).map(Ok),
        }
    }
}

impl fmt::Debug for RpcFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RpcFuture")
    }
}

/// Runs one entry; the response to send for it, if any.
async fn run_entry<S>(
    inner: S,
    entry: Entry,
    codec: Arc<dyn Codec>,
    extensions: Extensions,
) -> Option<Response>
where
    S: Service<Call, Response = Outcome> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    let request = match valid(entry) {
        Ok(request) => request,
        Err(response) => return Some(response),
    };
    let span = call_span(&request, &codec, &extensions);
    let id = request.id.clone();
    let call = Call::new(request, codec, extensions);
    // An instrumented future costs a span enter and exit per poll: only pay
    // it when a subscriber wants the span.
    let outcome = if span.is_disabled() {
        guarded(inner, call).await
    } else {
        guarded(inner, call).instrument(span.clone()).await
    };
    answered(&span, id, outcome)
}

/// The request of a valid entry, or the response to an invalid one.
fn valid(entry: Entry) -> Result<Request, Response> {
    entry.map_err(|error| {
        tracing::debug!(
            code = error.code().code(),
            message = error.message(),
            "invalid request"
        );
        Response {
            id: Id::Null,
            outcome: Err(error),
        }
    })
}

/// The span of one call: method, id, path, codec.
fn call_span(request: &Request, codec: &Arc<dyn Codec>, extensions: &Extensions) -> Span {
    tracing::debug_span!(
        "rpc.call",
        method = %request.method,
        id = %DisplayId(request.id.as_ref()),
        path = route_path(extensions),
        codec = codec.name(),
    )
}

/// The response to a call that ended with `outcome` (none for a
/// notification), its failure logged in its span.
#[inline]
fn answered(span: &Span, id: Option<Id>, outcome: Outcome) -> Option<Response> {
    if let Err(error) = &outcome {
        span.in_scope(|| {
            tracing::debug!(
                code = error.code().code(),
                message = error.message(),
                "call failed"
            );
        });
    }
    id.map(|id| Response { id, outcome })
}

/// Calls the inner service, turning its errors and panics into -32603.
async fn guarded<S>(inner: S, call: Call) -> Outcome
where
    S: Service<Call, Response = Outcome> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    match AssertUnwindSafe(inner.oneshot(call)).catch_unwind().await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(error)) => {
            let error = error.into();
            tracing::error!(%error, "call service failed");
            Err(ErrorObject::internal_error(error))
        }
        Err(panic) => Err(crate::panic::handler_panicked(&*panic)),
    }
}

/// The path of the HTTP route the call came in on, for its span; `""`
/// on other transports.
fn route_path(extensions: &Extensions) -> &str {
    #[cfg(feature = "http")]
    if let Some(path) = extensions.get::<rpckit_http::RoutePath>() {
        return path.as_str();
    }
    let _ = extensions;
    ""
}

/// Displays an optional id for spans: `-` for a notification.
struct DisplayId<'a>(Option<&'a Id>);

impl fmt::Display for DisplayId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => id.fmt(f),
            None => f.write_str("-"),
        }
    }
}
