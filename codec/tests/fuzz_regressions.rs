//! Inputs the fuzz targets (fuzz/, `bash fuzz/run.sh`) found, minimised,
//! each fed as the exact bytes. A finding reported before it is fixed is
//! pinned by a test marked `#[ignore]` and tolerated by an exception in
//! its fuzz target: the fix drops both.
#![cfg(feature = "simd-json")]

use std::collections::BTreeMap;

use bytes::Bytes;
use rpckit_codec::{
    parse_params, Codec, DecodeLimits, ErrorCode, JsonCodec, Message, ParamsError, SimdJsonCodec,
};
use serde::de::DeserializeOwned;

/// Both JSON codecs (SimdJsonCodec hands these frames to JsonCodec).
fn json_codecs() -> [Box<dyn Codec>; 2] {
    [
        Box::new(JsonCodec::default()),
        Box::new(SimdJsonCodec::default()),
    ]
}

/// The error code of each entry (`None`: a request), or of the frame.
fn codes(message: &Message) -> Vec<Option<ErrorCode>> {
    let entries = match message {
        Message::Single(entry) => std::slice::from_ref(entry),
        Message::Batch(entries) => entries.as_slice(),
    };
    entries
        .iter()
        .map(|entry| entry.as_ref().err().map(|err| err.code()))
        .collect()
}

/// Decodes a single request and reads its params as `T`.
fn parse<T: DeserializeOwned>(codec: &dyn Codec, frame: &'static [u8]) -> Result<T, ParamsError> {
    match codec.decode(Bytes::from_static(frame), &DecodeLimits::default()) {
        Message::Single(Ok(request)) => parse_params(codec, request.params.as_ref()),
        other => panic!("{} did not decode a request: {other:?}", codec.name()),
    }
}

/// Found by `differential_json`. serde_json reads an i128 by scanning the
/// integer text, so `-0` is 0; SimdJsonCodec kept `-0` as the float -0.0
/// (`number` in codec/src/simd.rs, to match serde_json's `Value`), which no
/// integer type takes. Its `deserialize_i128` now reads `-0` as 0.
#[test]
fn simd_json_reads_negative_zero_as_i128_like_serde_json() {
    let frame = br#"{"jsonrpc":"2.0","method":"m","params":[-0],"id":1}"#;
    assert_eq!(parse::<(i128,)>(&JsonCodec::default(), frame), Ok((0,)));
    assert_eq!(parse::<(i128,)>(&SimdJsonCodec::default(), frame), Ok((0,)));
}

/// Found by `differential_json`. For a map with integer keys serde_json
/// parses the number out of the key's raw text and wants the closing quote
/// right after it; SimdJsonCodec parsed the key with `Deserializer::end`,
/// which allows trailing whitespace. `numeric_key!` in codec/src/simd.rs
/// now rejects a key that ends in whitespace.
#[test]
fn simd_json_numeric_keys_with_trailing_space() {
    let frame = br#"{"jsonrpc":"2.0","method":"m","params":{"1 ":true},"id":1}"#;
    assert!(parse::<BTreeMap<u32, bool>>(&JsonCodec::default(), frame).is_err());
    assert!(parse::<BTreeMap<u32, bool>>(&SimdJsonCodec::default(), frame).is_err());
}

/// Found by `differential_json`, and kept as a documented difference (the
/// module doc of codec/src/simd.rs): the key `"\u0031"` is the text "1".
/// serde_json sees a backslash where it wants a digit and rejects it;
/// SimdJsonCodec is handed the key unescaped by simd-json, with no trace
/// of the escape, and reads 1. The fuzz target tolerates this one
/// difference, for keys with escapes only.
#[test]
fn simd_json_numeric_keys_with_escapes_are_numbers_unlike_serde_json() {
    let frame = br#"{"jsonrpc":"2.0","method":"m","params":{"\u0031":true},"id":1}"#;
    let json = parse::<BTreeMap<u32, bool>>(&JsonCodec::default(), frame);
    assert!(json.is_err(), "{json:?}");
    let simd = parse::<BTreeMap<u32, bool>>(&SimdJsonCodec::default(), frame);
    assert_eq!(simd, Ok(BTreeMap::from([(1, true)])));
}

