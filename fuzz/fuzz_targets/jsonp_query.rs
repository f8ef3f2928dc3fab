//! Arbitrary bytes through the JSONP `QueryCodec` (`rpckit_http`): a frame
//! is a URL tail, `method?query`. `decode` never panics and gives one
//! request with id `null` and a non-empty method, or a -32700/-32600 error;
//! the params parse into several types without panicking; parsed as a map
//! they are strings only, and they survive a re-encoding; a reply, result
//! or error, is valid JSON.
#![no_main]

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rpckit_codec::{
    encode_value, parse_params, Codec, DecodeLimits, ErrorCode, ErrorObject, Id, Message,
    RawParams, Reply, Response,
};
use rpckit_fuzz::Tree;
use rpckit_http::QueryCodec;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Typed {
    text: String,
    int: i64,
    small: u8,
    wide: u128,
    float: f64,
    flag: bool,
    letter: char,
    #[serde(default)]
    maybe: Option<u32>,
    #[serde(default)]
    mode: Option<Mode>,
    #[serde(default)]
    bytes: Option<serde_bytes_like::Bytes>,
}

#[derive(Debug, Deserialize)]
enum Mode {
    Fast,
    Slow,
}

/// A `Vec<u8>` that asks the deserializer for bytes.
mod serde_bytes_like {
    use serde::de::{Deserializer, Visitor};

    #[derive(Debug)]
    pub struct Bytes(#[allow(dead_code)] pub Vec<u8>);

    impl<'de> serde::Deserialize<'de> for Bytes {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Bytes;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<Bytes, E> {
                    Ok(Bytes(v.to_vec()))
                }
            }
            deserializer.deserialize_bytes(V)
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let codec = QueryCodec::default();
    let request = match codec.decode(Bytes::copy_from_slice(data), &DecodeLimits::default()) {
        Message::Single(Ok(request)) => request,
        Message::Single(Err(error)) => {
            assert!(
                matches!(
                    error.code(),
                    ErrorCode::ParseError | ErrorCode::InvalidRequest
                ),
                "{error:?}"
            );
            check_reply(&codec, Err(error));
            return;
        }
        Message::Batch(_) => panic!("the query codec decoded a batch"),
    };
    assert_eq!(request.id, Some(Id::Null));
    assert!(!request.method.is_empty());
    let params = request.params.as_ref();

    let _ = parse_params::<Typed>(&codec, params);
    let _ = parse_params::<Option<Typed>>(&codec, params);
    let _ = parse_params::<BTreeMap<String, i64>>(&codec, params);
    let _ = parse_params::<HashMap<String, bool>>(&codec, params);
    if params.is_some() {
        // Query params are named: positional types never fit.
        assert!(parse_params::<(String,)>(&codec, params).is_err());
        assert!(parse_params::<Vec<String>>(&codec, params).is_err());
    }

    // As "anything", every value is a string: an object of strings.
    // (serde_json's `Value`, with `raw_value` on, reads an object whose key
    // is `$serde_json::private::RawValue` as raw JSON text, not an object;
    // a query may name that key, and only then is the value not an object.)
    let value = parse_params::<serde_json::Value>(&codec, params);
    let magic = b"$serde_json::private::RawValue";
    let names_magic = data.windows(magic.len()).any(|w| w == magic);
    if let (Some(_), Ok(value), false) = (params, &value, names_magic) {
        let object = value.as_object().expect("named params are an object");
        assert!(object.values().all(serde_json::Value::is_string), "{value}");
    }

    // Re-encoded strictly, the pairs decode to the same map.
    if let (Some(_), Ok(map)) = (
        params,
        parse_params::<BTreeMap<String, String>>(&codec, params),
    ) {
        let query: Vec<String> = map
            .iter()
            .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
            .collect();
        let frame = format!("{}?{}", escape(&request.method), query.join("&"));
        let Message::Single(Ok(again)) = codec.decode(frame.into(), &DecodeLimits::default())
        else {
            panic!("a re-encoded query did not decode");
        };
        assert_eq!(again.method, request.method);
        let raw: Option<&RawParams> = again.params.as_ref();
        let map_again = parse_params::<BTreeMap<String, String>>(&codec, raw).unwrap_or_default();
        if !map.is_empty() {
            assert_eq!(map, map_again);
        }
    }

    let result = value
        .map_err(ErrorObject::from)
        .and_then(|value| encode_value(&codec, &value).map_err(ErrorObject::internal_error));
    check_reply(&codec, result);
});

/// Writes a reply and checks it is the result's JSON or `{"error":{..}}`.
fn check_reply(codec: &QueryCodec, outcome: Result<rpckit_codec::Encoded, ErrorObject>) {
    let is_error = outcome.is_err();
    let mut out = Vec::new();
    codec.encode_reply(
        &Reply::Single(Response {
            id: Id::Null,
            outcome,
        }),
        &mut out,
    );
    // Read into a plain tree, not serde_json's `Value`: with `raw_value` on,
    // `Value` takes an object whose first key is
    // `$serde_json::private::RawValue` for raw JSON text, and a result that
    // echoes the query may have that key (`s?0&$serde_json::private::RawValue`).
    let parsed: Tree = serde_json::from_slice(&out).expect("replies are JSON");
    if is_error {
        let code = parsed.get("error").and_then(|error| error.get("code"));
        assert!(matches!(code, Some(Tree::Int(_))), "{parsed:?}");
    }
}

/// Percent-encodes every byte but ASCII letters and digits.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
