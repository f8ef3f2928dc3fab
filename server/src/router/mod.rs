//! Method name → handler, in a table that can be reloaded and locked
//! while it is served.

mod batch;
mod future;
mod gate;
mod handle;
mod lock;
mod names;
mod reload;
mod settings;
mod stats;

use std::any::Any;
use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::sync::{Arc, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use arc_swap::ArcSwap;
use rpckit_codec::ErrorObject;

pub(crate) use batch::{Answer, Batch};
pub use future::{ResponseFuture, CALL_TIMED_OUT};
use gate::InFlight;
pub use handle::ApiHandle;
pub use lock::LOCK_TIMED_OUT;
pub use names::MethodNames;
pub use reload::{OnTimeout, ReloadError, ReloadOptions, Reloaded};
pub use settings::MethodSettings;

use crate::handler::{Handler, SyncHandler};
use crate::stats::{MethodStats, Stats};
use crate::{Call, Outcome};

pub(crate) type BoxedHandler = Arc<dyn Fn(Call) -> ResponseFuture + Send + Sync>;

/// A state a method keeps across reloads (see [`Router::with_state`]).
type State = Arc<dyn Any + Send + Sync>;

/// One registered method: its handler, its settings, its state and its
/// statistics. Aliases share it.
#[derive(Clone)]
struct Method {
    handler: BoxedHandler,
    settings: MethodSettings,
    state: Option<State>,
    /// Counted in by every call; `None` when the router's stats are off.
    stats: Option<Arc<MethodStats>>,
}

/// One snapshot of a router's methods. Never changed once served: a reload
/// serves a new one.
#[derive(Clone)]
struct Table {
    methods: HashMap<Box<str>, Arc<Method>, rpckit_codec::name_hash::NameHash>,
    /// How long a call waits for a lock, unless its method says otherwise.
    lock_timeout: Option<Duration>,
    /// Where the methods count their calls; `None` when stats are off. A
    /// reload keeps the served table's (see `reload::combine`).
    stats: Option<Stats>,
}

impl Default for Table {
    fn default() -> Self {
        Table {
            methods: HashMap::default(),
            lock_timeout: None,
            stats: Some(Stats::new()),
        }
    }
}

/// What a router's clones and handles share: the table served now and the
/// gate calls pass.
pub(crate) struct Shared {
    table: ArcSwap<Table>,
    control: gate::Control,
    /// Notification queues that reloads took out of the table while they
    /// still had work: a graceful stop drains them too.
    retired: std::sync::Mutex<Vec<crate::notify::NotificationQueue>>,
}

impl Shared {
    fn new(table: Arc<Table>) -> Arc<Self> {
        Arc::new(Shared {
            table: ArcSwap::new(table),
            control: gate::Control::default(),
            retired: Default::default(),
        })
    }

    /// Keeps the queues of `old` that `new` no longer uses, while they have
    /// work, for [`Router::drain`]; forgets retired queues that are idle.
    fn retire_queues(&self, old: &Table, new: &Table) {
        let kept = crate::notify::queues_of(new.methods.values().map(|m| &m.settings));
        let mut retired = self.retired.lock().unwrap_or_else(PoisonError::into_inner);
        for queue in crate::notify::queues_of(old.methods.values().map(|m| &m.settings)) {
            if !kept.contains(&queue) && !retired.contains(&queue) {
                retired.push(queue);
            }
        }
        retired.retain(|queue| queue.pending() > 0);
    }

    /// The queues still draining after a reload retired them.
    fn retired_queues(&self) -> Vec<crate::notify::NotificationQueue> {
        self.retired
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The methods of one endpoint: names (and aliases) to handlers.
///
/// A router is a `tower::Service<Call>`; cloning it is cheap (one `Arc`), and
/// lookups take no lock: the table is an immutable snapshot that a
/// [reload](ApiHandle::reload) replaces atomically. Build it, take its
/// [`handle`](Router::handle) if you will reload or lock it, then hand it to
/// an [`Endpoint`](crate::Endpoint) or straight to a transport.
///
/// ```
/// use rpckit::{extract::Params, Router};
///
/// let router = Router::new()
///     .method(["echo", "helloworld"], |Params((s,)): Params<(String,)>| async move { s })
///     .sync_method("random", || 4_u16);
/// assert!(router.has_method("helloworld"));
/// ```
#[derive(Clone)]
pub struct Router {
    shared: Arc<Shared>,
}

impl Default for Router {
    fn default() -> Self {
        Router::from_table(Arc::default())
    }
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new router (its own gate and locks) serving `table`.
    fn from_table(table: Arc<Table>) -> Self {
        Router {
            shared: Shared::new(table),
        }
    }

    /// The table served now.
    fn snapshot(&self) -> Arc<Table> {
        self.shared.table.load_full()
    }

    /// The handle that reloads and locks this router while it is served.
    ///
    /// Take it once the router is built: the builder methods
    /// ([`method`](Router::method), [`configure`](Router::configure), …)
    /// return a new router, which this handle does not reach. Clones of the
    /// router (the ones the transports serve) share its table.
    ///
    /// ```
    /// use rpckit::Router;
    ///
    /// let router = Router::new().sync_method("ping", || "pong");
    /// let handle = router.handle();
    /// assert!(handle.table().has_method("ping"));
    /// ```
    pub fn handle(&self) -> ApiHandle {
        ApiHandle::new(self.shared.clone(), false)
    }

    /// Makes a change to the table: the builder methods' one way in. The
    /// result is a new router; the table is copied only when something else
    /// (a handle, a clone, a snapshot) still holds it.
    fn edit(self, change: impl FnOnce(&mut Table)) -> Self {
        let mut table = self.snapshot();
        drop(self);
        change(Arc::make_mut(&mut table));
        Router::from_table(table)
    }

    /// Registers an async handler under one name or several (aliases).
    ///
    /// # Panics
    ///
    /// When a name is already taken, empty, or starts with `rpc.` (reserved
    /// by the specification for the library). Registration happens at start
    /// up, so this is a bug to fix, not an error to handle.
    ///
    /// ```should_panic
    /// use rpckit::Router;
    ///
    /// Router::new().method("a", || async { 1 }).method("a", || async { 2 });
    /// ```
    #[track_caller]
    pub fn method<N: MethodNames, H: Handler<T>, T>(self, names: N, handler: H) -> Self {
        let handler: BoxedHandler =
            Arc::new(move |call| ResponseFuture::handler(handler.clone().call(call)));
        self.insert(names, handler)
    }

    /// Registers a synchronous handler under one name or several. It runs
    /// inline on the serving task: keep it short.
    ///
    /// # Panics
    ///
    /// As [`Router::method`].
    #[track_caller]
    pub fn sync_method<N: MethodNames, H: SyncHandler<T>, T>(self, names: N, handler: H) -> Self {
        // A sync handler's outcome is ready at once: no future to box.
        let handler: BoxedHandler =
            Arc::new(move |call| ResponseFuture::ready(handler.clone().call(call)));
        self.insert(names, handler)
    }

    /// Registers every method of a [`MethodSet`] (the counterpart of
    /// registering all methods of an instance).
    ///
    /// # Panics
    ///
    /// As [`Router::method`].
    #[track_caller]
    pub fn register<M: MethodSet>(self, set: M) -> Self {
        set.register(self)
    }

    /// Adds every method of `other`.
    ///
    /// # Panics
    ///
    /// When both have a method of the same name.
    #[track_caller]
    pub fn merge(self, other: Router) -> Self {
        let other = other.snapshot();
        self.edit(|table| {
            for (name, handler) in stats::adopt(table.stats.as_ref(), &other) {
                assert!(
                    !table.methods.contains_key(&name),
                    "rpckit: method `{name}` is registered twice"
                );
                table.methods.insert(name, handler);
            }
            table.lock_timeout = table.lock_timeout.or(other.lock_timeout);
        })
    }

    /// Changes the settings of the method `name` (and of its aliases).
    ///
    /// ```
    /// use rpckit::Router;
    ///
    /// let router = Router::new()
    ///     .sync_method(["big", "huge"], || "x".repeat(1 << 20))
    ///     .configure("huge", |settings| settings.compression(true));
    /// assert_eq!(router.settings("big").unwrap().compression_allowed(), Some(true));
    /// ```
    ///
    /// # Panics
    ///
    /// When no method is called `name`.
    #[track_caller]
    pub fn configure(
        self,
        name: &str,
        change: impl FnOnce(MethodSettings) -> MethodSettings,
    ) -> Self {
        self.replace_method(name, "configure", |method| {
            method.settings = change(method.settings.clone());
        })
    }

    /// Attaches a state to the method `name` (and its aliases), for the
    /// builder of a [reload](ApiHandle::reload) to find with
    /// [`Router::state`] and hand to the method's replacement: a counter, a
    /// cache, a connection pool that outlives one version of the handler.
    ///
    /// ```
    /// use std::sync::{atomic::{AtomicU64, Ordering}, Arc};
    /// use rpckit::Router;
    ///
    /// fn count(calls: Arc<AtomicU64>) -> Router {
    ///     let state = calls.clone();
    ///     Router::new()
    ///         .sync_method("count", move || calls.fetch_add(1, Ordering::Relaxed) + 1)
    ///         .with_state("count", state)
    /// }
    ///
    /// let old = count(Arc::new(AtomicU64::new(41)));
    /// // A new version keeps the old one's counter.
    /// let carried = old.state::<AtomicU64>("count").unwrap();
    /// let new = count(carried);
    /// assert_eq!(new.state::<AtomicU64>("count").unwrap().load(Ordering::Relaxed), 41);
    /// ```
    ///
    /// # Panics
    ///
    /// When no method is called `name`.
    #[track_caller]
    pub fn with_state<T: Any + Send + Sync>(self, name: &str, state: Arc<T>) -> Self {
        self.replace_method(name, "attach a state to", |method| {
            method.state = Some(state);
        })
    }

    /// The state attached to the method `name` with [`Router::with_state`],
    /// if it has one of type `T`.
    pub fn state<T: Any + Send + Sync>(&self, name: &str) -> Option<Arc<T>> {
        let state = self.snapshot().methods.get(name)?.state.clone()?;
        state.downcast().ok()
    }

    /// How long a call may wait for a lock (see [`ApiHandle::lock`]) before
    /// it is answered [`LOCK_TIMED_OUT`], for every method whose settings do
    /// not say ([`MethodSettings::lock_timeout`]). Default: no limit.
    pub fn lock_timeout(self, limit: Duration) -> Self {
        self.edit(|table| table.lock_timeout = Some(limit))
    }

    /// The settings of the method `name`, if there is one.
    pub fn settings(&self, name: &str) -> Option<MethodSettings> {
        self.snapshot()
            .methods
            .get(name)
            .map(|method| method.settings.clone())
    }

    /// Waits until every notification queued for this router's methods
    /// has run ([`NotificationQueue::drain`](crate::notify::NotificationQueue::drain)
    /// for each queue they use, and for each queue a
    /// [reload](ApiHandle::reload) replaced while it still had work). The
    /// HTTP and stream servers call it on a graceful stop.
    pub fn drain(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let table = self.snapshot();
        let mut queues =
            crate::notify::queues_of(table.methods.values().map(|method| &method.settings));
        for queue in self.shared.retired_queues() {
            if !queues.contains(&queue) {
                queues.push(queue);
            }
        }
        crate::notify::drain_all(queues)
    }

    /// Whether a method of that name (or alias) exists.
    pub fn has_method(&self, name: &str) -> bool {
        self.shared.table.load().methods.contains_key(name)
    }

    /// The names of every method and alias, sorted.
    pub fn method_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .snapshot()
            .methods
            .keys()
            .map(|name| name.to_string())
            .collect();
        names.sort_unstable();
        names
    }

    /// Replaces the method `name` (under all its names) by a changed copy.
    #[track_caller]
    fn replace_method(self, name: &str, what: &str, change: impl FnOnce(&mut Method)) -> Self {
        let Some(old) = self.snapshot().methods.get(name).cloned() else {
            panic!("rpckit: cannot {what} `{name}`: no such method");
        };
        let mut new = Method::clone(&old);
        change(&mut new);
        let new = Arc::new(new);
        self.edit(|table| {
            for method in table.methods.values_mut() {
                if Arc::ptr_eq(method, &old) {
                    *method = new.clone();
                }
            }
        })
    }

    #[track_caller]
    fn insert<N: MethodNames>(self, names: N, handler: BoxedHandler) -> Self {
        let names = names.into_names();
        assert!(
            !names.is_empty(),
            "rpckit: a method needs at least one name"
        );
        let stats = self.shared.table.load().stats.clone();
        let method = Arc::new(Method {
            handler,
            settings: MethodSettings::default(),
            state: None,
            stats: stats.map(|stats| stats.method(&names)),
        });
        self.edit(|table| {
            for name in names {
                assert!(!name.is_empty(), "rpckit: method names cannot be empty");
                assert!(
                    !name.starts_with("rpc."),
                    "rpckit: method `{name}`: names starting with `rpc.` are reserved"
                );
                assert!(
                    !table.methods.contains_key(&*name),
                    "rpckit: method `{name}` is registered twice"
                );
                table.methods.insert(name, method.clone());
            }
        })
    }

    /// Counts the call in and runs it on the table of this moment; a call
    /// the gate holds (a reload switching, a lock) waits in its future.
    fn dispatch(&self, call: Call) -> ResponseFuture {
        let control = &self.shared.control;
        let before = control.enter();
        let guard = InFlight(self.shared.clone());
        let table = self.shared.table.load();
        match control.admit(before, &table, call.method()) {
            // The guard outlives `serve`: a sync handler runs inside it.
            Ok(()) => serve(&table, call, &self.shared).counted(guard),
            Err(_) => {
                drop((guard, table));
                ResponseFuture::handler(Box::pin(gate::held(self.clone(), call)))
            }
        }
    }
}

/// Runs `call` on `table` of the router `shared`. The caller counts it in
/// flight until it is answered or its future dropped.
fn serve(table: &Table, mut call: Call, shared: &Arc<Shared>) -> ResponseFuture {
    match table.methods.get(call.method()) {
        Some(method) => {
            #[cfg(feature = "http")]
            if let Some(refusal) = refuse_jsonp(&method.settings, &call) {
                return ResponseFuture::ready(Err(refusal));
            }
            #[cfg(feature = "http")]
            apply_http_settings(&method.settings, &call);
            call.router = Some(shared.clone());
            let recording = method.stats.as_ref().map(crate::stats::Recording::start);
            // The executor, the concurrency limit, the notification queue
            // and the call timeout: `exec::run`.
            let answer = crate::exec::run(&method.settings, &method.handler, call);
            let Some(recording) = recording else {
                return answer;
            };
            match answer.outcome() {
                // A sync handler's: recorded now, with the stats borrowed.
                Some(outcome) => {
                    recording.finish(outcome);
                    answer
                }
                None => answer.recorded(Some(recording.into_owned())),
            }
        }
        None => ResponseFuture::ready(Err(ErrorObject::method_not_found(call.method()))),
    }
}

/// A JSONP call (marked by the HTTP transport) to a method whose settings
/// forbid JSONP: the error that answers it, after setting HTTP 403.
#[cfg(feature = "http")]
fn refuse_jsonp(settings: &MethodSettings, call: &Call) -> Option<ErrorObject> {
    if settings.jsonp_allowed() != Some(false)
        || call.extensions.get::<rpckit_http::JsonpRequest>().is_none()
    {
        return None;
    }
    if let Some(response) = call.extensions.get::<rpckit_http::ResponseHandle>() {
        response.set_status(http::StatusCode::FORBIDDEN);
    }
    Some(ErrorObject::new(
        rpckit_codec::ErrorCode::ServerError(-32_000),
        format!("JSONP is not allowed for method `{}`", call.method()),
    ))
}

/// Hands the method's HTTP settings to the transport through the call's
/// [`ResponseHandle`](rpckit_http::ResponseHandle), before the handler runs
/// (so the handler has the last word only where it forbids). A
/// notification's answer is not part of the response, so its method has no
/// say in how the response is sent.
#[cfg(feature = "http")]
fn apply_http_settings(settings: &MethodSettings, call: &Call) {
    // The setting first: most methods have none, and then the call looks
    // up nothing in its extensions.
    let Some(allowed) = settings.compression_allowed() else {
        return;
    };
    if call.id().is_none() {
        return;
    }
    if let Some(response) = call.extensions.get::<rpckit_http::ResponseHandle>() {
        response.allow_compression(allowed);
    }
}

impl tower::Service<Call> for Router {
    type Response = Outcome;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, call: Call) -> ResponseFuture {
        self.dispatch(call)
    }
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("methods", &self.method_names())
            .finish()
    }
}

/// A group of methods that registers itself: implement it for a type whose
/// methods should all be served, then [`Router::register`] it.
///
/// ```
/// use std::sync::{atomic::{AtomicU64, Ordering}, Arc};
/// use rpckit::{MethodSet, Router};
///
/// #[derive(Clone, Default)]
/// struct Counter(Arc<AtomicU64>);
///
/// impl MethodSet for Counter {
///     fn register(self, router: Router) -> Router {
///         let (inc, get) = (self.clone(), self);
///         router
///             .sync_method("counter.inc", move || inc.0.fetch_add(1, Ordering::Relaxed) + 1)
///             .sync_method("counter.get", move || get.0.load(Ordering::Relaxed))
///     }
/// }
///
/// let router = Router::new().register(Counter::default());
/// assert!(router.has_method("counter.inc"));
/// ```
pub trait MethodSet {
    /// Adds this set's methods to `router`.
    fn register(self, router: Router) -> Router;
}

impl MethodSet for Router {
    #[track_caller]
    fn register(self, router: Router) -> Router {
        router.merge(self)
    }
}
