//! The request's headers, shared with every handler of the request.

use std::ops::Deref;
use std::sync::Arc;

use http::HeaderMap;

/// The HTTP request headers, as the client sent them.
///
/// Behind an `Arc`: a batch fans out into many calls, and each gets this by
/// cloning a pointer, not the map.
#[derive(Clone, Debug, Default)]
pub struct RequestHeaders(Arc<HeaderMap>);

impl RequestHeaders {
    /// Wraps a header map.
    pub fn new(headers: HeaderMap) -> Self {
        RequestHeaders(Arc::new(headers))
    }
}

impl Deref for RequestHeaders {
    type Target = HeaderMap;

    fn deref(&self) -> &HeaderMap {
        &self.0
    }
}

impl From<HeaderMap> for RequestHeaders {
    fn from(headers: HeaderMap) -> Self {
        RequestHeaders::new(headers)
    }
}
