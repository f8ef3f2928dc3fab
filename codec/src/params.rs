//! Raw params, and turning them into the type a handler asks for.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use serde::de::value::{Error as ValueDeError, SeqDeserializer};
use serde::de::{DeserializeOwned, Deserializer, Visitor};
use serde::Serialize;

use crate::codec::{Builtin, Visit};
use crate::{Codec, Encoded, ErrorObject, Serializable, ValueError};

/// Params as they arrived, not yet decoded.
///
/// Most codecs keep the exact bytes of the `params` member, a slice of the
/// frame that costs no copy; a codec whose parser cannot point into its
/// input keeps its own owned form instead.
#[derive(Clone)]
pub struct RawParams {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Bytes(Bytes),
    Owned(Arc<dyn Any + Send + Sync>),
}

impl RawParams {
    /// Params kept as the encoded bytes of the `params` member.
    pub fn from_bytes(bytes: Bytes) -> Self {
        RawParams {
            repr: Repr::Bytes(bytes),
        }
    }

    /// Params kept in a codec's own decoded form.
    pub fn from_owned<T: Any + Send + Sync>(value: T) -> Self {
        RawParams {
            repr: Repr::Owned(Arc::new(value)),
        }
    }

    /// The encoded bytes, if kept as bytes.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match &self.repr {
            Repr::Bytes(bytes) => Some(bytes),
            Repr::Owned(_) => None,
        }
    }

    /// The codec's own form, if kept as one of type `T`.
    pub fn downcast_ref<T: Any>(&self) -> Option<&T> {
        match &self.repr {
            Repr::Owned(value) => value.downcast_ref(),
            Repr::Bytes(_) => None,
        }
    }
}

impl fmt::Debug for RawParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Bytes(bytes) => f.debug_tuple("RawParams").field(bytes).finish(),
            Repr::Owned(_) => f.write_str("RawParams(..)"),
        }
    }
}

/// Why params did not fit: the message, and the param it concerns if known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamsError {
    param: Option<String>,
    message: String,
}

