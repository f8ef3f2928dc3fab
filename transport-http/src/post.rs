//! `POST`: the body is one frame, the answer the service's frame.
//!
//! On the way in the body is read under the size limit and decompressed
//! under its own; on the way out the answer is compressed if the calls
//! allowed it and the client accepts it (see [`crate::compression`]).
//!
//! In two steps: [`Exchange::start`] reads the head when the request
//! arrives, and [`Exchange::run`] does what waits (the body, the service,
//! compression). The future then keeps only what the waiting needs, not
//! the request's head (see `dispatch::serve`).

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::response::Parts;
use http::{header, Response, StatusCode};
use http_body_util::Full;
use rpckit_codec::{Codec, Extensions, Frame, StatsSink};

use crate::compression::{self, Algorithm};
use crate::dispatch::{Peer, Shared};
use crate::error::Rejection;
use crate::facts::request_extensions;
use crate::plain_headers::{content_type, PlainHead, PlainHeaders};
use crate::route::FrameService;
use crate::{body, Body, BoxError, RequestHeaders, ResponseHandle, Route};

/// The media type nearly every `POST` names.
const JSON: &str = "application/json";

/// A `POST` whose head is read: what reading its body and answering it
/// still needs.
pub(crate) struct Exchange<B> {
    shared: Arc<Shared>,
    body: B,
    /// How the body is encoded, if it is.
    coding: Option<Algorithm>,
    /// The frame's codec and extensions; its bytes are the body's.
    codec: Arc<dyn Codec>,
    extensions: Extensions,
    service: FrameService,
    sink: Option<Arc<dyn StatsSink>>,
    /// Kept for the response (what the client accepts as a coding): a
    /// clone of the `Arc`, not a lookup in the frame's extensions.
    request_headers: RequestHeaders,
    response_handle: ResponseHandle,
}

impl<B> Exchange<B>
where
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    /// Reads the head of a `POST` to `route`: its codec (415 if the
    /// `Content-Type` names none of the route's) and its body's coding
    /// (415 if unknown), both before a byte of the body is read.
    pub(crate) fn start(
        shared: &Arc<Shared>,
        route: &Route,
        peer: Peer,
        headers: RequestHeaders,
        body: B,
        response_handle: &ResponseHandle,
    ) -> Result<Self, Rejection> {
        let (codec, coding) = body_form(route, &headers)?;
        let extensions =
            request_extensions(shared, route, peer, headers.clone(), response_handle, None);
        Ok(Exchange {
            shared: Arc::clone(shared),
            body,
            coding,
            codec,
            extensions,
            service: route.service.clone(),
            sink: route.sink.clone(),
            request_headers: headers,
            response_handle: response_handle.clone(),
        })
    }

    /// Reads the body, sends the frame and makes the response of the
    /// answer; with `leave_plain_out` a plain answer's headers are left out
    /// of its map, for the fast HTTP/1 connection to write (see
    /// [`PlainHead`]).
    ///
    /// An `async` block, not an `async fn`: an `async fn` keeps a copy of
    /// its arguments next to the arguments themselves. And what needs no
    /// waiting is done in plain functions: a value bound here stays in the
    /// future as long as its scope lasts, moved out or not.
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn keeps a second copy of self in its future"
    )]
    pub(crate) fn run(
        self,
        leave_plain_out: bool,
    ) -> impl Future<Output = Result<Response<Body>, Rejection>> {
        async move {
            let shared = &*self.shared;
            let mut bytes = body::read_limited(self.body, shared.max_body_size).await?;
            if let Some(algorithm) = self.coding {
                bytes = compression::decode_request(
                    algorithm,
                    bytes,
                    shared.max_decompressed_size,
                    &shared.offload,
                )
                .await?;
            }
            let answer = self
                .service
                .send(frame(bytes, self.codec, self.extensions))
                .await
                .map_err(Rejection::service)?;

            let allowed = self.response_handle.compression_allowed();
            let (mut parts, body, plain) = response(
                answer,
                &self.response_handle,
                &shared.plain_headers,
                leave_plain_out,
            );
            // Plain headers have their `Vary` and no `Content-Encoding`.
            let compress = plain.is_some()
                || parts.status == StatusCode::OK
                    && !parts.headers.contains_key(header::CONTENT_ENCODING);
            let body = if compress {
                if plain.is_none() {
                    shared.compression.add_vary(&mut parts.headers);
                }
                shared
                    .compression
                    .respond(
                        &self.request_headers,
                        allowed,
                        body,
                        &mut parts.headers,
                        &shared.offload,
                        self.sink.as_deref(),
                    )
                    .await
            } else {
                body
            };
            let body = match plain {
                Some(Plain::LeftOut(head)) => Body::plain(body, head),
                _ => Body::full(Full::new(body)),
            };
            Ok(Response::from_parts(parts, body))
        }
    }
}

