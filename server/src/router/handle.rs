//! The handle that reloads and locks one router while it is served.

use std::fmt;
use std::sync::Arc;

use super::{Router, Shared};

/// Reloads and locks one served [`Router`] (one endpoint path): from
/// [`Router::handle`] (or [`Endpoint::handle`](crate::Endpoint::handle)),
/// or as a handler argument.
///
/// Cloning is cheap (one `Arc`). Every router has its own table, gate and
/// locks, so a server with several paths has one handle per path.
///
/// ```
/// use rpckit::{ApiHandle, Router};
///
/// // A handler that locks its own router; calls to other methods wait
/// // until someone calls `unlock`, which is exempt from the router lock.
/// let router = Router::new()
///     .sync_method("ping", || "pong")
///     .method("lock", |api: ApiHandle| async move { api.lock() })
///     .method("unlock", |api: ApiHandle| async move { api.unlock() })
///     .configure("unlock", |settings| settings.lock_exempt(true));
/// let handle = router.handle();
/// assert!(!handle.is_locked());
/// ```
///
/// # A handle taken from a call
///
/// As a handler argument, a handle stands for the call it came with: that
/// call is in flight, and a [`reload`](ApiHandle::reload) through this
/// handle does not wait for it (it would wait for itself forever). Use it
/// while the call runs; to keep a handle beyond the call (in a spawned
/// task, say), keep [`ApiHandle::detached`] instead.
#[derive(Clone)]
pub struct ApiHandle {
    pub(super) shared: Arc<Shared>,
    /// Made from a call of this router that is still in flight.
    pub(super) in_call: bool,
}

impl ApiHandle {
    pub(crate) fn new(shared: Arc<Shared>, in_call: bool) -> Self {
        ApiHandle { shared, in_call }
    }

    /// The same router's handle, standing for no call.
    pub fn detached(&self) -> ApiHandle {
        ApiHandle::new(self.shared.clone(), false)
    }

    /// The table served now, as a router to read (settings, states, names).
    /// Building on it makes a new router; serve that through
    /// [`reload`](ApiHandle::reload).
    pub fn table(&self) -> Router {
        Router::from_table(self.shared.table.load_full())
    }

    /// How many calls of this router are running now.
    pub fn in_flight(&self) -> usize {
        self.shared.control.in_flight()
    }

    /// Whether both handles reach the same router.
    pub fn same_router(&self, other: &ApiHandle) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl fmt::Debug for ApiHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiHandle")
            .field("in_flight", &self.in_flight())
            .field("locked", &self.is_locked())
            .field("in_call", &self.in_call)
            .finish_non_exhaustive()
    }
}