impl ParamsError {
    /// The name (or `#index`) of the offending param, when one is to blame.
    pub fn param(&self) -> Option<&str> {
        self.param.as_deref()
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.param {
            Some(param) => write!(f, "param `{param}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ParamsError {}

impl From<ParamsError> for ErrorObject {
    fn from(err: ParamsError) -> Self {
        let object = ErrorObject::invalid_params(&err);
        match err.param {
            Some(param) => object.with_data(serde_json::json!({ "param": param })),
            None => object,
        }
    }
}

/// Decodes params into `T`, from positional (array) or named (object) form.
///
/// Absent params decode as an empty array, so a struct whose fields all have
/// `#[serde(default)]` accepts a call without params, and missing trailing
/// positional params take their defaults. On failure the error names the
/// param: the field for named params, and for positional ones the struct
/// field at that position (or `#index` when `T` is not a struct).
///
/// ```
/// use rpckit_codec::{parse_params, Codec, JsonCodec, Message};
/// use serde::Deserialize;
///
/// #[derive(Debug, Deserialize)]
/// struct Subtract { minuend: i64, subtrahend: i64 }
///
/// let codec = JsonCodec::default();
/// let frame = br#"{"jsonrpc":"2.0","method":"subtract","params":[42,"x"],"id":1}"#;
/// let Message::Single(Ok(request)) = codec.decode(frame[..].into(), &Default::default()) else { panic!() };
/// let err = parse_params::<Subtract>(&codec, request.params.as_ref()).unwrap_err();
/// assert_eq!(err.param(), Some("subtrahend"));
/// ```
pub fn parse_params<T: DeserializeOwned>(
    codec: &dyn Codec,
    raw: Option<&RawParams>,
) -> Result<T, ParamsError> {
    match run::<T>(codec, raw, Tracking::Off) {
        Ok(value) => Ok(value),
        // The cold path: decode again, this time tracking where it failed.
        Err(plain) => match run::<T>(codec, raw, Tracking::On) {
            Err(Failure {
                path: Some(path),
                message,
            }) => Err(ParamsError {
                param: Some(name_param::<T>(&path)),
                message,
            }),
            Err(Failure {
                path: None,
                message,
            }) => Err(ParamsError {
                param: missing_field(&message).map(str::to_owned),
                message,
            }),
            Ok(_) => Err(ParamsError {
                param: None,
                message: plain.message,
            }),
        },
    }
}

/// Serialises a handler's result with `codec`.
///
/// A small result is written into a buffer the thread reuses and copied
/// out into a block that the thread's small results share
/// ([`small_bytes`](crate::small_bytes)): no allocation of its own, and its
/// release an atomic decrement.
/// (A `Bytes` of its own was one allocation and one `free` per result; the
/// written `Vec` handed over, with its spare capacity, two.) A large result
/// (the last one of the thread was over 4 KiB, `SMALL_RESULT`) is written into
/// a buffer of its own and handed over, as copying it would cost more.
pub fn encode_value<T: Serialize + ?Sized>(
    codec: &dyn Codec,
    value: &T,
) -> Result<Encoded, ValueError> {
    let capacity = result_capacity();
    let mut out = if capacity <= SMALL_RESULT {
        // Empty when a result is being encoded inside another one's.
        RESULT_BUFFER.with(std::cell::Cell::take)
    } else {
        Vec::with_capacity(capacity)
    };
    let encoded = encode_into(codec, value, &mut out);
    LAST_RESULT_LEN.with(|last| last.set(out.len()));
    if out.len() > SMALL_RESULT {
        encoded?;
        return Ok(Encoded(Bytes::from(out)));
    }
    let result = encoded.map(|()| Encoded(crate::small_bytes::copy(&out)));
    if out.capacity() <= 2 * SMALL_RESULT {
        out.clear();
        RESULT_BUFFER.with(|buffer| buffer.set(out));
    }
    result
}

/// Results up to this many bytes are copied out of [`RESULT_BUFFER`].
const SMALL_RESULT: usize = 4096;

thread_local! {
    /// The length of the last result this thread encoded.
    static LAST_RESULT_LEN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Where this thread writes small results.
    static RESULT_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The largest result buffer [`result_capacity`] starts with.
const MAX_RESULT_HINT: usize = 1 << 20;

/// The capacity a result buffer starts with: a little more than the last
/// result of this thread (at least 64 bytes, at most 1 MiB), since a
/// method's results tend to be alike. Started at 64 bytes, a 128 KiB result
/// grew through twelve reallocations, and glibc moved it on most of them.
/// A small result after a large one gets a large buffer once; it lives
/// until its reply is written.
fn result_capacity() -> usize {
    let last = LAST_RESULT_LEN.with(std::cell::Cell::get);
    (last + last / 8).clamp(64, MAX_RESULT_HINT)
}

fn encode_into<T: Serialize + ?Sized>(
    codec: &dyn Codec,
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), ValueError> {
    match codec.builtin() {
        // JSONP's answers are JSON too.
        Some(Builtin::Json | Builtin::SimdJson | Builtin::Query) => {
            crate::json::write_value(value, out)?
        }
        #[cfg(feature = "cbor")]
        Some(Builtin::Cbor) => crate::cbor::write_value(value, out)?,
        #[cfg(feature = "msgpack")]
        Some(Builtin::MsgPack) => crate::msgpack::write_value(value, out)?,
        _ => codec.encode_value(Serializable::new(&SizedRef(value)), out)?,
    }
    Ok(())
}

/// Lets `encode_value` accept unsized values while erasure needs `Sized`.
struct SizedRef<'a, T: ?Sized>(&'a T);

impl<T: Serialize + ?Sized> Serialize for SizedRef<'_, T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tracking {
    Off,
    On,
}

/// A failed decode: the message, and with tracking, where it failed.
pub(crate) struct Failure {
    path: Option<serde_path_to_error::Path>,
    message: String,
}

impl Failure {
    /// A failure with no path: before any param was read, or without
    /// tracking.
    pub(crate) fn without_path(message: impl std::fmt::Display) -> Self {
        Failure {
            path: None,
            message: message.to_string(),
        }
    }
}

/// Deserialises `T` from any deserializer, tracking the path if asked.
pub(crate) fn drive<'de, D, T>(deserializer: D, tracking: Tracking) -> Result<T, Failure>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    match tracking {
        Tracking::Off => T::deserialize(deserializer).map_err(Failure::without_path),
        Tracking::On => serde_path_to_error::deserialize(deserializer).map_err(|err| {
            let path = err.path().clone();
            let has_segments = path.iter().next().is_some();
            Failure {
                path: has_segments.then_some(path),
                message: err.into_inner().to_string(),
            }
        }),
    }
}

fn run<T: DeserializeOwned>(
    codec: &dyn Codec,
    raw: Option<&RawParams>,
    tracking: Tracking,
) -> Result<T, Failure> {
    let Some(raw) = raw else {
        let empty = SeqDeserializer::<_, ValueDeError>::new(std::iter::empty::<()>());
        return drive(empty, tracking);
    };
    match (codec.builtin(), raw.as_bytes()) {
        (Some(Builtin::Json), Some(bytes)) => crate::json::read_value(bytes, tracking),
        #[cfg(feature = "simd-json")]
        (Some(Builtin::SimdJson), _) => crate::simd::read_value(raw, tracking),
        #[cfg(feature = "cbor")]
        (Some(Builtin::Cbor), Some(bytes)) => crate::cbor::read_value(bytes, tracking),
        #[cfg(feature = "msgpack")]
        (Some(Builtin::MsgPack), Some(bytes)) => crate::msgpack::read_value(bytes, tracking),
        (Some(Builtin::Query), Some(bytes)) => crate::query::read_value(bytes, tracking),
        _ => run_erased(codec, raw, tracking),
    }
}

fn run_erased<T: DeserializeOwned>(
    codec: &dyn Codec,
    raw: &RawParams,
    tracking: Tracking,
) -> Result<T, Failure> {
    let mut result = None;
    let mut visit = |de: &mut dyn erased_serde::Deserializer<'_>| {
        result = Some(drive::<_, T>(de, tracking));
        Ok(())
    };
    let outcome = codec.deserialize_params(raw, Visit::from_fn(&mut visit));
    match (result, outcome) {
        (Some(result), _) => result,
        (None, Err(err)) => Err(Failure::without_path(err)),
        (None, Ok(())) => Err(Failure::without_path(format_args!(
            "codec {} produced no params",
            codec.name()
        ))),
    }
}

