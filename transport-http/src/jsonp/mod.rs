//! JSONP: JSON-RPC over `GET`, for pages that call the API with a
//! `<script>` tag.
//!
//! `GET /api/echo?data=test&jsonp=cb` calls `echo` of the route at `/api`
//! with the named params `{"data": "test"}` and answers
//! `/**/cb("test");` as JavaScript. The transport takes the callback out of
//! the query, checks it, and hands the rest (`echo?data=test`) to the
//! route's frame service as a frame of the [`QueryCodec`], marked with a
//! [`JsonpRequest`] extension; the codec reads the query into the handler's
//! param type, and the answer is wrapped in the callback here.
//!
//! JSONP lets any web page read a `GET` answer made with the visitor's
//! cookies, so it is off unless [`ServerBuilder::jsonp`] turns it on, and a
//! method can still refuse it (`rpckit`'s `MethodSettings::jsonp(false)`).
//!
//! [`ServerBuilder::jsonp`]: crate::ServerBuilder::jsonp

pub(crate) mod callback;
mod de;
mod query;
mod query_codec;

use std::future::Future;
use std::sync::{Arc, LazyLock};

use bytes::{BufMut, Bytes, BytesMut};
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use rpckit_codec::{Codec, Frame};

pub use callback::{InvalidCallback, MAX_CALLBACK_LEN};
pub(crate) use query::QueryError;
use query::{raw_pairs, Plus};
pub use query_codec::QueryCodec;

use crate::dispatch::{Peer, Shared};
use crate::error::Rejection;
use crate::route::FrameService;
use crate::{RequestHeaders, ResponseHandle, Route};

/// Whether `GET` calls methods (JSONP), and which query parameters name the
/// callback. Off by default; turn it on with
/// [`ServerBuilder::jsonp`](crate::ServerBuilder::jsonp), which also takes
/// a `bool`.
///
/// ```
/// use rpckit_http::{Jsonp, Server};
///
/// // On, with the default callback parameters `jsonp` and `callback`.
/// let builder = Server::builder().jsonp(true);
/// // On, with the callback only in `cb` (a method may take a `callback` param).
/// let builder = Server::builder().jsonp(Jsonp::enabled().callback_params(["cb"]));
/// # let _ = builder;
/// ```
#[derive(Clone, Debug)]
pub struct Jsonp {
    enabled: bool,
    callback_params: Arc<[Box<str>]>,
}

impl Jsonp {
    /// The query parameters that name the callback unless told otherwise.
    pub const DEFAULT_CALLBACK_PARAMS: &'static [&'static str] = &["jsonp", "callback"];

    /// JSONP on, the callback in [`Jsonp::DEFAULT_CALLBACK_PARAMS`].
    pub fn enabled() -> Self {
        Jsonp {
            enabled: true,
            callback_params: Self::DEFAULT_CALLBACK_PARAMS
                .iter()
                .map(|&name| name.into())
                .collect(),
        }
    }

    /// JSONP off: `GET` on a route is `405 Method Not Allowed`.
    pub fn disabled() -> Self {
        Jsonp {
            enabled: false,
            ..Self::enabled()
        }
    }

    /// The query parameters that name the callback, replacing the default.
    /// They are taken out of the params; a request naming two callbacks
    /// (`?jsonp=a&callback=b`) is refused with `400`. Without any, the reply
    /// is plain JSON.
    ///
    /// # Panics
    ///
    /// When `names` is empty.
    #[track_caller]
    pub fn callback_params<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: Arc<[Box<str>]> = names
            .into_iter()
            .map(|name| name.into().into_boxed_str())
            .collect();
        assert!(
            !names.is_empty(),
            "JSONP needs at least one callback parameter"
        );
        self.callback_params = names;
        self
    }

    /// Whether JSONP is on.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The query parameters that name the callback.
    pub fn callback_param_names(&self) -> impl Iterator<Item = &str> {
        self.callback_params.iter().map(|name| &**name)
    }

    fn is_callback_param(&self, name: &str) -> bool {
        self.callback_params.iter().any(|param| **param == *name)
    }
}

