//! JSON through simd-json: the frame is parsed with SIMD, replies are the
//! JSON codec's bytes.
//!
//! # What a decode costs
//!
//! - **At most one copy of the frame**, into a padded buffer: simd-json
//!   parses in place (it unescapes strings where they stand), so it needs
//!   the bytes mutable and followed by padding. A frame that is the only
//!   handle to its buffer, with room for the padding after it
//!   ([`crate::FRAME_PADDING`]; rpckit's HTTP transport leaves it after a
//!   body it decompressed or joined, and its HTTP/1 connection after a
//!   large body) and without escapes, is parsed where it lies; any other
//!   is copied. The padding lets simd-json skip the second, aligned copy
//!   it would otherwise make.
//! - **The parse**: stage 1 finds the structural characters and validates
//!   UTF-8 with SIMD, stage 2 writes a flat tape of nodes whose strings
//!   point into the padded buffer.
//! - **The envelope** is read off the tape: `method` and a string `id` are
//!   copied out.
//! - **Params** stay where the parse left them: the padded buffer and the
//!   tape are kept together (a `self_cell`, as the workspace forbids
//!   unsafe code) for as long as some request's params need them, shared by
//!   every request of a batch. Nothing of the frame is copied or converted
//!   again. The buffers are reused: simd-json's working buffers stay with
//!   the thread, and the thread that drops a frame's params keeps its input
//!   and tape for its next frame, so in the steady state a frame allocates
//!   only the cell that holds them and the [`RawParams`] handle per request
//!   (frames over 256 KiB get fresh buffers, freed afterwards, so that a
//!   thread does not keep the memory of the largest frame it saw).
//! - **Reading params** ([`crate::parse_params`]) walks the params nodes
//!   of the tape with a serde deserializer: no second parse, no UTF-8
//!   check, no allocation beyond what the handler's type allocates itself.
//!
//! The trade-offs: a value tree (`simd_json::OwnedValue`) would allocate
//! per string, array and object and hash every key; keeping only the
//! params bytes and parsing them again would copy and scan them a second
//! time; copying the params nodes into a compact tape of our own (as this
//! codec did before) cost a pass over them and a copy of their strings,
//! some 630,000 instructions on a 128 KiB frame. Keeping the frame's whole
//! tape holds the envelope's nodes too, and 24 bytes a node rather than 16,
//! for as long as the params live.
//!
//! simd-json has a fixed cost per document: on frames of a few hundred
//! bytes it is slower than serde_json, and it wins on large ones.
//!
//! # Where it differs from the JSON codec
//!
//! Decoding classifies every frame as [`crate::JsonCodec`] does: the same
//! message kind, error codes, methods, ids and params. The differences:
//!
//! - Error texts differ; codes do not.
//! - simd-json rejects numbers it cannot hold (integers beyond
//!   `u64`/`i64`, exponents beyond `f64`) and lone surrogate escapes
//!   (`"\ud800"`), where serde_json, skipping over params, accepts them and
//!   fails (or reads a float) only once the params are read. Frames that
//!   simd-json rejects for these reasons are handed to the JSON codec whole,
//!   so they decode exactly as there (at serde_json's speed), and their
//!   params are JSON bytes.
//! - simd-json reads `-0` as the integer 0, serde_json as the float -0.0;
//!   this codec gives -0.0, as serde_json does (and 0 to an `i128`, which
//!   serde_json reads from the integer's text).
//! - A map key that holds a number in escapes (`{"\u0031":true}` for a
//!   `HashMap<u32, bool>`) is the number here: simd-json hands over the key
//!   unescaped, `"1"`. serde_json reads the number out of the key's raw
//!   text and rejects the backslash. Keys without escapes read alike.
//! - Depth: the frame's nesting is limited by [`DecodeLimits::depth`],
//!   checked by simd-json itself. Reading params fails past 128 nested
//!   levels, serde_json's recursion limit, as with the JSON codec.
//! - Floats are parsed with correct rounding; serde_json without its
//!   `float_roundtrip` feature may differ in the last bit in rare cases.
//!   An `f32` is read through the `f64` on the tape: rounded twice, it can
//!   land one `f32` step from serde_json's direct, single rounding (rare;
//!   the differential fuzz target allows exactly that).
//! - A `serde_json::value::RawValue` in the handler's type receives the
//!   params re-encoded (compact, escapes normalised), not the bytes as sent.
//! - Duplicate `jsonrpc`, `method`, `params` or `id` members are -32600, as
//!   there; duplicate keys inside params reach the handler's type in order
//!   (a derived struct rejects them, a map keeps the last), as there.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use self_cell::MutBorrow;
use serde::de::value::{BorrowedStrDeserializer, Error as DeError, MapDeserializer};
use serde::de::{
    DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, Error as _, MapAccess, SeqAccess,
    Unexpected, VariantAccess, Visitor,
};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use simd_json::prelude::ValueAsScalar;
use simd_json::{Buffers, ErrorType, Node, StaticNode, Tape};

use crate::codec::Builtin;
use crate::params::{drive, Failure, Tracking};
use crate::{
    Codec, DecodeLimits, Entry, ErrorObject, Id, JsonCodec, Message, RawParams, Reply, Request,
    Serializable, ValueError, Visit,
};

/// The JSON codec with a SIMD parser, on simd-json.
///
/// It reads the same requests as [`JsonCodec`] and writes the same replies.
/// Params are kept in simd-json's parsed form rather than as bytes, so
/// [`RawParams::as_bytes`] is `None` for them: read them with
/// [`parse_params`](crate::parse_params), which walks that form instead of
/// parsing again. simd-json pays a fixed cost per frame: the codec gains on
/// large frames whose params are read, and on frames of a few hundred bytes
/// [`JsonCodec`] is faster. The module source says what a decode costs and
/// where the two codecs differ (error texts, mostly).
///
/// ```
/// use rpckit_codec::{parse_params, Codec, Message, SimdJsonCodec};
///
/// let codec = SimdJsonCodec::default();
/// let frame = br#"{"jsonrpc":"2.0","method":"sum","params":[1,2],"id":"a"}"#;
/// let Message::Single(Ok(request)) = codec.decode(frame[..].into(), &Default::default()) else {
///     panic!("valid request");
/// };
/// assert_eq!(&*request.method, "sum");
/// assert_eq!(request.id, Some("a".into()));
/// let (a, b): (i64, i64) = parse_params(&codec, request.params.as_ref()).unwrap();
/// assert_eq!(a + b, 3);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct SimdJsonCodec {
    _private: (),
}

impl Codec for SimdJsonCodec {
    fn name(&self) -> &'static str {
        "simd-json"
    }

    fn media_types(&self) -> &'static [&'static str] {
        crate::json::MEDIA_TYPES
    }

    fn decode(&self, frame: Bytes, limits: &DecodeLimits) -> Message {
        decode(frame, limits)
    }

    fn deserialize_params(&self, raw: &RawParams, visit: Visit<'_>) -> Result<(), ValueError> {
        if let Some(params) = raw.downcast_ref::<Params>() {
            visit.deserialize(&mut params.deserializer())
        } else if let Some(bytes) = raw.as_bytes() {
            visit.deserialize(&mut serde_json::Deserializer::from_slice(bytes))
        } else {
            Err(ValueError::new(FOREIGN))
        }
    }

    fn encode_value(&self, value: Serializable<'_>, out: &mut Vec<u8>) -> Result<(), ValueError> {
        crate::json::write_value(&value, out)
    }

    fn encode_reply(&self, reply: &Reply, out: &mut Vec<u8>) {
        crate::json::write_reply(reply, out);
    }

    fn builtin(&self) -> Option<Builtin> {
        Some(Builtin::SimdJson)
    }
}

