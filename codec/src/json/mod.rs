//! JSON through serde_json: the default codec.
//!
//! Decoding borrows from the frame: the envelope is read in one pass into
//! borrowed fields, and `params` is kept as the exact byte range of the
//! frame ([`serde_json::value::RawValue`]), so no value tree is built. The
//! handler's own type is deserialised from that range later, once.

use std::borrow::Cow;
use std::fmt;

use bytes::Bytes;
use serde::de::{
    self, Deserialize, DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny, MapAccess,
    SeqAccess, Visitor,
};
use serde_json::value::RawValue;

use crate::codec::Builtin;
use crate::params::{drive, Failure, Tracking};
use crate::{
    Codec, DecodeLimits, Entry, ErrorObject, Id, Message, RawParams, Reply, Request, Response,
    Serializable, ValueError, Visit,
};

mod scan;
mod write;

pub(crate) use write::write_value;

/// Media types of JSON-RPC over JSON. `application/json` is what replies carry.
pub(crate) const MEDIA_TYPES: &[&str] = &[
    "application/json",
    "application/json-rpc",
    "application/jsonrequest",
];

/// The JSON codec, on serde_json.
///
/// ```
/// use rpckit_codec::{Codec, JsonCodec, Message};
///
/// let codec = JsonCodec::default();
/// let frame = br#"{"jsonrpc":"2.0","method":"sum","params":[1,2],"id":"a"}"#;
/// let Message::Single(Ok(request)) = codec.decode(frame[..].into(), &Default::default()) else {
///     panic!("valid request");
/// };
/// assert_eq!(&*request.method, "sum");
/// assert_eq!(&request.params.unwrap().as_bytes().unwrap()[..], b"[1,2]");
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonCodec {
    _private: (),
}

impl Codec for JsonCodec {
    fn name(&self) -> &'static str {
        "json"
    }

    fn media_types(&self) -> &'static [&'static str] {
        MEDIA_TYPES
    }

    fn decode(&self, frame: Bytes, limits: &DecodeLimits) -> Message {
        decode(&frame, limits)
    }

    fn deserialize_params(&self, raw: &RawParams, visit: Visit<'_>) -> Result<(), ValueError> {
        let bytes = raw
            .as_bytes()
            .ok_or_else(|| ValueError::new("params were not decoded by the JSON codec"))?;
        // As in `read_value`: one UTF-8 check, not one per string.
        match std::str::from_utf8(bytes) {
            Ok(text) => visit.deserialize(&mut serde_json::Deserializer::from_str(text)),
            Err(_) => visit.deserialize(&mut serde_json::Deserializer::from_slice(bytes)),
        }
    }

    fn encode_value(&self, value: Serializable<'_>, out: &mut Vec<u8>) -> Result<(), ValueError> {
        write_value(&value, out)
    }

    fn encode_reply(&self, reply: &Reply, out: &mut Vec<u8>) {
        write_reply(reply, out);
    }

    fn builtin(&self) -> Option<Builtin> {
        Some(Builtin::Json)
    }
}

/// Reads params into `T`.
///
/// The params are checked as UTF-8 in one pass and parsed as text. A
/// `from_slice` parse validates each string and key on its own instead: a
/// call into the validator per string, some 15 times the instructions of
/// the one pass on params of short strings (a sixth of reading 128 KiB of
/// records). Bytes that are not UTF-8, which the codec's own decode never
/// produces, go to `from_slice`, so that serde_json says where they fail.
pub(crate) fn read_value<T: DeserializeOwned>(
    bytes: &[u8],
    tracking: Tracking,
) -> Result<T, Failure> {
    match std::str::from_utf8(bytes) {
        Ok(text) => drive(&mut serde_json::Deserializer::from_str(text), tracking),
        Err(_) => drive(&mut serde_json::Deserializer::from_slice(bytes), tracking),
    }
}