/// Names the param at the head of `path`.
fn name_param<T: DeserializeOwned>(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut segments = path.iter();
    let head = match segments.next() {
        Some(Segment::Map { key }) => key.clone(),
        Some(Segment::Seq { index }) => match struct_fields::<T>().and_then(|f| f.get(*index)) {
            Some(name) => (*name).to_owned(),
            None => format!("#{index}"),
        },
        Some(Segment::Enum { variant }) => variant.clone(),
        Some(Segment::Unknown) | None => "?".to_owned(),
    };
    segments.fold(head, |mut name, segment| {
        match segment {
            Segment::Seq { index } => name.push_str(&format!("[{index}]")),
            Segment::Map { key } => name.push_str(&format!(".{key}")),
            Segment::Enum { variant } => name.push_str(&format!(".{variant}")),
            Segment::Unknown => name.push_str(".?"),
        }
        name
    })
}

/// serde reports a missing named field only in its message.
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

/// The field names of `T` if it deserialises as a struct, found by asking
/// `T::deserialize` to describe itself to a deserializer that holds no data.
fn struct_fields<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    match T::deserialize(FieldProbe) {
        Err(Probe::Fields(fields)) => Some(fields),
        _ => None,
    }
}

struct FieldProbe;

#[derive(Debug)]
enum Probe {
    Fields(&'static [&'static str]),
    Other,
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("probe")
    }
}

