//! The rpc semantics straight on a [`Router`]: the endpoint's own stack.
//!
//! Why a second path: through `tower::Service`, every call of a batch is a
//! future of its own (a clone of the router, a `oneshot`, a panic guard),
//! boxed into a `FuturesOrdered` task, and about half of what a sync echo
//! costs went there. Here a request's calls share one table snapshot
//! ([`Batch`]) and each is started and polled once in place: a call that
//! answers in that poll (sync handlers, unknown methods, errors) needs no
//! task and no allocation of its own; only calls still running are pushed
//! into a `FuturesUnordered`. A single request (not a batch) needs neither
//! the slots nor the set: its future is [`Single`], held in place by the
//! codec layer's future. The semantics are [`RpcService`]'s: request
//! order, at most `batch_concurrency` calls running at once, -32603 for a
//! panic, one span per call.
//!
//! [`RpcService`] takes this path when its inner service *is* a
//! [`Router`] (the type is checked once per request); any other service
//! (a router under call-level middleware) goes through `tower` as before.
//!
//! [`RpcService`]: super::RpcService

use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_util::stream::{FuturesUnordered, StreamExt};
use rpckit_codec::{Codec, Entry, Extensions, Id, Reply, Request, Response};
use tracing::Span;

use super::{answered, call_span, valid};
use crate::router::{Answer, Batch, ResponseFuture};
use crate::{Call, Outcome, Router};

/// One request (not a batch) served on a router: its call is started and
/// polled once in the first poll, as a batch's calls are.
pub(crate) struct Single(State);

enum State {
    /// Not polled yet.
    Start {
        router: Router,
        entry: Entry,
        codec: Arc<dyn Codec>,
        extensions: Extensions,
    },
    /// Started, and not answered in its first poll.
    Running(Running),
    /// Answered.
    Done,
}

impl Single {
    /// Serves `entry` on `router`.
    pub(super) fn new(
        router: Router,
        entry: Entry,
        codec: Arc<dyn Codec>,
        extensions: Extensions,
    ) -> Self {
        Single(State::Start {
            router,
            entry,
            codec,
            extensions,
        })
    }
}

impl Future for Single {
    type Output = Option<Reply>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Reply>> {
        let this = self.get_mut();
        if let State::Start { .. } = this.0 {
            let State::Start {
                router,
                entry,
                codec,
                extensions,
            } = std::mem::replace(&mut this.0, State::Done)
            else {
                unreachable!("matched above")
            };
            match start(&router.batch(), entry, (codec, extensions), cx) {
                Started::Done(response) => return Poll::Ready(response.map(Reply::Single)),
                Started::Running(call) => this.0 = State::Running(call),
            }
        }
        let State::Running(call) = &mut this.0 else {
            panic!("a request's future is not polled after it answered");
        };
        let response = ready!(Pin::new(call).poll(cx));
        this.0 = State::Done;
        Poll::Ready(response.map(Reply::Single))
    }
}

/// Serves the calls of a batch on `router`, at most `limit` of them
/// running at once; the reply, if any.
pub(super) async fn serve_batch(
    router: &Router,
    entries: Vec<Entry>,
    codec: Arc<dyn Codec>,
    extensions: Extensions,
    limit: usize,
) -> Option<Reply> {
    let batch = router.batch();
    // One slot per entry, in request order; `None` for a notification, and
    // for a call still running until it answers.
    let mut slots: Vec<Option<Response>> = Vec::with_capacity(entries.len());
    let mut running: FuturesUnordered<Indexed> = FuturesUnordered::new();
    let mut entries = entries.into_iter();
    poll_fn(|cx| loop {
        while !running.is_empty() {
            match running.poll_next_unpin(cx) {
                Poll::Ready(Some((index, response))) => slots[index] = response,
                _ => break,
            }
        }
        if running.len() >= limit {
            return Poll::Pending;
        }
        let Some(entry) = entries.next() else {
            return if running.is_empty() {
                Poll::Ready(())
            } else {
                Poll::Pending
            };
        };
        let index = slots.len();
        match start(&batch, entry, (&codec, &extensions), cx) {
            Started::Done(response) => slots.push(response),
            Started::Running(call) => {
                slots.push(None);
                running.push(Indexed(index, call));
            }
        }
    })
    .await;
    // Sized at once: collected from `flatten`, which knows no lower
    // bound, a hundred responses grew through seven allocations.
    let mut responses = Vec::with_capacity(slots.len());
    responses.extend(slots.into_iter().flatten());
    (!responses.is_empty()).then_some(Reply::Batch(responses))
}