const FOREIGN: &str = "params were not decoded by a JSON codec";

/// Deserialises params this codec decoded (or JSON bytes) into `T`.
pub(crate) fn read_value<T: DeserializeOwned>(
    raw: &RawParams,
    tracking: Tracking,
) -> Result<T, Failure> {
    if let Some(params) = raw.downcast_ref::<Params>() {
        drive(&mut params.deserializer(), tracking)
    } else if let Some(bytes) = raw.as_bytes() {
        crate::json::read_value(bytes, tracking)
    } else {
        drive(Foreign, tracking)
    }
}

// ---------------------------------------------------------------------------
// Decoding

/// Frames up to this length leave their buffers to the thread for the next
/// frame; longer ones free them, so a thread does not hold on to the memory
/// of the largest frame it ever saw.
const RETAIN_LEN: usize = 256 * 1024;

/// simd-json's working buffers, reused by the next decode on the thread.
struct Scratch {
    buffers: Buffers,
    /// The depth limit `buffers` were made with.
    depth: usize,
}

thread_local! {
    // Boxed, so taking it out and putting it back moves a pointer.
    static SCRATCH: Cell<Option<Box<Scratch>>> = const { Cell::new(None) };
    /// The padded input and the tape of the last [`Parsed`] frame dropped
    /// on this thread, for the next frame to parse into.
    static SPARE: Cell<Option<(BytesMut, Tape<'static>)>> = const { Cell::new(None) };
}

/// Runs `f` with this thread's simd-json buffers, or fresh ones.
fn with_scratch<R>(depth: usize, frame_len: usize, f: impl FnOnce(&mut Buffers) -> R) -> R {
    let mut scratch = match SCRATCH.try_with(Cell::take) {
        Ok(Some(scratch)) if scratch.depth == depth => scratch,
        _ => Box::new(Scratch {
            buffers: Buffers::with_max_depth(0, depth),
            depth,
        }),
    };
    let result = f(&mut scratch.buffers);
    if frame_len <= RETAIN_LEN {
        // Fails only while the thread is being torn down; then it is dropped.
        let _ = SCRATCH.try_with(|cell| cell.set(Some(scratch)));
    }
    result
}

fn decode(frame: Bytes, limits: &DecodeLimits) -> Message {
    let depth = limits.depth();
    let outcome = with_scratch(depth, frame.len(), |buffers| parse(buffers, frame));
    match outcome {
        Ok(parsed) => read_frame(parsed, limits),
        Err((err, frame)) => match err.error() {
            // A number simd-json cannot hold, or a lone surrogate escape:
            // serde_json decides, as in the JSON codec (a float, or an error
            // once params are read).
            ErrorType::InvalidNumber | ErrorType::InvalidUnicodeCodepoint => {
                JsonCodec::default().decode(frame, limits)
            }
            ErrorType::InvalidUtf8 => {
                let at = std::str::from_utf8(&frame)
                    .err()
                    .map_or(0, |e| e.valid_up_to());
                Message::error(ErrorObject::parse_error(format_args!(
                    "invalid UTF-8 at byte {at}"
                )))
            }
            ErrorType::DepthLimitExceeded => Message::error(ErrorObject::parse_error(
                format_args!("nesting deeper than {depth}"),
            )),
            kind => Message::error(ErrorObject::parse_error(format_args!(
                "{kind:?} at byte {}",
                err.index()
            ))),
        },
    }
}

/// The tape of a frame and the padded copy of the frame that it borrows:
/// simd-json unescapes strings where they stand, and the tape's strings
/// point there.
type FrameTape<'a> = Tape<'a>;

self_cell::self_cell!(
    struct TapeCell {
        owner: MutBorrow<BytesMut>,
        #[covariant]
        dependent: FrameTape,
    }
);

/// A parsed frame. Params are read straight off its tape, so nothing of the
/// frame is copied again after the parse.
///
/// Its two buffers come from this thread's [`SPARE`] (the input, unless the
/// frame is parsed in place) and go back to the thread that drops them: a
/// 128 KiB frame takes some 128 KiB of input and 350 KiB of tape, and
/// allocating and freeing that much per request made the allocator hand
/// the pages back to the kernel (`madvise`) and fault them in again on the
/// next request, a quarter of the server's time spent in the kernel. A
/// frame parsed in place leaves its own buffer as the spare.
struct Parsed {
    /// `None` only while it is dropped.
    cell: Option<TapeCell>,
    frame_len: usize,
}

/// Parses `frame` in place ([`in_place`]) or as a copy in this thread's
/// spare input, onto this thread's spare tape (or fresh ones). A failed
/// parse gives the frame back as it was sent.
fn parse(buffers: &mut Buffers, frame: Bytes) -> Result<Parsed, (simd_json::Error, Bytes)> {
    let (spare, tape) = SPARE
        .try_with(Cell::take)
        .ok()
        .flatten()
        .unwrap_or_else(|| (BytesMut::new(), Tape(Vec::new())));
    let frame_len = frame.len();
    // The frame is kept apart only when copied; parsed in place, it is
    // the input, and the spare (the last frame's input) is dropped here.
    let (input, sent) = match in_place(frame) {
        Ok(input) => (input, None),
        Err(frame) => (padded_copy(spare, &frame), Some(frame)),
    };
    let built = TapeCell::try_new_or_recover(MutBorrow::new(input), |input| {
        let mut tape = tape.reset();
        match simd_json::fill_tape_padded(input.borrow_mut(), frame_len, buffers, &mut tape) {
            Ok(()) => Ok(tape),
            Err(err) => Err((err, tape.reset())),
        }
    });
    match built {
        Ok(cell) => Ok(Parsed {
            cell: Some(cell),
            frame_len,
        }),
        Err((input, (err, tape))) => {
            let mut input = input.into_inner();
            let frame = match sent {
                Some(frame) => {
                    keep_spare(input, tape, frame_len);
                    frame
                }
                // Unchanged: a frame with escapes is not parsed in place.
                None => {
                    keep_spare(BytesMut::new(), tape, frame_len);
                    input.truncate(frame_len);
                    input.freeze()
                }
            };
            Err((err, frame))
        }
    }
}

/// The frame itself as simd-json's input, when that is free and safe: the
/// frame is the only handle to its buffer, the buffer has room for the
/// padding after it ([`crate::FRAME_PADDING`]), and it has no backslash.
/// simd-json unescapes strings where they stand, and a frame it rejects is
/// decoded again by the JSON codec, which needs the bytes as sent; without
/// escapes nothing is rewritten. Otherwise the frame is given back, to be
/// copied.
fn in_place(frame: Bytes) -> Result<BytesMut, Bytes> {
    // Uniqueness first: a body cut from a connection's read buffer (the
    // usual frame) is never ours alone, and is not scanned for nothing.
    if !frame.is_unique() || memchr::memchr(b'\\', &frame).is_some() {
        return Err(frame);
    }
    let mut input = frame.try_into_mut()?;
    let len = input.len();
    if input.capacity() - len < simd_json::INPUT_PADDING {
        return Err(input.freeze());
    }
    input.resize(len + simd_json::INPUT_PADDING, b' ');
    Ok(input)
}

/// `frame` copied into `input` (emptied first), padded for simd-json.
fn padded_copy(mut input: BytesMut, frame: &[u8]) -> BytesMut {
    input.clear();
    input.reserve(frame.len() + simd_json::INPUT_PADDING);
    input.extend_from_slice(frame);
    input.resize(frame.len() + simd_json::INPUT_PADDING, b' ');
    input
}

const _: () = assert!(crate::FRAME_PADDING >= simd_json::INPUT_PADDING);

/// Leaves a frame's buffers to the thread's next frame, unless the frame
/// was large.
fn keep_spare(input: BytesMut, tape: Tape<'static>, frame_len: usize) {
    if frame_len <= RETAIN_LEN {
        // Fails only while the thread is being torn down; then they are freed.
        let _ = SPARE.try_with(|spare| spare.set(Some((input, tape))));
    }
}

impl Parsed {
    fn nodes(&self) -> &[Node<'_>] {
        match &self.cell {
            Some(cell) => &cell.borrow_dependent().0,
            None => &[],
        }
    }
}

impl Drop for Parsed {
    fn drop(&mut self) {
        let Some(mut cell) = self.cell.take() else {
            return;
        };
        let tape =
            cell.with_dependent_mut(|_, tape| std::mem::replace(tape, Tape(Vec::new())).reset());
        keep_spare(cell.into_owner().into_inner(), tape, self.frame_len);
    }
}

/// Turns a parsed frame into a message.
fn read_frame(parsed: Parsed, limits: &DecodeLimits) -> Message {
    let nodes = parsed.nodes();
    match nodes.first() {
        Some(&Node::Array { len, .. }) => {
            if len == 0 {
                return Message::error(ErrorObject::invalid_request("empty batch"));
            }
            if len > limits.batch_len() {
                return Message::error(ErrorObject::invalid_request(format_args!(
                    "batch of {len} entries exceeds the limit of {}",
                    limits.batch_len()
                )));
            }
            let mut entries = Vec::with_capacity(len);
            let mut at = 1;
            for _ in 0..len {
                let Some(node) = nodes.get(at) else { break };
                entries.push(envelope(nodes, at).map(Envelope::into_owned));
                at += span(node);
            }
            Message::Batch(finish(parsed, entries))
        }
        Some(_) => Message::Single(
            envelope(nodes, 0)
                .map(Envelope::into_owned)
                .map(|envelope| {
                    let params = envelope.params.map(|(start, end)| {
                        RawParams::from_owned(Params {
                            store: Store::Alone(parsed),
                            start,
                            end,
                        })
                    });
                    envelope.into_request(params)
                }),
        ),
        None => Message::error(ErrorObject::parse_error("no value")),
    }
}

/// How many tape nodes the value starting with `node` takes.
fn span(node: &Node<'_>) -> usize {
    match *node {
        Node::Array { count, .. } | Node::Object { count, .. } => count + 1,
        _ => 1,
    }
}

/// A valid request envelope, borrowing from the tape. `params` is the range
/// of tape nodes of an array or object.
struct Envelope<'t> {
    method: &'t str,
    params: Option<(usize, usize)>,
    id: Option<Id>,
}

