//! Why a request got no answer from the frame service: one small typed
//! error per HTTP status the transport itself produces.

use std::fmt;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Response, StatusCode};
use http_body_util::Full;
use rpckit_codec::UnsupportedMediaType;

use crate::compression::Algorithm;
use crate::cors::list;
use crate::http_error::HttpError;
use crate::jsonp::{InvalidCallback, QueryError};

/// The error type a frame service's errors are boxed into.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request the transport answered itself, without a frame reaching (or
/// coming back from) the frame service.
///
/// Each variant knows its status and a short plain-text body. JSON-RPC
/// errors are not here: they are frames, and travel as HTTP 200.
#[derive(Debug)]
pub(crate) enum Rejection {
    /// No route at this path.
    NotFound,
    /// The route exists but does not answer this method.
    MethodNotAllowed { allow: &'static [Method] },
    /// No codec of the route answers to the request's `Content-Type`.
    UnsupportedMediaType(UnsupportedMediaType),
    /// The body is (or would be) larger than the configured limit.
    PayloadTooLarge { limit: usize },
    /// The body's `Content-Encoding` is not one the server decodes.
    UnsupportedContentEncoding(Box<str>),
    /// The decompressed body would be larger than the configured limit.
    DecompressedTooLarge { limit: usize },
    /// The body does not decode with its `Content-Encoding`.
    InvalidEncoding {
        algorithm: Algorithm,
        source: std::io::Error,
    },
    /// The body could not be read: the client went away or broke framing.
    BodyRead(BoxError),
    /// A JSONP `GET` on the route's own path, naming no method.
    NoMethod,
    /// The method segment of a JSONP path does not decode.
    InvalidMethodName(QueryError),
    /// The query of a JSONP call does not decode.
    InvalidQuery(QueryError),
    /// The JSONP callback is not a safe name.
    InvalidCallback(InvalidCallback),
    /// The query names the JSONP callback more than once.
    TwoCallbacks,
    /// The frame service answered with an HTTP status of its own.
    Http(Box<HttpError>),
    /// The request took longer than the server's request timeout.
    Timeout { limit: std::time::Duration },
    /// The frame service failed.
    Service(BoxError),
    /// The transport itself failed (a blocking task was lost).
    Internal(BoxError),
}

impl Rejection {
    /// The rejection for an error of a frame service: its own answer if it
    /// is an [`HttpError`], else a 500.
    pub(crate) fn service(err: BoxError) -> Rejection {
        match err.downcast::<HttpError>() {
            Ok(http) => Rejection::Http(http),
            Err(err) => Rejection::Service(err),
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Rejection::NotFound => StatusCode::NOT_FOUND,
            Rejection::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Rejection::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Rejection::PayloadTooLarge { .. } | Rejection::DecompressedTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Rejection::UnsupportedContentEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Rejection::BodyRead(_)
            | Rejection::NoMethod
            | Rejection::InvalidMethodName(_)
            | Rejection::InvalidQuery(_)
            | Rejection::InvalidCallback(_)
            | Rejection::TwoCallbacks
            | Rejection::InvalidEncoding { .. } => StatusCode::BAD_REQUEST,
            Rejection::Http(http) => http.status(),
            Rejection::Timeout { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Rejection::Service(_) | Rejection::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The plain-text response. Internal errors are not echoed to the
    /// client: their text may carry details only the operator should see.
    pub(crate) fn into_response(self) -> Response<Full<Bytes>> {
        let rejection = match self {
            Rejection::Http(http) => return http_error_response(*http),
            other => other,
        };
        let status = rejection.status();
        let text = match &rejection {
            Rejection::BodyRead(_) => "could not read the request body".to_owned(),
            Rejection::Service(_) | Rejection::Internal(_) => "internal server error".to_owned(),
            // The decoder's own words describe its internals, not the request.
            Rejection::InvalidEncoding { algorithm, .. } => {
                format!("the request body is not valid {algorithm} data")
            }
            other => other.to_string(),
        };
        let mut response = plain_text(status, Bytes::from(text));
        let headers = response.headers_mut();
        match rejection {
            Rejection::MethodNotAllowed { allow } => {
                headers.insert(header::ALLOW, list(allow.iter().map(Method::as_str)));
            }
            // RFC 9110 §15.5.16: say which codings would have worked.
            Rejection::UnsupportedContentEncoding(_) => {
                headers.insert(
                    header::ACCEPT_ENCODING,
                    HeaderValue::from_static(DECODED_CODINGS),
                );
            }
            _ => {}
        }
        response
    }
}

/// A frame service's own answer: its status, text and headers, which win
/// over the transport's defaults.
fn http_error_response(http: HttpError) -> Response<Full<Bytes>> {
    let (status, message, extra) = http.into_parts();
    let body = match message {
        std::borrow::Cow::Borrowed(text) => Bytes::from_static(text.as_bytes()),
        std::borrow::Cow::Owned(text) => Bytes::from(text),
    };
    let mut response = plain_text(status, body);
    // Replaces the defaults for every name it carries.
    response.headers_mut().extend(extra);
    response
}

/// `text` as a `text/plain` answer with `status`. Some texts quote the
/// request: `nosniff` keeps a browser from reading them as HTML.
fn plain_text(status: StatusCode, text: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(text));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The request codings the transport decodes, for a 415's `Accept-Encoding`.
const DECODED_CODINGS: &str = "gzip, deflate, br, zstd, identity";

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::NotFound => f.write_str("not found"),
            Rejection::MethodNotAllowed { .. } => f.write_str("method not allowed"),
            Rejection::UnsupportedMediaType(inner) => inner.fmt(f),
            Rejection::PayloadTooLarge { limit } => {
                write!(f, "request body larger than {limit} bytes")
            }
            Rejection::UnsupportedContentEncoding(coding) => write!(
                f,
                "unsupported Content-Encoding `{coding}`: send one of {DECODED_CODINGS}"
            ),
            Rejection::DecompressedTooLarge { limit } => {
                write!(f, "decompressed request body larger than {limit} bytes")
            }
            Rejection::InvalidEncoding { algorithm, source } => {
                write!(f, "invalid {algorithm} request body: {source}")
            }
            Rejection::BodyRead(err) => write!(f, "could not read the request body: {err}"),
            Rejection::NoMethod => f.write_str(
                "a GET names the method after the endpoint's path: GET <path>/<method>?<params>",
            ),
            Rejection::InvalidMethodName(err) => {
                write!(f, "invalid method name in the path: {err}")
            }
            Rejection::InvalidQuery(err) => write!(f, "invalid query string: {err}"),
            Rejection::InvalidCallback(err) => err.fmt(f),
            Rejection::TwoCallbacks => {
                f.write_str("the query names the JSONP callback more than once")
            }
            Rejection::Http(http) => write!(f, "frame service answered {http}"),
            Rejection::Timeout { limit } => {
                write!(
                    f,
                    "the request took longer than the server's limit of {limit:?}"
                )
            }
            Rejection::Service(err) => write!(f, "frame service failed: {err}"),
            Rejection::Internal(err) => write!(f, "internal error: {err}"),
        }
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Rejection::UnsupportedMediaType(inner) => Some(inner),
            Rejection::InvalidMethodName(err) | Rejection::InvalidQuery(err) => Some(err),
            Rejection::InvalidCallback(err) => Some(err),
            Rejection::Http(http) => Some(&**http),
            Rejection::BodyRead(err) | Rejection::Service(err) | Rejection::Internal(err) => {
                Some(&**err)
            }
            Rejection::InvalidEncoding { source, .. } => Some(source),
            _ => None,
        }
    }
}
