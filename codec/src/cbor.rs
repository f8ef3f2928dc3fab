//! CBOR (RFC 8949): requests as native CBOR maps, through ciborium.
//!
//! A request is a map with text keys `jsonrpc`, `method`, `params`, `id`; a
//! batch is an array of them. Decoding walks the frame once with the
//! binary-format walker (`crate::walk`), which checks the whole frame, keeps
//! `params` as the exact bytes of its item and allocates nothing a length
//! header asks for. Both length forms are read (definite and indefinite,
//! text chunks joined), tags are skipped wherever they appear, and integers,
//! floats of all three widths and simple values are understood.
//!
//! Params are deserialised by a small serde deserializer of our own over
//! those bytes ([`de`]), not by ciborium: ciborium offers no deserializer a
//! caller can wrap, only `from_reader`, and its structs accept maps only,
//! while handlers take their params positionally too. Results and replies
//! are written by ciborium.

mod de;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codec::Builtin;
use crate::params::{drive, Failure, Tracking};
use crate::walk::{self, Fault, Format, Head, Reader};
use crate::{
    Codec, DecodeLimits, Message, RawParams, Reply, Response, Serializable, ValueError, Visit,
};

/// Media types of JSON-RPC over CBOR.
const MEDIA_TYPES: &[&str] = &["application/cbor"];

/// The CBOR codec.
///
/// ```
/// use rpckit_codec::{CborCodec, Codec, Id, Message};
///
/// // {"jsonrpc": "2.0", "method": "sum", "params": [1, 2], "id": 7}
/// let frame: &[u8] = &[
///     0xa4,
///     0x67, b'j', b's', b'o', b'n', b'r', b'p', b'c', 0x63, b'2', b'.', b'0',
///     0x66, b'm', b'e', b't', b'h', b'o', b'd', 0x63, b's', b'u', b'm',
///     0x66, b'p', b'a', b'r', b'a', b'm', b's', 0x82, 0x01, 0x02,
///     0x62, b'i', b'd', 0x07,
/// ];
/// let codec = CborCodec::default();
/// let Message::Single(Ok(request)) = codec.decode(frame.into(), &Default::default()) else {
///     panic!("valid request");
/// };
/// assert_eq!(&*request.method, "sum");
/// assert_eq!(request.id, Some(Id::Int(7)));
/// // params stay the exact bytes of the array
/// assert_eq!(&request.params.unwrap().as_bytes().unwrap()[..], &[0x82, 0x01, 0x02]);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct CborCodec {
    _private: (),
}

impl Codec for CborCodec {
    fn name(&self) -> &'static str {
        "cbor"
    }

    fn media_types(&self) -> &'static [&'static str] {
        MEDIA_TYPES
    }

    fn decode(&self, frame: Bytes, limits: &DecodeLimits) -> Message {
        walk::decode::<Cbor>(&frame, limits)
    }

    fn deserialize_params(&self, raw: &RawParams, visit: Visit<'_>) -> Result<(), ValueError> {
        let bytes = raw
            .as_bytes()
            .ok_or_else(|| ValueError::new("params were not decoded by the CBOR codec"))?;
        visit.deserialize(&mut de::Deserializer::new(bytes))
    }

    fn encode_value(&self, value: Serializable<'_>, out: &mut Vec<u8>) -> Result<(), ValueError> {
        write_value(&value, out)
    }

    fn encode_reply(&self, reply: &Reply, out: &mut Vec<u8>) {
        match reply {
            Reply::Single(response) => write_response(response, out),
            Reply::Batch(responses) => {
                write_head(out, MAJOR_ARRAY, responses.len() as u64);
                for response in responses {
                    write_response(response, out);
                }
            }
        }
    }

    fn builtin(&self) -> Option<Builtin> {
        Some(Builtin::Cbor)
    }
}

pub(crate) fn write_value<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), ValueError> {
    ciborium::into_writer(value, out).map_err(ValueError::new)
}

pub(crate) fn read_value<T: DeserializeOwned>(
    bytes: &[u8],
    tracking: Tracking,
) -> Result<T, Failure> {
    drive(&mut de::Deserializer::new(bytes), tracking)
}

