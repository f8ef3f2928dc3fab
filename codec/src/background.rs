//! Low-priority threads for the CPU work of big messages.
//!
//! Decoding a 4 MiB frame or gzipping a 2 MB answer takes milliseconds of
//! CPU. Done on a runtime worker, it holds up every small call behind it;
//! done on tokio's blocking pool, it still competes with the workers for
//! the same cores, and the scheduler gives the small calls only their share
//! of the time slices: on one core, four compressions in flight made a small
//! echo wait 20 ms. So the transports and the codec layer send such work
//! here, to threads that run at the lowest scheduling priority (on Linux
//! `SCHED_IDLE` and nice 19): when a small call wakes up, the kernel runs it
//! first, and the big work takes whatever CPU is left.
//!
//! At most one job per core the process may run on computes at once (see
//! [`std::thread::available_parallelism`]); the others wait, asleep. That
//! bound matters more than it seems: the kernel still gives each runnable
//! low-priority thread a small share of the CPU, in whole scheduler ticks
//! (4 ms at 250 Hz), so a dozen compressions in flight took turns holding
//! up the worker on one core: a small call's p99 under gzip load was
//! 3-4 ms, against under 1 ms idle. With the bound it is 1.5-2 ms.
//!
//! A job may also wait (a handler serving a big frame runs here too, and
//! awaits its I/O): it waits through [`block_on`], which gives its turn to
//! compute to another job meanwhile, and the pool grows with the jobs in
//! flight up to [`MAX_THREADS`] so that a waiting job holds up no other. A
//! thread that has been idle for [`IDLE_TIMEOUT`] exits. A job that blocks
//! in other ways (a lock, a channel) keeps its turn while it blocks.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let sum = rpckit_codec::background::spawn(|| (1..=100_u32).sum::<u32>()).await;
//! assert_eq!(sum.unwrap(), 5050);
//! # }
//! ```

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Condvar, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use tokio::sync::oneshot;

/// The most threads the pool runs at once; later jobs wait for one.
pub const MAX_THREADS: usize = 64;

/// How long an idle thread waits for work before it exits.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// The `nice` value of the pool's threads: the lowest priority there is.
const NICE: i32 = 19;

type Job = Box<dyn FnOnce() + Send>;

/// Runs `job` on a background thread; the future resolves to its result,
/// or to the panic payload when it panicked (resume it with
/// [`std::panic::resume_unwind`] to propagate it).
///
/// Dropping the future does not stop a job that has started; its result is
/// dropped.
pub fn spawn<T, F>(job: F) -> Background<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_on(pool(), job)
}

fn spawn_on<T, F>(pool: &'static Pool, job: F) -> Background<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (sender, receiver) = oneshot::channel();
    pool.submit(Box::new(move || {
        let outcome = panic::catch_unwind(AssertUnwindSafe(job));
        // The caller may have stopped waiting; then nobody needs the result.
        let _ = sender.send(outcome);
    }));
    Background { receiver }
}

/// The result of a job given to [`spawn`].
#[must_use = "the job runs anyway; the future only carries its result"]
pub struct Background<T> {
    receiver: oneshot::Receiver<thread::Result<T>>,
}

impl<T> Future for Background<T> {
    type Output = thread::Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.receiver).poll(cx).map(|outcome| {
            // The sender is only dropped unsent if the thread died between
            // taking the job and running it, which `catch_unwind` rules out;
            // report it as a panic rather than hang.
            outcome.unwrap_or_else(|_| Err(Box::new("rpckit: background job lost")))
        })
    }
}

impl<T> fmt::Debug for Background<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Background")
    }
}

/// Runs `future` to its end on this thread, with `runtime`'s reactor and
/// timers: how a background job awaits. While the future waits, the job
/// gives up its turn to compute, so that another job computes meanwhile
/// (one waiting on this one, say). Outside a background job it is
/// `runtime.block_on(future)`.
///
/// ```
/// let runtime = tokio::runtime::Runtime::new().unwrap();
/// let handle = runtime.handle().clone();
/// let answer = runtime.block_on(rpckit_codec::background::spawn(move || {
///     rpckit_codec::background::block_on(&handle, async {
///         tokio::time::sleep(std::time::Duration::from_millis(1)).await;
///         42
///     })
/// }));
/// assert_eq!(answer.unwrap(), 42);
/// ```
pub fn block_on<F: Future>(runtime: &tokio::runtime::Handle, future: F) -> F::Output {
    let Some(pool) = CURRENT_POOL.get() else {
        return runtime.block_on(future);
    };
    pool.turns.give_back();
    // Taken again however this ends, a panic included: the job's own turn
    // is given back when it ends.
    let _retake = Retake(pool);
    runtime.block_on(Computing {
        future: Box::pin(future),
        pool,
    })
}

/// A future that computes only in its turn: each poll takes one and gives
/// it back.
struct Computing<F> {
    future: Pin<Box<F>>,
    pool: &'static Pool,
}

impl<F: Future> Future for Computing<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _turn = Turn::take(self.pool);
        self.future.as_mut().poll(cx)
    }
}

/// Turns to compute, one per core: a counting semaphore.
struct Turns {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Turns {
    fn new(count: usize) -> Self {
        Turns {
            free: Mutex::new(count),
            freed: Condvar::new(),
        }
    }

    fn take(&self) {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
    }