/// Found by `decode_json` and `decode_simd_json` as `[1,2,1e999]` (here
/// minimised): malformed under the default limits, a batch over the limit
/// under `max_batch_len(2)`. `1e999` and `"\ud800"` are grammatical JSON
/// that serde_json cannot hold, which is -32600 for that entry alone (as
/// for members since 5207a1f). But the JSON codec read a batch entry with
/// `deserialize_any`, and serde_json's failure to convert the scalar
/// stopped the whole parse: -32700 for the frame, while past the batch
/// limit the same entry is only skipped. Now a frame the first read fails
/// on is read again with every entry captured raw first
/// (`decode_with_serde` in codec/src/json/mod.rs).
#[test]
fn json_batch_entry_serde_cannot_hold_is_an_invalid_entry() {
    let invalid = Some(ErrorCode::InvalidRequest);
    for (frame, expected) in [
        (&br#"[1,2,1e999]"#[..], vec![invalid; 3]),
        (
            br#"[{"jsonrpc":"2.0","method":"m","id":1},"\ud800"]"#,
            vec![None, invalid],
        ),
    ] {
        for codec in json_codecs() {
            let message = codec.decode(Bytes::from_static(frame), &DecodeLimits::default());
            assert!(matches!(message, Message::Batch(_)), "{message:?}");
            assert_eq!(codes(&message), expected, "{}", codec.name());
        }
    }
}

/// The single-frame form of the finding above: a frame that is only a
/// number or string serde_json cannot hold was -32700, where the rule of
/// 5207a1f ("grammatical JSON that serde cannot hold is -32600, alone as
/// in a batch") makes it -32600.
#[test]
fn json_single_frame_serde_cannot_hold_is_an_invalid_request() {
    for frame in [&b"1e999"[..], br#""\ud800""#] {
        for codec in json_codecs() {
            let message = codec.decode(Bytes::from_static(frame), &DecodeLimits::default());
            assert_eq!(
                codes(&message),
                [Some(ErrorCode::InvalidRequest)],
                "{}",
                codec.name()
            );
        }
    }
}

/// Found while minimising the finding above: an unknown member was skipped
/// whatever its value, but not whatever its key. The key was read as a
/// string, so a key with a lone surrogate escape stopped the parse: -32700
/// for a valid request. That second read takes member names as bytes.
#[test]
fn json_unknown_member_key_serde_cannot_hold_is_skipped() {
    let frame = br#"{"jsonrpc":"2.0","method":"m","id":1,"\ud800":1}"#;
    for codec in json_codecs() {
        let message = codec.decode(Bytes::from_static(frame), &DecodeLimits::default());
        assert_eq!(codes(&message), [None], "{}: {message:?}", codec.name());
    }
}

/// Found by `differential_json`: serde_json's default float parser overflows
/// on `1.7976931348623158e308` (which rounds to `f64::MAX`) where simd-json
/// reads it. The workspace turns on serde_json's `float_roundtrip`, and both
/// codecs read the extremes exactly.
#[test]
fn extreme_floats_read_alike_in_both_json_codecs() {
    let frame = br#"{"jsonrpc":"2.0","method":"m","params":[1.7976931348623158e308, 5e-324, 0.1, 2.2250738585072011e-308],"id":2.5e-5}"#;
    for codec in json_codecs() {
        let floats = parse::<Vec<f64>>(&*codec, frame);
        assert_eq!(
            floats,
            Ok(vec![f64::MAX, 5e-324, 0.1, 2.225_073_858_507_201e-308]),
            "{}",
            codec.name()
        );
    }
}

/// Found by `differential_json` once `float_roundtrip` was on: serde_json
/// then reads an `f32` directly and rejects a number beyond its range, while
/// SimdJsonCodec's params deserializer forwarded `f32` to `deserialize_any`
/// and serde cast the f64 to an infinite f32. Its `deserialize_f32` now
/// rejects a finite number that narrows to an infinity. (Through the f64,
/// an f32 may also be rounded twice, one f32 ulp off serde_json's; the
/// fuzz target allows that.)
#[test]
fn simd_json_rejects_f32_overflow_like_serde_json() {
    let frame = br#"{"jsonrpc":"2.0","method":"m","params":[1e39],"id":1}"#;
    assert!(parse::<(f32,)>(&JsonCodec::default(), frame).is_err());
    let simd = parse::<(f32,)>(&SimdJsonCodec::default(), frame);
    assert!(simd.is_err(), "{simd:?}");
}
