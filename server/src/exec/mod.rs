//! Execution backends: where a method's handler runs.
//!
//! The key decision: **the backend is a per-method setting, not a kind of
//! handler.** Any handler, sync or async, is registered the usual way and
//! then moved with [`MethodSettings::executor`](crate::MethodSettings::executor):
//!
//! | [`Executor`] | runs the handler | for |
//! |---|---|---|
//! | [`Inline`](Executor::Inline) (default) | on the task serving the call | async handlers, short sync ones |
//! | [`Blocking`](Executor::Blocking) | on tokio's blocking pool (`spawn_blocking`) | sync handlers that block or compute |
//! | [`Background`](Executor::Background) | on rpckit's lowest-priority threads ([`rpckit_codec::background`]) | bulk work (megabyte results, exports) that must yield the CPU to every other call |
//! | [`Pool`](Executor::Pool) | on a [`ThreadPool`] of N threads of its own | work that must not exceed N threads |
//! | `Workers` (feature `worker`) | in child processes, `rpckit::worker::WorkerPool` | code that may crash, or must be isolated |
//!
//! Whatever the backend, the same rules hold:
//!
//! - [`concurrency_limit`](crate::MethodSettings::concurrency_limit): at most
//!   N calls of the method run at once; the others wait (they are not
//!   rejected) for a slot, in arrival order, before they reach the backend.
//!   The slot is held until the work ends, even when the caller stopped
//!   waiting (a timeout), so the limit bounds what really runs.
//! - [`timeout`](crate::MethodSettings::timeout): the caller is answered
//!   -32001 when the call (waiting for a slot included) takes longer.
//!   Inline and pool handlers are dropped at their next `.await`; a
//!   blocking or background handler runs to its end, its answer
//!   discarded; a worker process finishes the call and its answer is
//!   discarded.
//! - A handler that panics answers -32603 ("the handler panicked") for its
//!   call alone, and the backend goes on serving.
//!
//! ```
//! use rpckit::exec::{Executor, ThreadPool};
//! use rpckit::Router;
//!
//! # fn main() -> std::io::Result<()> {
//! let pool = ThreadPool::new("render", 2)?;
//! let router = Router::new()
//!     .sync_method("hash", |rpckit::extract::Params((s,)): rpckit::extract::Params<(String,)>| s.len())
//!     .sync_method("render", || "a picture")
//!     .configure("hash", |settings| settings.executor(Executor::Blocking).concurrency_limit(8))
//!     .configure("render", |settings| settings.executor(pool.clone()));
//! assert_eq!(router.settings("render").unwrap().concurrency_max(), None);
//! # Ok(())
//! # }
//! ```

mod join;
mod limit;
mod pool;

use std::fmt;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;

pub use limit::ConcurrencyLimit;
pub use pool::ThreadPool;

use crate::notify::Notifications;
use crate::router::{BoxedHandler, ResponseFuture};
use crate::stats::{Stage, Stats};
use crate::{Call, MethodSettings, Outcome};

/// Where a method's handler runs; see the [module docs](self).
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Executor {
    /// On the task that serves the call: no hand-over, the cheapest. A
    /// sync handler blocks that task (and the calls pipelined behind it on
    /// the same connection) while it runs.
    #[default]
    Inline,
    /// On tokio's blocking pool (`tokio::task::spawn_blocking`), so a slow
    /// sync handler does not hold up the serving task. An async handler is
    /// driven to its end on that blocking thread.
    Blocking,
    /// On rpckit's background threads ([`rpckit_codec::background`]), at
    /// the lowest scheduling priority (`SCHED_IDLE` and nice 19 on Linux),
    /// the threads that also decode big frames and compress big answers. For bulk work whose
    /// latency matters less than everyone else's: a handler building a
    /// megabyte result (encoding it included, which happens on the same
    /// thread) takes only the CPU the other calls leave, instead of holding
    /// up the runtime worker, or sharing the core with it as `Blocking`
    /// does. An async handler is driven to its end on that thread.
    Background,
    /// On a [`ThreadPool`]'s threads; methods given the same pool share
    /// its threads.
    Pool(ThreadPool),
    /// In child processes of a [`WorkerPool`](crate::worker::WorkerPool).
    #[cfg(feature = "worker")]
    Workers(crate::worker::WorkerPool),
}

impl Executor {
    /// The backend's name, for logs: `inline`, `blocking`, `background`,
    /// `pool`, `workers`.
    pub fn name(&self) -> &'static str {
        match self {
            Executor::Inline => "inline",
            Executor::Blocking => "blocking",
            Executor::Background => "background",
            Executor::Pool(_) => "pool",
            #[cfg(feature = "worker")]
            Executor::Workers(_) => "workers",
        }
    }
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Executor::Inline => f.write_str("Inline"),
            Executor::Blocking => f.write_str("Blocking"),
            Executor::Background => f.write_str("Background"),
            Executor::Pool(pool) => f.debug_tuple("Pool").field(pool).finish(),
            #[cfg(feature = "worker")]
            Executor::Workers(pool) => f.debug_tuple("Workers").field(pool).finish(),
        }
    }
}

/// Two executors are equal when they are the same kind and, for pools,
/// the same pool.
impl PartialEq for Executor {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Executor::Inline, Executor::Inline)
            | (Executor::Blocking, Executor::Blocking)
            | (Executor::Background, Executor::Background) => true,
            (Executor::Pool(a), Executor::Pool(b)) => a.same_pool(b),
            #[cfg(feature = "worker")]
            (Executor::Workers(a), Executor::Workers(b)) => a.same_pool(b),
            _ => false,
        }
    }
}

