//! The bounded background queue of notifications.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use futures_util::FutureExt;
use rpckit_codec::{Encoded, ErrorCode, ErrorObject};
use tokio::sync::{mpsc, Mutex, Notify};

use crate::router::ResponseFuture;

/// One queued notification's work.
pub(crate) type Job = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// What a full [`NotificationQueue`] does with one more notification.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum WhenFull {
    /// The client waits until there is room (backpressure): nothing is
    /// dropped.
    #[default]
    Wait,
    /// The notification is dropped at once, counted
    /// ([`NotificationQueue::rejected`]) and logged.
    Reject,
}

/// A bounded queue of notifications run by N worker tasks; see the
/// [module docs](super).
///
/// Clones share the queue; methods given the same queue share its workers
/// and its room. The workers start on the tokio runtime of the first
/// notification queued. When every clone is gone, they run what is still
/// queued and end.
#[derive(Clone)]
pub struct NotificationQueue {
    inner: Arc<Inner>,
}

struct Inner {
    sender: mpsc::Sender<Job>,
    workers: usize,
    capacity: usize,
    when_full: WhenFull,
    /// The receiver until the workers start and take it.
    receiver: std::sync::Mutex<Option<mpsc::Receiver<Job>>>,
    started: OnceLock<()>,
    state: Arc<State>,
}

/// What the workers share with the queue.
struct State {
    /// Accepted or waiting for room, and not yet run to the end.
    pending: AtomicUsize,
    accepted: AtomicU64,
    completed: AtomicU64,
    rejected: AtomicU64,
    /// Told when `pending` reaches zero.
    idle: Notify,
}

impl State {
    fn finish_one(&self) {
        if self.pending.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.idle.notify_waiters();
        }
    }
}

/// Builds a [`NotificationQueue`]: 4 workers and room for 1024 by default,
/// waiting when full.
#[derive(Clone, Debug)]
pub struct NotificationQueueBuilder {
    workers: usize,
    capacity: usize,
    when_full: WhenFull,
}

impl NotificationQueueBuilder {
    /// How many notifications run at once (at least one).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// How many notifications may wait to run (at least one); those
    /// running do not count.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// What a full queue does.
    pub fn when_full(mut self, when_full: WhenFull) -> Self {
        self.when_full = when_full;
        self
    }

    /// The queue. No task starts until the first notification comes.
    pub fn build(self) -> NotificationQueue {
        let (sender, receiver) = mpsc::channel(self.capacity);
        NotificationQueue {
            inner: Arc::new(Inner {
                sender,
                workers: self.workers,
                capacity: self.capacity,
                when_full: self.when_full,
                receiver: std::sync::Mutex::new(Some(receiver)),
                started: OnceLock::new(),
                state: Arc::new(State {
                    pending: AtomicUsize::new(0),
                    accepted: AtomicU64::new(0),
                    completed: AtomicU64::new(0),
                    rejected: AtomicU64::new(0),
                    idle: Notify::new(),
                }),
            }),
        }
    }
}

impl NotificationQueue {
    /// A queue with `workers` workers and room for `capacity`, waiting when
    /// full.
    pub fn new(workers: usize, capacity: usize) -> Self {
        Self::builder().workers(workers).capacity(capacity).build()
    }

    /// A builder with the defaults.
    pub fn builder() -> NotificationQueueBuilder {
        NotificationQueueBuilder {
            workers: 4,
            capacity: 1024,
            when_full: WhenFull::Wait,
        }
    }

    /// How many notifications may wait.
    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    /// How many run at once.
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// What a full queue does.
    pub fn when_full(&self) -> WhenFull {
        self.inner.when_full
    }

    /// Notifications accepted so far (queued; run or to run).
    pub fn accepted(&self) -> u64 {
        self.inner.state.accepted.load(Ordering::SeqCst)
    }

    /// Notifications run to their end so far (a handler that failed or
    /// panicked counts: it ran).
    pub fn completed(&self) -> u64 {
        self.inner.state.completed.load(Ordering::SeqCst)
    }

    /// Notifications dropped because the queue was full ([`WhenFull::Reject`]).
    pub fn rejected(&self) -> u64 {
        self.inner.state.rejected.load(Ordering::SeqCst)
    }

