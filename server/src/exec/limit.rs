//! A per-method concurrency limit.

use std::fmt;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// At most `max` calls of a method at once; the others wait their turn
/// (first come, first served). Set it with
/// [`MethodSettings::concurrency_limit`](crate::MethodSettings::concurrency_limit);
/// aliases of a method share one limit.
#[derive(Clone)]
pub struct ConcurrencyLimit {
    max: usize,
    slots: Arc<Semaphore>,
}

impl ConcurrencyLimit {
    /// A limit of `max` calls at once (at least one).
    pub fn new(max: usize) -> Self {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        ConcurrencyLimit {
            max,
            slots: Arc::new(Semaphore::new(max)),
        }
    }

    /// How many calls may run at once.
    pub fn max(&self) -> usize {
        self.max
    }

    /// How many more calls could start now.
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }

    /// A slot if one is free now. Slots go to waiting calls first as they
    /// are freed, so this never jumps the queue.
    pub(crate) fn try_acquire(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.slots).try_acquire_owned().ok()
    }

    /// Waits for a slot.
    pub(crate) async fn acquire(&self) -> OwnedSemaphorePermit {
        Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed")
    }
}

impl fmt::Debug for ConcurrencyLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConcurrencyLimit")
            .field("max", &self.max)
            .field("available", &self.available())
            .finish()
    }
}

/// The same limit (not merely the same number).
impl PartialEq for ConcurrencyLimit {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.slots, &other.slots)
    }
}

impl Eq for ConcurrencyLimit {}