impl From<bool> for Jsonp {
    fn from(enabled: bool) -> Self {
        if enabled {
            Jsonp::enabled()
        } else {
            Jsonp::disabled()
        }
    }
}

/// Marks a frame as a JSONP call, in [`Frame::extensions`]: what the call
/// came with, for handlers and layers that treat JSONP apart (`rpckit`'s
/// router refuses it for methods that forbid JSONP).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JsonpRequest {
    callback: Option<Arc<str>>,
}

impl JsonpRequest {
    /// The callback the request named, already checked; `None` for a
    /// `GET` that asked for plain JSON.
    pub fn callback(&self) -> Option<&str> {
        self.callback.as_deref()
    }
}

static CODEC: LazyLock<Arc<dyn Codec>> = LazyLock::new(|| Arc::new(QueryCodec::default()));

const JAVASCRIPT: HeaderValue = HeaderValue::from_static("application/javascript; charset=utf-8");
const JSON: HeaderValue = HeaderValue::from_static("application/json");
const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");

/// A `GET <route>/<method>?<query>` whose query is read: the call to
/// send, and what its answer is wrapped in.
pub(crate) struct Exchange {
    service: FrameService,
    frame: Frame,
    callback: Option<Arc<str>>,
    response_handle: ResponseHandle,
}

impl Exchange {
    /// Reads the call from the method segment and the query (400 for a bad
    /// one, or a bad callback) and makes its frame.
    pub(crate) fn start(
        shared: &Shared,
        route: &Route,
        method: &str,
        peer: Peer,
        query: &str,
        headers: RequestHeaders,
        response_handle: &ResponseHandle,
    ) -> Result<Self, Rejection> {
        // The codec decodes the method again; checking it here makes a bad
        // one a 400 like a bad query.
        query::decode(method.as_bytes(), Plus::Literal, 0).map_err(Rejection::InvalidMethodName)?;
        let (frame_bytes, callback) = split_callback(&shared.jsonp, method, query.as_bytes())?;
        let mut frame = Frame::new(frame_bytes, CODEC.clone());
        frame.extensions = crate::facts::request_extensions(
            shared,
            route,
            peer,
            headers,
            response_handle,
            Some(JsonpRequest {
                callback: callback.clone(),
            }),
        );
        Ok(Exchange {
            service: route.service.clone(),
            frame,
            callback,
            response_handle: response_handle.clone(),
        })
    }

    /// Sends the call and wraps its answer in the callback: the one the
    /// request named, or the one the handler chose instead.
    ///
    /// An `async` block, not an `async fn`, which would keep a copy of
    /// `self` next to `self`.
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn keeps a second copy of self in its future"
    )]
    pub(crate) fn run(self) -> impl Future<Output = Result<Response<Full<Bytes>>, Rejection>> {
        async move {
            let answer = self
                .service
                .send(self.frame)
                .await
                .map_err(Rejection::service)?;
            let Some(answer) = answer else {
                let mut response = Response::new(Full::default());
                *response.status_mut() = StatusCode::NO_CONTENT;
                return Ok(response);
            };

            let chosen = self.response_handle.jsonp_callback();
            let callback = chosen.as_deref().or(self.callback.as_deref());
            let (body, content_type) = match callback {
                Some(callback) => (wrap(callback, &answer.bytes), JAVASCRIPT),
                None => (answer.bytes, JSON),
            };
            let mut response = Response::new(Full::new(body));
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, content_type);
            headers.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF);
            Ok(response)
        }
    }
}

