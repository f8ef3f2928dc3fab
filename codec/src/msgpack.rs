//! MessagePack: requests as native MessagePack maps, through rmp-serde.
//!
//! A request is a map with str keys `jsonrpc`, `method`, `params`, `id`; a
//! batch is an array of them. Decoding walks the frame once with the
//! binary-format walker (`crate::walk`), which checks the whole frame, keeps
//! `params` as the exact bytes of its item and allocates nothing a length
//! header asks for. Every format family is read; `0xc1`, which MessagePack
//! never uses, is malformed.
//!
//! Params are deserialised by rmp-serde, whose structs read from an array
//! (positional) or a map (named) alike. Results are written with structs as
//! maps (`write_named`), which is what clients in other languages expect.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codec::Builtin;
use crate::params::{drive, Failure, Tracking};
use crate::walk::{self, Fault, Format, Head, Reader};
use crate::{
    Codec, DecodeLimits, Message, RawParams, Reply, Response, Serializable, ValueError, Visit,
};

/// Media types of JSON-RPC over MessagePack. `application/msgpack` is what
/// replies carry.
const MEDIA_TYPES: &[&str] = &[
    "application/msgpack",
    "application/x-msgpack",
    "application/vnd.msgpack",
];

/// How deep rmp-serde may recurse into params, well within the stack of any
/// thread. Frames from the codec have already passed the configured limit.
const MAX_DEPTH: usize = 256;

/// The MessagePack codec.
///
/// ```
/// use rpckit_codec::{Codec, Id, Message, MsgPackCodec};
///
/// // {"jsonrpc": "2.0", "method": "sum", "params": [1, 2], "id": "a"}
/// let frame: &[u8] = &[
///     0x84,
///     0xa7, b'j', b's', b'o', b'n', b'r', b'p', b'c', 0xa3, b'2', b'.', b'0',
///     0xa6, b'm', b'e', b't', b'h', b'o', b'd', 0xa3, b's', b'u', b'm',
///     0xa6, b'p', b'a', b'r', b'a', b'm', b's', 0x92, 0x01, 0x02,
///     0xa2, b'i', b'd', 0xa1, b'a',
/// ];
/// let codec = MsgPackCodec::default();
/// let Message::Single(Ok(request)) = codec.decode(frame.into(), &Default::default()) else {
///     panic!("valid request");
/// };
/// assert_eq!(&*request.method, "sum");
/// assert_eq!(request.id, Some(Id::from("a")));
/// // params stay the exact bytes of the array
/// assert_eq!(&request.params.unwrap().as_bytes().unwrap()[..], &[0x92, 0x01, 0x02]);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct MsgPackCodec {
    _private: (),
}

impl Codec for MsgPackCodec {
    fn name(&self) -> &'static str {
        "msgpack"
    }

    fn media_types(&self) -> &'static [&'static str] {
        MEDIA_TYPES
    }

    fn decode(&self, frame: Bytes, limits: &DecodeLimits) -> Message {
        walk::decode::<MsgPack>(&frame, limits)
    }

    fn deserialize_params(&self, raw: &RawParams, visit: Visit<'_>) -> Result<(), ValueError> {
        let bytes = raw
            .as_bytes()
            .ok_or_else(|| ValueError::new("params were not decoded by the MessagePack codec"))?;
        visit.deserialize(&mut deserializer(bytes))
    }

    fn encode_value(&self, value: Serializable<'_>, out: &mut Vec<u8>) -> Result<(), ValueError> {
        write_value(&value, out)
    }

    fn encode_reply(&self, reply: &Reply, out: &mut Vec<u8>) {
        match reply {
            Reply::Single(response) => write_response(response, out),
            Reply::Batch(responses) => {
                write_array_len(out, responses.len());
                for response in responses {
                    write_response(response, out);
                }
            }
        }
    }

    fn builtin(&self) -> Option<Builtin> {
        Some(Builtin::MsgPack)
    }
}

pub(crate) fn write_value<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), ValueError> {
    rmp_serde::encode::write_named(out, value).map_err(ValueError::new)
}

