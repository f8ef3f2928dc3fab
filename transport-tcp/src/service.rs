//! What a listener serves: the codecs on offer and the frame service.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rpckit_codec::{Codecs, Frame, StatsSink};
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

/// The error of a frame service, with its type erased.
pub type BoxError = Box<dyn Error + Send + Sync>;

pub(crate) type BoxedService = BoxCloneSyncService<Frame, Option<Frame>, BoxError>;

/// What a stopping server awaits once its connections are closed.
#[derive(Clone)]
pub(crate) struct DrainHook(
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>,
);

impl DrainHook {
    pub(crate) async fn run(&self) {
        (self.0)().await;
    }
}

impl fmt::Debug for DrainHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DrainHook")
    }
}

/// The frame service a listener hands every frame to, and the codecs it
/// accepts (the listener picks one of them; see
/// [`ServerBuilder::codec_named`](crate::ServerBuilder::codec_named)).
///
/// rpckit's `Endpoint` and `Router` convert into it, so a listener takes
/// either directly. Any `tower::Service<Frame, Response = Option<Frame>>`
/// does too:
///
/// ```
/// use std::convert::Infallible;
/// use rpckit_codec::{Codecs, Frame};
/// use rpckit_tcp::FrameService;
///
/// // Echoes every frame back.
/// let echo = tower::service_fn(|frame: Frame| async move { Ok::<_, Infallible>(Some(frame)) });
/// let service = FrameService::new(Codecs::default(), echo);
/// # let _ = service;
/// ```
#[derive(Clone)]
pub struct FrameService {
    pub(crate) codecs: Codecs,
    pub(crate) service: BoxedService,
    pub(crate) sink: Option<Arc<dyn StatsSink>>,
    pub(crate) drain: Option<DrainHook>,
}

impl FrameService {
    /// `service`, offering the codecs of `codecs`.
    pub fn new<S>(codecs: Codecs, service: S) -> Self
    where
        S: Service<Frame, Response = Option<Frame>> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        FrameService {
            codecs,
            service: BoxCloneSyncService::new(service.map_err(Into::into)),
            sink: None,
            drain: None,
        }
    }

    /// Gives the service work to finish when its server stops: after the
    /// connections are closed, [`ServerHandle::shutdown`](crate::ServerHandle::shutdown)
    /// and [`serve_stream`](crate::ServerBuilder::serve_stream) await
    /// `drain()` before they return. rpckit's `Endpoint` sets it to wait
    /// for the notifications its methods queued.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use rpckit_codec::{Codecs, Frame};
    /// use rpckit_tcp::FrameService;
    ///
    /// let echo = tower::service_fn(|frame: Frame| async move { Ok::<_, Infallible>(Some(frame)) });
    /// let service = FrameService::new(Codecs::default(), echo).with_drain(|| async {});
    /// # let _ = service;
    /// ```
    pub fn with_drain<F, Fut>(mut self, drain: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.drain = Some(DrainHook(Arc::new(move || Box::pin(drain()))));
        self
    }

    /// Reports the connections of every listener serving this service to
    /// `sink` (rpckit's routers attach their stats themselves).
    pub fn stats_sink(mut self, sink: Arc<dyn StatsSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// The codecs, the default first.
    pub fn codecs(&self) -> &Codecs {
        &self.codecs
    }
}

impl fmt::Debug for FrameService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameService")
            .field("codecs", &self.codecs)
            .field("drain", &self.drain.is_some())
            .finish_non_exhaustive()
    }
}
