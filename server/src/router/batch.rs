//! The calls of one request, run on one snapshot of the table.
//!
//! Why: a batch of 100 calls that each took their own snapshot, their own
//! clone of the router and their own guard paid for that 100 times, though
//! nothing changes between them in the common case. A [`Batch`] loads the
//! table once; each call still passes the gate on its own (the gate counts
//! *calls* in flight, which is what a reload waits on), and checks with one
//! plain load that no reload switched the table since the snapshot. A call
//! the gate does not let straight through (a reload closing it, a lock, a
//! switch since the snapshot) takes the router's ordinary path, so each
//! call still runs on one whole table, the one served when it was let in.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::gate::Entered;
use super::{serve, ResponseFuture, Router, Table};
use crate::{Call, Outcome};

/// The table snapshot a request's calls share; see the module docs.
pub(crate) struct Batch<'r> {
    router: &'r Router,
    table: Arc<Table>,
    /// The gate's switch count when `table` was loaded.
    switches: u64,
}

/// A call started on a [`Batch`]: answered during its first poll (a sync
/// handler, an unknown method), or still running.
pub(crate) enum Answer {
    Ready(Outcome),
    Running(ResponseFuture),
}

impl Router {
    /// A snapshot for the calls of one request.
    pub(crate) fn batch(&self) -> Batch<'_> {
        let control = &self.shared.control;
        // The count first: a table loaded after a switch but with the
        // count before it only makes the calls check again.
        let switches = control.switches();
        Batch {
            router: self,
            table: self.shared.table.load_full(),
            switches,
        }
    }
}

impl Batch<'_> {
    /// Starts `call` and polls it once with `cx`.
    ///
    /// A call answered in that poll is counted in flight only while it
    /// runs, through a borrowed count: no `Arc` is cloned for it. A call
    /// that is still running keeps its count in its future, as
    /// [`Router`]'s `Service::call` does.
    pub(crate) fn start(&self, call: Call, cx: &mut Context<'_>) -> Answer {
        let shared = &self.router.shared;
        let (entered, before) = Entered::new(&shared.control);
        let mut answer = if shared.control.open_since(before, self.switches) {
            serve(&self.table, call, shared)
        } else {
            // Held, locked or switched: the router's own path counts the
            // call again, on the table of this moment.
            drop(entered);
            return poll_once(self.router.dispatch(call), cx);
        };
        // `entered` counts the call out as it goes.
        if let Some(outcome) = answer.take_outcome() {
            return Answer::Ready(outcome);
        }
        match Pin::new(&mut answer).poll(cx) {
            Poll::Ready(outcome) => Answer::Ready(outcome.unwrap_or_else(|never| match never {})),
            Poll::Pending => Answer::Running(answer.counted(entered.into_owned(shared))),
        }
    }
}

fn poll_once(mut answer: ResponseFuture, cx: &mut Context<'_>) -> Answer {
    match Pin::new(&mut answer).poll(cx) {
        Poll::Ready(outcome) => Answer::Ready(outcome.unwrap_or_else(|never| match never {})),
        Poll::Pending => Answer::Running(answer),
    }
}