/// Writes a reply as JSON. Shared with the SIMD-JSON codec, whose replies
/// are the same bytes.
///
/// `out` is sized for the whole reply first: the results are the bulk of
/// it, and growing by doubling as they are copied in would move a 128 KiB
/// result once more when the few bytes after it (`,"id":1}`) overflow.
pub(crate) fn write_reply(reply: &Reply, out: &mut Vec<u8>) {
    match reply {
        Reply::Single(response) => {
            out.reserve(reply_size(response));
            write_response(response, out);
        }
        Reply::Batch(responses) => {
            out.reserve(2 + responses.iter().map(reply_size).sum::<usize>());
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

/// About the size of a response: exact for a result with a short id,
/// the framing and room for a short message otherwise (a larger error or
/// id grows `out` as usual).
fn reply_size(response: &Response) -> usize {
    // `{"jsonrpc":"2.0","result":` and `,"id":` and `}`, plus an id
    const FRAMING: usize = 27 + 6 + 1 + 16;
    FRAMING
        + match &response.outcome {
            Ok(result) => result.0.len(),
            Err(_) => 96,
        }
}

fn write_response(response: &Response, out: &mut Vec<u8>) {
    out.extend_from_slice(br#"{"jsonrpc":"2.0","#);
    match &response.outcome {
        Ok(result) => {
            out.extend_from_slice(br#""result":"#);
            out.extend_from_slice(&result.0);
        }
        Err(error) => {
            out.extend_from_slice(br#""error":"#);
            // An ErrorObject (strings, an i32, a serde_json::Value) always
            // serialises; writing to a Vec cannot fail.
            write_value(error, out).expect("error objects serialise");
        }
    }
    out.extend_from_slice(br#","id":"#);
    write_value(&response.id, out).expect("ids serialise");
    out.push(b'}');
}

/// Decodes a frame: the checks every frame gets, then [`scan`]'s reader
/// for the common request shapes, and serde_json for the frames it gives
/// up on (which it decodes from scratch).
///
/// The checks are UTF-8 and the nesting limit, as [`checked_text`] makes
/// them; the reader measures the nesting as it reads, so a frame it
/// answers is checked against the limit without a pass of its own.
fn decode(frame: &Bytes, limits: &DecodeLimits) -> Message {
    let text = match utf8_text(frame) {
        Ok(text) => text,
        Err(error) => return Message::error(error),
    };
    if let Some(scanned) = scan::decode(frame, text, limits) {
        return if scanned.depth > limits.depth() {
            Message::error(too_deep(limits))
        } else {
            scanned.message
        };
    }
    if nesting_exceeds(text.as_bytes(), limits.depth()) {
        return Message::error(too_deep(limits));
    }
    decode_with_serde(frame, text, limits)
}

/// The frame as text, if it is UTF-8 and nests no deeper than the limit:
/// the checks before both paths, for the fuzz target and the tests.
#[cfg(any(test, feature = "fuzzing"))]
fn checked_text<'f>(frame: &'f Bytes, limits: &DecodeLimits) -> Result<&'f str, ErrorObject> {
    let text = utf8_text(frame)?;
    if nesting_exceeds(text.as_bytes(), limits.depth()) {
        return Err(too_deep(limits));
    }
    Ok(text)
}

/// The frame as text, if it is UTF-8.
fn utf8_text(frame: &Bytes) -> Result<&str, ErrorObject> {
    std::str::from_utf8(frame).map_err(|err| {
        ErrorObject::parse_error(format_args!("invalid UTF-8 at byte {}", err.valid_up_to()))
    })
}

/// The answer to a frame that nests deeper than the limit.
fn too_deep(limits: &DecodeLimits) -> ErrorObject {
    ErrorObject::parse_error(format_args!("nesting deeper than {}", limits.depth()))
}

/// Decodes `text` (the frame, checked) through serde_json: any frame.
///
/// A frame serde_json fails on is read once more with every entry
/// captured raw first ([`EntrySeed::raw_first`]): serde_json also fails on
/// a value it cannot hold, a number beyond f64 such as `1e999` or a string
/// with a lone surrogate escape, before a visitor sees it. Captured raw,
/// such a value is one more entry that is not a request (-32600), as it is
/// past the batch limit, where entries are only skipped; what fails the
/// second read is not JSON (-32700). Valid frames are read once.
fn decode_with_serde(frame: &Bytes, text: &str, limits: &DecodeLimits) -> Message {
    read_with_serde(frame, text, limits, false)
        .or_else(|_| read_with_serde(frame, text, limits, true))
        .unwrap_or_else(|err| Message::error(ErrorObject::parse_error(err)))
}

/// One read of [`decode_with_serde`]: `raw_first` as in [`EntrySeed`].
fn read_with_serde(
    frame: &Bytes,
    text: &str,
    limits: &DecodeLimits,
    raw_first: bool,
) -> Result<Message, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let message = match text.bytes().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[') => deserializer
            .deserialize_seq(BatchVisitor {
                frame,
                max_len: limits.batch_len(),
                raw_first,
            })
            .map(|batch| batch.into_message(limits.batch_len())),
        _ => EntrySeed { frame, raw_first }
            .deserialize(&mut deserializer)
            .map(Message::Single),
    }?;
    deserializer.end()?;
    Ok(message)
}

/// The two decode paths of [`JsonCodec`] apart, for the `json_fast_path`
/// fuzz target in `fuzz/`, which checks that the fast one answers exactly
/// as serde_json does whenever it answers. Not a stable API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    use super::*;

    /// The message `scan`'s reader decodes, or `None` where it gives up
    /// (also for a frame the checks before both paths reject).
    pub fn decode_fast(frame: &Bytes, limits: &DecodeLimits) -> Option<Message> {
        let text = checked_text(frame, limits).ok()?;
        scan::decode(frame, text, limits).map(|scanned| scanned.message)
    }

    /// The message serde_json decodes, the fast path never tried.
    pub fn decode_serde(frame: &Bytes, limits: &DecodeLimits) -> Message {
        match checked_text(frame, limits) {
            Ok(text) => decode_with_serde(frame, text, limits),
            Err(error) => Message::error(error),
        }
    }
}

/// Reads a batch in one pass, each entry as it comes.
struct BatchVisitor<'f> {
    frame: &'f Bytes,
    max_len: usize,
    /// As in [`EntrySeed`].
    raw_first: bool,
}

/// A batch as read: the entries kept (at most the limit) and how many
/// there were.
struct Batch {
    entries: Vec<Entry>,
    len: usize,
}

impl Batch {
    fn into_message(self, max_len: usize) -> Message {
        if self.len == 0 {
            Message::error(ErrorObject::invalid_request("empty batch"))
        } else if self.len > max_len {
            Message::error(ErrorObject::invalid_request(format_args!(
                "batch of {} entries exceeds the limit of {max_len}",
                self.len
            )))
        } else {
            Message::Batch(self.entries)
        }
    }
}

impl<'de> Visitor<'de> for BatchVisitor<'_> {
    type Value = Batch;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a batch of requests")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Batch, A::Error> {
        let mut batch = Batch {
            entries: Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.max_len)),
            len: 0,
        };
        let (frame, raw_first) = (self.frame, self.raw_first);
        // Past the limit, entries are only checked for syntax, not kept.
        while batch.len < self.max_len {
            match seq.next_element_seed(EntrySeed { frame, raw_first })? {
                Some(entry) => batch.entries.push(entry),
                None => return Ok(batch),
            }
            batch.len += 1;
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {
            batch.len += 1;
        }
        Ok(batch)
    }
}

