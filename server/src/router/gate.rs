//! The gate every call of a router passes: calls in flight, the reload gate
//! and the locks, in one atomic word.
//!
//! Why one word: a call must be counted *and* see whether it may run in the
//! same step, or a reload could read "nothing in flight", swap the table and
//! find a call that slipped in between its check and its count. One
//! `fetch_add` does both, and in the common case (gate open, nothing locked)
//! it is the only atomic operation the gate costs a call (plus the matching
//! `fetch_sub` when it ends). Everything else here (the lock set, the
//! notifications) is touched only while a reload or a lock is on.

use std::collections::HashSet;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use super::{Method, Router, Shared, Table};
use crate::stats::Stage;
use crate::{Call, Outcome};

/// A reload is switching the table: new calls wait.
const CLOSED: u64 = 1 << 63;
/// The whole router is locked: calls of methods not exempt wait.
const LOCKED: u64 = 1 << 62;
/// At least one method is locked by name: calls check the lock set.
const METHODS_LOCKED: u64 = 1 << 61;
/// Any flag: a call that sees none runs at once.
const FLAGS: u64 = CLOSED | LOCKED | METHODS_LOCKED;
/// The low bits count the calls in flight.
const COUNT: u64 = !FLAGS;

/// The gate's state: shared by a router's clones and its handles.
#[derive(Debug, Default)]
pub(super) struct Control {
    /// Calls in flight (low bits) and the flags.
    state: AtomicU64,
    /// How many times a reload switched the table: a [`Batch`](super::Batch)
    /// that took its snapshot at another count loads the table again.
    switches: AtomicU64,
    /// Calls in flight that are inside a reload of this router themselves
    /// (a handler that reloads): a reload does not wait for them.
    parked: AtomicUsize,
    /// Woken when a call ends while the gate is closed, or a call parks.
    drained: Notify,
    /// Woken when the gate opens or a lock is released.
    changed: Notify,
    /// The names locked one by one.
    locked_methods: Mutex<HashSet<Box<str>>>,
    /// One reload at a time.
    pub(super) reloading: tokio::sync::Mutex<()>,
}

/// Why a call may not run yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Blocked {
    /// A reload is switching the table.
    Reload,
    /// Its method, or the whole router, is locked.
    Lock,
}

impl Control {
    /// Counts a call in; the state before, to check with [`Control::admit`].
    #[inline]
    pub(super) fn enter(&self) -> u64 {
        self.state.fetch_add(1, Ordering::AcqRel)
    }

    /// The number of table switches so far; read it *before* loading the
    /// table, and again after [`Control::enter`], to know the table loaded
    /// is still the one served.
    #[inline]
    pub(super) fn switches(&self) -> u64 {
        self.switches.load(Ordering::Acquire)
    }

    /// Counts a table switch; called by a reload after it stored the new
    /// table and before it opens the gate, so that a call the open gate
    /// lets in sees the new count.
    pub(super) fn switched(&self) {
        self.switches.fetch_add(1, Ordering::Release);
    }

    /// Whether a call counted in with state `before` may run at once on a
    /// table loaded when the switch count was `switches`: no flag, and no
    /// switch since. The batch path's one check; anything else takes
    /// [`Control::admit`]'s path.
    #[inline]
    pub(super) fn open_since(&self, before: u64, switches: u64) -> bool {
        before & FLAGS == 0 && self.switches() == switches
    }

    /// Counts a call out, waking a reload that waits for calls to end.
    #[inline]
    pub(super) fn leave(&self) {
        let before = self.state.fetch_sub(1, Ordering::AcqRel);
        if before & CLOSED != 0 {
            self.drained.notify_waiters();
        }
    }

    /// Whether a call counted in with state `before` may run now.
    #[inline]
    pub(super) fn admit(&self, before: u64, table: &Table, name: &str) -> Result<(), Blocked> {
        if before & FLAGS == 0 {
            return Ok(());
        }
        if before & CLOSED != 0 {
            return Err(Blocked::Reload);
        }
        // A name nobody serves is answered -32601 at once, locked or not.
        let Some(method) = table.methods.get(name) else {
            return Ok(());
        };
        if before & LOCKED != 0 && !method.settings.is_lock_exempt() {
            return Err(Blocked::Lock);
        }
        if before & METHODS_LOCKED != 0 && self.is_method_locked(table, name, method) {
            return Err(Blocked::Lock);
        }
        Ok(())
    }

    /// Calls in flight.
    pub(super) fn in_flight(&self) -> usize {
        (self.state.load(Ordering::SeqCst) & COUNT) as usize
    }

    /// Calls in flight a reload waits for: all but those reloading.
    pub(super) fn busy(&self) -> usize {
        self.in_flight()
            .saturating_sub(self.parked.load(Ordering::SeqCst))
    }

    /// Waits until at most `max` calls (parked ones aside) are in flight,
    /// or until `deadline`; whether it got there.
    pub(super) async fn drain(&self, max: usize, deadline: tokio::time::Instant) -> bool {
        loop {
            let mut drained = pin!(self.drained.notified());
            drained.as_mut().enable();
            if self.busy() <= max {
                return true;
            }
            if tokio::time::timeout_at(deadline, drained).await.is_err() {
                return self.busy() <= max;
            }
        }
    }

    /// Locks or unlocks the whole router; whether that changed anything.
    pub(super) fn set_locked(&self, locked: bool) -> bool {
        let before = if locked {
            self.state.fetch_or(LOCKED, Ordering::SeqCst)
        } else {
            self.state.fetch_and(!LOCKED, Ordering::SeqCst)
        };
        let changed = (before & LOCKED != 0) != locked;
        if changed && !locked {
            self.changed.notify_waiters();
        }
        changed
    }

