//! The service that answers every request no route takes.
//!
//! Its type is erased once, when the builder takes it, so that a server
//! holds one kind of fallback whatever the user's service was (an axum
//! `Router`, tower-http's `ServeDir`, a `service_fn`).

use std::fmt;

use bytes::Bytes;
use http::{Request, Response};
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

use crate::error::Rejection;
use crate::{Body, BoxError};

/// A type-erased fallback service.
#[derive(Clone)]
pub(crate) struct Fallback(BoxCloneSyncService<Request<Body>, Response<Body>, BoxError>);

impl Fallback {
    pub(crate) fn new<S, B>(service: S) -> Self
    where
        S: Service<Request<Body>, Response = Response<B>> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let service = service
            .map_response(|response: Response<B>| response.map(Body::new))
            .map_err(Into::into);
        Fallback(BoxCloneSyncService::new(service))
    }

    /// Answers `request`, waiting for the service to be ready first. An
    /// error of the service (when getting ready or answering) is a logged
    /// `500`, its text kept from the client.
    pub(crate) async fn call(self, request: Request<Body>) -> Response<Body> {
        match self.0.oneshot(request).await {
            Ok(response) => response,
            Err(err) => {
                tracing::error!(error = %err, "fallback service failed");
                Rejection::Service(err).into_response().map(Body::full)
            }
        }
    }
}

impl fmt::Debug for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fallback").finish_non_exhaustive()
    }
}