const MAJOR_ARRAY: u8 = 4;
const MAJOR_TEXT: u8 = 3;
const MAJOR_MAP: u8 = 5;

/// Writes the head of an item of major type `major` with argument `arg`,
/// in its shortest form.
fn write_head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let major = major << 5;
    match arg {
        0..=23 => out.push(major | arg as u8),
        24..=0xff => out.extend_from_slice(&[major | 24, arg as u8]),
        0x100..=0xffff => {
            out.push(major | 25);
            out.extend_from_slice(&(arg as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(major | 26);
            out.extend_from_slice(&(arg as u32).to_be_bytes());
        }
        _ => {
            out.push(major | 27);
            out.extend_from_slice(&arg.to_be_bytes());
        }
    }
}

fn write_text(out: &mut Vec<u8>, text: &str) {
    write_head(out, MAJOR_TEXT, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

/// Writes `{"jsonrpc": "2.0", "result" | "error": .., "id": ..}`, the result
/// spliced in as already encoded.
fn write_response(response: &Response, out: &mut Vec<u8>) {
    write_head(out, MAJOR_MAP, 3);
    write_text(out, "jsonrpc");
    write_text(out, "2.0");
    match &response.outcome {
        Ok(result) => {
            write_text(out, "result");
            out.extend_from_slice(&result.0);
        }
        Err(error) => {
            write_text(out, "error");
            // An ErrorObject (text, an i32, a serde_json::Value) always
            // serialises; writing to a Vec cannot fail.
            ciborium::into_writer(error, &mut *out).expect("error objects serialise");
        }
    }
    write_text(out, "id");
    ciborium::into_writer(&response.id, &mut *out).expect("ids serialise");
}

/// CBOR item heads, for the walker and the params deserializer.
pub(crate) enum Cbor {}

impl Format for Cbor {
    fn head<'a>(reader: &mut Reader<'a>) -> Result<Head<'a>, Fault> {
        let at = reader.pos();
        let initial = reader.byte()?;
        let (major, info) = (initial >> 5, initial & 0x1f);
        let arg = match info {
            0..=23 => Some(u64::from(info)),
            24..=27 => Some(reader.uint(1 << (info - 24))?),
            28..=30 => {
                return Err(Fault::new(
                    at,
                    format!("reserved additional information {info}"),
                ))
            }
            _ => None,
        };
        let head = match (major, arg) {
            (0, Some(n)) => Head::Uint(n),
            (1, Some(n)) => Head::Neg(n),
            (2, Some(len)) => Head::Bytes(reader.take(len)?),
            (2, None) => Head::BytesChunks,
            (3, Some(len)) => Head::Text(reader.text(len)?),
            (3, None) => Head::TextChunks,
            (4, len) => Head::Array(len),
            (5, len) => Head::Map(len),
            (6, Some(tag)) => Head::Tag(tag),
            (7, None) => Head::Break,
            (7, Some(arg)) => match info {
                20 => Head::Bool(false),
                21 => Head::Bool(true),
                22 => Head::Null,
                0..=23 => Head::Simple(info),
                24 if arg < 32 => {
                    return Err(Fault::new(at, "a two-byte simple value below 32"));
                }
                24 => Head::Simple(arg as u8),
                25 => Head::Float(f64::from(half_to_f32(arg as u16))),
                26 => Head::Float(f64::from(f32::from_bits(arg as u32))),
                _ => Head::Float(f64::from_bits(arg)),
            },
            _ => {
                return Err(Fault::new(
                    at,
                    "an indefinite length on an item that has none",
                ))
            }
        };
        Ok(head)
    }
}

/// Widens an IEEE 754 half-precision float (RFC 8949, appendix D).
fn half_to_f32(half: u16) -> f32 {
    let sign = if half & 0x8000 == 0 { 1.0 } else { -1.0 };
    let exponent = i32::from((half >> 10) & 0x1f);
    let mantissa = f32::from(half & 0x3ff);
    sign * match exponent {
        0 => mantissa * 2f32.powi(-24),
        31 if mantissa == 0.0 => f32::INFINITY,
        31 => f32::NAN,
        _ => (1.0 + mantissa / 1024.0) * 2f32.powi(exponent - 15),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use serde::Deserialize;
    use serde_json::{json, Value};

    use super::*;
    use crate::walk::testing::{self, code, decode, request, shape};
    use crate::{parse_params, ErrorCode, Id};

    const CODEC: CborCodec = CborCodec { _private: () };

    fn encode(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(value, &mut out).unwrap();
        out
    }

    fn read(bytes: &[u8]) -> Value {
        ciborium::from_reader(bytes).unwrap()
    }

    fn head(major: u8, arg: u64) -> Vec<u8> {
        let mut out = Vec::new();
        write_head(&mut out, major, arg);
        out
    }

    fn text(value: &str) -> Vec<u8> {
        let mut out = Vec::new();
        write_text(&mut out, value);
        out
    }

    /// A definite-length map of raw key and value bytes.
    fn map(entries: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = head(MAJOR_MAP, entries.len() as u64);
        for (key, value) in entries {
            out.extend_from_slice(key);
            out.extend_from_slice(value);
        }
        out
    }

    /// A request with `jsonrpc` and `method` and the given extra entries.
    fn with(entries: &[(&[u8], &[u8])]) -> Vec<u8> {
        let (jsonrpc, version, method, name) =
            (text("jsonrpc"), text("2.0"), text("method"), text("m"));
        let mut all: Vec<(&[u8], &[u8])> = vec![(&jsonrpc, &version), (&method, &name)];
        all.extend_from_slice(entries);
        map(&all)
    }

    fn with_id(id: &[u8]) -> Vec<u8> {
        with(&[(&text("id"), id)])
    }

    fn with_params(params: &[u8]) -> Vec<u8> {
        with(&[(&text("params"), params), (&text("id"), &[0x01])])
    }

    #[test]
    fn spec_examples() {
        testing::spec_examples(&CODEC, encode);
    }

    #[test]
    fn invalid_requests() {
        testing::invalid_requests(&CODEC, encode);
    }

    #[test]
    fn ids_and_members() {
        testing::ids_and_members(&CODEC, encode);
    }

    #[test]
    fn truncation_and_trailing() {
        testing::truncation_and_trailing(&CODEC, encode);
    }

    #[test]
    fn depth_and_batch_limits() {
        testing::depth_and_batch_limits(&CODEC, encode);
    }

    #[test]
    fn mutations_never_panic() {
        testing::mutations_never_panic(&CODEC, encode);
    }

    #[test]
    fn params_forms() {
        testing::params_forms(&CODEC, encode);
    }

    #[test]
    fn round_trip() {
        testing::round_trip(&CODEC, encode, read);
    }

    #[test]
    fn codec_identity() {
        assert_eq!(CODEC.name(), "cbor");
        assert_eq!(CODEC.media_types(), ["application/cbor"]);
        assert_eq!(CODEC.builtin(), Some(Builtin::Cbor));
    }

    #[test]
    fn ids_of_every_cbor_kind() {
        let cases: [(&[u8], Id); 12] = [
            (&[0xf6], Id::Null),
            (&[0x17], Id::Int(23)),
            (&[0x18, 0xff], Id::Int(255)),
            (
                &[0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                Id::Uint(u64::MAX),
            ),
            (
                &[0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                Id::Int(i64::MIN),
            ),
            (&[0x20], Id::Int(-1)),
            (&[0xf9, 0x3e, 0x00], Id::Float(1.5)),
            (&[0xf9, 0x00, 0x01], Id::Float(2f64.powi(-24))),
            (&[0xfa, 0x3f, 0xc0, 0x00, 0x00], Id::Float(1.5)),
            (&[0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0], Id::Float(1.5)),
            (&[0x7f, 0x61, b'a', 0x62, b'b', b'c', 0xff], Id::from("abc")),
            (&[0xc0, 0x61, b'x'], Id::from("x")),
        ];
        for (id, expected) in cases {
            assert_eq!(
                request(decode(&CODEC, &with_id(id))).id,
                Some(expected),
                "{id:x?}"
            );
        }
        for id in [
            &[0xf5][..],                                             // true
            &[0xf7],                                                 // undefined
            &[0xf0],                                                 // simple(16)
            &[0x80],                                                 // []
            &[0xa0],                                                 // {}
            &[0x41, 0x01],                                           // bytes
            &[0xc2, 0x41, 0x01],                                     // bignum
            &[0x3b, 0x80, 0, 0, 0, 0, 0, 0, 0],                      // -2^63 - 1
            &[0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // -2^64
            &[0xf9, 0x7e, 0x00],                                     // NaN
            &[0xf9, 0x7c, 0x00],                                     // infinity
            &[0xfb, 0xff, 0xf0, 0, 0, 0, 0, 0, 0],                   // -infinity
        ] {
            assert_eq!(
                code(&decode(&CODEC, &with_id(id))),
                ErrorCode::InvalidRequest,
                "{id:x?}"
            );
        }
    }

    #[test]
    fn lengths_tags_and_chunks() {
        // An indefinite-length map with a chunked key, a tagged method, and
        // indefinite-length params kept as their exact bytes.
        let params = [
            0x9f, 0x01, 0x7f, 0x61, b'a', 0xff, 0xbf, 0x61, b'k', 0xf6, 0xff, 0xff,
        ];
        let mut frame = vec![0xbf];
        frame.extend_from_slice(&[
            0x7f, 0x63, b'j', b's', b'o', 0x64, b'n', b'r', b'p', b'c', 0xff,
        ]);
        frame.extend_from_slice(&text("2.0"));
        frame.extend_from_slice(&text("method"));
        frame.extend_from_slice(&[0xd8, 0x20]); // tag 32 (URI), ignored
        frame.extend_from_slice(&text("call"));
        frame.extend_from_slice(&text("params"));
        frame.extend_from_slice(&[0xc1]); // tag 1, skipped: params start after it
        frame.extend_from_slice(&params);
        frame.extend_from_slice(&text("id"));
        frame.extend_from_slice(&[0x02]);
        frame.push(0xff);
        // Wrapped in the self-describe tag 55799.
        let mut described = vec![0xd9, 0xd9, 0xf7];
        described.extend_from_slice(&frame);
        for frame in [frame, described] {
            let request = request(decode(&CODEC, &frame));
            assert_eq!(&*request.method, "call");
            assert_eq!(request.id, Some(Id::Int(2)));
            let raw = request.params.unwrap();
            assert_eq!(&raw.as_bytes().unwrap()[..], &params);
            let value: Value = parse_params(&CODEC, Some(&raw)).unwrap();
            assert_eq!(value, json!([1, "a", {"k": null}]));
        }
        // An indefinite-length batch.
        let mut batch = vec![0x9f];
        batch.extend_from_slice(&with_id(&[0x01]));
        batch.extend_from_slice(&[0x01, 0xff]);
        assert_eq!(
            shape(&decode(&CODEC, &batch)),
            json!([{"method": "m", "id": 1}, -32600])
        );
        // Unknown members with keys of any kind are skipped.
        let frame = with(&[
            (&[0x01], &[0x02]),
            (&[0x82, 0x01, 0x02], &[0xa1, 0x01, 0x02]),
            (&[0x41, 0x00], &[0xf7]),
            (&text("other"), &[0xfb, 0, 0, 0, 0, 0, 0, 0, 0]),
            (&text("id"), &text("i")),
        ]);
        assert_eq!(request(decode(&CODEC, &frame)).id, Some(Id::from("i")));
    }

    #[test]
    fn malformed_is_a_parse_error() {
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("reserved info 28", vec![0x1c]),
            ("reserved info 29", with_id(&[0x3d])),
            ("reserved info 30 in params", with_params(&[0x81, 0x5e])),
            ("reserved info 28 in a float", with_id(&[0xfc])),
            ("indefinite integer", with_id(&[0x1f])),
            ("indefinite tag", with_id(&[0xdf, 0x01])),
            ("stray break", vec![0xff]),
            (
                "break in a definite array",
                with_params(&[0x82, 0x01, 0xff]),
            ),
            ("break as a value", vec![0xbf, 0x61, b'a', 0xff]),
            ("tag without content", vec![0x9f, 0xc1, 0xff]),
            ("wrong chunk kind", with_id(&[0x7f, 0x41, b'a', 0xff])),
            ("nested chunk", with_params(&[0x81, 0x5f, 0x5f, 0xff, 0xff])),
            ("two-byte simple below 32", with_params(&[0x81, 0xf8, 0x10])),
            ("unterminated indefinite", vec![0x9f, 0x01]),
            ("trailing bytes", {
                let mut f = with_id(&[0x01]);
                f.push(0x00);
                f
            }),
            (
                "text claims 2^62 bytes",
                with_id(&[0x7b, 0x40, 0, 0, 0, 0, 0, 0, 0]),
            ),
            (
                "bytes claim 2^64 - 1",
                with_params(&[0x81, 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            ),
            (
                "params claim 2^62 items",
                with_params(&[0x9b, 0x40, 0, 0, 0, 0, 0, 0, 0, 0x01]),
            ),
            (
                "map claims 2^63 entries",
                with_params(&[0xbb, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            ),
            (
                "batch claims 2^62 entries",
                vec![0x9b, 0x40, 0, 0, 0, 0, 0, 0, 0],
            ),
            (
                "invalid UTF-8 in method",
                map(&[
                    (&text("jsonrpc"), &text("2.0")),
                    (&text("method"), &[0x61, 0xff]),
                ]),
            ),
            (
                "invalid UTF-8 in params",
                with_params(&[0x81, 0x62, 0xc3, 0x28]),
            ),
            ("invalid UTF-8 in a key", with(&[(&[0x61, 0x80], &[0x01])])),
            (
                "invalid UTF-8 in a chunk",
                with_id(&[0x7f, 0x61, 0xc3, 0x61, 0xa9, 0xff]),
            ),
            (
                "invalid UTF-8 in an unknown member",
                with(&[(&text("x"), &[0x82, 0x01, 0x61, 0xfe])]),
            ),
            (
                "invalid UTF-8 in a batch's non-request",
                vec![0x81, 0x61, 0xff],
            ),
        ];
        for (what, frame) in cases {
            let started = Instant::now();
            assert_eq!(
                code(&decode(&CODEC, &frame)),
                ErrorCode::ParseError,
                "{what}"
            );
            assert!(started.elapsed() < Duration::from_secs(1), "{what}");
        }
    }

    #[test]
    fn deep_nesting_is_a_parse_error_without_recursion() {
        for opener in [0x81u8, 0x9f, 0xa1] {
            let mut deep = vec![opener; 100_000];
            deep.push(0x01);
            let started = Instant::now();
            assert_eq!(code(&decode(&CODEC, &deep)), ErrorCode::ParseError);
            assert_eq!(
                code(&decode(&CODEC, &with_params(&deep))),
                ErrorCode::ParseError
            );
            assert!(started.elapsed() < Duration::from_secs(1));
            // The params deserializer holds on its own, for params from anywhere.
            let raw = RawParams::from_bytes(deep.into());
            assert!(parse_params::<Value>(&CODEC, Some(&raw)).is_err());
            assert!(parse_params::<serde::de::IgnoredAny>(&CODEC, Some(&raw)).is_err());
        }
        // Just inside the limit is fine.
        let limit = DecodeLimits::default().depth();
        let mut params = vec![0x81; limit - 1];
        params.push(0x01);
        assert!(matches!(
            decode(&CODEC, &with_params(&params)),
            Message::Single(Ok(_))
        ));
        let mut params = vec![0x81; limit];
        params.push(0x01);
        assert_eq!(
            code(&decode(&CODEC, &with_params(&params))),
            ErrorCode::ParseError
        );
    }

    #[test]
    fn duplicate_members_are_invalid() {
        for key in ["jsonrpc", "method", "params", "id"] {
            let value = if key == "params" {
                vec![0x80]
            } else {
                text("2.0")
            };
            let frame = with(&[
                (&text("id"), &[0x01]),
                (&text("params"), &[0x80]),
                (&text(key), &value),
            ]);
            assert_eq!(
                code(&decode(&CODEC, &frame)),
                ErrorCode::InvalidRequest,
                "{key}"
            );
        }
    }

    /// The params deserializer against ciborium: what one writes, the
    /// other reads back the same.
    #[test]
    fn params_deserializer_reads_what_ciborium_writes() {
        #[derive(Debug, PartialEq, serde::Serialize, Deserialize)]
        enum Shape {
            Unit,
            Newtype(u8),
            Tuple(i16, String),
            Struct { w: f32, h: Option<f64> },
        }
        #[derive(Debug, PartialEq, serde::Serialize, Deserialize)]
        struct All {
            small: i8,
            big: u64,
            neg: i64,
            wide: i128,
            text: String,
            chars: Vec<char>,
            shapes: Vec<Shape>,
            map: std::collections::BTreeMap<u32, Vec<bool>>,
            unit: (),
            maybe: Option<Box<All>>,
        }
        let value = All {
            small: -128,
            big: u64::MAX,
            neg: i64::MIN,
            wide: -5,
            text: "ünïcode".into(),
            chars: vec!['a', 'é'],
            shapes: vec![
                Shape::Unit,
                Shape::Newtype(7),
                Shape::Tuple(-2, "t".into()),
                Shape::Struct { w: 1.5, h: None },
                Shape::Struct {
                    w: 0.0,
                    h: Some(-1e100),
                },
            ],
            map: [(1, vec![true]), (70_000, vec![])].into_iter().collect(),
            unit: (),
            maybe: None,
        };
        let value = All {
            maybe: Some(Box::new(value)),
            ..All {
                small: 0,
                big: 0,
                neg: 0,
                wide: 0,
                text: String::new(),
                chars: vec![],
                shapes: vec![],
                map: Default::default(),
                unit: (),
                maybe: None,
            }
        };
        let mut bytes = Vec::new();
        ciborium::into_writer(&value, &mut bytes).unwrap();
        let back: All = read_value(&bytes, Tracking::Off).unwrap_or_else(|_| panic!("reads back"));
        assert_eq!(back, value);

        let tree =
            json!({"a": [1, -2, 3.5, "x", null, true, {"b": []}], "c": u64::MAX, "d": i64::MIN});
        let back: Value =
            read_value(&encode(&tree), Tracking::Off).unwrap_or_else(|_| panic!("reads back"));
        assert_eq!(back, tree);

        // Byte strings, definite and chunked, borrowed where they can be.
        let bytes: ciborium::Value = read_value(
            &[0x82, 0x42, 1, 2, 0x5f, 0x41, 3, 0x40, 0x41, 4, 0xff],
            Tracking::Off,
        )
        .unwrap_or_else(|_| panic!("reads back"));
        assert_eq!(
            bytes,
            ciborium::Value::Array(vec![
                ciborium::Value::Bytes(vec![1, 2]),
                ciborium::Value::Bytes(vec![3, 4])
            ])
        );
        #[derive(Deserialize)]
        struct Borrowing<'a> {
            #[serde(borrow)]
            name: &'a str,
        }
        let frame = [0x81, 0x63, b'a', b'b', b'c'];
        let mut de = de::Deserializer::new(&frame);
        assert_eq!(Borrowing::deserialize(&mut de).unwrap().name, "abc");
    }

    /// A codec that wraps this one takes the type-erased path.
    #[test]
    fn erased_params_path() {
        #[derive(Debug)]
        struct Wrapped(CborCodec);
        impl Codec for Wrapped {
            fn name(&self) -> &'static str {
                "wrapped"
            }
            fn media_types(&self) -> &'static [&'static str] {
                &[]
            }
            fn decode(&self, frame: Bytes, limits: &DecodeLimits) -> Message {
                self.0.decode(frame, limits)
            }
            fn deserialize_params(
                &self,
                raw: &RawParams,
                visit: Visit<'_>,
            ) -> Result<(), ValueError> {
                self.0.deserialize_params(raw, visit)
            }
            fn encode_value(
                &self,
                value: Serializable<'_>,
                out: &mut Vec<u8>,
            ) -> Result<(), ValueError> {
                self.0.encode_value(value, out)
            }
            fn encode_reply(&self, reply: &Reply, out: &mut Vec<u8>) {
                self.0.encode_reply(reply, out)
            }
        }
        testing::params_forms(&Wrapped(CODEC), encode);
        let encoded = crate::encode_value(&Wrapped(CODEC), &json!({"k": [1]})).unwrap();
        assert_eq!(read(&encoded.0), json!({"k": [1]}));
    }
}
