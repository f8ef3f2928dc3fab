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
mod query_codec;

use std::future::Future;
use std::sync::{Arc, LazyLock};

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, Response, StatusCode};
use rpckit_codec::query::{self, raw_pairs, Plus};
use rpckit_codec::{small_bytes, Codec, Frame};

pub use callback::{InvalidCallback, MAX_CALLBACK_LEN};
pub use query_codec::QueryCodec;
pub(crate) use rpckit_codec::query::QueryError;

use crate::dispatch::{Peer, Shared};
use crate::error::Rejection;
use crate::plain_headers::PlainHead;
use crate::route::FrameService;
use crate::{Body, RequestHeaders, ResponseHandle, Route};

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

/// The headers of a JSONP answer and of a plain JSON one (a `GET` without
/// a callback), as the fast connection writes them, and as maps made once
/// for the others: a clone costs a third of a map built afresh.
const JAVASCRIPT: PlainHead = PlainHead::jsonp("application/javascript; charset=utf-8");
const JSON: PlainHead = PlainHead::jsonp("application/json");
static JAVASCRIPT_MAP: LazyLock<HeaderMap> = LazyLock::new(|| JAVASCRIPT.headers());
static JSON_MAP: LazyLock<HeaderMap> = LazyLock::new(|| JSON.headers());

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
        query::decode(method, Plus::Literal, 0).map_err(Rejection::InvalidMethodName)?;
        let (frame_bytes, callback) = split_callback(&shared.jsonp, method, query)?;
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
    /// request named, or the one the handler chose instead. With
    /// `leave_plain_out` the answer's headers are left out of its map, for
    /// the fast HTTP/1 connection to write (see [`PlainHead`]).
    ///
    /// An `async` block, not an `async fn`, which would keep a copy of
    /// `self` next to `self`.
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn keeps a second copy of self in its future"
    )]
    pub(crate) fn run(
        self,
        leave_plain_out: bool,
    ) -> impl Future<Output = Result<Response<Body>, Rejection>> {
        async move {
            let answer = self
                .service
                .send(self.frame)
                .await
                .map_err(Rejection::service)?;
            let Some(answer) = answer else {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::NO_CONTENT;
                return Ok(response);
            };

            let chosen = self.response_handle.jsonp_callback();
            let callback = chosen.as_deref().or(self.callback.as_deref());
            let (body, head, map) = match callback {
                Some(callback) => (wrap(callback, &answer.bytes), JAVASCRIPT, &JAVASCRIPT_MAP),
                None => (answer.bytes, JSON, &JSON_MAP),
            };
            if leave_plain_out {
                return Ok(Response::new(Body::plain(body, head)));
            }
            let mut response = Response::new(Body::from(body));
            *response.headers_mut() = HeaderMap::clone(map);
            Ok(response)
        }
    }
}

/// The frame (`method?query` without the callback) and the callback, both
/// checked.
fn split_callback(
    jsonp: &Jsonp,
    method: &str,
    query: &str,
) -> Result<(Bytes, Option<Arc<str>>), Rejection> {
    // The callback's pair (where it starts in the query) and its value.
    let mut found = None;
    for pair in raw_pairs(query) {
        let (key, value) = pair.decode().map_err(Rejection::InvalidQuery)?;
        if jsonp.is_callback_param(&key) && found.replace((pair.offset, value)).is_some() {
            return Err(Rejection::TwoCallbacks);
        }
    }
    let (callback_at, callback) = match found {
        Some((at, callback)) => {
            callback::validate(&callback).map_err(Rejection::InvalidCallback)?;
            (Some(at), Some(Arc::<str>::from(callback)))
        }
        None => (None, None),
    };
    let write_frame = |frame: &mut BytesMut| {
        frame.put_slice(method.as_bytes());
        let mut separator = b'?';
        for pair in raw_pairs(query).filter(|pair| Some(pair.offset) != callback_at) {
            frame.put_u8(separator);
            frame.put_slice(pair.text.as_bytes());
            separator = b'&';
        }
    };
    // The frame is small nearly always: written into the thread's shared
    // block, it costs no allocation.
    let len = method.len() + 1 + query.len();
    let frame = if len <= small_bytes::BLOCK {
        small_bytes::write(len, write_frame)
    } else {
        let mut frame = BytesMut::with_capacity(len);
        write_frame(&mut frame);
        frame.freeze()
    };
    Ok((frame, callback))
}