pub(crate) fn read_value<T: DeserializeOwned>(
    bytes: &[u8],
    tracking: Tracking,
) -> Result<T, Failure> {
    drive(&mut deserializer(bytes), tracking)
}

fn deserializer(
    bytes: &[u8],
) -> rmp_serde::Deserializer<rmp_serde::decode::ReadRefReader<'_, [u8]>> {
    let mut deserializer = rmp_serde::Deserializer::from_read_ref(bytes);
    deserializer.set_max_depth(MAX_DEPTH);
    deserializer
}

fn write_array_len(out: &mut Vec<u8>, len: usize) {
    match len {
        0..=15 => out.push(0x90 | len as u8),
        16..=0xffff => {
            out.push(0xdc);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            // A reply has one response per request of a batch, and batches
            // are limited far below 2^32.
            out.push(0xdd);
            out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
        }
    }
}

/// Writes a short str (under 32 bytes) as a fixstr.
fn write_fixstr(out: &mut Vec<u8>, text: &str) {
    debug_assert!(text.len() < 32);
    out.push(0xa0 | text.len() as u8);
    out.extend_from_slice(text.as_bytes());
}

/// Writes `{"jsonrpc": "2.0", "result" | "error": .., "id": ..}`, the result
/// spliced in as already encoded.
fn write_response(response: &Response, out: &mut Vec<u8>) {
    out.push(0x83);
    write_fixstr(out, "jsonrpc");
    write_fixstr(out, "2.0");
    match &response.outcome {
        Ok(result) => {
            write_fixstr(out, "result");
            out.extend_from_slice(&result.0);
        }
        Err(error) => {
            write_fixstr(out, "error");
            // An ErrorObject (strings, an i32, a serde_json::Value) always
            // serialises; writing to a Vec cannot fail.
            rmp_serde::encode::write_named(out, error).expect("error objects serialise");
        }
    }
    write_fixstr(out, "id");
    rmp_serde::encode::write_named(out, &response.id).expect("ids serialise");
}

/// MessagePack item heads, for the walker.
enum MsgPack {}

impl Format for MsgPack {
    fn head<'a>(reader: &mut Reader<'a>) -> Result<Head<'a>, Fault> {
        let at = reader.pos();
        let marker = reader.byte()?;
        let head = match marker {
            0x00..=0x7f => Head::Uint(u64::from(marker)),
            0x80..=0x8f => Head::Map(Some(u64::from(marker & 0x0f))),
            0x90..=0x9f => Head::Array(Some(u64::from(marker & 0x0f))),
            0xa0..=0xbf => Head::Text(reader.text(u64::from(marker & 0x1f))?),
            0xc0 => Head::Null,
            0xc1 => return Err(Fault::new(at, "the never-used marker 0xc1")),
            0xc2 => Head::Bool(false),
            0xc3 => Head::Bool(true),
            0xc4..=0xc6 => {
                let len = reader.uint(1 << (marker - 0xc4))?;
                Head::Bytes(reader.take(len)?)
            }
            0xc7..=0xc9 => {
                let len = reader.uint(1 << (marker - 0xc7))?;
                let kind = reader.byte()? as i8;
                Head::Ext(kind, reader.take(len)?)
            }
            0xca => Head::Float(f64::from(f32::from_bits(reader.uint(4)? as u32))),
            0xcb => Head::Float(f64::from_bits(reader.uint(8)?)),
            0xcc..=0xcf => Head::Uint(reader.uint(1 << (marker - 0xcc))?),
            0xd0..=0xd3 => {
                let width = 1 << (marker - 0xd0);
                let raw = reader.uint(width)?;
                // Sign-extend from `width` bytes.
                let shift = 64 - 8 * width as u32;
                signed(((raw << shift) as i64) >> shift)
            }
            0xd4..=0xd8 => {
                let kind = reader.byte()? as i8;
                Head::Ext(kind, reader.take(1 << (marker - 0xd4))?)
            }
            0xd9..=0xdb => {
                let len = reader.uint(1 << (marker - 0xd9))?;
                Head::Text(reader.text(len)?)
            }
            0xdc | 0xdd => Head::Array(Some(reader.uint(2 << (marker - 0xdc))?)),
            0xde | 0xdf => Head::Map(Some(reader.uint(2 << (marker - 0xde))?)),
            0xe0..=0xff => signed(i64::from(marker as i8)),
        };
        Ok(head)
    }
}