/// Reads one request, or the -32600 answer for any other JSON value.
///
/// Members are captured raw and checked afterwards, so that a value of the
/// wrong type (or one serde cannot hold: a lone surrogate, a number with
/// 10,000 digits) makes this entry invalid instead of stopping the parse.
/// The entry itself is read as it comes, unless `raw_first`
/// ([`decode_with_serde`] says when): then it is captured raw, which checks
/// its grammar and nothing more, and only an object is read further, out
/// of that text.
struct EntrySeed<'f> {
    frame: &'f Bytes,
    raw_first: bool,
}

impl<'de> DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = Entry;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Entry, D::Error> {
        if !self.raw_first {
            return deserializer.deserialize_any(self);
        }
        let text = <&'de RawValue>::deserialize(deserializer)?.get();
        let found = match text.as_bytes().first() {
            // Its grammar is checked: this read fails on nothing.
            Some(b'{') => {
                return serde_json::Deserializer::from_str(text)
                    .deserialize_map(self)
                    .map_err(de::Error::custom)
            }
            Some(b'[') => "an array",
            Some(b't' | b'f') => "a boolean",
            Some(b'n') => "null",
            Some(b'"') => "a string",
            _ => "a number",
        };
        Ok(Err(not_an_object(found)))
    }
}

/// The members of a request, raw, in the order `jsonrpc`, `method`,
/// `params`, `id`.
const MEMBERS: [&str; 4] = ["jsonrpc", "method", "params", "id"];