/// The frame (`method?query` without the callback) and the callback, both
/// checked.
fn split_callback(
    jsonp: &Jsonp,
    method: &str,
    query: &[u8],
) -> Result<(Bytes, Option<Arc<str>>), Rejection> {
    let mut frame = BytesMut::with_capacity(method.len() + 1 + query.len());
    frame.put_slice(method.as_bytes());
    let mut separator = b'?';
    let mut callback = None;
    for pair in raw_pairs(query) {
        let (key, value) = pair.decode().map_err(Rejection::InvalidQuery)?;
        if jsonp.is_callback_param(&key) {
            if callback.replace(Arc::<str>::from(value)).is_some() {
                return Err(Rejection::TwoCallbacks);
            }
            continue;
        }
        frame.put_u8(separator);
        frame.put_slice(pair.text);
        separator = b'&';
    }
    if let Some(callback) = &callback {
        callback::validate(callback).map_err(Rejection::InvalidCallback)?;
    }
    Ok((frame.freeze(), callback))
}

/// `/**/callback(json);`, with U+2028 and U+2029 escaped.
///
/// Both are legal raw inside a JSON string but ended a JavaScript string
/// literal before ES2019; escaped, the reply is the same value everywhere.
/// (Raw, they can only occur inside JSON strings, where `\u2028` means the
/// same.) The leading comment keeps a reply from starting with bytes a
/// content sniffer could take for another format.
fn wrap(callback: &str, json: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(json.len() + callback.len() + 8);
    out.extend_from_slice(b"/**/");
    out.extend_from_slice(callback.as_bytes());
    out.push(b'(');
    let mut rest = json;
    while let Some(at) = rest
        .windows(3)
        .position(|w| w[0] == 0xE2 && w[1] == 0x80 && (w[2] == 0xA8 || w[2] == 0xA9))
    {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(if rest[at + 2] == 0xA8 {
            b"\\u2028"
        } else {
            b"\\u2029"
        });
        rest = &rest[at + 3..];
    }
    out.extend_from_slice(rest);
    out.extend_from_slice(b");");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_and_escapes_line_separators() {
        let json = "[\"a\u{2028}b\u{2029}c\",\"\u{2028}\"]";
        assert_eq!(
            wrap("cb", json.as_bytes()),
            "/**/cb([\"a\\u2028b\\u2029c\",\"\\u2028\"]);"
        );
        assert_eq!(wrap("x.y[0]", b"1"), "/**/x.y[0](1);");
    }

    #[test]
    fn the_callback_leaves_the_frame() {
        let jsonp = Jsonp::enabled();
        let (frame, callback) = split_callback(&jsonp, "echo", b"data=a+b&jsonp=cb&n=1").unwrap();
        assert_eq!(frame, "echo?data=a+b&n=1");
        assert_eq!(callback.as_deref(), Some("cb"));
        let (frame, callback) = split_callback(&jsonp, "echo", b"callback=f").unwrap();
        assert_eq!(
            (frame.as_ref(), callback.as_deref()),
            (&b"echo"[..], Some("f"))
        );
        let (frame, callback) = split_callback(&jsonp, "m", b"").unwrap();
        assert_eq!((frame.as_ref(), callback), (&b"m"[..], None));
        // Only the configured names are callbacks.
        let only_cb = Jsonp::enabled().callback_params(["cb"]);
        let (frame, callback) = split_callback(&only_cb, "m", b"jsonp=x&cb=y").unwrap();
        assert_eq!(
            (frame.as_ref(), callback.as_deref()),
            (&b"m?jsonp=x"[..], Some("y"))
        );
    }

    #[test]
    fn bad_callbacks_and_queries_are_refused() {
        let jsonp = Jsonp::enabled();
        for query in [
            &b"jsonp=cb);alert(1)//"[..],
            b"jsonp=",
            b"jsonp=a&callback=b",
            b"jsonp=a&jsonp=a",
            b"data=%ZZ&jsonp=cb",
        ] {
            assert!(split_callback(&jsonp, "m", query).is_err(), "{query:?}");
        }
    }

    #[test]
    #[should_panic(expected = "at least one")]
    fn no_callback_params_panics() {
        let _ = Jsonp::enabled().callback_params(Vec::<String>::new());
    }
}
