//! The layer that applies [`RpcService`].

use tower::Layer;

use super::RpcService;

/// Applies JSON-RPC semantics ([`RpcService`]) to a call-level service
/// such as a [`Router`](crate::Router).
///
/// ```
/// use rpckit::{CodecLayer, Router, RpcLayer};
/// use tower::ServiceBuilder;
///
/// // The stack an `Endpoint` builds, by hand: room for any tower
/// // middleware at the frame level or the call level.
/// let service = ServiceBuilder::new()
///     .layer(CodecLayer::default())
///     .layer(RpcLayer::default())
///     .service(Router::new().sync_method("ping", || "pong"));
/// # let _ = service;
/// ```
#[derive(Clone, Copy, Debug)]
pub struct RpcLayer {
    batch_concurrency: usize,
}

impl RpcLayer {
    /// The default number of a batch's calls in flight at once.
    pub const DEFAULT_BATCH_CONCURRENCY: usize = 64;

    /// A layer with the default batch concurrency.
    pub fn new() -> Self {
        RpcLayer {
            batch_concurrency: Self::DEFAULT_BATCH_CONCURRENCY,
        }
    }

    /// Sets how many calls of one batch run at once.
    pub fn batch_concurrency(mut self, limit: usize) -> Self {
        self.batch_concurrency = limit.max(1);
        self
    }
}

impl Default for RpcLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Layer<S> for RpcLayer {
    type Service = RpcService<S>;

    fn layer(&self, inner: S) -> RpcService<S> {
        RpcService::new(inner, self.batch_concurrency)
    }
}
