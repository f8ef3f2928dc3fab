//! Notification backends: whether the client waits for a notification's
//! handler.
//!
//! A notification is never answered, so nothing forces the client to wait
//! for its handler. Per method ([`MethodSettings::notifications`](crate::MethodSettings::notifications)):
//!
//! - [`Notifications::Inline`] (default): the notification runs like a
//!   call; over HTTP the response (an empty `204`, or the batch's other
//!   answers) is sent when it has finished.
//! - [`Notifications::Queue`]: the notification is put on a bounded
//!   [`NotificationQueue`] and the client is answered at once; the
//!   queue's worker tasks run it later, on the method's executor, under
//!   its concurrency limit and timeout. Requests with an id are not
//!   queued.
//!
//! When the queue is full, [`WhenFull`] decides: wait for room (the client
//! waits: backpressure) or reject (the notification is dropped, counted in
//! [`NotificationQueue::rejected`] and logged with `tracing::warn!`).
//!
//! # Nothing accepted is lost
//!
//! [`NotificationQueue::drain`] (and [`Router::drain`](crate::Router::drain)
//! for every queue of a router) waits until every accepted notification
//! has run. The transports call it on a graceful stop: the HTTP server
//! after its connections are closed, within its shutdown timeout; the
//! stream server after its connections are closed. A notification's
//! handler runs even if it was accepted a moment before the stop.
//!
//! ```
//! use rpckit::notify::{NotificationQueue, WhenFull};
//! use rpckit::Router;
//!
//! let queue = NotificationQueue::builder()
//!     .workers(4)
//!     .capacity(1000)
//!     .when_full(WhenFull::Reject)
//!     .build();
//! let router = Router::new()
//!     .sync_method("log", || ())
//!     .configure("log", |settings| settings.notifications(queue.clone()));
//! assert_eq!(queue.capacity(), 1000);
//! # let _ = router;
//! ```

mod queue;

pub use queue::{NotificationQueue, NotificationQueueBuilder, WhenFull};

pub(crate) use queue::Job;

/// Whether a notification's client waits for its handler; see the
/// [module docs](self).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notifications {
    /// The notification runs while the client waits, as a call does.
    #[default]
    Inline,
    /// The notification goes on a background queue; the client is answered
    /// at once.
    Queue(NotificationQueue),
}

impl From<NotificationQueue> for Notifications {
    fn from(queue: NotificationQueue) -> Self {
        Notifications::Queue(queue)
    }
}

/// The queues among `settings`, each once however many methods share it.
pub(crate) fn queues_of<'a>(
    settings: impl Iterator<Item = &'a crate::MethodSettings>,
) -> Vec<NotificationQueue> {
    let mut queues: Vec<NotificationQueue> = Vec::new();
    for settings in settings {
        if let Notifications::Queue(queue) = &settings.execution.notifications {
            if !queues.contains(queue) {
                queues.push(queue.clone());
            }
        }
    }
    queues
}

/// Waits until every one of `queues` is empty and idle.
pub(crate) fn drain_all(
    queues: Vec<NotificationQueue>,
) -> futures_util::future::BoxFuture<'static, ()> {
    Box::pin(async move {
        for queue in queues {
            queue.drain().await;
        }
    })
}