    /// Notifications queued, running, or waiting for room.
    pub fn pending(&self) -> usize {
        self.inner.state.pending.load(Ordering::SeqCst)
    }

    /// Waits until every notification accepted (or waiting for room) has
    /// run to its end. Notifications that come meanwhile are waited for
    /// too: stop the transports first for a final drain.
    pub async fn drain(&self) {
        let state = &self.inner.state;
        loop {
            let idle = state.idle.notified();
            let mut idle = std::pin::pin!(idle);
            idle.as_mut().enable();
            if state.pending.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }

    /// Queues `job`; the router's answer for the notification.
    pub(crate) fn submit(&self, job: Job) -> ResponseFuture {
        self.start_workers();
        let inner = &self.inner;
        inner.state.pending.fetch_add(1, Ordering::SeqCst);
        let job = match inner.sender.try_send(job) {
            Ok(()) => return accepted(&inner.state),
            Err(mpsc::error::TrySendError::Full(job)) => job,
            Err(mpsc::error::TrySendError::Closed(_)) => {
                inner.state.finish_one();
                return ResponseFuture::ready(Err(ErrorObject::internal_error(
                    "the notification queue is closed",
                )));
            }
        };
        match inner.when_full {
            WhenFull::Reject => {
                inner.state.rejected.fetch_add(1, Ordering::SeqCst);
                inner.state.finish_one();
                tracing::warn!(
                    capacity = inner.capacity,
                    "notification queue full: a notification was dropped"
                );
                ResponseFuture::ready(Err(ErrorObject::new(
                    ErrorCode::ServerError(-32_000),
                    "the notification queue is full",
                )))
            }
            WhenFull::Wait => {
                let waiting = Waiting {
                    state: Arc::clone(&inner.state),
                    armed: true,
                };
                let sender = inner.sender.clone();
                ResponseFuture::handler(Box::pin(async move {
                    let mut waiting = waiting;
                    if sender.send(job).await.is_err() {
                        return Err(ErrorObject::internal_error(
                            "the notification queue is closed",
                        ));
                    }
                    waiting.armed = false;
                    accepted_outcome(&waiting.state)
                }))
            }
        }
    }

    fn start_workers(&self) {
        self.inner.started.get_or_init(|| {
            let receiver = self
                .inner
                .receiver
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take()
                .expect("the receiver is taken once");
            let receiver = Arc::new(Mutex::new(receiver));
            for _ in 0..self.inner.workers {
                tokio::spawn(work(Arc::clone(&receiver), Arc::clone(&self.inner.state)));
            }
        });
    }
}

fn accepted(state: &State) -> ResponseFuture {
    ResponseFuture::ready(accepted_outcome(state))
}

/// What the router answers for a queued notification: nothing to send (a
/// notification's outcome is dropped), so an empty value.
fn accepted_outcome(state: &State) -> crate::Outcome {
    state.accepted.fetch_add(1, Ordering::SeqCst);
    Ok(Encoded(Bytes::new()))
}

/// A notification waiting for room: if the client goes away meanwhile, it
/// is not pending any more.
struct Waiting {
    state: Arc<State>,
    armed: bool,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if self.armed {
            self.state.finish_one();
        }
    }
}

/// One worker: runs jobs until the queue is gone and empty.
async fn work(receiver: Arc<Mutex<mpsc::Receiver<Job>>>, state: Arc<State>) {
    loop {
        let job = receiver.lock().await.recv().await;
        let Some(job) = job else { return };
        if AssertUnwindSafe(job).catch_unwind().await.is_err() {
            tracing::error!("a queued notification's handler panicked");
        }
        state.completed.fetch_add(1, Ordering::SeqCst);
        state.finish_one();
    }
}

impl fmt::Debug for NotificationQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotificationQueue")
            .field("workers", &self.inner.workers)
            .field("capacity", &self.inner.capacity)
            .field("when_full", &self.inner.when_full)
            .field("pending", &self.pending())
            .finish()
    }
}

/// The same queue (not merely the same sizes).
impl PartialEq for NotificationQueue {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for NotificationQueue {}
