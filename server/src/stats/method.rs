//! One method's counters and the guard that records one call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use tokio::time::Instant;

use super::histogram::{Counts, Histogram};
use super::Inner;
use crate::Outcome;

/// The statistics of one method (all its aliases), next to it in the
/// router's table: a call increments these directly, with no lookup.
#[derive(Debug)]
pub(crate) struct MethodStats {
    /// Calls started.
    calls: AtomicU64,
    /// Calls answered with an error, panics included.
    errors: AtomicU64,
    /// Calls whose future was dropped before it answered (a client gone,
    /// a request timeout).
    cancelled: AtomicU64,
    /// How long the calls that answered took.
    pub(super) latency: Histogram,
    /// The stats this method belongs to, for the `Stats` extractor.
    pub(super) owner: Weak<Inner>,
}

/// What [`MethodStats`] held when read.
#[derive(Clone, Debug)]
pub(crate) struct MethodCounts {
    pub(crate) calls: u64,
    pub(crate) errors: u64,
    pub(crate) cancelled: u64,
    pub(crate) in_flight: u64,
    pub(crate) latency: Counts,
}

impl MethodStats {
    pub(super) fn new(owner: Weak<Inner>) -> Self {
        MethodStats {
            calls: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            latency: Histogram::new(),
            owner,
        }
    }

    pub(crate) fn read(&self) -> MethodCounts {
        // A call over is counted in `latency` (answered, failed or
        // panicked) or in `cancelled` (dropped), so no counter of its own
        // is needed: one atomic add less per call. Those before `calls`
        // (each read acquiring what the call's end released): a call that
        // ends between the reads then shows as still in flight, never as a
        // negative count.
        let latency = self.latency.read();
        let cancelled = self.cancelled.load(Ordering::Acquire);
        let calls = self.calls.load(Ordering::Acquire);
        MethodCounts {
            calls,
            errors: self.errors.load(Ordering::Relaxed),
            cancelled,
            in_flight: calls.saturating_sub(latency.count + cancelled),
            latency,
        }
    }
}

/// One call being recorded: counted in when made, out when its outcome
/// is known or its future dropped.
///
/// Made *before* the handler is called, so that a sync handler (which runs
/// inside the call) is timed and a panic in it (which unwinds through
/// here) is counted. It borrows the method's stats (`S` is
/// `&Arc<MethodStats>`) while the call runs inside the router's own call,
/// and owns a clone of them (`S` is `Arc<MethodStats>`) only once the
/// call's answer has to wait: a sync handler's call clones no `Arc`.
#[derive(Debug)]
pub(crate) struct Recording<S: AsRef<MethodStats> = Arc<MethodStats>> {
    stats: S,
    start: Instant,
    finished: bool,
}

impl<'a> Recording<&'a Arc<MethodStats>> {
    pub(crate) fn start(stats: &'a Arc<MethodStats>) -> Self {
        stats.calls.fetch_add(1, Ordering::Relaxed);
        Recording {
            stats,
            start: Instant::now(),
            finished: false,
        }
    }

    /// The recording for a call whose answer is still to come.
    pub(crate) fn into_owned(mut self) -> Recording {
        self.finished = true;
        Recording {
            stats: Arc::clone(self.stats),
            start: self.start,
            finished: false,
        }
    }
}

impl<S: AsRef<MethodStats>> Recording<S> {
    /// Records the call's outcome and its duration.
    pub(crate) fn finish(mut self, outcome: &Outcome) {
        self.finished = true;
        self.stats.as_ref().latency.record(self.start.elapsed());
        if outcome.is_err() {
            self.stats.as_ref().errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records the call as failed by a panic of its handler (which the rpc
    /// layer answers with -32603).
    pub(crate) fn panicked(mut self) {
        self.finished = true;
        self.stats.as_ref().latency.record(self.start.elapsed());
        self.stats.as_ref().errors.fetch_add(1, Ordering::Relaxed);
    }
}

impl<S: AsRef<MethodStats>> Drop for Recording<S> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // Unwinding: a sync handler panicked inside the router's call.
        // Otherwise the call's future was dropped unanswered.
        if std::thread::panicking() {
            self.stats.as_ref().latency.record(self.start.elapsed());
            self.stats.as_ref().errors.fetch_add(1, Ordering::Relaxed);
        } else {
            self.stats
                .as_ref()
                .cancelled
                .fetch_add(1, Ordering::Release);
        }
    }
}
