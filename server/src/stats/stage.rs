//! The stages of a request, and a timer for the code that runs one.

use std::fmt;

use serde::Serialize;
use tokio::time::Instant;

use super::Stats;

/// One stage of serving a request; [`Stats`] keeps a histogram of each.
///
/// | stage | recorded by | from … to … |
/// |---|---|---|
/// | `Decode` | the codec layer | frame bytes in, message out |
/// | `Wait` | the router (a call held by a lock or a reload), the executors (a call waiting for a [concurrency slot](crate::MethodSettings::concurrency_limit)), the [notification queue](crate::notify::NotificationQueue) (a notification's time in it); anything else through [`Stats::timer`] | waiting starts, waiting ends |
/// | `Handler` | the router, per method (this stage sums every method) | the handler is called, its outcome is ready |
/// | `Encode` | the codec layer | reply in, bytes out |
/// | `Compress` | the HTTP transport, through the route's [`StatsSink`](rpckit_codec::StatsSink) | answer body in, compressed body out |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Stage {
    /// Turning frame bytes into a message.
    Decode,
    /// Waiting before a handler may run: for a lock, a queue, a worker.
    Wait,
    /// The handlers themselves.
    Handler,
    /// Turning the reply into bytes.
    Encode,
    /// Compressing the answer (HTTP).
    Compress,
}

impl Stage {
    /// Every stage, in the order a request meets them.
    pub const ALL: [Stage; 5] = [
        Stage::Decode,
        Stage::Wait,
        Stage::Handler,
        Stage::Encode,
        Stage::Compress,
    ];

    /// The stage's name in lower case: `decode`, `wait`, …
    pub const fn as_str(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::Wait => "wait",
            Stage::Handler => "handler",
            Stage::Encode => "encode",
            Stage::Compress => "compress",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Times one stage from its making until it is dropped (or
/// [`stop`](StageTimer::stop)ped), then records it: one clock read at each
/// end. Made by [`Stats::timer`].
///
/// ```
/// use rpckit::stats::{Stage, Stats};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let stats = Stats::new();
/// {
///     let _waiting = stats.timer(Stage::Wait);
///     tokio::task::yield_now().await; // a lock, a queue, a free worker
/// }
/// assert_eq!(stats.snapshot_ms().stages.wait.count, 1);
/// # }
/// ```
#[must_use = "a timer records when it is dropped; dropping it at once times nothing"]
pub struct StageTimer {
    stats: Stats,
    stage: Stage,
    start: Instant,
    done: bool,
}

impl StageTimer {
    pub(super) fn new(stats: Stats, stage: Stage) -> Self {
        StageTimer {
            stats,
            stage,
            start: Instant::now(),
            done: false,
        }
    }

    /// Records the stage now instead of when dropped.
    pub fn stop(mut self) {
        self.record();
    }

    /// Drops the timer without recording (the work did not happen after
    /// all).
    pub fn cancel(mut self) {
        self.done = true;
    }

    fn record(&mut self) {
        if !self.done {
            self.done = true;
            self.stats.record(self.stage, self.start.elapsed());
        }
    }
}

impl Drop for StageTimer {
    fn drop(&mut self) {
        self.record();
    }
}

impl fmt::Debug for StageTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StageTimer")
            .field("stage", &self.stage)
            .field("start", &self.start)
            .finish_non_exhaustive()
    }
}
