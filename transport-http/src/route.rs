//! One endpoint: the codecs it accepts and the frame service behind it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rpckit_codec::{Codecs, Frame, StatsSink};
use tower::{Service, ServiceExt};

use crate::BoxError;

/// The frame service of a route, with its type erased so that one server
/// can hold routes built from different service stacks.
///
/// Not tower's `BoxCloneSyncService`: answering a frame through that clones
/// the boxed service (an allocation) and then boxes its future (another).
/// This clones the service in place and boxes only the future.
#[derive(Clone)]
pub(crate) struct FrameService(Arc<dyn Fn(Frame) -> FrameFuture + Send + Sync>);

/// A frame service's answer.
pub(crate) type FrameFuture = Pin<Box<dyn Future<Output = Result<Option<Frame>, BoxError>> + Send>>;

impl FrameService {
    fn new<S>(service: S) -> Self
    where
        S: Service<Frame, Response = Option<Frame>> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        FrameService(Arc::new(move |frame| {
            Box::pin(service.clone().map_err(Into::into).oneshot(frame))
        }))
    }

    /// Sends `frame` to a clone of the service, once it is ready.
    pub(crate) fn send(&self, frame: Frame) -> FrameFuture {
        (self.0)(frame)
    }
}

/// What a graceful stop awaits once the connections are closed.
type DrainHook = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// One endpoint: the codecs it accepts and the frame service behind it.
///
/// The transport negotiates a codec from the request's `Content-Type`, puts
/// the body and that codec into a [`Frame`], and hands it to the service. The
/// service is cloned per request (as `tower` expects of shared services), so
/// keep clones cheap: an `Arc` inside, not a deep copy.
///
/// ```
/// use std::convert::Infallible;
/// use rpckit_codec::{Codecs, Frame};
/// use rpckit_http::Route;
///
/// // Echoes every frame back.
/// let echo = tower::service_fn(|frame: Frame| async move { Ok::<_, Infallible>(Some(frame)) });
/// let route = Route::new(Codecs::default(), echo);
/// # let _ = route;
/// ```
#[derive(Clone)]
pub struct Route {
    pub(crate) codecs: Codecs,
    pub(crate) service: FrameService,
    /// Told about connections, compression and where the route is served.
    pub(crate) sink: Option<Arc<dyn StatsSink>>,
    /// The path the builder put the route at; every frame carries it.
    pub(crate) path: Option<RoutePath>,
    drain: Option<DrainHook>,
}

impl Route {
    /// A route answering with `service` for the media types of `codecs`.
    pub fn new<S>(codecs: Codecs, service: S) -> Self
    where
        S: Service<Frame, Response = Option<Frame>> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        Route {
            codecs,
            service: FrameService::new(service),
            sink: None,
            path: None,
            drain: None,
        }
    }

    /// Gives the route work to finish on a graceful stop: after the
    /// server's connections are closed, [`ServerHandle::shutdown`](crate::ServerHandle::shutdown)
    /// (and a restart) awaits `drain()`, within what is left of the
    /// [`shutdown_timeout`](crate::ServerBuilder::shutdown_timeout).
    /// rpckit's `Endpoint` sets it to wait for the notifications its
    /// methods queued, so that none accepted is lost.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use rpckit_codec::{Codecs, Frame};
    /// use rpckit_http::Route;
    ///
    /// let echo = tower::service_fn(|frame: Frame| async move { Ok::<_, Infallible>(Some(frame)) });
    /// let route = Route::new(Codecs::default(), echo).with_drain(|| async {
    ///     // flush a queue, say
    /// });
    /// # let _ = route;
    /// ```
    pub fn with_drain<F, Fut>(mut self, drain: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.drain = Some(Arc::new(move || Box::pin(drain())));
        self
    }

    /// Runs the route's drain hook, if it has one.
    pub async fn drain(&self) {
        if let Some(drain) = &self.drain {
            drain().await;
        }
    }

    /// Reports this route's connections, compression times and path to
    /// `sink` (rpckit's routers attach their stats themselves). The
    /// connections are those of every server the route is served by.
    pub fn stats_sink(mut self, sink: Arc<dyn StatsSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// The codecs this route accepts, the default first.
    pub fn codecs(&self) -> &Codecs {
        &self.codecs
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("codecs", &self.codecs)
            .field("path", &self.path)
            .field("drain", &self.drain.is_some())
            .finish_non_exhaustive()
    }
}

/// The path of the route a frame came in on (`/api`), in every frame's
/// extensions: for logs, spans and metrics labels.
///
/// It is the route's path, not the request's: a JSONP call to
/// `/api/echo` carries `/api`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RoutePath(Arc<str>);

impl RoutePath {
    pub(crate) fn new(path: &str) -> Self {
        RoutePath(path.into())
    }

    /// The path.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoutePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
