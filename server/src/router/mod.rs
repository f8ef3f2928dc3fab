//! Method name → handler.

mod future;
mod names;
mod settings;

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use rpckit_codec::ErrorObject;

pub use future::{ResponseFuture, CALL_TIMED_OUT};
pub use names::MethodNames;
pub use settings::MethodSettings;

use crate::handler::{Handler, SyncHandler};
use crate::{Call, Outcome};

pub(crate) type BoxedHandler = Arc<dyn Fn(Call) -> ResponseFuture + Send + Sync>;

/// One registered method: its handler and its settings. Aliases share it.
struct Method {
    handler: BoxedHandler,
    settings: MethodSettings,
}

/// The methods of one endpoint: names (and aliases) to handlers.
///
/// A router is a `tower::Service<Call>`; cloning it is cheap (one `Arc`), and
/// lookups take no lock. Build it once, then hand it to an
/// [`Endpoint`](crate::Endpoint) or straight to a transport.
///
/// ```
/// use rpckit::{extract::Params, Router};
///
/// let router = Router::new()
///     .method(["echo", "helloworld"], |Params((s,)): Params<(String,)>| async move { s })
///     .sync_method("random", || 4_u16);
/// assert!(router.has_method("helloworld"));
/// ```
#[derive(Clone, Default)]
pub struct Router {
    methods: Arc<HashMap<Box<str>, Arc<Method>>>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
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
    pub fn merge(mut self, other: Router) -> Self {
        let methods = Arc::make_mut(&mut self.methods);
        for (name, handler) in other.methods.iter() {
            assert!(
                !methods.contains_key(name),
                "rpckit: method `{name}` is registered twice"
            );
            methods.insert(name.clone(), handler.clone());
        }
        self
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
        mut self,
        name: &str,
        change: impl FnOnce(MethodSettings) -> MethodSettings,
    ) -> Self {
        let Some(old) = self.methods.get(name).cloned() else {
            panic!("rpckit: cannot configure `{name}`: no such method");
        };
        let new = Arc::new(Method {
            handler: old.handler.clone(),
            settings: change(old.settings.clone()),
        });
        for method in Arc::make_mut(&mut self.methods).values_mut() {
            if Arc::ptr_eq(method, &old) {
                *method = new.clone();
            }
        }
        self
    }

    /// The settings of the method `name`, if there is one.
    pub fn settings(&self, name: &str) -> Option<&MethodSettings> {
        self.methods.get(name).map(|method| &method.settings)
    }

    /// Waits until every notification queued for this router's methods
    /// has run ([`NotificationQueue::drain`](crate::notify::NotificationQueue::drain)
    /// for each queue they use). The HTTP and stream servers call it on a
    /// graceful stop.
    pub fn drain(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        crate::notify::drain_all(self.methods.values().map(|method| &method.settings))
    }

    /// Whether a method of that name (or alias) exists.
    pub fn has_method(&self, name: &str) -> bool {
        self.methods.contains_key(name)
    }

    /// The names of every method and alias, in no particular order.
    pub fn method_names(&self) -> impl Iterator<Item = &str> {
        self.methods.keys().map(|name| &**name)
    }

    #[track_caller]
    fn insert<N: MethodNames>(mut self, names: N, handler: BoxedHandler) -> Self {
        let names = names.into_names();
        assert!(
            !names.is_empty(),
            "rpckit: a method needs at least one name"
        );
        let method = Arc::new(Method {
            handler,
            settings: MethodSettings::default(),
        });
        let methods = Arc::make_mut(&mut self.methods);
        for name in names {
            assert!(!name.is_empty(), "rpckit: method names cannot be empty");
            assert!(
                !name.starts_with("rpc."),
                "rpckit: method `{name}`: names starting with `rpc.` are reserved"
            );
            assert!(
                !methods.contains_key(&*name),
                "rpckit: method `{name}` is registered twice"
            );
            methods.insert(name, method.clone());
        }
        self
    }

    fn dispatch(&self, call: Call) -> ResponseFuture {
        match self.methods.get(call.method()) {
            Some(method) => {
                #[cfg(feature = "http")]
                if let Some(refusal) = refuse_jsonp(&method.settings, &call) {
                    return ResponseFuture::ready(Err(refusal));
                }
                #[cfg(feature = "http")]
                apply_http_settings(&method.settings, &call);
                crate::exec::run(&method.settings, &method.handler, call)
            }
            None => ResponseFuture::ready(Err(ErrorObject::method_not_found(call.method()))),
        }
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
    if call.id().is_none() {
        return;
    }
    let Some(response) = call.extensions.get::<rpckit_http::ResponseHandle>() else {
        return;
    };
    if let Some(allowed) = settings.compression_allowed() {
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
        let mut names: Vec<&str> = self.method_names().collect();
        names.sort_unstable();
        f.debug_struct("Router").field("methods", &names).finish()
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
