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
//! [`std::thread::available_parallelism`]); the others wait in the queue.
//! That bound matters more than it seems: the kernel still gives each
//! runnable low-priority thread a small share of the CPU, in whole
//! scheduler ticks (4 ms at 250 Hz), so a dozen compressions in flight took
//! turns holding up the worker on one core: a small call's p99 under gzip
//! load was 3-4 ms, against under 1 ms idle. With the bound it is 1.5-2 ms.
//!
//! And a job waits in the queue, not on a thread of its own: the thread
//! that finishes a job runs the next one itself, keeping its turn, so no
//! other thread is woken to take the turn over. Such a hand-over cost the
//! runtime's worker more than the work did. Traced on Linux 6.18 (EEVDF)
//! with the worker and the pool on one core: in about one in a thousand of
//! the worker's wake-ups, the pool thread just woken for the turn ran
//! first, for 1-4 ms, while the worker waited, runnable (likely EEVDF's
//! lag: a thread that lost CPU time before it slept comes back owed it,
//! and its weight does not matter until it is paid). Without hand-overs
//! the worker's wake-up delay at p99.9 went from 1.6-5.1 ms to
//! 0.06-0.26 ms, and a small call's p99 under the gzip load (paced probe)
//! from 1.1-5.4 ms to 0.3-1.2 ms.
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
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
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

/// The bytes of `buffer`, which is freed on a background thread when the
/// last of them goes, wherever that is.
///
/// For a buffer of megabytes made on a background thread and sent, and so
/// dropped, by a runtime worker: freed there, it had glibc hand the pages
/// of the heap it came from back to the kernel on the worker (`madvise`,
/// about 1 ms for 12 MB, some 30 times a second under two connections
/// echoing 4 MiB), while every other connection of that worker waited.
///
/// ```
/// let bytes = rpckit_codec::background::bytes_freed_here(b"big".to_vec());
/// assert_eq!(&bytes[..], b"big");
/// drop(bytes); // the buffer goes to the pool, which frees it
/// ```
pub fn bytes_freed_here(buffer: Vec<u8>) -> bytes::Bytes {
    bytes::Bytes::from_owner(FreedHere(buffer))
}

/// A buffer that [`discard`]s itself.
struct FreedHere(Vec<u8>);

impl AsRef<[u8]> for FreedHere {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for FreedHere {
    fn drop(&mut self) {
        discard(std::mem::take(&mut self.0));
    }
}

/// Drops `value` on a background thread: at once on one, else after the
/// pool's next job (one that does nothing is queued when none runs).
fn discard<T: Send + 'static>(value: T) {
    if CURRENT_POOL.get().is_some() {
        return drop(value);
    }
    let pool = pool();
    let mut state = pool.lock();
    state.discarded.push(Box::new(value));
    if state.free_turns == pool.turns && state.queue.is_empty() {
        // Nothing runs that would collect it.
        state.queue.push_back(Box::new(|| {}));
        pool.start_queued(&mut state);
    }
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
/// A future that is ready at its first poll (a sync handler's answer)
/// never gives its turn up: handing it to another thread and taking it
/// back would wake two threads for nothing (see the module docs for what
/// a wake-up here can cost the runtime's workers).
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
    let mut future = std::pin::pin!(future);
    {
        // In the runtime's context, for the timers and sockets it makes.
        let _context = runtime.enter();
        let mut cx = Context::from_waker(std::task::Waker::noop());
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
    pool.give_turn();
    // Taken again however this ends, a panic included: the job's own turn
    // is given back when it ends.
    let _retake = Retake(pool);
    runtime.block_on(Computing { future, pool })
}

/// A future that computes only in its turn: each poll takes one and gives
/// it back.
struct Computing<'a, F> {
    future: Pin<&'a mut F>,
    pool: &'static Pool,
}

impl<F: Future> Future for Computing<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _turn = Turn::take(self.pool);
        self.future.as_mut().poll(cx)
    }
}