/// An envelope that no longer borrows the tape.
struct Owned {
    method: Arc<str>,
    params: Option<(usize, usize)>,
    id: Option<Id>,
}

impl Envelope<'_> {
    /// Takes the method name out, keeping the params where they are.
    fn into_owned(self) -> Owned {
        Owned {
            method: crate::method_name::intern(self.method),
            params: self.params,
            id: self.id,
        }
    }
}

impl Owned {
    fn into_request(self, params: Option<RawParams>) -> Request {
        Request {
            method: self.method,
            params,
            id: self.id,
        }
    }
}

/// Reads the request object at tape index `at`, by json.rs's rules.
fn envelope<'t>(nodes: &[Node<'t>], at: usize) -> Result<Envelope<'t>, ErrorObject> {
    let Some(&Node::Object { len, .. }) = nodes.get(at) else {
        return Err(ErrorObject::invalid_request("expected a request object"));
    };
    let mut version = false;
    let mut method = None;
    let mut params = None;
    let mut id = None;
    let mut key_at = at + 1;
    for _ in 0..len {
        let (Some(&Node::String(key)), Some(value)) = (nodes.get(key_at), nodes.get(key_at + 1))
        else {
            return Err(ErrorObject::invalid_request("malformed object"));
        };
        let value_at = key_at + 1;
        key_at = value_at + span(value);
        let fresh = match key {
            "jsonrpc" => !std::mem::replace(&mut version, true),
            "method" => method.is_none(),
            "params" => params.is_none(),
            "id" => id.is_none(),
            _ => continue,
        };
        if !fresh {
            return Err(ErrorObject::invalid_request(format_args!(
                "duplicate field `{key}`"
            )));
        }
        match (key, *value) {
            ("jsonrpc", Node::String("2.0")) => {}
            ("jsonrpc", _) => {
                return Err(ErrorObject::invalid_request(r#"`jsonrpc` must be "2.0""#))
            }
            ("method", Node::String(name)) => method = Some(name),
            ("method", _) => return Err(ErrorObject::invalid_request("`method` must be a string")),
            ("params", Node::Array { .. } | Node::Object { .. }) => {
                params = Some((value_at, key_at));
            }
            ("params", _) => {
                return Err(ErrorObject::invalid_request(
                    "params must be an array or an object",
                ))
            }
            (_, value) => id = Some(read_id(value)?),
        }
    }
    if !version {
        return Err(ErrorObject::invalid_request("missing field `jsonrpc`"));
    }
    let Some(method) = method else {
        return Err(ErrorObject::invalid_request("missing field `method`"));
    };
    Ok(Envelope { method, params, id })
}

fn read_id(node: Node<'_>) -> Result<Id, ErrorObject> {
    let invalid = || ErrorObject::invalid_request("`id` must be a string, a number or null");
    match node {
        Node::String(s) => Ok(Id::from(s)),
        Node::Static(StaticNode::Null) => Ok(Id::Null),
        Node::Static(StaticNode::Bool(_)) | Node::Array { .. } | Node::Object { .. } => {
            Err(invalid())
        }
        Node::Static(scalar) => match number(scalar) {
            Scalar::I64(n) => Ok(Id::Int(n)),
            Scalar::U64(n) => Ok(Id::from(n)),
            Scalar::F64(x) if x.is_finite() => Ok(Id::Float(x)),
            _ => Err(invalid()),
        },
    }
}

/// A simd-json scalar, read as serde_json reads it.
#[derive(Clone, Copy, Debug)]
enum Scalar {
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Null,
}

/// A simd-json scalar in our form.
#[inline]
fn number(scalar: StaticNode) -> Scalar {
    match scalar {
        // Non-negative integers come as U64, so this was written `-0`,
        // which serde_json reads as the float -0.0.
        StaticNode::I64(0) => Scalar::F64(-0.0),
        StaticNode::I64(n) => Scalar::I64(n),
        StaticNode::U64(n) => Scalar::U64(n),
        StaticNode::Bool(b) => Scalar::Bool(b),
        StaticNode::Null => Scalar::Null,
        // F64, and with simd-json's `128bit` feature the wide integers,
        // which serde_json reads as floats too.
        other => Scalar::F64(other.cast_f64().unwrap_or(f64::NAN)),
    }
}

/// Turns the envelopes of a batch into entries; the requests with params
/// share the parsed frame.
fn finish(parsed: Parsed, entries: Vec<Result<Owned, ErrorObject>>) -> Vec<Entry> {
    let any_params = entries
        .iter()
        .any(|entry| entry.as_ref().is_ok_and(|owned| owned.params.is_some()));
    // Without params the frame goes back to the thread at once.
    let shared = any_params.then(|| Arc::new(parsed));
    entries
        .into_iter()
        .map(|entry| {
            let owned = entry?;
            let params = match (owned.params, &shared) {
                (Some((start, end)), Some(shared)) => Some(RawParams::from_owned(Params {
                    store: Store::Batch(Arc::clone(shared)),
                    start,
                    end,
                })),
                _ => None,
            };
            Ok(owned.into_request(params))
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Params in simd-json's form

/// Where a request's params live: alone, or with the rest of its batch.
enum Store {
    Alone(Parsed),
    Batch(Arc<Parsed>),
}

/// One request's params: a range of its frame's tape.
struct Params {
    store: Store,
    start: usize,
    end: usize,
}

impl Params {
    fn parsed(&self) -> &Parsed {
        match &self.store {
            Store::Alone(parsed) => parsed,
            Store::Batch(parsed) => parsed,
        }
    }

    fn deserializer(&self) -> NodeDeserializer<'_> {
        NodeDeserializer {
            nodes: self
                .parsed()
                .nodes()
                .get(self.start..self.end)
                .unwrap_or_default(),
            pos: 0,
            remaining_depth: RECURSION_LIMIT,
        }
    }
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Params({} nodes)", self.end - self.start)
    }
}

// ---------------------------------------------------------------------------
// Reading params

/// Containers nested this deep fail to read, as with serde_json, whose
/// recursion limit this is. It also bounds the recursion of the reader.
const RECURSION_LIMIT: u8 = 128;

/// serde_json's marker for deserialising a `RawValue`.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// A serde deserializer over the params nodes of a tape. It behaves as
/// serde_json's does on the same JSON, error texts aside.
struct NodeDeserializer<'a> {
    nodes: &'a [Node<'a>],
    pos: usize,
    remaining_depth: u8,
}

