//! `POST`: the body is one frame, the answer the service's frame.

use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::Full;
use rpckit_codec::{Codec, Frame};
use tower::ServiceExt;

use crate::dispatch::{request_extensions, Connection, Shared};
use crate::error::Rejection;
use crate::{body, BoxError, ResponseHandle, Route};

pub(crate) async fn handle<B>(
    shared: &Shared,
    route: &Route,
    connection: Connection,
    request: Request<B>,
    response_handle: &ResponseHandle,
) -> Result<Response<Full<Bytes>>, Rejection>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let (parts, body) = request.into_parts();
    // A header that isn't visible ASCII names no codec; lossy text still
    // lets the 415 say what was sent.
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()));
    let codec = route
        .codecs
        .negotiate(content_type.as_deref())
        .map_err(Rejection::UnsupportedMediaType)?
        .clone();
    let bytes = body::read_limited(body, shared.max_body_size).await?;

    let mut frame = Frame::new(bytes, codec);
    frame.extensions = request_extensions(shared, connection, parts.headers, response_handle);

    let answer = route
        .service
        .clone()
        .oneshot(frame)
        .await
        .map_err(Rejection::Service)?;

    let response = match answer {
        Some(frame) => {
            let mut response = Response::new(Full::new(frame.bytes));
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, content_type_of(&frame.codec));
            response
        }
        None => {
            let mut response = Response::new(Full::default());
            *response.status_mut() = StatusCode::NO_CONTENT;
            response
        }
    };
    Ok(response)
}

/// The codec's first media type, without copying it; a custom codec that
/// names none (or an invalid one) gets the generic binary type.
fn content_type_of(codec: &Arc<dyn Codec>) -> HeaderValue {
    codec
        .media_types()
        .first()
        .and_then(|media| HeaderValue::from_maybe_shared(Bytes::from_static(media.as_bytes())).ok())
        .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream"))
}
