//! An HTTP status a frame service answers with instead of a frame.

use std::borrow::Cow;
use std::fmt;

use http::header::HeaderName;
use http::{HeaderMap, HeaderValue, StatusCode};

/// An error a frame service — or a tower layer around one — returns to
/// answer the request with an HTTP status of its own instead of a frame:
/// `401` from an authentication layer, `429` from a rate limiter.
///
/// Any other error of a frame service is a `500 Internal Server Error`
/// whose text stays in the log. This one is the client's business: the
/// response carries its status, its message as a plain-text body, and its
/// headers. CORS headers are added as to every answer; the headers and
/// cookies handlers set through the [`ResponseHandle`](crate::ResponseHandle)
/// are not (the request was refused, not served).
///
/// The transport finds it by downcasting the service's error (after
/// `Into<BoxError>`), so return it as the error itself, not wrapped in
/// another error.
///
/// ```
/// use std::convert::Infallible;
/// use http::{header, HeaderValue, StatusCode};
/// use rpckit_codec::{Codecs, Frame};
/// use rpckit_http::{HttpError, RequestHeaders, Route};
///
/// // A frame service that refuses frames without an `Authorization` header.
/// let guarded = tower::service_fn(|frame: Frame| async move {
///     let authorized = frame
///         .extensions
///         .get::<RequestHeaders>()
///         .is_some_and(|headers| headers.contains_key(header::AUTHORIZATION));
///     if !authorized {
///         return Err(HttpError::new(StatusCode::UNAUTHORIZED, "log in first")
///             .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
///     }
///     Ok(Some(frame))
/// });
/// let route = Route::new(Codecs::default(), guarded);
/// # let _ = route;
/// ```
#[derive(Clone, Debug)]
pub struct HttpError {
    status: StatusCode,
    message: Cow<'static, str>,
    headers: HeaderMap,
}

impl HttpError {
    /// An answer with `status` and `message` as its plain-text body.
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> Self {
        HttpError {
            status,
            message: message.into(),
            headers: HeaderMap::new(),
        }
    }

    /// Adds a header to the answer (appended: a name can repeat).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// The status of the answer.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The body of the answer.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The headers added with [`with_header`](Self::with_header).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    pub(crate) fn into_parts(self) -> (StatusCode, Cow<'static, str>, HeaderMap) {
        (self.status, self.message, self.headers)
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for HttpError {}