/// What a `POST`'s head says of its body, before a byte of it is read:
/// the route's codec its `Content-Type` names (415 if none), and its
/// coding (415 if unknown).
pub(crate) fn body_form(
    route: &Route,
    headers: &RequestHeaders,
) -> Result<(Arc<dyn Codec>, Option<Algorithm>), Rejection> {
    // A header that isn't visible ASCII names no codec; lossy text still
    // lets the 415 say what was sent. Checked as UTF-8 first, which is what
    // `from_utf8_lossy` finds for every header a client really sends, at a
    // fifth of its cost; and the usual value is recognised as it is, which
    // costs less again (a UTF-8 check of even 16 bytes is some 110
    // instructions).
    let content_type = headers.first(&header::CONTENT_TYPE).map(|value| {
        if value == JSON.as_bytes() {
            return Cow::Borrowed(JSON);
        }
        std::str::from_utf8(value).map_or_else(|_| String::from_utf8_lossy(value), Cow::Borrowed)
    });
    let codec = route
        .codecs
        .negotiate(content_type.as_deref())
        .map_err(Rejection::UnsupportedMediaType)?
        .clone();
    let coding = compression::request_coding(headers)?;
    Ok((codec, coding))
}

fn frame(bytes: Bytes, codec: Arc<dyn Codec>, extensions: Extensions) -> Frame {
    let mut frame = Frame::new(bytes, codec);
    frame.extensions = extensions;
    frame
}

/// The response to the service's answer, before compression: the frame's
/// bytes in its codec's media type (or `204` for none), then the handler's
/// status, headers and cookies, so that compression sees them (it extends
/// a handler's `Vary`, drops a stale length, and leaves alone a body the
/// handler encoded itself). And whether it is a `200` with the server's
/// [`PlainHeaders`] (no handler changed anything): in its map, or with
/// `leave_plain_out` left out of it.
fn response(
    answer: Option<Frame>,
    handle: &ResponseHandle,
    plain: &PlainHeaders,
    leave_plain_out: bool,
) -> (Parts, Bytes, Option<Plain>) {
    let mut response = match answer {
        Some(frame) if handle.is_untouched() => {
            let mut response = Response::new(frame.bytes);
            let plain = if leave_plain_out {
                Plain::LeftOut(plain.head(&*frame.codec))
            } else {
                *response.headers_mut() = plain.of(&*frame.codec);
                Plain::InMap
            };
            let (parts, body) = response.into_parts();
            return (parts, body, Some(plain));
        }
        Some(frame) => {
            let mut response = Response::new(frame.bytes);
            let media_type = frame.codec.media_types().first().copied();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, content_type(media_type));
            response
        }
        None => {
            let mut response = Response::new(Bytes::new());
            *response.status_mut() = StatusCode::NO_CONTENT;
            response
        }
    };
    handle.apply(&mut response);
    let (parts, body) = response.into_parts();
    (parts, body, None)
}

/// Where an answer's plain headers are.
enum Plain {
    InMap,
    /// Left out, for the fast HTTP/1 connection to write.
    LeftOut(PlainHead),
}
