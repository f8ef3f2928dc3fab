//! The codec of JSONP calls: a URL tail in, JSON out.

use bytes::Bytes;
use rpckit_codec::query::{self, Plus, QueryDeserializer};
use rpckit_codec::{
    Builtin, Codec, DecodeLimits, Encoded, ErrorObject, Id, Message, RawParams, Reply, Request,
    Response, Serializable, ValueError, Visit,
};

/// The codec of JSONP calls (`GET /api/echo?data=x&jsonp=cb`).
///
/// Its frame is the tail of the URL after the route's path: the method
/// segment, then optionally `?` and the query, as sent (`echo?data=x`; the
/// transport has taken the callback out). [`decode`](Codec::decode) yields
/// one request with id `null`, so it is always answered; its params stay the
/// raw query bytes until a handler names a type, and then fill that type as
/// named params: every value a string that also fills numbers, `bool`s
/// (`true`/`false`), `Option`s and unit enum variants, as `serde_urlencoded`
/// would. Results are JSON; an error is written as `{"error":{...}}`.
///
/// Malformed input (a `%` without two hex digits, bytes that are not UTF-8
/// once decoded, an empty method) decodes into a -32700 answer, never a
/// panic. The server's transport checks the query before it builds a frame
/// and answers HTTP 400 instead, so that answer is for other users of the
/// codec (and for the fuzzer).
///
/// It names no media type: nothing is negotiated to it by `Content-Type`,
/// so adding it to a route's [`Codecs`](rpckit_codec::Codecs) would be
/// pointless. The transport picks it for `GET` itself.
///
/// ```
/// use rpckit_codec::{parse_params, Codec, Id, Message};
/// use rpckit_http::QueryCodec;
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Echo { data: String, times: u32, loud: bool }
///
/// let codec = QueryCodec::default();
/// let frame = "echo?data=a+b%21&times=3&loud=true".into();
/// let Message::Single(Ok(request)) = codec.decode(frame, &Default::default()) else { panic!() };
/// assert_eq!(&*request.method, "echo");
/// assert_eq!(request.id, Some(Id::Null));
/// let echo: Echo = parse_params(&codec, request.params.as_ref()).unwrap();
/// assert_eq!((echo.data.as_str(), echo.times, echo.loud), ("a b!", 3, true));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct QueryCodec {
    _private: (),
}

impl Codec for QueryCodec {
    fn name(&self) -> &'static str {
        "jsonp-query"
    }

    /// Its params and results take rpckit-codec's typed paths, as the
    /// built-in codecs' do (`rpckit_codec::query`), not `erased_serde`.
    fn builtin(&self) -> Option<Builtin> {
        Some(Builtin::Query)
    }

    fn media_types(&self) -> &'static [&'static str] {
        &[]
    }

    fn decode(&self, frame: Bytes, _: &DecodeLimits) -> Message {
        Message::Single(decode(frame))
    }

    fn deserialize_params(&self, raw: &RawParams, visit: Visit<'_>) -> Result<(), ValueError> {
        let bytes = raw
            .as_bytes()
            .ok_or_else(|| ValueError::new("params were not decoded by the query codec"))?;
        let query = std::str::from_utf8(bytes).map_err(ValueError::new)?;
        visit.deserialize(QueryDeserializer::new(query))
    }

    fn encode_value(&self, value: Serializable<'_>, out: &mut Vec<u8>) -> Result<(), ValueError> {
        serde_json::to_writer(out, &value).map_err(ValueError::new)
    }

    fn encode_reply(&self, reply: &Reply, out: &mut Vec<u8>) {
        match reply {
            Reply::Single(response) => write_response(response, out),
            // This codec never decodes a batch; should another frame source
            // hand it one, it still writes valid JSON.
            Reply::Batch(responses) => {
                out.push(b'[');
                for (index, response) in responses.iter().enumerate() {
                    if index > 0 {
                        out.push(b',');
                    }
                    write_response(response, out);
                }
                out.push(b']');
            }
        }
    }
}

