//! Polling a rarely ready future only when it has news.
//!
//! A connection's task waits on hyper's connection, its idle timer and the
//! server's phase in one `select!`, which polls every branch on every wake,
//! one or two a request. The phase changes a handful of times in a
//! server's life, yet polling its `watch::Receiver::changed` future again
//! costs ~400 instructions a request (it re-checks the version and its
//! place in the notify list) to say "not yet". [`Gated`] polls its future
//! with a waker of its own and skips the poll until that waker was woken:
//! a load and a compare on every other wake.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};

/// The waker a [`Gated`] future polls its inner future with: it marks the
/// gate open, then wakes the task that polled it.
#[derive(Debug, Default)]
struct Signal {
    open: AtomicBool,
    /// The task's waker, from the first poll. A gate serves one task (the
    /// connection's), whose waker does not change.
    task: OnceLock<Waker>,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.open.store(true, Ordering::Release);
        if let Some(task) = self.task.get() {
            task.wake_by_ref();
        }
    }
}

/// One task's gate, with the waker made of it once: it gates one future
/// at a time.
#[derive(Debug)]
pub(super) struct Gate {
    signal: Arc<Signal>,
    waker: Waker,
}

impl Gate {
    pub(super) fn new() -> Self {
        let signal = Arc::new(Signal::default());
        let waker = Waker::from(Arc::clone(&signal));
        Gate { signal, waker }
    }

    /// `future`, polled on its first poll and then only after its own
    /// waker was woken since the last one.
    pub(super) fn gate<F: Future>(&self, future: F) -> Gated<'_, F> {
        // Open for the first poll, which registers the future.
        self.signal.open.store(true, Ordering::Release);
        Gated { future, gate: self }
    }
}

pin_project_lite::pin_project! {
    /// See [`Gate::gate`].
    pub(super) struct Gated<'a, F> {
        #[pin]
        future: F,
        gate: &'a Gate,
    }
}

impl<F: Future> Future for Gated<'_, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let signal = &this.gate.signal;
        if !signal.open.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        signal.task.get_or_init(|| cx.waker().clone());
        this.future.poll(&mut Context::from_waker(&this.gate.waker))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// Counts its polls; ready once `ready` is set, waking what it saved.
    struct Probe<'a> {
        polls: &'a AtomicUsize,
        ready: &'a AtomicBool,
        waker: &'a std::sync::Mutex<Option<Waker>>,
    }

    impl Future for Probe<'_> {
        type Output = ();

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.polls.fetch_add(1, Ordering::Relaxed);
            if self.ready.load(Ordering::Relaxed) {
                return Poll::Ready(());
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    /// A task waker that counts its wakes.
    #[derive(Default)]
    struct Task(AtomicUsize);

    impl Wake for Task {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn the_inner_future_is_polled_only_after_its_own_wake() {
        let (polls, ready, saved) = (
            AtomicUsize::new(0),
            AtomicBool::new(false),
            std::sync::Mutex::new(None),
        );
        let gate = Gate::new();
        let mut gated = std::pin::pin!(gate.gate(Probe {
            polls: &polls,
            ready: &ready,
            waker: &saved,
        }));
        let task = Arc::new(Task::default());
        let task_waker = Waker::from(Arc::clone(&task));
        let mut cx = Context::from_waker(&task_waker);

        // The first poll registers; wakes meant for others skip it.
        assert!(gated.as_mut().poll(&mut cx).is_pending());
        assert!(gated.as_mut().poll(&mut cx).is_pending());
        assert!(gated.as_mut().poll(&mut cx).is_pending());
        assert_eq!(polls.load(Ordering::Relaxed), 1);

        // Its own wake reaches the task and lets the next poll through.
        ready.store(true, Ordering::Relaxed);
        saved.lock().unwrap().take().unwrap().wake();
        assert_eq!(task.0.load(Ordering::Relaxed), 1);
        assert!(gated.as_mut().poll(&mut cx).is_ready());
        assert_eq!(polls.load(Ordering::Relaxed), 2);

        // A next future behind the same gate starts with a poll, also
        // when the one before was dropped waiting, its gate shut.
        let mut waiting = std::pin::pin!(gate.gate(std::future::pending::<()>()));
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        let next = std::pin::pin!(gate.gate(std::future::ready(7)));
        assert_eq!(next.poll(&mut cx), Poll::Ready(7));
    }
}
