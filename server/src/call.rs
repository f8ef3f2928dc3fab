//! One call, as the router sees it.

use std::fmt;
use std::sync::Arc;

use rpckit_codec::{
    parse_params, Codec, Encoded, ErrorObject, Extensions, Id, ParamsError, Request,
};
use serde::de::DeserializeOwned;

/// One request or notification on its way to a handler: the decoded request,
/// the codec that decoded it (and encodes the result), and the facts the
/// transport attached to its frame.
///
/// This is the request type of the call-level tower stack, so any tower
/// middleware (timeouts, concurrency limits, auth) can sit between the
/// [`RpcLayer`](crate::RpcLayer) and the [`Router`](crate::Router).
pub struct Call {
    /// The decoded request; params still raw.
    pub request: Request,
    /// The codec of the frame the call came in.
    pub codec: Arc<dyn Codec>,
    /// Connection and request facts, keyed by type (see the transports).
    ///
    /// Shared by every call of a batch, so a batch copies no map; a
    /// call-level layer that inserts a value copies the inserted values for
    /// that call only.
    pub extensions: Extensions,
    /// The router that runs the call, set when it does: where the
    /// [`ApiHandle`](crate::ApiHandle) extractor finds it.
    pub(crate) router: Option<Arc<crate::router::Shared>>,
}

/// What a call produces: the result, already encoded by the call's codec,
/// or an error. Notifications produce one too; it is dropped.
pub type Outcome = Result<Encoded, ErrorObject>;

impl Call {
    /// A call of `request`, decoded by `codec`, with the transport's facts.
    pub fn new(request: Request, codec: Arc<dyn Codec>, extensions: Extensions) -> Self {
        Call {
            request,
            codec,
            extensions,
            router: None,
        }
    }

    /// The method name.
    pub fn method(&self) -> &str {
        &self.request.method
    }

    /// The id, `None` for a notification.
    pub fn id(&self) -> Option<&Id> {
        self.request.id.as_ref()
    }

    /// Decodes the params into `T`; see [`rpckit_codec::parse_params`].
    pub fn parse_params<T: DeserializeOwned>(&self) -> Result<T, ParamsError> {
        parse_params(&*self.codec, self.request.params.as_ref())
    }
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("method", &self.request.method)
            .field("id", &self.request.id)
            .field("codec", &self.codec.name())
            .finish_non_exhaustive()
    }
}