impl Eq for Executor {}

impl From<ThreadPool> for Executor {
    fn from(pool: ThreadPool) -> Self {
        Executor::Pool(pool)
    }
}

#[cfg(feature = "worker")]
impl From<crate::worker::WorkerPool> for Executor {
    fn from(pool: crate::worker::WorkerPool) -> Self {
        Executor::Workers(pool)
    }
}

/// The execution part of a method's settings, kept together so that the
/// default (inline, no limit, inline notifications) is one check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Execution {
    pub(crate) executor: Executor,
    pub(crate) limit: Option<ConcurrencyLimit>,
    pub(crate) notifications: Notifications,
}

impl Execution {
    /// The default: inline, no concurrency limit, notifications inline.
    #[inline]
    fn is_inline(&self) -> bool {
        matches!(self.executor, Executor::Inline)
            && self.limit.is_none()
            && matches!(self.notifications, Notifications::Inline)
    }
}

/// Runs one call of a method on the method's backends: the notification
/// queue for a queued notification, then the concurrency limit, the
/// executor and the timeout. This is all the router does with a handler.
#[inline]
pub(crate) fn run(settings: &MethodSettings, handler: &BoxedHandler, call: Call) -> ResponseFuture {
    let execution = &settings.execution;
    // Most methods: nothing between the router and the handler, and three
    // checks instead of a walk through every backend.
    if execution.is_inline() && settings.timeout_limit().is_none() {
        return handler(call);
    }
    if let Notifications::Queue(queue) = &execution.notifications {
        if call.id().is_none() {
            return queue.submit(queued(settings, handler, call));
        }
    }
    timed(settings.timeout_limit(), start(execution, handler, call))
}

fn timed(limit: Option<Duration>, answer: ResponseFuture) -> ResponseFuture {
    match limit {
        Some(limit) => answer.with_timeout(limit),
        None => answer,
    }
}

/// A notification's work, to run later on a queue's worker.
fn queued(settings: &MethodSettings, handler: &BoxedHandler, call: Call) -> crate::notify::Job {
    // Not the queue itself: a queued job holding its queue would keep the
    // queue's workers alive.
    let execution = Execution {
        executor: settings.execution.executor.clone(),
        limit: settings.execution.limit.clone(),
        notifications: Notifications::Inline,
    };
    let limit = settings.timeout_limit();
    let handler = handler.clone();
    // Its time in the queue, until a worker takes it, is its wait stage.
    let waiting = router_stats(&call).map(|stats| stats.timer(Stage::Wait));
    Box::pin(async move {
        drop(waiting);
        if let Err(error) = outcome(timed(limit, start(&execution, &handler, call))).await {
            tracing::debug!(
                code = error.code().code(),
                message = error.message(),
                "queued notification failed"
            );
        }
    })
}

/// The concurrency limit, then the executor.
fn start(execution: &Execution, handler: &BoxedHandler, call: Call) -> ResponseFuture {
    let Some(limit) = &execution.limit else {
        // The default path: nothing between the router and the handler.
        return spawn(&execution.executor, handler, call, None);
    };
    if let Some(permit) = limit.try_acquire() {
        return spawn(&execution.executor, handler, call, Some(permit));
    }
    // A call that waits for a slot: the time it waits is its wait stage.
    let waiting = router_stats(&call).map(|stats| stats.timer(Stage::Wait));
    let (executor, handler, limit) = (execution.executor.clone(), handler.clone(), limit.clone());
    ResponseFuture::handler(Box::pin(async move {
        let permit = limit.acquire().await;
        drop(waiting);
        outcome(spawn(&executor, &handler, call, Some(permit))).await
    }))
}

/// The statistics of the router serving `call`, if they are on.
fn router_stats(call: &Call) -> Option<Stats> {
    call.router.as_ref().and_then(|router| router.stats())
}

/// Hands the call to the executor; `permit` (a concurrency slot) is held
/// until the work ends.
fn spawn(
    executor: &Executor,
    handler: &BoxedHandler,
    call: Call,
    permit: Option<OwnedSemaphorePermit>,
) -> ResponseFuture {
    match executor {
        Executor::Inline => match permit {
            None => handler(call),
            Some(permit) => {
                let answer = handler(call);
                ResponseFuture::handler(Box::pin(async move {
                    let outcome = outcome(answer).await;
                    drop(permit);
                    outcome
                }))
            }
        },
        Executor::Blocking => {
            let handler = handler.clone();
            let task = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                let answer = handler(call);
                tokio::runtime::Handle::current().block_on(outcome(answer))
            });
            ResponseFuture::handler(Box::pin(join::joined(task)))
        }
        Executor::Background => {
            let handler = handler.clone();
            let runtime = tokio::runtime::Handle::current();
            let job = rpckit_codec::background::spawn(move || {
                let _permit = permit;
                let answer = handler(call);
                rpckit_codec::background::block_on(&runtime, outcome(answer))
            });
            ResponseFuture::handler(Box::pin(async move {
                job.await
                    .unwrap_or_else(|panic| Err(crate::panic::handler_panicked(&*panic)))
            }))
        }
        Executor::Pool(pool) => pool.run(handler.clone(), call, permit),
        #[cfg(feature = "worker")]
        Executor::Workers(pool) => pool.run(call, permit),
    }
}

/// The outcome of a router future, whose error cannot happen.
pub(crate) async fn outcome(answer: ResponseFuture) -> Outcome {
    match answer.await {
        Ok(outcome) => outcome,
        Err(never) => match never {},
    }
}