fn write_response(response: &Response, out: &mut Vec<u8>) {
    match &response.outcome {
        Ok(Encoded(result)) => out.extend_from_slice(result),
        Err(error) => {
            out.extend_from_slice(br#"{"error":"#);
            // Strings, an i32 and a serde_json::Value: always serialisable.
            serde_json::to_writer(&mut *out, error).expect("error objects serialise");
            out.push(b'}');
        }
    }
}

fn decode(frame: Bytes) -> Result<Request, ErrorObject> {
    // Checked once here; the method and the query are then `str`s, and
    // only what their escapes make is checked again.
    let text = std::str::from_utf8(&frame).map_err(|err| {
        ErrorObject::parse_error(format_args!("not UTF-8, at byte {}", err.valid_up_to()))
    })?;
    let (method, query) = match frame.iter().position(|&b| b == b'?') {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let method = query::decode(method, Plus::Literal, 0)
        .map_err(|err| ErrorObject::parse_error(format_args!("method: {err}")))?;
    if method.is_empty() {
        return Err(ErrorObject::invalid_request("no method named"));
    }
    let params = match query {
        // Checked now, so that a bad query is a parse error like any other
        // malformed frame, not an error of whichever handler reads it.
        Some(query) => match query::check(query) {
            Err(err) => return Err(ErrorObject::parse_error(format_args!("query: {err}"))),
            Ok(false) => None,
            Ok(true) => Some(RawParams::from_bytes(
                frame.slice(frame.len() - query.len()..),
            )),
        },
        None => None,
    };
    Ok(Request {
        method: rpckit_codec::method_name::intern(&method),
        params,
        id: Some(Id::Null),
    })
}

#[cfg(test)]
mod tests {
    use rpckit_codec::{encode_value, parse_params, ErrorCode};
    use serde::Deserialize;

    use super::*;

    fn request(frame: &'static str) -> Result<Request, ErrorObject> {
        match QueryCodec::default()
            .decode(Bytes::from_static(frame.as_bytes()), &Default::default())
        {
            Message::Single(entry) => entry,
            Message::Batch(_) => panic!("a batch"),
        }
    }

    #[test]
    fn decodes_method_and_keeps_params_raw() {
        let decoded = request("my%20method?a=1&b=x+y").unwrap();
        assert_eq!(&*decoded.method, "my method");
        assert_eq!(decoded.id, Some(Id::Null));
        assert_eq!(
            &decoded.params.unwrap().as_bytes().unwrap()[..],
            b"a=1&b=x+y"
        );
        // No query, an empty one, or only empty pieces: no params.
        for frame in ["m", "m?", "m?&&"] {
            assert!(request(frame).unwrap().params.is_none(), "{frame}");
        }
    }

    #[test]
    fn malformed_frames_are_errors() {
        for (frame, code) in [
            ("%ZZ?a=1", ErrorCode::ParseError),
            ("m?a=%ZZ", ErrorCode::ParseError),
            ("m?a=%FF", ErrorCode::ParseError),
            ("", ErrorCode::InvalidRequest),
            ("?a=1", ErrorCode::InvalidRequest),
        ] {
            assert_eq!(request(frame).unwrap_err().code(), code, "{frame}");
        }
        // Bytes that are not UTF-8 at all, in the method or the query.
        for frame in [&b"m\xff?a=1"[..], b"m?a=\xff", b"m?\xc3"] {
            let error =
                QueryCodec::default().decode(Bytes::from_static(frame), &Default::default());
            let Message::Single(Err(error)) = error else {
                panic!("{frame:?} decoded");
            };
            assert_eq!(error.code(), ErrorCode::ParseError, "{frame:?}");
            assert!(error.message().contains("not UTF-8"), "{error:?}");
        }
    }

    #[test]
    fn params_fill_named_types() {
        #[derive(Debug, Deserialize, PartialEq)]
        struct P {
            n: i32,
            ok: bool,
            #[serde(default)]
            rest: Option<String>,
        }
        let codec = QueryCodec::default();
        let decoded = request("m?n=-3&ok=false").unwrap();
        let p: P = parse_params(&codec, decoded.params.as_ref()).unwrap();
        assert_eq!(
            p,
            P {
                n: -3,
                ok: false,
                rest: None
            }
        );
        let bad = request("m?n=x&ok=true").unwrap();
        let err = parse_params::<P>(&codec, bad.params.as_ref()).unwrap_err();
        assert_eq!(err.param(), Some("n"));
    }

    #[test]
    fn the_typed_path_and_the_erased_one_agree() {
        // `parse_params` takes rpckit-codec's typed path for this codec;
        // `deserialize_params`, the trait's erased one, must read the same.
        let codec = QueryCodec::default();
        for frame in ["m?a=1&b=x+y%2B&c", "m?a=%C3%A9&a=2", "m?&&z=0"] {
            let params = request(frame).unwrap().params;
            let typed = parse_params::<serde_json::Value>(&codec, params.as_ref()).unwrap();
            let mut erased = None;
            let mut visit = |de: &mut dyn rpckit_codec::ErasedDeserializer<'_>| {
                erased = Some(rpckit_codec::erased_deserialize::<serde_json::Value>(de)?);
                Ok(())
            };
            codec
                .deserialize_params(params.as_ref().unwrap(), Visit::from_fn(&mut visit))
                .unwrap();
            assert_eq!(erased, Some(typed), "{frame}");
        }
    }

    #[test]
    fn replies_are_the_result_or_an_error_object() {
        let codec = QueryCodec::default();
        let result = encode_value(&codec, &serde_json::json!({"a": [1, "\u{2028}"]})).unwrap();
        let mut out = Vec::new();
        codec.encode_reply(
            &Reply::Single(Response {
                id: Id::Null,
                outcome: Ok(result),
            }),
            &mut out,
        );
        assert_eq!(out, "{\"a\":[1,\"\u{2028}\"]}".as_bytes());

        out.clear();
        let error = ErrorObject::method_not_found("nope").with_data(serde_json::json!(1));
        codec.encode_reply(
            &Reply::Single(Response {
                id: Id::Null,
                outcome: Err(error),
            }),
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"error":{"code":-32601,"message":"Method not found: nope","data":1}}"#
        );
    }
}
