//! What a listener serves: the codecs on offer and the frame service.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

use rpckit_codec::{Codecs, Frame, StatsSink};
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

/// The error of a frame service, with its type erased.
pub type BoxError = Box<dyn Error + Send + Sync>;

pub(crate) type BoxedService = BoxCloneSyncService<Frame, Option<Frame>, BoxError>;

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
        }
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
            .finish_non_exhaustive()
    }
}