impl std::error::Error for Probe {}

impl serde::de::Error for Probe {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Probe::Other
    }
}

impl<'de> Deserializer<'de> for FieldProbe {
    type Error = Probe;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Probe> {
        Err(Probe::Other)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Probe> {
        Err(Probe::Fields(fields))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_buffer_starts_at_about_the_last_result_size_of_its_thread() {
        let big = "x".repeat(100_000);
        let small = encode_value(&crate::JsonCodec::default(), &1).unwrap();
        assert_eq!(&small.0[..], b"1");
        assert_eq!(result_capacity(), 64);
        let encoded = encode_value(&crate::JsonCodec::default(), &big).unwrap();
        assert_eq!(encoded.0.len(), 100_002);
        assert_eq!(result_capacity(), 100_002 + 100_002 / 8);
        // a failed encode counts what it wrote, and a small result resets it
        assert!(encode_value(&crate::JsonCodec::default(), &vec_key()).is_err());
        assert_eq!(result_capacity(), 64);
        encode_value(&crate::JsonCodec::default(), &"y".repeat(1 << 21)).unwrap();
        assert_eq!(result_capacity(), MAX_RESULT_HINT);
    }

    #[test]
    fn small_results_are_copied_out_of_a_reused_buffer_large_ones_handed_over() {
        let codec = crate::JsonCodec::default();
        encode_value(&codec, &1).unwrap();
        let buffer = RESULT_BUFFER.with(|buffer| {
            let kept = buffer.take();
            let at = kept.as_ptr();
            buffer.set(kept);
            at
        });
        let small = encode_value(&codec, &"abc").unwrap();
        assert_eq!(&small.0[..], br#""abc""#);
        assert_ne!(small.0.as_ptr(), buffer, "copied out");
        let kept = RESULT_BUFFER.with(|buffer| {
            let kept = buffer.take();
            let at = (kept.as_ptr(), kept.len(), kept.capacity());
            buffer.set(kept);
            at
        });
        assert_eq!(kept.0, buffer, "the same buffer serves the next result");
        assert_eq!(kept.1, 0);
        // A result that outgrows it takes the buffer along.
        let big = encode_value(&codec, &"x".repeat(3 * SMALL_RESULT)).unwrap();
        assert_eq!(big.0.len(), 3 * SMALL_RESULT + 2);
        // The next one starts from the size hint, in a buffer of its own.
        let after = encode_value(&codec, &"y").unwrap();
        assert_eq!(&after.0[..], br#""y""#);
        // A failed encode keeps the buffer and gives no result.
        assert!(encode_value(&codec, &vec_key()).is_err());
        assert!(RESULT_BUFFER.with(|buffer| {
            let kept = buffer.take();
            let empty = kept.is_empty();
            buffer.set(kept);
            empty
        }));
    }

    #[test]
    fn small_results_share_a_block_taken_back_once_they_are_gone() {
        use crate::small_bytes::BLOCK;
        let codec = crate::JsonCodec::default();
        let first = encode_value(&codec, &"a").unwrap();
        let second = encode_value(&codec, &"b").unwrap();
        assert_eq!(&first.0[..], br#""a""#);
        assert_eq!(&second.0[..], br#""b""#);
        assert_eq!(
            second.0.as_ptr() as usize,
            first.0.as_ptr() as usize + first.0.len()
        );
        let largest = encode_value(&codec, &"x".repeat(SMALL_RESULT - 2)).unwrap();
        assert_eq!(largest.0.len(), SMALL_RESULT);
        drop((first, second, largest));
        // Many blocks' worth, each result dropped before the next: one
        // block serves them all.
        let first = encode_value(&codec, &"c").unwrap();
        let block = first.0.as_ptr() as usize - BLOCK..first.0.as_ptr() as usize + BLOCK;
        drop(first);
        for _ in 0..10 * BLOCK / 3 {
            let result = encode_value(&codec, &"c").unwrap();
            assert!(block.contains(&(result.0.as_ptr() as usize)));
        }
        // A result still held keeps its block: the next ones go elsewhere
        // once it is full, and never over it.
        let kept = encode_value(&codec, &"k").unwrap();
        for _ in 0..BLOCK {
            assert_eq!(&encode_value(&codec, &"d").unwrap().0[..], br#""d""#);
        }
        assert_eq!(&kept.0[..], br#""k""#);
    }

    fn vec_key() -> std::collections::BTreeMap<Vec<u8>, u8> {
        [(vec![1], 1)].into()
    }
    use crate::{JsonCodec, Message};
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Echo {
        #[serde(default = "hello")]
        data: String,
        #[serde(default)]
        times: u32,
    }

    fn hello() -> String {
        "Hello world!".into()
    }

    fn params_of(frame: &'static str) -> Option<RawParams> {
        match JsonCodec::default().decode(Bytes::from_static(frame.as_bytes()), &Default::default())
        {
            Message::Single(Ok(request)) => request.params,
            other => panic!("{other:?}"),
        }
    }

    fn parse<T: DeserializeOwned>(frame: &'static str) -> Result<T, ParamsError> {
        parse_params(&JsonCodec::default(), params_of(frame).as_ref())
    }

    #[test]
    fn positional_named_and_defaults() {
        let f = r#"{"jsonrpc":"2.0","method":"e","params":["x",2],"id":1}"#;
        assert_eq!(
            parse::<Echo>(f).unwrap(),
            Echo {
                data: "x".into(),
                times: 2
            }
        );
        let f = r#"{"jsonrpc":"2.0","method":"e","params":{"times":3},"id":1}"#;
        assert_eq!(
            parse::<Echo>(f).unwrap(),
            Echo {
                data: hello(),
                times: 3
            }
        );
        let f = r#"{"jsonrpc":"2.0","method":"e","params":["x"],"id":1}"#;
        assert_eq!(
            parse::<Echo>(f).unwrap(),
            Echo {
                data: "x".into(),
                times: 0
            }
        );
        let f = r#"{"jsonrpc":"2.0","method":"e","id":1}"#;
        assert_eq!(
            parse::<Echo>(f).unwrap(),
            Echo {
                data: hello(),
                times: 0
            }
        );
    }

    #[test]
    fn errors_name_the_param() {
        let f = r#"{"jsonrpc":"2.0","method":"e","params":["x","y"],"id":1}"#;
        assert_eq!(parse::<Echo>(f).unwrap_err().param(), Some("times"));
        let f = r#"{"jsonrpc":"2.0","method":"e","params":{"times":"y"},"id":1}"#;
        assert_eq!(parse::<Echo>(f).unwrap_err().param(), Some("times"));
        let f = r#"{"jsonrpc":"2.0","method":"e","params":[1,"y"],"id":1}"#;
        assert_eq!(parse::<(i32, i32)>(f).unwrap_err().param(), Some("#1"));

        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Needs {
            a: i32,
        }
        let f = r#"{"jsonrpc":"2.0","method":"e","params":{},"id":1}"#;
        let err = parse::<Needs>(f).unwrap_err();
        assert_eq!(err.param(), Some("a"));
        let object = ErrorObject::from(err);
        assert_eq!(object.code(), crate::ErrorCode::InvalidParams);
        assert_eq!(object.data().unwrap()["param"], "a");
    }

    #[test]
    fn too_many_positional_params_is_an_error() {
        let f = r#"{"jsonrpc":"2.0","method":"e","params":["x",1,2],"id":1}"#;
        assert!(parse::<Echo>(f).is_err());
    }
}
