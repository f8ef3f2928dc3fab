//! The router's response future.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use rpckit_codec::{ErrorCode, ErrorObject};

use super::InFlight;
use crate::handler::BoxOutcome;
use crate::stats::Recording;
use crate::Outcome;

/// The code of the answer to a call that ran past its method's
/// [`timeout`](super::MethodSettings::timeout): -32001, in the range the
/// specification leaves to servers.
pub const CALL_TIMED_OUT: ErrorCode = ErrorCode::ServerError(-32_001);

/// The future a [`Router`](super::Router) returns: a handler running (with
/// or without a deadline), or an answer known at once (method not found, a
/// sync handler's result) that needs no allocation.
pub struct ResponseFuture {
    inner: Inner,
    /// Counts the call in flight in its router until it is answered or
    /// dropped.
    in_flight: Option<InFlight>,
    /// The call's statistics, recorded when the outcome is ready.
    recording: Option<Recording>,
}

enum Inner {
    Handler(BoxOutcome),
    /// `None` once polled.
    Ready(Option<Outcome>),
    /// A handler that must finish within `limit`; dropped when it does not.
    Timed {
        handler: BoxOutcome,
        deadline: Pin<Box<tokio::time::Sleep>>,
        limit: Duration,
    },
}

impl ResponseFuture {
    #[inline]
    pub(crate) fn handler(future: BoxOutcome) -> Self {
        ResponseFuture {
            inner: Inner::Handler(future),
            in_flight: None,
            recording: None,
        }
    }

    #[inline]
    pub(crate) fn ready(outcome: Outcome) -> Self {
        ResponseFuture {
            inner: Inner::Ready(Some(outcome)),
            in_flight: None,
            recording: None,
        }
    }

    /// Gives a running handler `limit` to finish. An answer that is already
    /// there (a sync handler ran to its end when called) keeps it.
    ///
    /// # Panics
    ///
    /// When polled outside a tokio runtime with a timer.
    pub(crate) fn with_timeout(self, limit: Duration) -> Self {
        let ResponseFuture {
            inner,
            in_flight,
            recording,
        } = self;
        let inner = match inner {
            Inner::Handler(handler) => Inner::Timed {
                handler,
                deadline: Box::pin(tokio::time::sleep(limit)),
                limit,
            },
            inner => inner,
        };
        ResponseFuture {
            inner,
            in_flight,
            recording,
        }
    }

    /// The answer, if it was known when the future was made (and it has
    /// not been polled yet).
    pub(crate) fn outcome(&self) -> Option<&Outcome> {
        match &self.inner {
            Inner::Ready(outcome) => outcome.as_ref(),
            Inner::Handler(_) | Inner::Timed { .. } => None,
        }
    }

    /// Takes the answer if it was known when the future was made and
    /// nothing is left to record when it is, so that the caller need not
    /// poll for it.
    pub(crate) fn take_outcome(&mut self) -> Option<Outcome> {
        match &mut self.inner {
            Inner::Ready(outcome) if self.recording.is_none() => outcome.take(),
            _ => None,
        }
    }

    /// Records the call's outcome in `recording` when it is ready (or the
    /// call as dropped, when the future is dropped first).
    #[inline]
    pub(crate) fn recorded(mut self, recording: Option<Recording>) -> Self {
        self.recording = recording;
        self
    }

    /// Keeps the call counted in flight until this future is done.
    #[inline]
    pub(super) fn counted(mut self, in_flight: InFlight) -> Self {
        self.in_flight = Some(in_flight);
        self
    }
}

impl Future for ResponseFuture {
    type Output = Result<Outcome, std::convert::Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        // A handler that panics unwinds through here, and the rpc layer
        // catches it and drops this future later: the guard counts the
        // panic as it passes.
        let mut unwinding = Unwinding(Some(&mut this.recording));
        let outcome = match &mut this.inner {
            Inner::Handler(handler) => handler.as_mut().poll(cx),
            Inner::Ready(ready) => Poll::Ready(
                ready
                    .take()
                    .expect("a ResponseFuture is not polled after it answered"),
            ),
            Inner::Timed {
                handler,
                deadline,
                limit,
            } => match handler.as_mut().poll(cx) {
                Poll::Ready(outcome) => Poll::Ready(outcome),
                Poll::Pending => match deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(timed_out(*limit))),
                    Poll::Pending => Poll::Pending,
                },
            },
        };
        let recording = unwinding.0.take();
        if let Poll::Ready(outcome) = &outcome {
            // Answered: a reload need not wait for the encoding and sending.
            this.in_flight = None;
            if let Some(recording) = recording.and_then(Option::take) {
                recording.finish(outcome);
            }
        }
        outcome.map(Ok)
    }
}

/// Records the call as panicked if dropped while it still holds the
/// recording, which only unwinding does.
struct Unwinding<'a>(Option<&'a mut Option<Recording>>);

impl Drop for Unwinding<'_> {
    fn drop(&mut self) {
        if let Some(recording) = self.0.take().and_then(Option::take) {
            recording.panicked();
        }
    }
}

fn timed_out(limit: Duration) -> ErrorObject {
    ErrorObject::new(
        CALL_TIMED_OUT,
        format!("the call did not finish within {} ms", limit.as_millis()),
    )
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseFuture")
    }
}