impl<'de> Visitor<'de> for EntrySeed<'_> {
    type Value = Entry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a request object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry, A::Error> {
        let mut members: [Option<&'de RawValue>; 4] = [None; 4];
        let mut duplicate = None;
        let key = MemberKey {
            as_bytes: self.raw_first,
        };
        while let Some(slot) = map.next_key_seed(key)? {
            let Some(slot) = slot else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if members[slot].replace(map.next_value()?).is_some() {
                duplicate = Some(MEMBERS[slot]);
            }
        }
        Ok(match duplicate {
            Some(member) => Err(ErrorObject::invalid_request(format_args!(
                "duplicate member `{member}`"
            ))),
            None => request_of(self.frame, members),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entry, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Err(not_an_object("an array")))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Entry, E> {
        Ok(Err(not_an_object("a boolean")))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Entry, E> {
        Ok(Err(not_an_object("a number")))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Entry, E> {
        Ok(Err(not_an_object("a number")))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Entry, E> {
        Ok(Err(not_an_object("a number")))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Entry, E> {
        Ok(Err(not_an_object("a string")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Entry, E> {
        Ok(Err(not_an_object("null")))
    }
}

/// Reads a member name and tells which of [`MEMBERS`] it is, if any.
///
/// It compares the name where the deserializer holds it, so no key is
/// copied (`Cow<str>` would be: serde deserializes it owned, which cost
/// four allocations per request).
#[derive(Clone, Copy)]
struct MemberKey {
    /// Read the name as bytes, which serde_json unescapes without
    /// insisting on paired surrogates: then an unknown member is skipped
    /// whatever its name, `"\ud800"` included, where reading it as a
    /// string stops the parse. Only in the second read of a frame
    /// ([`decode_with_serde`]): the string is some 30 instructions a name
    /// cheaper.
    as_bytes: bool,
}

impl<'de> DeserializeSeed<'de> for MemberKey {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        if self.as_bytes {
            deserializer.deserialize_bytes(self)
        } else {
            deserializer.deserialize_str(self)
        }
    }
}

impl<'de> Visitor<'de> for MemberKey {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        self.visit_bytes(key.as_bytes())
    }

    fn visit_bytes<E: de::Error>(self, key: &[u8]) -> Result<Option<usize>, E> {
        Ok(MEMBERS.iter().position(|member| member.as_bytes() == key))
    }
}

fn not_an_object(what: &str) -> ErrorObject {
    ErrorObject::invalid_request(format_args!("expected a request object, found {what}"))
}

/// Checks the raw members and builds the request.
fn request_of(frame: &Bytes, [jsonrpc, method, params, id]: [Option<&RawValue>; 4]) -> Entry {
    match jsonrpc {
        Some(raw) if raw.get() == r#""2.0""# || string_of(raw).is_some_and(|v| v == "2.0") => {}
        Some(_) => return Err(ErrorObject::invalid_request(r#"`jsonrpc` must be "2.0""#)),
        None => return Err(ErrorObject::invalid_request("missing member `jsonrpc`")),
    }
    let method = match method.map(string_of) {
        Some(Some(method)) => crate::method_name::intern(&method),
        Some(None) => return Err(ErrorObject::invalid_request("`method` must be a string")),
        None => return Err(ErrorObject::invalid_request("missing member `method`")),
    };
    let params = match params {
        None => None,
        Some(raw) if raw.get().starts_with(['[', '{']) => {
            Some(RawParams::from_bytes(slice_of(frame, raw.get())))
        }
        Some(_) => {
            return Err(ErrorObject::invalid_request(
                "params must be an array or an object",
            ))
        }
    };
    let id = match id.map(id_of) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(err)) => {
            return Err(ErrorObject::invalid_request(format_args!(
                "`id` must be a string, a number or null: {err}"
            )))
        }
    };
    Ok(Request { method, params, id })
}

/// The string a raw value holds, unescaped; `None` if it is not a string
/// (or one serde cannot hold, such as a lone surrogate).
fn string_of(raw: &RawValue) -> Option<Cow<'_, str>> {
    match plain_string(raw.get()) {
        Some(text) => Some(Cow::Borrowed(text)),
        None => serde_json::from_str(raw.get()).ok(),
    }
}

/// The id a raw value holds.
fn id_of(raw: &RawValue) -> Result<Id, serde_json::Error> {
    let text = raw.get();
    // Up to 18 digits always fit an i64.
    if text.len() <= 18 && text.bytes().all(|byte| byte.is_ascii_digit()) {
        let value = text
            .bytes()
            .fold(0, |value, digit| value * 10 + i64::from(digit - b'0'));
        return Ok(Id::Int(value));
    }
    match plain_string(text) {
        Some(text) => Ok(Id::Str(text.into())),
        None => serde_json::from_str(text),
    }
}

/// The contents of `raw` if it is a JSON string without escapes: then
/// they are the string itself, and no parse is needed.
///
/// `raw` is a whole JSON value (serde_json checked it while capturing it),
/// so a leading quote means a string, and without a backslash it holds no
/// escape and no control character.
fn plain_string(raw: &str) -> Option<&str> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.as_bytes().contains(&b'\\')).then_some(inner)
}

/// The part of `frame` that `part` (borrowed from it) covers, without a copy.
fn slice_of(frame: &Bytes, part: &str) -> Bytes {
    let start = part.as_ptr() as usize - frame.as_ptr() as usize;
    frame.slice(start..start + part.len())
}

/// Whether arrays and objects nest deeper than `limit`, strings skipped.
///
/// serde_json guards its own stack at depth 128, but skips unknown members
/// and raw params without a depth check; this scan enforces the configured
/// limit over the whole frame. Nesting deeper than `limit` needs more than
/// `2 * limit` bytes, so small frames are not scanned at all.
pub(crate) fn nesting_exceeds(bytes: &[u8], limit: usize) -> bool {
    if bytes.len() <= limit.saturating_mul(2) {
        return false;
    }
    let mut depth = 0usize;
    let mut rest = bytes;
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        match byte {
            b'"' => rest = skip_string(rest),
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// The bytes after the closing quote of a string whose opening quote has
/// been consumed (or nothing, for an unterminated string).
fn skip_string(mut rest: &[u8]) -> &[u8] {
    loop {
        match rest.iter().position(|&b| b == b'"' || b == b'\\') {
            None => return &[],
            Some(at) if rest[at] == b'"' => return &rest[at + 1..],
            Some(at) => rest = rest.get(at + 2..).unwrap_or(&[]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    /// The shortcuts of `id_of` and `string_of` agree with serde_json on
    /// every kind of value they meet, shortcut or not.
    #[test]
    fn ids_and_strings_read_as_serde_json_reads_them() {
        let values = [
            "0",
            "7",
            "123456789012345678",
            "1234567890123456789",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551616",
            "-1",
            "-0",
            "1.5",
            "1e3",
            "null",
            "true",
            r#""""#,
            r#""echo""#,
            r#""café""#,
            r#""a\"b""#,
            r#""\ud800""#,
            r#""é ü""#,
            "[1]",
            "{}",
        ];
        for text in values {
            let raw: &RawValue = serde_json::from_str(text).unwrap();
            assert_eq!(
                id_of(raw).ok(),
                serde_json::from_str::<Id>(text).ok(),
                "id {text}"
            );
            assert_eq!(
                string_of(raw),
                serde_json::from_str::<Cow<'_, str>>(text).ok(),
                "string {text}"
            );
        }
        let raw: &RawValue = serde_json::from_str(r#""echo""#).unwrap();
        assert!(matches!(string_of(raw), Some(Cow::Borrowed("echo"))));
    }

    fn decode_str(text: &str) -> Message {
        JsonCodec::default().decode(
            Bytes::copy_from_slice(text.as_bytes()),
            &DecodeLimits::default(),
        )
    }

    #[test]
    fn member_names_match_escaped_or_not() {
        // `\u006d` is `m`: the name arrives unescaped in a scratch buffer,
        // not borrowed from the frame, and must match all the same.
        let text = r#"{"jsonrpc":"2.0","\u006dethod":"sum","id":1,"extra":{"method":"no"}}"#;
        match decode_str(text) {
            Message::Single(Ok(request)) => {
                assert_eq!(&*request.method, "sum");
                assert_eq!(request.id, Some(Id::Int(1)));
            }
            other => panic!("expected a request: {other:?}"),
        }
        assert_eq!(
            single_error(r#"{"jsonrpc":"2.0","method":"a","\u006dethod":"b","id":1}"#),
            ErrorCode::InvalidRequest
        );
    }

    fn single_error(text: &str) -> ErrorCode {
        match decode_str(text) {
            Message::Single(Err(err)) => err.code(),
            other => panic!("expected an error for {text}: {other:?}"),
        }
    }

    #[test]
    fn valid_requests_keep_their_parts() {
        let Message::Single(Ok(req)) =
            decode_str(r#"{"jsonrpc":"2.0","method":"a\u0062","params":{"x":[1]},"id":null}"#)
        else {
            panic!()
        };
        assert_eq!(&*req.method, "ab");
        assert_eq!(req.id, Some(Id::Null));
        assert_eq!(
            &req.params.unwrap().as_bytes().unwrap()[..],
            br#"{"x":[1]}"#
        );

        let Message::Single(Ok(req)) = decode_str(r#" {"method":"n","jsonrpc":"2.0"} "#) else {
            panic!()
        };
        assert!(req.is_notification());
        assert!(req.params.is_none());
    }

    #[test]
    fn parse_errors_and_invalid_requests_are_told_apart() {
        for text in [
            "",
            "{",
            r#"{"jsonrpc":"2.0","method":"foobar,"params":"bar","baz]"#,
            r#"{"jsonrpc":"2.0","method":1,"params":"bar""#,
            "[1,2",
            "\u{feff}{}",
            "{} x",
            "NaN",
        ] {
            assert_eq!(single_error(text), ErrorCode::ParseError, "{text:?}");
        }
        for text in [
            "1",
            r#""x""#,
            "{}",
            r#"{"jsonrpc":"2.0","method":1,"params":"bar"}"#,
            r#"{"jsonrpc":"2.0","method":"m","params":"bar","id":1}"#,
            r#"{"jsonrpc":"2.0","method":"m","params":null,"id":1}"#,
            r#"{"jsonrpc":"2.0","method":"m","id":[1]}"#,
            r#"{"jsonrpc":"2.0","method":"m","id":{}}"#,
            r#"{"jsonrpc":"2.0","method":"m","id":true}"#,
            r#"{"jsonrpc":2.0,"method":"m","id":1}"#,
            r#"{"jsonrpc":"1.0","method":"m","id":1}"#,
            r#"{"method":"m","id":1}"#,
            r#"{"jsonrpc":"2.0","id":1}"#,
            r#"{"jsonrpc":"2.0","method":"m","method":"n","id":1}"#,
            "[]",
        ] {
            assert_eq!(single_error(text), ErrorCode::InvalidRequest, "{text:?}");
        }
    }

    #[test]
    fn batches_keep_order_and_mark_invalid_entries() {
        let Message::Batch(entries) = decode_str(
            r#"[{"jsonrpc":"2.0","method":"a","id":1},1,{"jsonrpc":"2.0","method":"b"}]"#,
        ) else {
            panic!()
        };
        assert_eq!(entries.len(), 3);
        assert_eq!(&*entries[0].as_ref().unwrap().method, "a");
        assert_eq!(
            entries[1].as_ref().unwrap_err().code(),
            ErrorCode::InvalidRequest
        );
        assert!(entries[2].as_ref().unwrap().is_notification());
    }

    #[test]
    fn limits_hold() {
        let long = format!("[{}]", [r#"{"jsonrpc":"2.0","method":"a"}"#; 3].join(","));
        let limits = DecodeLimits::default().max_batch_len(2);
        match JsonCodec::default().decode(long.into(), &limits) {
            Message::Single(Err(err)) => assert_eq!(err.code(), ErrorCode::InvalidRequest),
            other => panic!("{other:?}"),
        }
        let deep = format!(
            r#"{{"jsonrpc":"2.0","method":"a","params":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert_eq!(single_error(&deep), ErrorCode::ParseError);
        let deep = "[".repeat(100_000);
        assert_eq!(single_error(&deep), ErrorCode::ParseError);
        // Frames of the shapes the fast reader answers are held to the
        // limit by the depth it measured (empty containers count).
        let limits = DecodeLimits::default().max_depth(3);
        for (frame, within) in [
            (
                r#"{"jsonrpc":"2.0","method":"a","params":[[1]],"id":1}"#,
                true,
            ),
            (
                r#"{"jsonrpc":"2.0","method":"a","params":[{"b":[]}],"id":1}"#,
                false,
            ),
            (
                r#"{"jsonrpc":"2.0","method":"a","params":[[[]]],"id":1}"#,
                false,
            ),
            (
                r#"[{"jsonrpc":"2.0","method":"a","params":[1],"id":1}]"#,
                true,
            ),
            (
                r#"[{"jsonrpc":"2.0","method":"a","params":[{}],"id":1}]"#,
                false,
            ),
        ] {
            match JsonCodec::default().decode(frame.into(), &limits) {
                Message::Single(Err(err)) if !within => {
                    assert_eq!(err.code(), ErrorCode::ParseError);
                    assert_eq!(err.message(), "Parse error: nesting deeper than 3");
                }
                Message::Single(Ok(_)) | Message::Batch(_) if within => {}
                other => panic!("{frame}: {other:?}"),
            }
        }
    }

    #[test]
    fn invalid_utf8_is_a_parse_error() {
        let frame = Bytes::from_static(b"{\"jsonrpc\":\"2.0\",\"method\":\"\xff\",\"id\":1}");
        match JsonCodec::default().decode(frame, &DecodeLimits::default()) {
            Message::Single(Err(err)) => assert_eq!(err.code(), ErrorCode::ParseError),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn params_not_from_decode_may_be_invalid_utf8() {
        let codec = JsonCodec::default();
        let raw = RawParams::from_bytes(Bytes::from_static(b"[\"\xff\"]"));
        let err = crate::parse_params::<(String,)>(&codec, Some(&raw)).unwrap_err();
        assert!(err.message().contains("unicode"), "{err}");
        let raw = RawParams::from_bytes(Bytes::from_static(b"[\"\xc3\xa9\"]"));
        let (text,) = crate::parse_params::<(String,)>(&codec, Some(&raw)).unwrap();
        assert_eq!(text, "\u{e9}");
    }

    #[test]
    fn nesting_scan_skips_strings() {
        assert!(!nesting_exceeds(
            br#"["[[[[[[[[[[[[[[[[[[[[", "\"[[[[[["]"#,
            2
        ));
        assert!(nesting_exceeds(b"[[[ 1 ]]]", 2));
        assert!(!nesting_exceeds(b"[[ 1 ]] [[ 2 ]]", 2));
        // An escaped backslash ends the escape; the quote after it closes.
        assert!(nesting_exceeds(br#"["\\\\", [[[ 1 ]]]]"#, 3));
        assert!(!nesting_exceeds(br#"["\\\"[[[[[[[[[[", 1 ]"#, 1));
        // An unterminated string or escape ends the scan.
        assert!(!nesting_exceeds(br#"[ 1, "[[[[[[[[[[[[[[[["#, 2));
        assert!(!nesting_exceeds(b"[ 1, \"[[[[[[[[[[[[[[[[\\", 2));
    }

    #[test]
    fn replies_are_spec_shaped() {
        let reply = Reply::Batch(vec![
            Response {
                id: Id::Int(1),
                outcome: Ok(crate::Encoded(Bytes::from_static(b"19"))),
            },
            Response {
                id: Id::Null,
                outcome: Err(ErrorObject::new(
                    ErrorCode::InvalidRequest,
                    "Invalid Request",
                )),
            },
        ]);
        let mut out = Vec::new();
        JsonCodec::default().encode_reply(&reply, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"[{"jsonrpc":"2.0","result":19,"id":1},{"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}]"#
        );
    }

    #[test]
    fn a_reply_is_written_into_one_allocation_of_about_its_size() {
        let result = format!("\"{}\"", "x".repeat(128 * 1024));
        let response = |id| Response {
            id: Id::Int(id),
            outcome: Ok(crate::Encoded(Bytes::from(result.clone()))),
        };
        for reply in [
            Reply::Single(response(1)),
            Reply::Batch(vec![response(1), response(22)]),
        ] {
            let mut out = Vec::new();
            JsonCodec::default().encode_reply(&reply, &mut out);
            // Grown by doubling, the bytes after the last result would
            // have doubled the buffer (and moved the results once more).
            assert!(out.len() > 128 * 1024 && out.capacity() < out.len() + 64);
        }
    }
}

#[cfg(test)]
mod huge_numbers {
    use super::*;
    use crate::{parse_params, ErrorCode};

    #[test]
    fn ten_thousand_digits_are_clear_errors() {
        let digits = "9".repeat(10_000);
        let codec = JsonCodec::default();
        let limits = DecodeLimits::default();
        // As an id: valid JSON, but no id can hold it: an invalid request.
        let frame = format!(r#"{{"jsonrpc":"2.0","method":"m","id":{digits}}}"#);
        match codec.decode(frame.into(), &limits) {
            Message::Single(Err(err)) => assert_eq!(err.code(), ErrorCode::InvalidRequest),
            other => panic!("{other:?}"),
        }
        // As a param: decoding succeeds, the typed handler param does not.
        let frame = format!(r#"{{"jsonrpc":"2.0","method":"m","params":[{digits}],"id":1}}"#);
        let Message::Single(Ok(request)) = codec.decode(frame.into(), &limits) else {
            panic!("params are decoded lazily");
        };
        let err = parse_params::<(i64,)>(&codec, request.params.as_ref()).unwrap_err();
        assert_eq!(err.param(), Some("#0"));
    }
}
