//! Waiting for work handed to another thread, and what its failures answer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use rpckit_codec::ErrorObject;
use tokio::task::{JoinError, JoinHandle};

use crate::Outcome;

/// The outcome of a spawned handler; a panic or a cancelled task answers
/// -32603.
pub(super) async fn joined(task: JoinHandle<Outcome>) -> Outcome {
    task.await.unwrap_or_else(|error| Err(join_error(error)))
}

pub(super) fn join_error(error: JoinError) -> ErrorObject {
    if error.is_panic() {
        crate::panic::handler_panicked(&*error.into_panic())
    } else {
        ErrorObject::internal_error("the handler was cancelled (its executor shut down)")
    }
}

/// A task that is aborted when its caller stops waiting (a timeout, a
/// closed connection), as an inline handler's future would be dropped.
pub(super) struct AbortOnDrop(pub(super) JoinHandle<Outcome>);

impl Future for AbortOnDrop {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|joined| joined.unwrap_or_else(|error| Err(join_error(error))))
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