/// An entry after its first poll.
enum Started {
    /// Answered (`None`: a notification).
    Done(Option<Response>),
    /// Still running.
    Running(Running),
}

/// Validates `entry`, makes its call and polls it once, in its span.
fn start(batch: &Batch<'_>, entry: Entry, parts: impl Parts, cx: &mut Context<'_>) -> Started {
    let request = match valid(entry) {
        Ok(request) => request,
        Err(response) => return Started::Done(Some(response)),
    };
    let span = call_span(&request, parts.codec(), parts.extensions());
    let id = request.id.clone();
    let call = parts.into_call(request);
    let answer = if span.is_disabled() {
        first_poll(batch, call, cx)
    } else {
        span.in_scope(|| first_poll(batch, call, cx))
    };
    match answer {
        Answer::Ready(outcome) => Started::Done(answered(&span, id, outcome)),
        Answer::Running(answer) => Started::Running(Running { id, span, answer }),
    }
}

/// The codec and extensions a call is made with: a single request's,
/// moved into its call, or a batch's, which each call clones (two
/// reference counts that every worker thread shares, so a single request
/// does not touch them).
trait Parts {
    fn codec(&self) -> &Arc<dyn Codec>;
    fn extensions(&self) -> &Extensions;
    fn into_call(self, request: Request) -> Call;
}

impl Parts for (Arc<dyn Codec>, Extensions) {
    fn codec(&self) -> &Arc<dyn Codec> {
        &self.0
    }

    fn extensions(&self) -> &Extensions {
        &self.1
    }

    fn into_call(self, request: Request) -> Call {
        Call::new(request, self.0, self.1)
    }
}

impl Parts for (&Arc<dyn Codec>, &Extensions) {
    fn codec(&self) -> &Arc<dyn Codec> {
        self.0
    }

    fn extensions(&self) -> &Extensions {
        self.1
    }

    fn into_call(self, request: Request) -> Call {
        Call::new(request, self.0.clone(), self.1.clone())
    }
}

/// Starts `call` and polls it once; a panic answers -32603.
#[inline(always)]
fn first_poll(batch: &Batch<'_>, call: Call, cx: &mut Context<'_>) -> Answer {
    match catch_unwind(AssertUnwindSafe(|| batch.start(call, cx))) {
        Ok(answer) => answer,
        Err(panic) => Answer::Ready(Err(crate::panic::handler_panicked(&*panic))),
    }
}

/// A call that did not answer in its first poll.
struct Running {
    id: Option<Id>,
    span: Span,
    answer: ResponseFuture,
}

impl Future for Running {
    type Output = Option<Response>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Response>> {
        let this = self.get_mut();
        let entered = (!this.span.is_disabled()).then(|| this.span.enter());
        let answer = &mut this.answer;
        let outcome: Outcome =
            match catch_unwind(AssertUnwindSafe(|| Pin::new(&mut *answer).poll(cx))) {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(outcome)) => outcome.unwrap_or_else(|never| match never {}),
                Err(panic) => Err(crate::panic::handler_panicked(&*panic)),
            };
        drop(entered);
        Poll::Ready(answered(&this.span, this.id.take(), outcome))
    }
}

/// A running call of a batch and its place in the batch.
struct Indexed(usize, Running);

impl Future for Indexed {
    type Output = (usize, Option<Response>);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        Pin::new(&mut this.1)
            .poll(cx)
            .map(|response| (this.0, response))
    }
}