    pub(super) fn is_locked(&self) -> bool {
        self.state.load(Ordering::SeqCst) & LOCKED != 0
    }

    /// Locks or unlocks the method `name`; whether that changed anything.
    pub(super) fn set_method_locked(&self, name: &str, locked: bool) -> bool {
        let mut names = self.locked_names();
        let changed = if locked {
            names.insert(name.into())
        } else {
            names.remove(name)
        };
        // Flag and set change together, under the set's mutex.
        if names.is_empty() {
            self.state.fetch_and(!METHODS_LOCKED, Ordering::SeqCst);
        } else {
            self.state.fetch_or(METHODS_LOCKED, Ordering::SeqCst);
        }
        drop(names);
        if changed && !locked {
            self.changed.notify_waiters();
        }
        changed
    }

    /// Whether `name` itself is locked (not counting aliases or the whole
    /// router).
    pub(super) fn is_name_locked(&self, name: &str) -> bool {
        self.locked_names().contains(name)
    }

    /// Whether the method `name` resolves to is locked under any of its
    /// names (aliases share a lock).
    fn is_method_locked(&self, table: &Table, name: &str, method: &Arc<Method>) -> bool {
        self.locked_names().iter().any(|locked| {
            **locked == *name
                || table
                    .methods
                    .get(locked)
                    .is_some_and(|other| Arc::ptr_eq(other, method))
        })
    }

    fn locked_names(&self) -> MutexGuard<'_, HashSet<Box<str>>> {
        // The set holds no invariant a panic could break.
        self.locked_methods
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// One call in flight, borrowing its router's gate: counted out when
/// dropped, or handed on as an [`InFlight`] when the call outlives the
/// borrow. A batch's calls that answer at once (sync handlers) never
/// touch the router's `Arc`.
pub(super) struct Entered<'a>(Option<&'a Control>);

impl<'a> Entered<'a> {
    /// Counts a call in; the state before, to check.
    #[inline]
    pub(super) fn new(control: &'a Control) -> (Self, u64) {
        let before = control.enter();
        (Entered(Some(control)), before)
    }

    /// The same count, owned by the call's future from now on.
    pub(super) fn into_owned(mut self, shared: &Arc<Shared>) -> InFlight {
        debug_assert!(std::ptr::eq(
            self.0.unwrap_or(&shared.control),
            &shared.control
        ));
        self.0 = None;
        InFlight(shared.clone())
    }
}

impl Drop for Entered<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some(control) = self.0 {
            control.leave();
        }
    }
}

/// One call in flight: counted in when made, out when dropped (the call
/// was answered, or its future was dropped).
pub(super) struct InFlight(pub(super) Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.control.leave();
    }
}

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InFlight")
    }
}

/// A call inside a reload of its own router: not waited for, until dropped.
pub(super) struct Parked(Arc<Shared>);

impl Parked {
    pub(super) fn new(shared: &Arc<Shared>) -> Self {
        shared.control.parked.fetch_add(1, Ordering::SeqCst);
        // A reload waiting on calls in flight may now have few enough.
        shared.control.drained.notify_waiters();
        Parked(shared.clone())
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        self.0.control.parked.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The gate closed by a reload; dropping it (on success, failure or a
/// dropped reload future) opens it and wakes the held calls.
pub(super) struct Closed(Arc<Shared>);

impl Closed {
    pub(super) fn new(shared: &Arc<Shared>) -> Self {
        shared.control.state.fetch_or(CLOSED, Ordering::SeqCst);
        Closed(shared.clone())
    }
}

impl Drop for Closed {
    fn drop(&mut self) {
        let control = &self.0.control;
        control.state.fetch_and(!CLOSED, Ordering::SeqCst);
        control.changed.notify_waiters();
    }
}

/// A call that could not run when it came: waits (without polling) until
/// the gate lets it in, then runs it on the table of that moment.
///
/// A lock wait longer than the method's (or router's) lock timeout answers
/// [`LOCK_TIMED_OUT`](super::LOCK_TIMED_OUT); waiting for a reload has no
/// limit of its own, the reload's timeout bounds it.
pub(super) async fn held(router: Router, call: Call) -> Outcome {
    let shared = &router.shared;
    let control = &shared.control;
    let mut deadline = None;
    // The time held is the call's wait stage (a timed-out wait counts too).
    let mut waiting = shared.stats().map(|stats| stats.timer(Stage::Wait));
    loop {
        let mut changed = pin!(control.changed.notified());
        changed.as_mut().enable();
        let before = control.enter();
        let guard = InFlight(shared.clone());
        let table = shared.table.load_full();
        let timeout = match control.admit(before, &table, call.method()) {
            Ok(()) => {
                drop(waiting.take());
                let answer = super::serve(&table, call, shared).counted(guard);
                drop(table);
                return match answer.await {
                    Ok(outcome) => outcome,
                    Err(never) => match never {},
                };
            }
            Err(Blocked::Reload) => None,
            Err(Blocked::Lock) => lock_timeout(&table, call.method()),
        };
        drop((guard, table));
        match timeout {
            None => changed.await,
            Some(limit) => {
                let deadline = *deadline.get_or_insert_with(|| tokio::time::Instant::now() + limit);
                if tokio::time::timeout_at(deadline, changed).await.is_err() {
                    return Err(super::lock::timed_out(call.method(), limit));
                }
            }
        }
    }
}

/// How long a call of `name` may wait for a lock.
fn lock_timeout(table: &Table, name: &str) -> Option<Duration> {
    table
        .methods
        .get(name)
        .and_then(|method| method.settings.lock_timeout_limit())
        .or(table.lock_timeout)
}