    fn give_back(&self) {
        *self.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.freed.notify_one();
    }
}

/// A turn, given back when dropped.
struct Turn(&'static Pool);

impl Turn {
    fn take(pool: &'static Pool) -> Turn {
        pool.turns.take();
        Turn(pool)
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.0.turns.give_back();
    }
}

/// Takes back the turn [`block_on`] gave up, when dropped.
struct Retake(&'static Pool);

impl Drop for Retake {
    fn drop(&mut self) {
        self.0.turns.take();
    }
}

/// The process's one pool, started on first use.
fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool::new(cores()))
}

/// One turn to compute per core this process may run on.
fn cores() -> usize {
    thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

thread_local! {
    /// The pool of the background thread this is, while it runs a job.
    static CURRENT_POOL: Cell<Option<&'static Pool>> = const { Cell::new(None) };
}

struct Pool {
    state: Mutex<State>,
    work: Condvar,
    turns: Turns,
}

impl Pool {
    fn new(cores: usize) -> Self {
        Pool {
            state: Mutex::default(),
            work: Condvar::new(),
            turns: Turns::new(cores.max(1)),
        }
    }
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    threads: usize,
    idle: usize,
}

impl Pool {
    fn submit(&'static self, job: Job) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.queue.push_back(job);
        if state.idle >= state.queue.len() {
            self.work.notify_one();
            return;
        }
        if state.threads < MAX_THREADS {
            let started = thread::Builder::new()
                .name("rpckit-background".into())
                .spawn(move || self.work_loop());
            // Without a new thread the job waits for a busy one.
            if started.is_ok() {
                state.threads += 1;
            }
        }
    }

    fn work_loop(&'static self) {
        lower_priority();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                let turn = Turn::take(self);
                CURRENT_POOL.set(Some(self));
                job();
                CURRENT_POOL.set(None);
                drop(turn);
                state = self.state.lock().unwrap_or_else(|e| e.into_inner());
                continue;
            }
            state.idle += 1;
            let (next, wait) = self
                .work
                .wait_timeout(state, IDLE_TIMEOUT)
                .unwrap_or_else(|e| e.into_inner());
            state = next;
            state.idle -= 1;
            if wait.timed_out() && state.queue.is_empty() {
                state.threads -= 1;
                return;
            }
        }
    }
}

/// Puts the calling thread at the lowest priority. Best effort: where it is
/// not possible the work still runs, at normal priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
            ThreadPriority, ThreadSchedulePolicy,
        };
        // `SCHED_IDLE`: a waking runtime worker preempts this thread at
        // once. Under nice 19 alone a small call's p99 behind big work on
        // the same core was 30-45% higher (README, Benchmarks).
        let _ = set_thread_priority_and_policy(
            thread_native_id(),
            ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        );
        // And nice 19 (one thread's, by its tid), for where `SCHED_IDLE`
        // is refused.
        let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), NICE);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = NICE;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_result_and_carries_a_panic() {
        assert_eq!(spawn(|| 6 * 7).await.unwrap(), 42);
        let panic = spawn(|| -> u8 { panic!("boom") }).await.unwrap_err();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"boom"));
    }

    #[tokio::test]
    async fn runs_on_a_thread_of_its_own_at_the_lowest_priority() {
        let caller = thread::current().id();
        let (id, name) = spawn(|| {
            let me = thread::current();
            (me.id(), me.name().map(str::to_owned))
        })
        .await
        .unwrap();
        assert_ne!(id, caller);
        assert_eq!(name.as_deref(), Some("rpckit-background"));
        #[cfg(target_os = "linux")]
        {
            let nice =
                spawn(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())))
                    .await
                    .unwrap()
                    .unwrap();
            assert_eq!(nice, NICE);
            let policy = spawn(thread_priority::thread_schedule_policy)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                policy,
                thread_priority::ThreadSchedulePolicy::Normal(
                    thread_priority::NormalThreadSchedulePolicy::Idle
                )
            );
        }
    }

    /// A pool of its own with one turn to compute, as on a one-core box.
    fn one_core() -> &'static Pool {
        Box::leak(Box::new(Pool::new(1)))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_job_waiting_in_block_on_does_not_hold_up_the_next() {
        // The first job waits until the second has run: had it kept its
        // turn (or its thread) while waiting, the second would never run.
        let pool = one_core();
        let runtime = tokio::runtime::Handle::current();
        let (release, wait) = oneshot::channel::<()>();
        let first = spawn_on(pool, move || block_on(&runtime, wait).is_ok());
        let second = spawn_on(pool, move || release.send(()).is_ok());
        let second = tokio::time::timeout(Duration::from_secs(10), second)
            .await
            .expect("the second job ran while the first waited");
        assert!(second.unwrap());
        assert!(first.await.unwrap());
    }

    /// How many of four overlapping jobs computed at once on `pool`.
    async fn most_at_once(pool: &'static Pool) -> usize {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;

        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let jobs: Vec<_> = (0..4)
            .map(|_| {
                let (running, most) = (running.clone(), most.clone());
                spawn_on(pool, move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    // Long enough for the others to start, had they a turn.
                    thread::sleep(Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for job in jobs {
            tokio::time::timeout(Duration::from_secs(10), job)
                .await
                .expect("a job never got a turn")
                .unwrap();
        }
        most.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn no_more_jobs_compute_at_once_than_there_are_turns() {
        assert_eq!(most_at_once(one_core()).await, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_panic_in_block_on_keeps_the_turns_counted() {
        // A turn lost would leave the next jobs none; one given back twice
        // would let two compute at once.
        let pool = one_core();
        let runtime = tokio::runtime::Handle::current();
        let panicked = spawn_on(pool, move || {
            block_on(&runtime, async { panic!("in the future") });
        });
        assert!(panicked.await.is_err());
        assert_eq!(most_at_once(pool).await, 1);
    }
}
