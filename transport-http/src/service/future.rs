//! The future of [`HttpService`](super::HttpService).

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;

use crate::dispatch::BoxedAnswer;
use crate::Body;

/// The response future of [`HttpService`](super::HttpService): never fails,
/// every rejection is a response.
pub struct ResponseFuture {
    inner: BoxedAnswer,
}

impl ResponseFuture {
    pub(super) fn new(inner: BoxedAnswer) -> Self {
        ResponseFuture { inner }
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response<Body>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx).map(Ok)
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
