//! An endpoint: a router with its codecs and limits, ready for a transport.

use rpckit_codec::{Codecs, DecodeLimits};

use crate::{ApiHandle, CodecService, Router, RpcLayer, RpcService};

/// One endpoint path's worth of JSON-RPC: the [`Router`], the codecs it
/// accepts and the limits it decodes with. A transport serves it.
///
/// ```
/// use rpckit::{codec::DecodeLimits, Endpoint, Router};
///
/// let endpoint = Endpoint::new(Router::new().sync_method("ping", || "pong"))
///     .limits(DecodeLimits::default().max_batch_len(100))
///     .batch_concurrency(8);
/// let _service = endpoint.into_service();
/// ```
#[derive(Clone, Debug)]
pub struct Endpoint {
    router: Router,
    codecs: Codecs,
    limits: DecodeLimits,
    offload_above: usize,
    rpc: RpcLayer,
}

/// The frame-level service an [`Endpoint`] builds.
pub type EndpointService = CodecService<RpcService<Router>>;

impl Endpoint {
    /// An endpoint with the default codecs and limits.
    pub fn new(router: Router) -> Self {
        Endpoint {
            router,
            codecs: Codecs::default(),
            limits: DecodeLimits::default(),
            offload_above: crate::codec_layer::DEFAULT_OFFLOAD_ABOVE,
            rpc: RpcLayer::new(),
        }
    }

    /// Sets the accepted codecs; the first is the default.
    pub fn codecs(mut self, codecs: Codecs) -> Self {
        self.codecs = codecs;
        self
    }

    /// Sets the decode limits (nesting depth, batch length).
    pub fn limits(mut self, limits: DecodeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Serves frames above `bytes` (default 256 KiB) on rpckit's
    /// low-priority background threads ([`rpckit_codec::background`]), so
    /// that decoding and serving a large body does not hold up the small
    /// calls behind it, and encodes replies whose results are above `bytes`
    /// there too (a small call can ask for megabytes); `usize::MAX` keeps
    /// everything inline.
    pub fn offload_above(mut self, bytes: usize) -> Self {
        self.offload_above = bytes;
        self
    }

    /// Sets how many calls of one batch run at once.
    pub fn batch_concurrency(mut self, limit: usize) -> Self {
        self.rpc = self.rpc.batch_concurrency(limit);
        self
    }

    /// The handle that reloads and locks this endpoint's router while it is
    /// served (see [`Router::handle`]).
    pub fn handle(&self) -> ApiHandle {
        self.router.handle()
    }

    /// The statistics of the endpoint's router (see
    /// [`Router::stats_handle`]); `None` when they are off.
    pub fn stats_handle(&self) -> Option<crate::stats::Stats> {
        self.router.stats_handle()
    }

    /// The accepted codecs.
    pub fn codec_set(&self) -> &Codecs {
        &self.codecs
    }

    /// The frame-level service: codec layer, rpc layer, router.
    pub fn into_service(self) -> EndpointService {
        self.into_parts().1
    }

    /// Waits until every notification queued for the router's methods has
    /// run ([`Router::drain`]); the transports' graceful stops call it.
    pub fn drain(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        self.router.drain()
    }

    /// The codecs and the frame-level service, as a transport needs them.
    pub fn into_parts(self) -> (Codecs, EndpointService) {
        let stats = self.router.stats_handle();
        let rpc = tower::Layer::layer(&self.rpc, self.router);
        let service = CodecService::new(rpc, self.limits)
            .offload_above(self.offload_above)
            .stats(stats);
        (self.codecs, service)
    }
}

impl From<Router> for Endpoint {
    fn from(router: Router) -> Self {
        Endpoint::new(router)
    }
}

#[cfg(feature = "http")]
impl From<Endpoint> for rpckit_http::Route {
    /// The route, with the router's stats as its
    /// [`StatsSink`](rpckit_codec::StatsSink) (connections, compression,
    /// the path it is served at).
    fn from(endpoint: Endpoint) -> Self {
        let sink = endpoint.stats_handle().map(|stats| stats.sink());
        let router = endpoint.router.clone();
        let (codecs, service) = endpoint.into_parts();
        let route = rpckit_http::Route::new(codecs, service).with_drain(move || router.drain());
        match sink {
            Some(sink) => route.stats_sink(sink),
            None => route,
        }
    }
}

#[cfg(feature = "http")]
impl From<Router> for rpckit_http::Route {
    fn from(router: Router) -> Self {
        Endpoint::new(router).into()
    }
}

#[cfg(feature = "tcp")]
impl From<Endpoint> for rpckit_tcp::FrameService {
    /// The frame service, with the router's stats as its
    /// [`StatsSink`](rpckit_codec::StatsSink) (connections).
    fn from(endpoint: Endpoint) -> Self {
        let sink = endpoint.stats_handle().map(|stats| stats.sink());
        let router = endpoint.router.clone();
        let (codecs, service) = endpoint.into_parts();
        let service =
            rpckit_tcp::FrameService::new(codecs, service).with_drain(move || router.drain());
        match sink {
            Some(sink) => service.stats_sink(sink),
            None => service,
        }
    }
}

#[cfg(feature = "tcp")]
impl From<Router> for rpckit_tcp::FrameService {
    fn from(router: Router) -> Self {
        Endpoint::new(router).into()
    }
}