/// `/**/callback(json);`, with U+2028 and U+2029 escaped.
///
/// Both are legal raw inside a JSON string but ended a JavaScript string
/// literal before ES2019; escaped, the reply is the same value everywhere.
/// (Raw, they can only occur inside JSON strings, where `\u2028` means the
/// same.) The leading comment keeps a reply from starting with bytes a
/// content sniffer could take for another format. A small reply with
/// neither, nearly every one, is put together in the thread's shared block
/// ([`small_bytes`]) with no allocation of its own.
fn wrap(callback: &str, json: &[u8]) -> Bytes {
    let separator = line_separator(json);
    let pieces: [&[u8]; 5] = [b"/**/", callback.as_bytes(), b"(", json, b");"];
    let len = pieces.iter().map(|piece| piece.len()).sum::<usize>();
    if separator.is_none() && len <= small_bytes::BLOCK {
        return small_bytes::concat(&pieces);
    }
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(b"/**/");
    out.extend_from_slice(callback.as_bytes());
    out.push(b'(');
    let mut rest = json;
    let mut next = separator;
    while let Some(at) = next {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(if rest[at + 2] == 0xA8 {
            b"\\u2028"
        } else {
            b"\\u2029"
        });
        rest = &rest[at + 3..];
        next = line_separator(rest);
    }
    out.extend_from_slice(rest);
    out.extend_from_slice(b");");
    Bytes::from(out)
}

/// Where the first U+2028 or U+2029 (`E2 80 A8`, `E2 80 A9`) in `json`
/// starts.
fn line_separator(json: &[u8]) -> Option<usize> {
    memchr::memchr_iter(0xE2, json).find(|&at| {
        json.get(at + 1..at + 3)
            .is_some_and(|tail| tail[0] == 0x80 && (tail[1] == 0xA8 || tail[1] == 0xA9))
    })
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
    fn wraps_large_replies_and_leaves_other_e2_sequences() {
        // Past the shared block, with U+2020 (`E2 80 A0`), which only
        // starts like a separator, and U+2029.
        let json = format!("\"{}\u{2020}\u{2029}\"", "x".repeat(5000));
        let escaped = json.replace('\u{2029}', "\\u2029");
        assert_eq!(wrap("cb", json.as_bytes()), format!("/**/cb({escaped});"));
        // A lone `E2` at the very end is copied as it is.
        let wrapped = wrap("cb", b"[1]\xE2");
        assert_eq!(&wrapped[..], b"/**/cb([1]\xE2);");
    }

    #[test]
    fn the_callback_leaves_the_frame() {
        let jsonp = Jsonp::enabled();
        let (frame, callback) = split_callback(&jsonp, "echo", "data=a+b&jsonp=cb&n=1").unwrap();
        assert_eq!(frame, "echo?data=a+b&n=1");
        assert_eq!(callback.as_deref(), Some("cb"));
        let (frame, callback) = split_callback(&jsonp, "echo", "callback=f").unwrap();
        assert_eq!(
            (frame.as_ref(), callback.as_deref()),
            (&b"echo"[..], Some("f"))
        );
        let (frame, callback) = split_callback(&jsonp, "m", "").unwrap();
        assert_eq!((frame.as_ref(), callback), (&b"m"[..], None));
        // Only the configured names are callbacks.
        let only_cb = Jsonp::enabled().callback_params(["cb"]);
        let (frame, callback) = split_callback(&only_cb, "m", "jsonp=x&cb=y").unwrap();
        assert_eq!(
            (frame.as_ref(), callback.as_deref()),
            (&b"m?jsonp=x"[..], Some("y"))
        );
        // A frame past the shared block (the callback first, here).
        let long = "x".repeat(5000);
        let (frame, callback) =
            split_callback(&jsonp, "m", &format!("jsonp=cb&&a={long}&b=2")).unwrap();
        assert_eq!(frame, format!("m?a={long}&b=2"));
        assert_eq!(callback.as_deref(), Some("cb"));
    }

    #[test]
    fn bad_callbacks_and_queries_are_refused() {
        let jsonp = Jsonp::enabled();
        for query in [
            "jsonp=cb);alert(1)//",
            "jsonp=",
            "jsonp=a&callback=b",
            "jsonp=a&jsonp=a",
            "data=%ZZ&jsonp=cb",
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
