//! Locking a router, or single methods of it: calls wait, they are not
//! rejected.

use std::time::Duration;

use rpckit_codec::{ErrorCode, ErrorObject};

use super::ApiHandle;

/// The code of the answer to a call that waited for a lock longer than its
/// lock timeout ([`MethodSettings::lock_timeout`](super::MethodSettings::lock_timeout),
/// [`Router::lock_timeout`](super::Router::lock_timeout)): -32002, in the
/// range the specification leaves to servers.
pub const LOCK_TIMED_OUT: ErrorCode = ErrorCode::ServerError(-32_002);

pub(super) fn timed_out(method: &str, limit: Duration) -> ErrorObject {
    ErrorObject::new(
        LOCK_TIMED_OUT,
        format!(
            "method `{method}` stayed locked for {} ms",
            limit.as_millis()
        ),
    )
}

/// Locks. A lock holds calls that arrive after it; calls already running
/// go on. Held calls run, in no particular order, when the lock goes, or
/// answer [`LOCK_TIMED_OUT`] once they waited their lock timeout (none by
/// default: they wait as long as the lock stays).
///
/// Locks belong to the router, not to its table: they stay across reloads.
/// A name nobody serves is answered -32601 at once, locked or not.
impl ApiHandle {
    /// Locks the whole router: calls wait, except those of methods that are
    /// [`lock_exempt`](super::MethodSettings::lock_exempt). Whether it was
    /// unlocked before.
    pub fn lock(&self) -> bool {
        self.shared.control.set_locked(true)
    }

    /// Unlocks the whole router and lets the held calls run (those of
    /// methods locked by name keep waiting). Whether it was locked.
    pub fn unlock(&self) -> bool {
        self.shared.control.set_locked(false)
    }

    /// Whether the whole router is locked.
    pub fn is_locked(&self) -> bool {
        self.shared.control.is_locked()
    }

    /// Locks one method: its calls wait, under this name and under its
    /// aliases. An exempt method can be locked this way too. Whether it was
    /// unlocked before.
    ///
    /// ```
    /// use rpckit::Router;
    ///
    /// let router = Router::new().sync_method("write", || "written");
    /// let api = router.handle();
    /// assert!(api.lock_method("write"));
    /// assert!(api.is_method_locked("write"));
    /// assert!(api.unlock_method("write"));
    /// ```
    pub fn lock_method(&self, name: &str) -> bool {
        self.shared.control.set_method_locked(name, true)
    }

    /// Unlocks a method locked by [`lock_method`](ApiHandle::lock_method)
    /// under this name. Whether it was locked.
    pub fn unlock_method(&self, name: &str) -> bool {
        self.shared.control.set_method_locked(name, false)
    }

    /// Whether `name` was locked by [`lock_method`](ApiHandle::lock_method)
    /// (the router lock aside).
    pub fn is_method_locked(&self, name: &str) -> bool {
        self.shared.control.is_name_locked(name)
    }
}