/// A turn taken by a job in [`block_on`], given back when dropped.
struct Turn(&'static Pool);

impl Turn {
    fn take(pool: &'static Pool) -> Turn {
        pool.take_turn();
        Turn(pool)
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.0.give_turn();
    }
}

/// Takes back the turn [`block_on`] gave up, when dropped.
struct Retake(&'static Pool);

impl Drop for Retake {
    fn drop(&mut self) {
        self.0.take_turn();
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
    /// Turns to compute in all.
    turns: usize,
    state: Mutex<State>,
    /// Idle threads wait here for a job.
    work: Condvar,
    /// Jobs in [`block_on`] wait here to take a turn back.
    turn_freed: Condvar,
}

struct State {
    /// Jobs no thread has started: each waits for a free turn.
    queue: VecDeque<Job>,
    /// Turns to compute that no job holds.
    free_turns: usize,
    /// Jobs in [`block_on`] waiting for a turn: a freed turn goes to them
    /// before the queue, as their work is under way.
    retaking: usize,
    threads: usize,
    idle: usize,
    /// What [`discard`] was given, dropped after the next job.
    discarded: Vec<Box<dyn Send>>,
}

impl Pool {
    fn new(cores: usize) -> Self {
        Pool {
            turns: cores.max(1),
            state: Mutex::new(State {
                queue: VecDeque::new(),
                free_turns: cores.max(1),
                retaking: 0,
                threads: 0,
                idle: 0,
                discarded: Vec::new(),
            }),
            work: Condvar::new(),
            turn_freed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn submit(&'static self, job: Job) {
        let mut state = self.lock();
        state.queue.push_back(job);
        self.start_queued(&mut state);
    }

    /// Sees that the queue's jobs that have a free turn get a thread: an
    /// idle one woken, or a new one. Jobs without a turn wait in the queue
    /// for the thread that frees one, which runs them itself.
    fn start_queued(&'static self, state: &mut State) {
        if state.retaking > 0 {
            return;
        }
        let startable = state.queue.len().min(state.free_turns);
        if startable == 0 {
            return;
        }
        if state.idle >= startable {
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

    /// Takes a turn for a job in [`block_on`], waiting for one.
    fn take_turn(&self) {
        let mut state = self.lock();
        state.retaking += 1;
        while state.free_turns == 0 {
            state = self
                .turn_freed
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
        state.retaking -= 1;
        state.free_turns -= 1;
    }

    /// Gives a turn back: to a job waiting in [`block_on`] if there is one,
    /// else to the queue.
    fn give_turn(&'static self) {
        self.free_turn(&mut self.lock());
    }

    fn free_turn(&'static self, state: &mut State) {
        state.free_turns += 1;
        if state.retaking > 0 {
            self.turn_freed.notify_one();
        } else {
            self.start_queued(state);
        }
    }

    fn work_loop(&'static self) {
        lower_priority();
        let mut state = self.lock();
        loop {
            if state.retaking == 0 && state.free_turns > 0 && !state.queue.is_empty() {
                state.free_turns -= 1;
                // The turn stays with this thread from job to job while the
                // queue has any (see the module docs).
                while let Some(job) = state.queue.pop_front() {
                    drop(state);
                    CURRENT_POOL.set(Some(self));
                    job();
                    CURRENT_POOL.set(None);
                    state = self.lock();
                    if !state.discarded.is_empty() {
                        let discarded = std::mem::take(&mut state.discarded);
                        drop(state);
                        drop(discarded);
                        state = self.lock();
                    }
                    if state.retaking > 0 {
                        break;
                    }
                }
                self.free_turn(&mut state);
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
        // the same core was 30-45% higher (examples/bench/RESULTS.md, 2026-12-02 evening).
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
        // would let two compute at once. The panic comes after the future
        // waited once, with its turn given up.
        let pool = one_core();
        let runtime = tokio::runtime::Handle::current();
        let panicked = spawn_on(pool, move || {
            block_on(&runtime, async {
                tokio::task::yield_now().await;
                panic!("in the future")
            });
        });
        assert!(panicked.await.is_err());
        assert_eq!(most_at_once(pool).await, 1);
    }

    #[tokio::test]
    async fn a_thread_that_frees_a_turn_runs_the_queued_jobs_itself() {
        // The first job holds the only turn until the others are queued;
        // they then run on its thread, one after the other, and no other
        // thread is woken to take the turn over.
        let pool = one_core();
        let (queued, wait) = std::sync::mpsc::channel::<()>();
        let first = spawn_on(pool, move || {
            wait.recv().expect("the test queues the others");
            thread::current().id()
        });
        let others: Vec<_> = (0..2)
            .map(|_| spawn_on(pool, || thread::current().id()))
            .collect();
        queued.send(()).unwrap();
        let first = first.await.unwrap();
        for other in others {
            assert_eq!(other.await.unwrap(), first);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_future_ready_at_once_keeps_its_turn() {
        // Had `block_on` given the turn up, the queued job would have run
        // then, on a thread of its own, while this one waited to take the
        // turn back.
        let pool = one_core();
        let runtime = tokio::runtime::Handle::current();
        let (queued, wait) = std::sync::mpsc::channel::<()>();
        let first = spawn_on(pool, move || {
            wait.recv().expect("the test queues the second");
            block_on(&runtime, async { thread::current().id() })
        });
        let second = spawn_on(pool, || thread::current().id());
        queued.send(()).unwrap();
        assert_eq!(second.await.unwrap(), first.await.unwrap());
    }

    #[test]
    fn what_is_discarded_is_dropped_on_a_background_thread() {
        /// Tells which thread dropped it.
        struct Witness(std::sync::mpsc::Sender<Option<String>>);
        impl Drop for Witness {
            fn drop(&mut self) {
                let _ = self.0.send(thread::current().name().map(str::to_owned));
            }
        }
        let (dropped, by) = std::sync::mpsc::channel();
        discard(Witness(dropped));
        let name = by
            .recv_timeout(Duration::from_secs(60))
            .expect("the pool dropped it");
        assert_eq!(name.as_deref(), Some("rpckit-background"));

        let bytes = bytes_freed_here(vec![7; 1000]);
        let copy = bytes.clone();
        drop(bytes);
        assert_eq!(copy, vec![7; 1000], "freed only with the last handle");
    }
}
