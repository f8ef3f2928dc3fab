//! Per-method settings.

use std::time::Duration;

use crate::exec::{ConcurrencyLimit, Execution, Executor};
use crate::notify::Notifications;

/// How one method may be called and answered, beyond its handler.
///
/// `None` for a setting means "the server's default". Transports and layers
/// read these; see [`Router::configure`](super::Router::configure).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MethodSettings {
    jsonp: Option<bool>,
    compression: Option<bool>,
    timeout: Option<Duration>,
    lock_exempt: bool,
    lock_timeout: Option<Duration>,
    /// Executor, concurrency limit, notification backend (`crate::exec`).
    pub(crate) execution: Execution,
}

impl MethodSettings {
    /// Allows or forbids calling this method through JSONP (HTTP `GET`).
    ///
    /// JSONP is switched on for a whole server (`rpckit::http::Server::
    /// builder().jsonp(true)`); while it is off, a `GET` never reaches a
    /// method, so `jsonp(true)` cannot turn it on for one. `jsonp(false)`
    /// forbids it for this method: a JSONP call is answered with error
    /// -32000 ("JSONP is not allowed for method …") inside the callback,
    /// with HTTP status 403, and the handler does not run.
    ///
    /// ```
    /// use rpckit::Router;
    ///
    /// let router = Router::new()
    ///     .sync_method("public", || "anyone may read this")
    ///     .sync_method("account", || "only same-origin pages")
    ///     .configure("account", |settings| settings.jsonp(false));
    /// assert_eq!(router.settings("account").unwrap().jsonp_allowed(), Some(false));
    /// ```
    pub fn jsonp(mut self, allowed: bool) -> Self {
        self.jsonp = Some(allowed);
        self
    }

    /// Allows or forbids compressing this method's responses over HTTP.
    ///
    /// Unset, the server's default applies
    /// (`rpckit::http::Compression::enabled_by_default`). A handler can
    /// still forbid it for one response, or allow it where this is unset,
    /// through its `ResponseHandle`; in a batch the response is compressed
    /// if any call allowed it and none forbade it.
    pub fn compression(mut self, allowed: bool) -> Self {
        self.compression = Some(allowed);
        self
    }

    /// Answers a call of this method that has not finished within `limit`
    /// with error -32001 ("the call did not finish within … ms"), and drops
    /// the handler's future, so its work stops at its next `.await`.
    /// Default: no limit (the HTTP transport still bounds a whole request:
    /// `rpckit::http::ServerBuilder::request_timeout`).
    ///
    /// The clock starts when the router calls the handler. A sync handler
    /// (`Router::sync_method`) runs to its end when called and cannot be
    /// stopped: the limit applies to async handlers.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rpckit::Router;
    ///
    /// let router = Router::new()
    ///     .method("slow", || async { tokio::time::sleep(Duration::from_secs(60)).await; "done" })
    ///     .configure("slow", |settings| settings.timeout(Duration::from_secs(5)));
    /// assert_eq!(router.settings("slow").unwrap().timeout_limit(), Some(Duration::from_secs(5)));
    /// ```
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// Lets this method run while the whole router is locked
    /// ([`ApiHandle::lock`](crate::ApiHandle::lock)), so that an `unlock`
    /// method still answers. Default: not exempt. Locking the method itself
    /// by name ([`ApiHandle::lock_method`](crate::ApiHandle::lock_method))
    /// still holds its calls.
    ///
    /// ```
    /// use rpckit::{ApiHandle, Router};
    ///
    /// let router = Router::new()
    ///     .method("unlock", |api: ApiHandle| async move { api.unlock() })
    ///     .configure("unlock", |settings| settings.lock_exempt(true));
    /// assert!(router.settings("unlock").unwrap().is_lock_exempt());
    /// ```
    pub fn lock_exempt(mut self, exempt: bool) -> Self {
        self.lock_exempt = exempt;
        self
    }

    /// Answers a call of this method that waited `limit` for a lock with
    /// error -32002 ([`LOCK_TIMED_OUT`](crate::LOCK_TIMED_OUT)) instead of
    /// waiting on. Unset, the router's
    /// [`lock_timeout`](crate::Router::lock_timeout) applies, and without
    /// one a call waits as long as the lock stays.
    pub fn lock_timeout(mut self, limit: Duration) -> Self {
        self.lock_timeout = Some(limit);
        self
    }

    /// Whether this method runs while the whole router is locked.
    pub fn is_lock_exempt(&self) -> bool {
        self.lock_exempt
    }

    /// How long a call may wait for a lock; `None` when the router decides.
    pub fn lock_timeout_limit(&self) -> Option<Duration> {
        self.lock_timeout
    }

    /// The call time limit; `None` when there is none.
    pub fn timeout_limit(&self) -> Option<Duration> {
        self.timeout
    }

    /// Whether JSONP is allowed; `None` when left to the server.
    pub fn jsonp_allowed(&self) -> Option<bool> {
        self.jsonp
    }

    /// Whether compression is allowed; `None` when left to the server.
    pub fn compression_allowed(&self) -> Option<bool> {
        self.compression
    }

    /// Where the handler runs: inline (default), on tokio's blocking pool,
    /// on a [`ThreadPool`](crate::exec::ThreadPool), or in worker processes.
    /// See [`crate::exec`].
    ///
    /// ```
    /// use rpckit::exec::Executor;
    /// use rpckit::Router;
    ///
    /// let router = Router::new()
    ///     .sync_method("checksum", || 42_u32)
    ///     .configure("checksum", |settings| settings.executor(Executor::Blocking));
    /// assert_eq!(router.settings("checksum").unwrap().execution_backend(), &Executor::Blocking);
    /// ```
    pub fn executor(mut self, executor: impl Into<Executor>) -> Self {
        self.execution.executor = executor.into();
        self
    }

    /// At most `max` calls of this method (aliases included) run at once;
    /// the others wait for a slot, first come first served, and are not
    /// rejected. The wait counts toward the [`timeout`](Self::timeout).
    ///
    /// ```
    /// use rpckit::Router;
    ///
    /// let router = Router::new()
    ///     .method("crawl", || async { "done" })
    ///     .configure("crawl", |settings| settings.concurrency_limit(2));
    /// assert_eq!(router.settings("crawl").unwrap().concurrency_max(), Some(2));
    /// ```
    pub fn concurrency_limit(mut self, max: usize) -> Self {
        self.execution.limit = Some(ConcurrencyLimit::new(max));
        self
    }

    /// Whether a notification of this method makes its client wait
    /// ([`Notifications::Inline`], default) or goes on a background
    /// [`NotificationQueue`](crate::notify::NotificationQueue). See
    /// [`crate::notify`].
    pub fn notifications(mut self, backend: impl Into<Notifications>) -> Self {
        self.execution.notifications = backend.into();
        self
    }

    /// The executor.
    pub fn execution_backend(&self) -> &Executor {
        &self.execution.executor
    }

    /// The concurrency limit; `None` when there is none.
    pub fn concurrency_max(&self) -> Option<usize> {
        self.execution.limit.as_ref().map(ConcurrencyLimit::max)
    }

    /// The concurrency limit itself (to read its free slots), if any.
    pub fn concurrency(&self) -> Option<&ConcurrencyLimit> {
        self.execution.limit.as_ref()
    }

    /// The notification backend.
    pub fn notification_backend(&self) -> &Notifications {
        &self.execution.notifications
    }
}
