//! `POST`: the body is one frame, the answer the service's frame.
//!
//! On the way in the body is read under the size limit and decompressed
//! under its own; on the way out the answer is compressed if the calls
//! allowed it and the client accepts it (see [`crate::compression`]).

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::Full;
use rpckit_codec::{Codec, Frame};
use tower::ServiceExt;

use crate::dispatch::{Peer, Shared};
use crate::error::Rejection;
use crate::facts::request_extensions;
use crate::{body, compression, BoxError, RequestHeaders, ResponseHandle, Route};

pub(crate) async fn handle<B>(
    shared: &Shared,
    route: &Route,
    peer: Peer,
    request: Request<B>,
    response_handle: &ResponseHandle,
) -> Result<Response<Full<Bytes>>, Rejection>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let (parts, body) = request.into_parts();
    // A header that isn't visible ASCII names no codec; lossy text still
    // lets the 415 say what was sent. Checked as UTF-8 first, which is
    // what `from_utf8_lossy` finds for every header a client really sends,
    // at a fifth of its cost.
    let content_type = parts.headers.get(header::CONTENT_TYPE).map(|value| {
        std::str::from_utf8(value.as_bytes())
            .map_or_else(|_| String::from_utf8_lossy(value.as_bytes()), Cow::Borrowed)
    });
    let codec = route
        .codecs
        .negotiate(content_type.as_deref())
        .map_err(Rejection::UnsupportedMediaType)?
        .clone();
    let coding = compression::request_coding(&parts.headers)?;
    let mut bytes = body::read_limited(body, shared.max_body_size).await?;
    if let Some(algorithm) = coding {
        bytes = compression::decode_request(
            algorithm,
            bytes,
            shared.max_decompressed_size,
            &shared.offload,
        )
        .await?;
    }

    let mut frame = Frame::new(bytes, codec);
    // Kept for the response (what the client accepts as a coding): a
    // clone of the `Arc`, not a lookup in the extensions.
    let request_headers = RequestHeaders::new(parts.headers);
    frame.extensions = request_extensions(
        shared,
        route,
        peer,
        request_headers.clone(),
        response_handle,
        None,
    );

    let answer = route
        .service
        .clone()
        .oneshot(frame)
        .await
        .map_err(Rejection::service)?;

    let allowed = response_handle.compression_allowed();
    let mut response_headers = HeaderMap::new();
    let (status, body) = match answer {
        Some(frame) => {
            response_headers.insert(header::CONTENT_TYPE, content_type_of(&frame.codec));
            (StatusCode::OK, frame.bytes)
        }
        None => (StatusCode::NO_CONTENT, Bytes::new()),
    };
    // The handler's status, headers and cookies first, so that compression
    // sees them: it extends a handler's `Vary`, drops a stale length, and
    // leaves alone a body the handler encoded itself.
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.headers_mut() = response_headers;
    response_handle.apply(&mut response);
    let (mut parts, ()) = response.into_parts();
    let body = if parts.status == StatusCode::OK
        && !parts.headers.contains_key(header::CONTENT_ENCODING)
    {
        shared
            .compression
            .respond(
                &request_headers,
                allowed,
                body,
                &mut parts.headers,
                &shared.offload,
                route.sink.as_deref(),
            )
            .await
    } else {
        body
    };
    let response = Response::from_parts(parts, Full::new(body));
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
