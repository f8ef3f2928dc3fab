//! The router's response future.

use std::fmt;
use std::future::{Future, Ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::future::Either;

use crate::handler::BoxOutcome;
use crate::Outcome;

/// The future a [`Router`](super::Router) returns: a handler running, or an
/// answer known at once (method not found) that needs no allocation.
pub struct ResponseFuture {
    inner: Either<BoxOutcome, Ready<Outcome>>,
}

impl ResponseFuture {
    pub(crate) fn handler(future: BoxOutcome) -> Self {
        ResponseFuture {
            inner: Either::Left(future),
        }
    }

    pub(crate) fn ready(outcome: Outcome) -> Self {
        ResponseFuture {
            inner: Either::Right(std::future::ready(outcome)),
        }
    }
}

impl Future for ResponseFuture {
    type Output = Result<Outcome, std::convert::Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.inner).poll(cx).map(Ok)
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResponseFuture")
    }
}