impl<'a> NodeDeserializer<'a> {
    #[inline]
    fn peek(&self) -> Result<Node<'a>, DeError> {
        self.nodes
            .get(self.pos)
            .copied()
            .ok_or_else(|| DeError::custom("unexpected end of params"))
    }

    #[inline]
    fn next(&mut self) -> Result<Node<'a>, DeError> {
        let node = self.peek()?;
        self.pos += 1;
        Ok(node)
    }

    fn unexpected(node: Node<'a>) -> Unexpected<'a> {
        match node {
            Node::String(s) => Unexpected::Str(s),
            Node::Array { .. } => Unexpected::Seq,
            Node::Object { .. } => Unexpected::Map,
            Node::Static(scalar) => match number(scalar) {
                Scalar::I64(n) => Unexpected::Signed(n),
                Scalar::U64(n) => Unexpected::Unsigned(n),
                Scalar::F64(x) => Unexpected::Float(x),
                Scalar::Bool(b) => Unexpected::Bool(b),
                Scalar::Null => Unexpected::Unit,
            },
        }
    }

    /// Runs `f` one level deeper, failing past the recursion limit.
    #[inline]
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, DeError>) -> Result<T, DeError> {
        self.remaining_depth -= 1;
        if self.remaining_depth == 0 {
            self.remaining_depth += 1;
            return Err(DeError::custom("recursion limit exceeded"));
        }
        let result = f(self);
        self.remaining_depth += 1;
        result
    }
}

impl<'de> Deserializer<'de> for &mut NodeDeserializer<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.next()? {
            Node::String(s) => visitor.visit_borrowed_str(s),
            Node::Static(scalar) => match number(scalar) {
                Scalar::I64(n) => visitor.visit_i64(n),
                Scalar::U64(n) => visitor.visit_u64(n),
                Scalar::F64(x) => visitor.visit_f64(x),
                Scalar::Bool(b) => visitor.visit_bool(b),
                Scalar::Null => visitor.visit_unit(),
            },
            Node::Array { len, .. } => self.nested(|de| {
                let mut elements = Members { de, left: len };
                let value = visitor.visit_seq(&mut elements)?;
                match elements.left {
                    0 => Ok(value),
                    _ => Err(DeError::invalid_length(len, &"fewer elements in array")),
                }
            }),
            Node::Object { len, .. } => self.nested(|de| {
                let mut members = Members { de, left: len };
                let value = visitor.visit_map(&mut members)?;
                match members.left {
                    0 => Ok(value),
                    _ => Err(DeError::invalid_length(len, &"fewer elements in map")),
                }
            }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if let Node::Static(StaticNode::Null) = self.peek()? {
            self.pos += 1;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == RAW_VALUE_TOKEN {
            let span = span(&self.peek()?);
            let subtree = self
                .nodes
                .get(self.pos..self.pos + span)
                .unwrap_or_default();
            self.pos += span;
            let json = serde_json::to_string(&Tree { nodes: subtree }).map_err(DeError::custom)?;
            return visitor.visit_map(MapDeserializer::new(std::iter::once((
                RAW_VALUE_TOKEN,
                json,
            ))));
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.peek()? {
            Node::String(s) => {
                self.pos += 1;
                visitor.visit_enum(BorrowedStrDeserializer::new(s))
            }
            Node::Object { len: 1, .. } => {
                self.pos += 1;
                self.nested(|de| visitor.visit_enum(Variant { de }))
            }
            other => Err(DeError::invalid_type(
                NodeDeserializer::unexpected(other),
                &visitor,
            )),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.pos += span(&self.peek()?);
        visitor.visit_unit()
    }

    /// serde_json reads an `i128` from the integer's text, so `-0` is 0
    /// there, where everywhere else it is the float -0.0 ([`number`]).
    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if let Node::Static(StaticNode::I64(0)) = self.peek()? {
            self.pos += 1;
            return visitor.visit_i128(0);
        }
        self.deserialize_any(visitor)
    }

    /// serde_json (with `float_roundtrip`, as the workspace builds it)
    /// reads an `f32` at single precision and rejects a number beyond
    /// `f32::MAX`; a float read wider and narrowed would be infinite.
    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if let Node::Static(scalar) = self.peek()? {
            if let Scalar::F64(wide) = number(scalar) {
                if wide.is_finite() && (wide as f32).is_infinite() {
                    return Err(DeError::custom("number out of range"));
                }
            }
        }
        self.deserialize_any(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 u8 u16 u32 u64 u128 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

/// The elements of an array or the members of an object.
struct Members<'d, 'a> {
    de: &'d mut NodeDeserializer<'a>,
    left: usize,
}

impl<'de> SeqAccess<'de> for Members<'_, 'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

impl<'de> MapAccess<'de> for Members<'_, 'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(Key { de: &mut *self.de }).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        seed.deserialize(&mut *self.de)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

/// An object key. Like serde_json, it reads numbers and booleans out of
/// the key text when the type asks for them (`HashMap<u32, _>`).
struct Key<'d, 'a> {
    de: &'d mut NodeDeserializer<'a>,
}

impl<'a> Key<'_, 'a> {
    #[inline]
    fn text(&mut self) -> Result<&'a str, DeError> {
        match self.de.next()? {
            Node::String(s) => Ok(s),
            _ => Err(DeError::custom("object key is not a string")),
        }
    }
}

/// A number read out of a key, as serde_json reads one: the key's text
/// starts with a digit or `-` and is the number and nothing after it
/// (`"1 "` is no number, though `Deserializer::end` allows the space).
macro_rules! numeric_key {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, DeError> {
            let text = self.text()?;
            if !text.starts_with(|c: char| c.is_ascii_digit() || c == '-')
                || text.ends_with([' ', '\t', '\n', '\r'])
            {
                return Err(DeError::invalid_type(Unexpected::Str(text), &visitor));
            }
            let mut de = serde_json::Deserializer::from_str(text);
            let value = (&mut de).$method(visitor).map_err(DeError::custom)?;
            de.end().map_err(DeError::custom)?;
            Ok(value)
        }
    )*};
}

