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
//! The pool grows with the jobs in flight (a job may wait on I/O: a handler
//! serving a big frame runs here too) up to [`MAX_THREADS`], and a thread
//! that has been idle for [`IDLE_TIMEOUT`] exits.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let sum = rpckit_codec::background::spawn(|| (1..=100_u32).sum::<u32>()).await;
//! assert_eq!(sum.unwrap(), 5050);
//! # }
//! ```

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
    let (sender, receiver) = oneshot::channel();
    pool().submit(Box::new(move || {
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

/// The process's one pool, started on first use.
fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(Pool::default)
}

#[derive(Default)]
struct Pool {
    state: Mutex<State>,
    work: Condvar,
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
                job();
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

    #[tokio::test]
    async fn a_waiting_job_does_not_hold_up_the_next() {
        // The first job blocks until the second has run: with one thread
        // for both, the second would never run.
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let first = spawn(move || wait.recv().is_ok());
        let second = spawn(move || release.send(()).is_ok());
        let second = tokio::time::timeout(Duration::from_secs(10), second)
            .await
            .expect("the second job got a thread of its own");
        assert!(second.unwrap());
        assert!(first.await.unwrap());
    }
}
