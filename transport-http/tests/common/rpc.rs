//! A tiny JSON-RPC service over the frame's own codec, standing in for
//! `rpckit`'s stack (which depends on this crate): it decodes with the
//! frame's codec, parses params with `parse_params`, and encodes the reply
//! with the same codec, so a JSONP frame goes through the `QueryCodec` as
//! it would behind the real router.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use http::header::{self, HeaderName};
use http::{HeaderValue, StatusCode};
use rpckit_codec::{
    encode_value, parse_params, Codec, Encoded, ErrorCode, ErrorObject, Frame, Id, Message, Reply,
    Request, Response,
};
use rpckit_http::{JsonpRequest, ResponseHandle, Route};
use serde::{Deserialize, Serialize};

/// Params of `typed`: every kind of value a query string can fill.
#[derive(Debug, Deserialize, Serialize)]
pub struct Typed {
    pub text: String,
    pub int: i64,
    pub small: u8,
    pub float: f64,
    pub flag: bool,
    #[serde(default)]
    pub maybe: Option<u32>,
}

/// Counts the calls that reached a method, to show a refused request ran
/// nothing.
pub type Calls = Arc<AtomicUsize>;

/// The stub, with these methods:
///
/// - `echo`: the params as a JSON object of strings (or the first
///   positional param over POST), `"Hello world!"` without params
/// - `typed`: params into [`Typed`], echoed back
/// - `fail`: error 7 "failed" with data `{"why": "asked"}`
/// - `separators`: a string with U+2028 and U+2029
/// - `forbidden`: sets HTTP 403 through the response handle, as the router
///   does for a method that refuses JSONP
/// - `rename`: renames the JSONP callback and sets its own content type
/// - `override_cors`: sets `Access-Control-Allow-Origin` itself
/// - `jsonp_marker`: the callback the `JsonpRequest` extension carries
/// - `sp ace`: a method name that must be percent-encoded in a path
pub fn stub(calls: Calls) -> Route {
    Route::new(
        super::codecs(),
        tower::service_fn(move |frame: Frame| {
            let calls = calls.clone();
            async move {
                let codec = frame.codec.clone();
                let reply = match codec.decode(frame.bytes.clone(), &Default::default()) {
                    Message::Single(Ok(request)) => {
                        let id = request.id.clone();
                        let outcome = call(&*codec, &request, &frame, &calls);
                        match id {
                            Some(id) => Reply::Single(Response { id, outcome }),
                            None => return Ok::<_, Infallible>(None),
                        }
                    }
                    Message::Single(Err(error)) => Reply::Single(Response {
                        id: Id::Null,
                        outcome: Err(error),
                    }),
                    Message::Batch(_) => panic!("the stub takes no batches"),
                };
                let mut out = Vec::new();
                codec.encode_reply(&reply, &mut out);
                Ok(Some(Frame::new(out, codec)))
            }
        }),
    )
}

fn call(
    codec: &dyn Codec,
    request: &Request,
    frame: &Frame,
    calls: &Calls,
) -> Result<Encoded, ErrorObject> {
    calls.fetch_add(1, Ordering::SeqCst);
    let params = request.params.as_ref();
    let response = frame.extensions.get::<ResponseHandle>().expect("handle");
    match &*request.method {
        "echo" => {
            if params.is_none() {
                return encode(codec, &"Hello world!");
            }
            let value: serde_json::Value = match frame.extensions.get::<JsonpRequest>() {
                Some(_) => parse_params(codec, params)?,
                None => parse_params::<(serde_json::Value,)>(codec, params)?.0,
            };
            encode(codec, &value)
        }
        "typed" => encode(
            codec,
            &parse_params::<Typed>(codec, params).map_err(ErrorObject::from)?,
        ),
        "fail" => Err(ErrorObject::new(ErrorCode::Application(7), "failed")
            .with_data(serde_json::json!({"why": "asked"}))),
        "separators" => encode(codec, &"a\u{2028}b\u{2029}c"),
        "forbidden" => {
            response.set_status(StatusCode::FORBIDDEN);
            Err(ErrorObject::new(ErrorCode::ServerError(-32000), "no JSONP"))
        }
        "rename" => {
            response.set_jsonp_callback("renamed.cb").unwrap();
            response.insert_header(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/javascript"),
            );
            encode(codec, &1)
        }
        "override_cors" => {
            response.insert_header(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("http://override.test"),
            );
            response.insert_header(
                HeaderName::from_static("x-handler"),
                HeaderValue::from_static("yes"),
            );
            encode(codec, &"overridden")
        }
        "jsonp_marker" => {
            let marker = frame.extensions.get::<JsonpRequest>();
            encode(
                codec,
                &marker.map(|m| m.callback().unwrap_or("-").to_owned()),
            )
        }
        "sp ace" => encode(codec, &"spaced"),
        other => Err(ErrorObject::method_not_found(other)),
    }
}

fn encode<T: Serialize>(codec: &dyn Codec, value: &T) -> Result<Encoded, ErrorObject> {
    encode_value(codec, value).map_err(ErrorObject::internal_error)
}