fn signed(n: i64) -> Head<'static> {
    if n >= 0 {
        Head::Uint(n as u64)
    } else {
        // -1 - m == n  ⇔  m == !n
        Head::Neg(!n as u64)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use serde::de::IgnoredAny;
    use serde_json::{json, Value};

    use super::*;
    use crate::walk::testing::{self, code, decode, request};
    use crate::{parse_params, ErrorCode, Id};

    const CODEC: MsgPackCodec = MsgPackCodec { _private: () };

    fn encode(value: &Value) -> Vec<u8> {
        rmp_serde::to_vec_named(value).unwrap()
    }

    fn read(bytes: &[u8]) -> Value {
        rmp_serde::from_slice(bytes).unwrap()
    }

    fn text(value: &str) -> Vec<u8> {
        encode(&json!(value))
    }

    /// A map of raw key and value bytes.
    fn map(entries: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = vec![0xde];
        out.extend_from_slice(&(entries.len() as u16).to_be_bytes());
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
        assert_eq!(CODEC.name(), "msgpack");
        assert_eq!(
            CODEC.media_types(),
            [
                "application/msgpack",
                "application/x-msgpack",
                "application/vnd.msgpack"
            ]
        );
        assert_eq!(CODEC.builtin(), Some(Builtin::MsgPack));
    }

    #[test]
    fn ids_of_every_msgpack_kind() {
        let cases: [(&[u8], Id); 19] = [
            (&[0xc0], Id::Null),
            (&[0x7f], Id::Int(127)),
            (&[0xe0], Id::Int(-32)),
            (&[0xff], Id::Int(-1)),
            (&[0xcc, 0xff], Id::Int(255)),
            (&[0xcd, 0xff, 0xff], Id::Int(65_535)),
            (&[0xce, 0xff, 0xff, 0xff, 0xff], Id::Int(u32::MAX.into())),
            (
                &[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                Id::Uint(u64::MAX),
            ),
            (&[0xd0, 0x80], Id::Int(-128)),
            (&[0xd0, 0x05], Id::Int(5)),
            (&[0xd1, 0x80, 0x00], Id::Int(i16::MIN.into())),
            (&[0xd2, 0x80, 0, 0, 0], Id::Int(i32::MIN.into())),
            (&[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0], Id::Int(i64::MIN)),
            (
                &[0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                Id::Int(i64::MAX),
            ),
            (&[0xca, 0x3f, 0xc0, 0, 0], Id::Float(1.5)),
            (&[0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0], Id::Float(1.5)),
            (&[0xd9, 0x01, b'a'], Id::from("a")),
            (&[0xda, 0x00, 0x01, b'b'], Id::from("b")),
            (&[0xdb, 0, 0, 0, 0x01, b'c'], Id::from("c")),
        ];
        for (id, expected) in cases {
            assert_eq!(
                request(decode(&CODEC, &with_id(id))).id,
                Some(expected),
                "{id:x?}"
            );
        }
        for id in [
            &[0xc2][..],
            &[0xc3],
            &[0xc4, 0x01, 0x00],
            &[0xd4, 0x01, 0x00],
            &[0xd6, 0xff, 0, 0, 0, 0], // timestamp
            &[0x90],
            &[0x80],
            &[0xdc, 0x00, 0x00],
            &[0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0], // NaN
            &[0xca, 0xff, 0x80, 0, 0],             // -infinity
        ] {
            assert_eq!(
                code(&decode(&CODEC, &with_id(id))),
                ErrorCode::InvalidRequest,
                "{id:x?}"
            );
        }
    }

    /// Every format family inside params: accepted, kept byte for byte.
    #[test]
    fn every_family_in_params() {
        let items: &[&[u8]] = &[
            &[0x00],
            &[0x7f],
            &[0xe0],
            &[0xc0],
            &[0xc2],
            &[0xc3],
            &[0x80],
            &[0x81, 0xa1, b'k', 0x01],
            &[0x91, 0x01],
            &[0xa0],
            &[0xa2, b'h', b'i'],
            &[0xc4, 0x02, 1, 2],
            &[0xc5, 0x00, 0x01, 3],
            &[0xc6, 0x00, 0x00, 0x00, 0x01, 4],
            &[0xc7, 0x02, 0x05, 1, 2],
            &[0xc8, 0x00, 0x01, 0x05, 1],
            &[0xc9, 0x00, 0x00, 0x00, 0x00, 0x05],
            &[0xca, 0x40, 0x00, 0x00, 0x00],
            &[0xcb, 0x40, 0x08, 0, 0, 0, 0, 0, 0],
            &[0xcc, 0x80],
            &[0xcd, 0x01, 0x00],
            &[0xce, 0x00, 0x01, 0x00, 0x00],
            &[0xcf, 0, 0, 0, 1, 0, 0, 0, 0],
            &[0xd0, 0xff],
            &[0xd1, 0xff, 0x00],
            &[0xd2, 0xff, 0xff, 0x00, 0x00],
            &[0xd3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0],
            &[0xd4, 0x01, 0xaa],
            &[0xd5, 0x01, 0xaa, 0xbb],
            &[0xd6, 0x01, 1, 2, 3, 4],
            &[0xd7, 0x01, 1, 2, 3, 4, 5, 6, 7, 8],
            &[
                0xd8, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
            ],
            &[0xd9, 0x01, b'x'],
            &[0xda, 0x00, 0x01, b'y'],
            &[0xdb, 0x00, 0x00, 0x00, 0x01, b'z'],
            &[0xdc, 0x00, 0x01, 0xc0],
            &[0xdd, 0x00, 0x00, 0x00, 0x01, 0xc0],
            &[0xde, 0x00, 0x01, 0xa1, b'a', 0xc0],
            &[0xdf, 0x00, 0x00, 0x00, 0x01, 0x01, 0xc0],
        ];
        let mut params = vec![0xdc];
        params.extend_from_slice(&(items.len() as u16).to_be_bytes());
        for item in items {
            params.extend_from_slice(item);
        }
        let raw = request(decode(&CODEC, &with_params(&params)))
            .params
            .unwrap();
        assert_eq!(&raw.as_bytes().unwrap()[..], &params[..]);
        let all: Vec<IgnoredAny> = parse_params(&CODEC, Some(&raw)).unwrap();
        assert_eq!(all.len(), items.len());
        // The non-extension part reads as values.
        let some = &items[..11];
        let mut params = vec![0x90 | some.len() as u8];
        for item in some {
            params.extend_from_slice(item);
        }
        let raw = request(decode(&CODEC, &with_params(&params)))
            .params
            .unwrap();
        let values: Value = parse_params(&CODEC, Some(&raw)).unwrap();
        assert_eq!(
            values,
            json!([0, 127, -32, null, false, true, {}, {"k": 1}, [1], "", "hi"])
        );
    }

    #[test]
    fn malformed_is_a_parse_error() {
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("0xc1", vec![0xc1]),
            ("0xc1 as the id", with_id(&[0xc1])),
            ("0xc1 in params", with_params(&[0x92, 0x01, 0xc1])),
            ("0xc1 as a key", with(&[(&[0xc1], &[0x01])])),
            (
                "0xc1 in an unknown member",
                with(&[(&text("x"), &[0x91, 0xc1])]),
            ),
            ("0xc1 in a batch", vec![0x91, 0xc1]),
            ("trailing bytes", {
                let mut f = with_id(&[0x01]);
                f.push(0xc0);
                f
            }),
            (
                "str32 claims 4 GiB",
                with_id(&[0xdb, 0xff, 0xff, 0xff, 0xff]),
            ),
            (
                "bin32 claims 4 GiB",
                with_params(&[0x91, 0xc6, 0xff, 0xff, 0xff, 0xff]),
            ),
            (
                "ext32 claims 4 GiB",
                with_params(&[0x91, 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01]),
            ),
            (
                "array32 claims 2^32 - 1 items",
                with_params(&[0xdd, 0xff, 0xff, 0xff, 0xff, 0x01]),
            ),
            (
                "map32 claims 2^32 - 1 entries",
                with_params(&[0xdf, 0xff, 0xff, 0xff, 0xff]),
            ),
            (
                "batch claims 2^32 - 1 entries",
                vec![0xdd, 0xff, 0xff, 0xff, 0xff],
            ),
            (
                "truncated fixext16",
                with_params(&[0x91, 0xd8, 0x01, 1, 2, 3]),
            ),
            ("truncated uint64", vec![0xcf, 0x00]),
            ("map missing a value", vec![0x81, 0xa1, b'a']),
            (
                "invalid UTF-8 in method",
                map(&[
                    (&text("jsonrpc"), &text("2.0")),
                    (&text("method"), &[0xa1, 0xff]),
                ]),
            ),
            (
                "invalid UTF-8 in params",
                with_params(&[0x91, 0xa2, 0xc3, 0x28]),
            ),
            ("invalid UTF-8 in a key", with(&[(&[0xa1, 0x80], &[0x01])])),
            ("invalid UTF-8 in str8", with_id(&[0xd9, 0x01, 0xfe])),
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
        for opener in [0x91u8, 0x81, 0xdc] {
            let mut deep = Vec::new();
            for _ in 0..100_000 {
                deep.push(opener);
                if opener == 0xdc {
                    deep.extend_from_slice(&[0x00, 0x01]);
                }
            }
            deep.push(0x01);
            let started = Instant::now();
            assert_eq!(code(&decode(&CODEC, &deep)), ErrorCode::ParseError);
            assert_eq!(
                code(&decode(&CODEC, &with_params(&deep))),
                ErrorCode::ParseError
            );
            assert!(started.elapsed() < Duration::from_secs(1));
            // rmp-serde holds on its own, for params from anywhere.
            let raw = RawParams::from_bytes(deep.into());
            assert!(parse_params::<Value>(&CODEC, Some(&raw)).is_err());
        }
        let limit = DecodeLimits::default().depth();
        let mut params = vec![0x91; limit - 1];
        params.push(0x01);
        assert!(matches!(
            decode(&CODEC, &with_params(&params)),
            Message::Single(Ok(_))
        ));
        let mut params = vec![0x91; limit];
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
                vec![0x90]
            } else {
                text("2.0")
            };
            let frame = with(&[
                (&text("id"), &[0x01]),
                (&text("params"), &[0x90]),
                (&text(key), &value),
            ]);
            assert_eq!(
                code(&decode(&CODEC, &frame)),
                ErrorCode::InvalidRequest,
                "{key}"
            );
        }
    }

    #[test]
    fn unknown_members_of_any_key_kind_are_skipped() {
        let frame = with(&[
            (&[0x01], &[0x02]),
            (&[0x92, 0x01, 0x02], &[0x81, 0x01, 0x02]),
            (&[0xc4, 0x02, b'i', b'd'], &[0xc3]),
            (&[0xd4, 0x00, 0x00], &[0xc0]),
            (&text("other"), &[0xcb, 0, 0, 0, 0, 0, 0, 0, 0]),
            (&text("id"), &text("i")),
        ]);
        assert_eq!(request(decode(&CODEC, &frame)).id, Some(Id::from("i")));
    }

    /// A codec that wraps this one takes the type-erased path.
    #[test]
    fn erased_params_path() {
        #[derive(Debug)]
        struct Wrapped(MsgPackCodec);
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
        #[derive(Serialize)]
        struct Named {
            k: u8,
        }
        // Structs are written as maps, not arrays.
        let encoded = crate::encode_value(&Wrapped(CODEC), &Named { k: 1 }).unwrap();
        assert_eq!(read(&encoded.0), json!({"k": 1}));
        let encoded = crate::encode_value(&CODEC, &Named { k: 1 }).unwrap();
        assert_eq!(&encoded.0[..], &[0x81, 0xa1, b'k', 0x01]);
    }
}
