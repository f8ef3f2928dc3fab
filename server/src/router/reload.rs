//! Hot reload: a new table for a served router, switched atomically.
//!
//! A reload builds the new table first (calls keep running on the old one),
//! then closes the gate (new calls are held, not rejected), waits until few
//! enough calls are in flight, swaps the table and opens the gate: the held
//! calls run on the new table. Each call runs on one table, old or new.

use std::error::Error;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use tower::BoxError;

use super::gate::{Closed, Parked};
use super::{ApiHandle, MethodNames, Router, Table};

/// How a [`reload`](ApiHandle::reload) goes.
///
/// Default: the new methods are merged over the old table (same names
/// replaced, name by name; the rest kept), the switch waits until no call is
/// in flight, for at most 10 s, and gives up at the timeout.
///
/// ```
/// use std::time::Duration;
/// use rpckit::{OnTimeout, ReloadOptions};
///
/// let options = ReloadOptions::new()
///     .clear_first(true)
///     .max_in_flight(4)
///     .timeout(Duration::from_secs(2))
///     .on_timeout(OnTimeout::Proceed);
/// # let _ = options;
/// ```
#[derive(Clone, Debug)]
pub struct ReloadOptions {
    clear_first: bool,
    remove: Vec<Box<str>>,
    max_in_flight: usize,
    timeout: Duration,
    on_timeout: OnTimeout,
}

/// What a reload does when calls are still in flight at its timeout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnTimeout {
    /// Keep the old table and answer [`ReloadError::TimedOut`].
    #[default]
    GiveUp,
    /// Switch anyway: the calls in flight finish on the old table.
    Proceed,
}

impl Default for ReloadOptions {
    fn default() -> Self {
        ReloadOptions {
            clear_first: false,
            remove: Vec::new(),
            max_in_flight: 0,
            timeout: Duration::from_secs(10),
            on_timeout: OnTimeout::GiveUp,
        }
    }
}

impl ReloadOptions {
    /// The defaults (see [`ReloadOptions`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts the new table empty instead of from the old one: only the
    /// builder's methods are served afterwards.
    pub fn clear_first(mut self, clear: bool) -> Self {
        self.clear_first = clear;
        self
    }

    /// Removes these names (methods or aliases) from the old table before
    /// the builder's methods are merged in. Names not served are ignored.
    pub fn remove<N: MethodNames>(mut self, names: N) -> Self {
        self.remove.extend(names.into_names());
        self
    }

    /// Switches once at most `calls` calls are in flight (default 0). The
    /// call that reloads, from inside a handler, is not counted.
    pub fn max_in_flight(mut self, calls: usize) -> Self {
        self.max_in_flight = calls;
        self
    }

    /// Waits at most this long for the calls in flight (default 10 s). New
    /// calls are held meanwhile, so this also bounds their wait.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = limit;
        self
    }

    /// What to do at the timeout (default: give up).
    pub fn on_timeout(mut self, policy: OnTimeout) -> Self {
        self.on_timeout = policy;
        self
    }
}

/// A reload that happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reloaded {
    /// Calls in flight at the switch (the reloading call aside).
    pub in_flight: usize,
    /// Whether the switch came at the timeout, with more calls in flight
    /// than asked ([`OnTimeout::Proceed`]).
    pub forced: bool,
}

/// Why a reload did not happen. The old table is still served.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReloadError {
    /// The builder returned this error.
    Build(BoxError),
    /// The builder panicked (registering a name twice, say); the panic's
    /// message.
    Panicked(String),
    /// Calls were still in flight at the timeout ([`OnTimeout::GiveUp`]).
    TimedOut {
        /// Calls in flight at the timeout (the reloading call aside).
        in_flight: usize,
        /// The timeout.
        waited: Duration,
    },
}

impl fmt::Display for ReloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReloadError::Build(error) => write!(f, "the new table could not be built: {error}"),
            ReloadError::Panicked(message) => {
                write!(f, "building the new table panicked: {message}")
            }
            ReloadError::TimedOut { in_flight, waited } => write!(
                f,
                "{in_flight} calls were still in flight after {} ms",
                waited.as_millis()
            ),
        }
    }
}