impl<'de> Deserializer<'de> for Key<'_, 'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_borrowed_str(self.text()?)
    }

    numeric_key! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64
    }

    fn deserialize_bool<V: Visitor<'de>>(mut self, visitor: V) -> Result<V::Value, DeError> {
        match self.text()? {
            "true" => visitor.visit_bool(true),
            "false" => visitor.visit_bool(false),
            other => Err(DeError::invalid_type(Unexpected::Str(other), &visitor)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.de.deserialize_enum(name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        char str string bytes byte_buf unit unit_struct seq tuple tuple_struct map
        struct identifier ignored_any
    }
}

/// An enum written as an object with one member, `{"Variant": content}`.
struct Variant<'d, 'a> {
    de: &'d mut NodeDeserializer<'a>,
}

impl<'de, 'd> EnumAccess<'de> for Variant<'d, 'de> {
    type Error = DeError;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), DeError> {
        let variant = seed.deserialize(Key { de: &mut *self.de })?;
        Ok((variant, self))
    }
}

impl<'de> VariantAccess<'de> for Variant<'_, 'de> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        serde::Deserialize::deserialize(self.de)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.de.deserialize_any(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.de.deserialize_any(visitor)
    }
}

/// A subtree of a tape written back as JSON, for `RawValue`.
struct Tree<'a> {
    nodes: &'a [Node<'a>],
}

impl Tree<'_> {
    /// The subtrees of the container at the root, in order.
    fn children(&self) -> impl Iterator<Item = Tree<'_>> + '_ {
        let mut at = 1;
        std::iter::from_fn(move || {
            let span = span(self.nodes.get(at)?);
            let child = self.nodes.get(at..at + span)?;
            at += span;
            Some(Tree { nodes: child })
        })
    }
}

impl Serialize for Tree<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let root = self
            .nodes
            .first()
            .copied()
            .unwrap_or(Node::Static(StaticNode::Null));
        match root {
            Node::String(s) => serializer.serialize_str(s),
            Node::Static(scalar) => match number(scalar) {
                Scalar::I64(n) => serializer.serialize_i64(n),
                Scalar::U64(n) => serializer.serialize_u64(n),
                Scalar::F64(x) => serializer.serialize_f64(x),
                Scalar::Bool(b) => serializer.serialize_bool(b),
                Scalar::Null => serializer.serialize_unit(),
            },
            Node::Array { len, .. } => {
                let mut seq = serializer.serialize_seq(Some(len))?;
                for child in self.children() {
                    seq.serialize_element(&child)?;
                }
                seq.end()
            }
            Node::Object { len, .. } => {
                let mut map = serializer.serialize_map(Some(len))?;
                let mut children = self.children();
                while let (Some(key), Some(value)) = (children.next(), children.next()) {
                    map.serialize_entry(&key, &value)?;
                }
                map.end()
            }
        }
    }
}

/// Params in a form no JSON codec made: every read fails.
struct Foreign;

impl<'de> Deserializer<'de> for Foreign {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DeError> {
        Err(DeError::custom(FOREIGN))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_params, ErrorCode, ParamsError};
    use serde::Deserialize;

    fn simd(frame: &[u8]) -> Message {
        SimdJsonCodec::default().decode(Bytes::copy_from_slice(frame), &DecodeLimits::default())
    }

    fn json(frame: &[u8]) -> Message {
        JsonCodec::default().decode(Bytes::copy_from_slice(frame), &DecodeLimits::default())
    }

    /// `frame` in a buffer of its own with room for the padding after it,
    /// as the HTTP transport hands over a large or decompressed body.
    fn own_buffer(frame: &[u8]) -> Bytes {
        let mut buffer = BytesMut::with_capacity(frame.len() + crate::FRAME_PADDING);
        buffer.extend_from_slice(frame);
        buffer.freeze()
    }

    /// Whether the params' tape points into `frame`'s buffer: the frame was
    /// parsed where it lay, not copied.
    fn parsed_in(message: &Message, frame: std::ops::Range<*const u8>) -> bool {
        let Message::Single(Ok(request)) = message else {
            panic!("expected a request, got {message:?}");
        };
        let params = request.params.as_ref().expect("params");
        let params = params.downcast_ref::<Params>().expect("simd params");
        let nodes = params.parsed().nodes();
        let text = nodes
            .iter()
            .find_map(|node| match node {
                Node::String(text) => Some(text.as_ptr()),
                _ => None,
            })
            .expect("a string in the frame");
        frame.contains(&text)
    }

    /// The tape that a message's params read, as an address.
    fn params_tape(message: &Message) -> *const () {
        match message {
            Message::Single(Ok(request)) => {
                let params = request.params.as_ref().expect("params");
                let params = params.downcast_ref::<Params>().expect("simd params");
                params.parsed().nodes().as_ptr().cast()
            }
            other => panic!("expected a request, got {other:?}"),
        }
    }

    /// The tape kept for the thread's next frame, as an address.
    fn spare_tape() -> Option<*const ()> {
        SPARE.with(|spare| {
            let buffers = spare.take();
            let kept = buffers.as_ref().map(|(_, tape)| tape.0.as_ptr().cast());
            spare.set(buffers);
            kept
        })
    }