impl Error for ReloadError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ReloadError::Build(error) => Some(&**error),
            _ => None,
        }
    }
}

impl ApiHandle {
    /// Replaces, adds and removes methods while the router is served.
    ///
    /// `build` gets the table served now (to read its
    /// [`state`](Router::state)s and settings) and returns the methods to
    /// serve: merged over the old table, or alone with
    /// [`clear_first`](ReloadOptions::clear_first). It runs before the gate
    /// closes, so the calls keep running meanwhile; one reload of a router
    /// runs at a time.
    ///
    /// # Errors
    ///
    /// When `build` panics, or the calls in flight did not end in time and
    /// the options say give up: the old table stays.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use rpckit::{ReloadOptions, Router};
    ///
    /// let router = Router::new().sync_method("version", || 1);
    /// let api = router.handle();
    /// api.reload(ReloadOptions::new(), |_old| Router::new().sync_method("version", || 2))
    ///     .await
    ///     .unwrap();
    /// assert!(api.table().has_method("version"));
    /// # }
    /// ```
    pub async fn reload<F>(&self, options: ReloadOptions, build: F) -> Result<Reloaded, ReloadError>
    where
        F: FnOnce(&Router) -> Router,
    {
        self.try_reload(options, |old| Ok::<_, BoxError>(build(old)))
            .await
    }

    /// [`reload`](ApiHandle::reload) with a builder that can fail: its error
    /// comes back as [`ReloadError::Build`] and the old table stays.
    pub async fn try_reload<F, E>(
        &self,
        options: ReloadOptions,
        build: F,
    ) -> Result<Reloaded, ReloadError>
    where
        F: FnOnce(&Router) -> Result<Router, E>,
        E: Into<BoxError>,
    {
        let shared = &self.shared;
        // From inside a handler: this call is in flight but must not be
        // waited for, neither by this reload nor by one it queues behind.
        let _parked = self.in_call.then(|| Parked::new(shared));
        let _one_at_a_time = shared.control.reloading.lock().await;

        let old = shared.table.load_full();
        let built = match catch_unwind(AssertUnwindSafe(|| build(&Router::from_table(old.clone()))))
        {
            Ok(Ok(router)) => router,
            Ok(Err(error)) => return Err(ReloadError::Build(error.into())),
            Err(panic) => return Err(ReloadError::Panicked(crate::panic::message(&*panic))),
        };
        let new = Arc::new(combine(&old, &built.snapshot(), &options));
        drop((old, built));

        let closed = Closed::new(shared);
        let deadline = tokio::time::Instant::now() + options.timeout;
        let drained = shared.control.drain(options.max_in_flight, deadline).await;
        let in_flight = shared.control.busy();
        if !drained && options.on_timeout == OnTimeout::GiveUp {
            return Err(ReloadError::TimedOut {
                in_flight,
                waited: options.timeout,
            });
        }
        let replaced = shared.table.swap(new);
        shared.control.switched();
        shared.retire_queues(&replaced, &shared.table.load());
        drop(closed);
        Ok(Reloaded {
            in_flight,
            forced: !drained,
        })
    }
}

/// The table a reload switches to.
fn combine(old: &Table, built: &Table, options: &ReloadOptions) -> Table {
    let mut table = if options.clear_first {
        Table {
            methods: Default::default(),
            lock_timeout: None,
            stats: None,
        }
    } else {
        let mut table = old.clone();
        for name in &options.remove {
            table.methods.remove(name);
        }
        table
    };
    // The served stats go on: the transports and the codec layer report
    // into them, and the new methods count there too.
    table.stats = old.stats.clone();
    for (name, method) in super::stats::adopt(old.stats.as_ref(), built) {
        table.methods.insert(name, method);
    }
    if built.lock_timeout.is_some() || options.clear_first {
        table.lock_timeout = built.lock_timeout;
    }
    table
}