    #[test]
    fn params_buffers_are_reused_by_the_next_frame_on_the_thread() {
        let frame = br#"{"jsonrpc":"2.0","method":"m","params":{"a":["x","y",1]},"id":1}"#;
        let first = simd(frame);
        let tape = params_tape(&first);
        drop(first);
        assert_eq!(
            spare_tape(),
            Some(tape),
            "dropped params keep their buffers"
        );
        let second = simd(frame);
        assert_eq!(params_tape(&second), tape, "the dropped buffers came back");
        // Taken: a frame decoded while `second` lives gets its own.
        let third = simd(frame);
        assert_ne!(params_tape(&third), tape);
        // A frame without params gives its buffers back at once.
        drop(simd(br#"{"jsonrpc":"2.0","method":"m","id":1}"#));
        assert!(spare_tape().is_some());
    }

    #[test]
    fn params_buffers_past_the_limit_are_freed_not_kept() {
        SPARE.with(Cell::take);
        let big = format!(
            r#"{{"jsonrpc":"2.0","method":"m","params":["{}"],"id":1}}"#,
            "x".repeat(RETAIN_LEN)
        );
        drop(simd(big.as_bytes()));
        assert!(spare_tape().is_none());
        drop(simd(
            br#"{"jsonrpc":"2.0","method":"m","params":[1],"id":1}"#,
        ));
        assert!(spare_tape().is_some(), "small buffers kept");
    }

    /// What a frame decodes to, in terms both codecs must agree on.
    #[derive(Debug, PartialEq)]
    enum Shape {
        Single(Outcome),
        Batch(Vec<Outcome>),
    }

    #[derive(Debug, PartialEq)]
    enum Outcome {
        Error(ErrorCode),
        Request {
            method: std::sync::Arc<str>,
            id: Option<Id>,
            params: Option<Result<serde_json::Value, String>>,
        },
    }

    fn outcome(codec: &dyn Codec, entry: Entry) -> Outcome {
        match entry {
            Err(err) => Outcome::Error(err.code()),
            Ok(request) => Outcome::Request {
                params: request.params.as_ref().map(|raw| {
                    parse_params::<serde_json::Value>(codec, Some(raw)).map_err(|err| {
                        // Texts differ between the codecs; the code does not.
                        assert_eq!(ErrorObject::from(err).code(), ErrorCode::InvalidParams);
                        "invalid params".to_owned()
                    })
                }),
                method: request.method,
                id: request.id,
            },
        }
    }

    fn shape(codec: &dyn Codec, message: Message) -> Shape {
        match message {
            Message::Single(entry) => Shape::Single(outcome(codec, entry)),
            Message::Batch(entries) => Shape::Batch(
                entries
                    .into_iter()
                    .map(|entry| outcome(codec, entry))
                    .collect(),
            ),
        }
    }

    fn corpus() -> Vec<Vec<u8>> {
        let mut frames: Vec<Vec<u8>> = [
            // valid singles and notifications
            r#"{"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":1}"#,
            r#"{"jsonrpc":"2.0","method":"subtract","params":{"subtrahend":23,"minuend":42},"id":3}"#,
            r#"{"jsonrpc":"2.0","method":"update","params":[1,2,3,4,5]}"#,
            r#" {"method":"n","jsonrpc":"2.0"} "#,
            r#"{"jsonrpc":"2.0","method":"a\u0062","params":{"x":[1]},"id":null}"#,
            r#"{"jsonrpc":"2.0","method":"m","id":"req-\u00e9\ud83d\ude00","extra":{"id":[1]}}"#,
            r#"{"jsonrpc":"2.0","method":"m","params":{"s":"tab\tnew\nline \"q\" \\ \/ \u0000 \ud83d\ude00 é"},"id":2.5}"#,
            r#"{"jsonrpc":"2.0","method":"m","params":[],"id":-7}"#,
            r#"{"jsonrpc":"2.0","method":"m","params":{},"id":1e2}"#,
            r#"{"jsonrpc":"2.0","method":"m","params":[0,-0,-0.0,1.5e-7,-12,3.141592653589793],"id":-0}"#,
            r#"{"jsonrpc":"2.0","method":"m","params":[null,true,false,{"a":{"b":[[],{}]}}],"id":0}"#,
            r#"{"jsonrpc":"2.0","method":"m","params":{"a":1,"a":2},"id":1}"#,
            r#"{"jsonrpc":"2.0","method":"m","params":[9223372036854775807,-9223372036854775808,18446744073709551615],"id":18446744073709551615}"#,
            // big numbers simd-json cannot hold
            r#"{"jsonrpc":"2.0","method":"m","params":[18446744073709551616],"id":1}"#,
            r#"{"jsonrpc":"2.0","method":"m","params":[1e400],"id":1}"#,
            r#"{"jsonrpc":"2.0","method":"m","id":123456789012345678901234567890}"#,
            r#"{"jsonrpc":"2.0","method":"m","id":1e400}"#,
            r#"[{"jsonrpc":"2.0","method":"m","id":1e400},{"jsonrpc":"2.0","method":"m","id":1}]"#,
            r#"{"jsonrpc":"2.0","method":"m","x":[1e400,18446744073709551616],"id":1}"#,
            r#"{"jsonrpc":"2.0","method":"\ud800","id":1}"#,
            r#"[{"jsonrpc":"2.0","method":"\ud800","id":1},{"jsonrpc":"2.0","method":"m"}]"#,
            r#"{"jsonrpc":"2.0","m\u0065thod":"x","\u0069d":"\ud83d\ude00"}"#,
            "\n\t {\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":[ 1 , { } ],\"id\":1}\r\n",
            // batches
            r#"[{"jsonrpc":"2.0","method":"a","id":1},1,{"jsonrpc":"2.0","method":"b"}]"#,
            r#"[{"jsonrpc":"2.0","method":"sum","params":[1,2,4],"id":"1"},{"jsonrpc":"2.0","method":"notify_hello","params":[7]},{"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":"2"},{"foo":"boo"},{"jsonrpc":"2.0","method":"foo.get","params":{"name":"myself"},"id":"5"},{"jsonrpc":"2.0","method":"get_data","id":"9"}]"#,
            r#"[1,2,3]"#,
            r#"[{"jsonrpc":"2.0","method":"m","params":"x","id":1},[],null,"s",{"jsonrpc":"2.0","method":"m","id":true}]"#,
            r#"[{"jsonrpc":"2.0","method":"n1"},{"jsonrpc":"2.0","method":"n2","params":{"k":"v"}}]"#,
            "[]",
            r#"[[{"jsonrpc":"2.0","method":"m","id":1}]]"#,
            // malformed
            r#"[{"jsonrpc":"2.0","method":"a"}] x"#,
            "",
            " ",
            "{",
            r#"{"jsonrpc":"2.0","method":"foobar,"params":"bar","baz]"#,
            r#"{"jsonrpc":"2.0","method":1,"params":"bar""#,
            "[1,2",
            "\u{feff}{}",
            "{} x",
            "NaN",
            r#"[{"jsonrpc":"2.0","method":"sum","params":[1,2,4],"id":"1"},{"jsonrpc":"2.0","method""#,
            r#"{"jsonrpc":"2.0","method":"m","params":[01],"id":1}"#,
            r#"{"jsonrpc":"2.0","method":"m","params":["\ud800"],"id":1}"#,
            "{\"jsonrpc\":\"2.0\",\"method\":\"m\\x\",\"id\":1}",
            "{\"jsonrpc\":\"2.0\",\"method\":\"raw\ttab\",\"id\":1}",
            // well-formed but invalid
            "1",
            r#""x""#,
            "null",
            "{}",
            r#"{"jsonrpc":"2.0","method":1,"params":"bar"}"#,
            r#"{"jsonrpc":"2.0","method":"m","params":"bar","id":1}"#,
            r#"{"jsonrpc":"2.0","method":"m","params":null,"id":1}"#,
            r#"{"jsonrpc":"2.0","method":"m","params":3,"id":1}"#,
            r#"{"jsonrpc":"2.0","method":"m","id":[1]}"#,
            r#"{"jsonrpc":"2.0","method":"m","id":{}}"#,
            r#"{"jsonrpc":"2.0","method":"m","id":true}"#,
            r#"{"jsonrpc":2.0,"method":"m","id":1}"#,
            r#"{"jsonrpc":"1.0","method":"m","id":1}"#,
            r#"{"method":"m","id":1}"#,
            r#"{"jsonrpc":"2.0","id":1}"#,
            r#"{"jsonrpc":"2.0","method":"m","method":"n","id":1}"#,
            r#"{"jsonrpc":"2.0","jsonrpc":"2.0","method":"m","id":1}"#,
            r#"{"jsonrpc":"2.0","method":"m","id":1,"id":2}"#,
            r#"{"jsonrpc":"2.0","method":"m","params":[],"params":[],"id":1}"#,
        ]
        .iter()
        .map(|frame| frame.as_bytes().to_vec())
        .collect();
        // invalid UTF-8, in a string and outside one
        frames.push(b"{\"jsonrpc\":\"2.0\",\"method\":\"\xff\",\"id\":1}".to_vec());
        frames.push(
            b"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":[\"\xc3\"],\"id\":1}".to_vec(),
        );
        frames.push(b"\xef\xbb{}".to_vec());
        // nesting: at the limit, over it in params and in an ignored member,
        // a very deep prefix, and params past serde_json's recursion limit
        let nest = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let request =
            |params: &str| format!(r#"{{"jsonrpc":"2.0","method":"m","params":{params},"id":1}}"#);
        frames.push(request(&nest(127)).into_bytes());
        frames.push(request(&nest(128)).into_bytes());
        frames.push(
            format!(
                r#"{{"jsonrpc":"2.0","method":"m","x":{},"id":1}}"#,
                nest(200)
            )
            .into_bytes(),
        );
        frames.push(format!("[{}]", request(&nest(126))).into_bytes());
        frames.push(format!("[{}]", request(&nest(127))).into_bytes());
        frames.push("[".repeat(100_000).into_bytes());
        frames.push("{\"a\":".repeat(100_000).into_bytes());
        frames
    }

    /// Copied (a frame sharing its buffer) and parsed in place (a frame in
    /// a buffer of its own: the JSON codec's fallback then reads the bytes
    /// the parse rejected, which must be as sent).
    #[test]
    fn decodes_every_frame_as_the_json_codec_does() {
        let frames = corpus();
        assert!(frames.len() >= 40);
        let codec = SimdJsonCodec::default();
        for frame in &frames {
            let expected = shape(&JsonCodec::default(), json(frame));
            let copied = shape(&codec, simd(frame));
            let in_place = shape(&codec, codec.decode(own_buffer(frame), &Default::default()));
            let text = String::from_utf8_lossy(&frame[..frame.len().min(200)]);
            assert_eq!(copied, expected, "{text}");
            assert_eq!(in_place, expected, "in place: {text}");
        }
    }

    #[test]
    fn a_frame_of_its_own_without_escapes_is_parsed_where_it_lies() {
        let codec = SimdJsonCodec::default();
        let parse = |frame: Bytes| {
            let range = frame.as_ptr_range();
            let message = codec.decode(frame, &Default::default());
            parsed_in(&message, range)
        };
        let plain = br#"{"jsonrpc":"2.0","method":"m","params":["abc",1.5],"id":1}"#;
        assert!(parse(own_buffer(plain)), "in place");
        // Copied: no room after it, or a second handle to it, or escapes.
        assert!(!parse(Bytes::copy_from_slice(plain)), "no room");
        let shared = own_buffer(plain);
        let _other = shared.clone();
        assert!(!parse(shared), "shared");
        let escaped = br#"{"jsonrpc":"2.0","method":"m","params":["a\nc"],"id":1}"#;
        assert!(!parse(own_buffer(escaped)), "escapes");
        let Message::Single(Ok(request)) = codec.decode(own_buffer(escaped), &Default::default())
        else {
            panic!("a request");
        };
        let (text,): (String,) = parse_params(&codec, request.params.as_ref()).unwrap();
        assert_eq!(text, "a\nc");
    }

    #[test]
    fn agrees_under_other_limits() {
        let limits = DecodeLimits::default().max_batch_len(2).max_depth(200);
        let nest = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        for frame in [
            format!("[{}]", [r#"{"jsonrpc":"2.0","method":"a"}"#; 2].join(",")),
            format!("[{}]", [r#"{"jsonrpc":"2.0","method":"a"}"#; 3].join(",")),
            format!(
                r#"{{"jsonrpc":"2.0","method":"m","params":{},"id":1}}"#,
                nest(150)
            ),
            format!(
                r#"{{"jsonrpc":"2.0","method":"m","params":{},"id":1}}"#,
                nest(199)
            ),
            format!(
                r#"{{"jsonrpc":"2.0","method":"m","params":{},"id":1}}"#,
                nest(200)
            ),
        ] {
            let bytes = Bytes::from(frame);
            let expected = shape(
                &JsonCodec::default(),
                JsonCodec::default().decode(bytes.clone(), &limits),
            );
            let got = shape(
                &SimdJsonCodec::default(),
                SimdJsonCodec::default().decode(bytes.clone(), &limits),
            );
            assert_eq!(got, expected, "{:?}", &bytes[..bytes.len().min(80)]);
        }
    }

    #[test]
    fn big_numbers_fall_back_to_serde_json() {
        let Message::Single(Ok(request)) =
            simd(br#"{"jsonrpc":"2.0","method":"m","params":[18446744073709551616],"id":-0}"#)
        else {
            panic!()
        };
        assert_eq!(request.id, Some(Id::Float(-0.0)));
        assert!(request.params.as_ref().unwrap().as_bytes().is_some());
        let value: Vec<f64> =
            parse_params(&SimdJsonCodec::default(), request.params.as_ref()).unwrap();
        assert_eq!(value, [18446744073709551616.0]);
    }

    #[test]
    fn params_are_kept_parsed_and_shared_by_a_batch() {
        let Message::Batch(entries) = simd(
            br#"[{"jsonrpc":"2.0","method":"a","params":["x\ny"],"id":1},{"jsonrpc":"2.0","method":"b","params":{"k":[1,{"z":null}]}}]"#,
        ) else {
            panic!()
        };
        let params: Vec<&Params> = entries
            .iter()
            .map(|entry| {
                entry
                    .as_ref()
                    .unwrap()
                    .params
                    .as_ref()
                    .unwrap()
                    .downcast_ref()
                    .unwrap()
            })
            .collect();
        let (Store::Batch(first), Store::Batch(second)) = (&params[0].store, &params[1].store)
        else {
            panic!("a batch shares its params")
        };
        assert!(Arc::ptr_eq(first, second));
        let strings: Vec<String> = parse_params(
            &SimdJsonCodec::default(),
            entries[0].as_ref().unwrap().params.as_ref(),
        )
        .unwrap();
        assert_eq!(strings, ["x\ny"]);
        assert_eq!(format!("{:?}", params[1]), "Params(7 nodes)");
    }

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

    /// Reads params with this codec, checking that the JSON codec blames
    /// the same param.
    fn parse<T: DeserializeOwned>(frame: &str) -> Result<T, ParamsError> {
        let read = |codec: &dyn Codec, message| match message {
            Message::Single(Ok(request)) => parse_params::<T>(codec, request.params.as_ref()),
            other => panic!("{other:?}"),
        };
        let got = read(&SimdJsonCodec::default(), simd(frame.as_bytes()));
        let expected = read(&JsonCodec::default(), json(frame.as_bytes()));
        assert_eq!(
            got.as_ref().err().map(ParamsError::param),
            expected.as_ref().err().map(ParamsError::param),
            "{frame}"
        );
        got
    }

    #[test]
    fn positional_named_and_default_params() {
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
        let f = r#"{"jsonrpc":"2.0","method":"e","params":["x",1,2],"id":1}"#;
        assert!(parse::<Echo>(f).is_err());
    }

    #[test]
    fn param_errors_name_the_param() {
        let f = r#"{"jsonrpc":"2.0","method":"e","params":["x","y"],"id":1}"#;
        assert_eq!(parse::<Echo>(f).unwrap_err().param(), Some("times"));
        let f = r#"{"jsonrpc":"2.0","method":"e","params":{"times":"y"},"id":1}"#;
        let err = parse::<Echo>(f).unwrap_err();
        assert_eq!(err.param(), Some("times"));
        assert_eq!(err.message(), r#"invalid type: string "y", expected u32"#);
        let f = r#"{"jsonrpc":"2.0","method":"e","params":[1,"y"],"id":1}"#;
        assert_eq!(parse::<(i32, i32)>(f).unwrap_err().param(), Some("#1"));
        let f = r#"{"jsonrpc":"2.0","method":"e","params":{"data":"x","data":"y"},"id":1}"#;
        assert!(parse::<Echo>(f).is_err());

        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Needs {
            a: i32,
        }
        let f = r#"{"jsonrpc":"2.0","method":"e","params":{},"id":1}"#;
        let err = parse::<Needs>(f).unwrap_err();
        assert_eq!(err.param(), Some("a"));
        assert_eq!(ErrorObject::from(err).code(), ErrorCode::InvalidParams);
    }

    #[test]
    fn params_read_into_rich_types() {
        use std::collections::{BTreeMap, HashMap};

        #[derive(Debug, Deserialize, PartialEq)]
        enum Shape {
            Dot,
            Circle(f64),
            Rect { w: u8, h: u8 },
            Pair(i8, i8),
        }

        #[derive(Debug, Deserialize, PartialEq)]
        struct Wrapper(String);

        #[derive(Debug, Deserialize)]
        struct Rich {
            shapes: Vec<Shape>,
            by_id: HashMap<u32, Option<Wrapper>>,
            flags: BTreeMap<bool, char>,
            raw: Box<serde_json::value::RawValue>,
        }

        let f = r#"{"jsonrpc":"2.0","method":"r","params":{"shapes":["Dot",{"Circle":1.5},{"Rect":{"w":2,"h":3}},{"Pair":[-1,1]}],"by_id":{"7":"seven","8":null},"ignored":[{"deep":[1,2,3]}],"flags":{"true":"y"},"raw":{"a" : [1, "\u0041"]}},"id":1}"#;
        let rich: Rich = parse(f).unwrap();
        assert_eq!(
            rich.shapes,
            [
                Shape::Dot,
                Shape::Circle(1.5),
                Shape::Rect { w: 2, h: 3 },
                Shape::Pair(-1, 1)
            ]
        );
        assert_eq!(rich.by_id[&7], Some(Wrapper("seven".into())));
        assert_eq!(rich.by_id[&8], None);
        assert_eq!(rich.flags[&true], 'y');
        assert_eq!(rich.raw.get(), r#"{"a":[1,"A"]}"#);

        let f = r#"{"jsonrpc":"2.0","method":"r","params":{"x":300},"id":1}"#;
        let err = parse::<HashMap<String, u8>>(f).unwrap_err();
        assert_eq!(err.param(), Some("x"));
        let f = r#"{"jsonrpc":"2.0","method":"r","params":{"x":1},"id":1}"#;
        assert!(parse::<HashMap<u8, u8>>(f).is_err());
    }

    #[test]
    fn deserialize_params_feeds_a_visit() {
        let Message::Single(Ok(request)) =
            simd(br#"{"jsonrpc":"2.0","method":"m","params":[1,"two"],"id":1}"#)
        else {
            panic!()
        };
        let raw = request.params.unwrap();
        let mut got = None;
        let mut f = |d: &mut dyn crate::ErasedDeserializer<'_>| {
            got = Some(crate::erased_deserialize::<(u8, String)>(d)?);
            Ok(())
        };
        SimdJsonCodec::default()
            .deserialize_params(&raw, Visit::from_fn(&mut f))
            .unwrap();
        assert_eq!(got, Some((1, "two".to_owned())));

        // Params from the JSON codec are JSON bytes, and read as such.
        let Message::Single(Ok(request)) =
            json(br#"{"jsonrpc":"2.0","method":"m","params":[3],"id":1}"#)
        else {
            panic!()
        };
        let value: [u8; 1] =
            parse_params(&SimdJsonCodec::default(), request.params.as_ref()).unwrap();
        assert_eq!(value, [3]);
        let err = parse_params::<u8>(&SimdJsonCodec::default(), Some(&RawParams::from_owned(5u8)))
            .unwrap_err();
        assert_eq!(err.message(), FOREIGN);
    }

    #[test]
    fn truncated_batches_are_parse_errors() {
        let batch = r#"[{"jsonrpc":"2.0","method":"sum","params":[1,2.5e3,{"s":"\u00e9\n"}],"id":"1"},{"jsonrpc":"2.0","method":"note","params":{"a":[true,null]}},{"jsonrpc":"2.0","method":"x","id":-0}]"#;
        assert!(
            matches!(simd(batch.as_bytes()), Message::Batch(ref entries) if entries.len() == 3)
        );
        for end in 0..batch.len() {
            match simd(&batch.as_bytes()[..end]) {
                Message::Single(Err(err)) => assert_eq!(err.code(), ErrorCode::ParseError, "{end}"),
                other => panic!("cut at {end}: {other:?}"),
            }
        }
    }

    #[test]
    fn replies_are_the_json_codecs() {
        let reply = Reply::Single(crate::Response {
            id: Id::Str("a".into()),
            outcome: Ok(crate::encode_value(&SimdJsonCodec::default(), &[1, 2]).unwrap()),
        });
        let (mut simd_out, mut json_out) = (Vec::new(), Vec::new());
        SimdJsonCodec::default().encode_reply(&reply, &mut simd_out);
        JsonCodec::default().encode_reply(&reply, &mut json_out);
        assert_eq!(simd_out, json_out);
        assert_eq!(simd_out, br#"{"jsonrpc":"2.0","result":[1,2],"id":"a"}"#);
        let codec = SimdJsonCodec::default();
        assert_eq!(codec.name(), "simd-json");
        assert_eq!(codec.media_types(), JsonCodec::default().media_types());
        assert_eq!(codec.builtin(), Some(Builtin::SimdJson));
    }

    #[test]
    fn public_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<SimdJsonCodec>();
        check::<Params>();
    }
}
