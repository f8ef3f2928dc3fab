//! The envelope decoder shared by the binary codecs (CBOR, MessagePack).
//!
//! Neither ciborium nor rmp-serde can hand back the byte range of one member
//! or check a whole frame without building it, so the binary codecs read
//! their frames with this small walker instead. A [`Format`] turns bytes
//! into item heads ([`Head`]); the walker does the rest, the same way for
//! both formats:
//!
//! - one pass over the frame, no value tree: `params` stays a byte range;
//! - no recursion: nesting is tracked on a small explicit stack, and an item
//!   deeper than [`DecodeLimits::depth`] stops the walk at once;
//! - no allocation sized by a length header: a header is only believed as far
//!   as the bytes behind it go, so a claimed 2^63-byte string is a truncated
//!   frame, not an allocation;
//! - every text string is checked to be UTF-8, params included.
//!
//! The classification mirrors the JSON codec: bytes that are not exactly one
//! well-formed item are -32700, whatever else is wrong with them; a
//! well-formed item that is not a request is -32600.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use bytes::Bytes;

use crate::{DecodeLimits, Entry, ErrorObject, Id, Message, RawParams, Request};

/// The head of one item: its kind and, for scalars, its value.
///
/// Strings are already checked to be UTF-8. A container head carries its
/// length (`None` for CBOR's indefinite lengths), not its items.
// With one format compiled in, the other's kinds are never built.
#[cfg_attr(not(all(feature = "cbor", feature = "msgpack")), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Head<'a> {
    Null,
    Bool(bool),
    /// A non-negative integer.
    Uint(u64),
    /// The negative integer `-1 - n`.
    Neg(u64),
    Float(f64),
    Text(&'a str),
    Bytes(&'a [u8]),
    /// An indefinite-length text string: definite text chunks, then `Break`.
    TextChunks,
    /// An indefinite-length byte string: definite byte chunks, then `Break`.
    BytesChunks,
    Array(Option<u64>),
    Map(Option<u64>),
    /// A CBOR tag; the tagged item follows.
    Tag(u64),
    /// A CBOR simple value other than false, true and null (23 is undefined).
    Simple(u8),
    /// A MessagePack extension: its type and data.
    Ext(i8, &'a [u8]),
    /// The end of an indefinite-length item.
    Break,
}

/// A binary format, as far as the walker needs it: how to read one head.
pub(crate) trait Format {
    /// Reads the head at the reader's position, and for strings, byte
    /// strings and extensions their contents too.
    fn head<'a>(reader: &mut Reader<'a>) -> Result<Head<'a>, Fault>;
}

/// Why a frame is not well formed: what, and at which byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fault {
    at: usize,
    what: Cow<'static, str>,
}

impl Fault {
    pub(crate) fn new(at: usize, what: impl Into<Cow<'static, str>>) -> Self {
        Fault {
            at,
            what: what.into(),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

/// A cursor over a frame that never reads past its end.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        Reader { input, pos: 0 }
    }

    /// The offset of the next byte.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Whether every byte has been read.
    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.input.len()
    }

    /// How many bytes are left.
    pub(crate) fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    pub(crate) fn truncated(&self) -> Fault {
        Fault::new(self.input.len(), "truncated")
    }

    pub(crate) fn byte(&mut self) -> Result<u8, Fault> {
        let byte = *self.input.get(self.pos).ok_or_else(|| self.truncated())?;
        self.pos += 1;
        Ok(byte)
    }

    /// The next `len` bytes. A length beyond the end of the frame is a
    /// truncation, whatever its size: nothing is allocated for it.
    pub(crate) fn take(&mut self, len: u64) -> Result<&'a [u8], Fault> {
        match usize::try_from(len) {
            Ok(len) if len <= self.remaining() => {
                let bytes = &self.input[self.pos..self.pos + len];
                self.pos += len;
                Ok(bytes)
            }
            _ => Err(self.truncated()),
        }
    }

    /// A big-endian unsigned integer of `width` bytes (at most 8).
    pub(crate) fn uint(&mut self, width: usize) -> Result<u64, Fault> {
        let bytes = self.take(width as u64)?;
        Ok(bytes.iter().fold(0, |n, &b| (n << 8) | u64::from(b)))
    }

    /// A text string of `len` bytes, checked to be UTF-8.
    pub(crate) fn text(&mut self, len: u64) -> Result<&'a str, Fault> {
        let start = self.pos;
        let bytes = self.take(len)?;
        std::str::from_utf8(bytes)
            .map_err(|err| Fault::new(start + err.valid_up_to(), "invalid UTF-8 in a text string"))
    }
}

/// Decodes one frame into a message.
pub(crate) fn decode<F: Format>(frame: &Bytes, limits: &DecodeLimits) -> Message {
    let mut walker = Walker::<F>::new(frame, limits.depth());
    match walker.frame(limits.batch_len()) {
        Ok(message) => message,
        Err(fault) => Message::error(ErrorObject::parse_error(fault)),
    }
}

/// An open container (or chunked string) while skipping.
enum Open {
    /// A definite-length container with this many items still to come
    /// (a map's keys and values counted separately).
    Items(u64),
    /// An indefinite-length container; for a map, whether a key waits for
    /// its value.
    Indefinite { pairs: bool, odd: bool },
    /// An indefinite-length string, text or bytes.
    Chunks { text: bool },
}

/// One pass over one frame in format `F`.
struct Walker<'a, F> {
    frame: &'a Bytes,
    reader: Reader<'a>,
    limit: usize,
    format: PhantomData<F>,
}

/// The members of a request envelope, as far as they have been read.
#[derive(Default)]
struct Envelope<'a> {
    /// Which members were seen, valid or not, to catch duplicates.
    seen: [bool; 4],
    version: bool,
    method: Option<Cow<'a, str>>,
    params: Option<RawParams>,
    id: Option<Id>,
    /// The first thing found wrong; later ones are not reported.
    problem: Option<Cow<'static, str>>,
}

/// The envelope members, in the order of [`Envelope::seen`].
const MEMBERS: [&str; 4] = ["jsonrpc", "method", "params", "id"];

impl Envelope<'_> {
    fn note(&mut self, problem: impl Into<Cow<'static, str>>) {
        if self.problem.is_none() {
            self.problem = Some(problem.into());
        }
    }

    fn into_entry(self) -> Entry {
        if let Some(problem) = self.problem {
            return Err(ErrorObject::invalid_request(problem));
        }
        if !self.version {
            return Err(ErrorObject::invalid_request("missing member `jsonrpc`"));
        }
        let Some(method) = self.method else {
            return Err(ErrorObject::invalid_request("missing member `method`"));
        };
        Ok(Request {
            method: method.into(),
            params: self.params,
            id: self.id,
        })
    }
}

impl<'a, F: Format> Walker<'a, F> {
    fn new(frame: &'a Bytes, limit: usize) -> Self {
        Walker {
            frame,
            reader: Reader::new(frame),
            limit,
            format: PhantomData,
        }
    }

    fn head(&mut self) -> Result<Head<'a>, Fault> {
        F::head(&mut self.reader)
    }

    /// The head of the next item, its tags skipped, with the offset where
    /// it starts; `None` for a break that may end an indefinite-length
    /// container (a break anywhere else is malformed).
    fn item_or_end(&mut self, indefinite: bool) -> Result<Option<(usize, Head<'a>)>, Fault> {
        let mut tagged = false;
        loop {
            let start = self.reader.pos();
            match self.head()? {
                Head::Tag(_) => tagged = true,
                Head::Break if indefinite && !tagged => return Ok(None),
                Head::Break => return Err(Fault::new(start, "unexpected break")),
                head => return Ok(Some((start, head))),
            }
        }
    }

    /// The head of the next item, which must be there.
    fn item(&mut self) -> Result<(usize, Head<'a>), Fault> {
        self.item_or_end(false)?
            .ok_or_else(|| Fault::new(self.reader.pos(), "unexpected break"))
    }

    /// The next entry of a container of `len` entries (`None`: indefinite)
    /// of which `read` have been read, or `None` at its end.
    fn next_in(&mut self, len: Option<u64>, read: u64) -> Result<Option<(usize, Head<'a>)>, Fault> {
        match len {
            Some(len) if read >= len => Ok(None),
            Some(_) => self.item().map(Some),
            None => self.item_or_end(true),
        }
    }

    /// Checks that a container opened inside `depth` others is allowed.
    fn enter(&self, depth: usize) -> Result<(), Fault> {
        enter(&self.reader, depth, self.limit)
    }

    fn frame(&mut self, batch_len: usize) -> Result<Message, Fault> {
        let (_, head) = self.item()?;
        let message = match head {
            Head::Array(len) => {
                self.enter(0)?;
                self.batch(len, batch_len)?
            }
            Head::Map(len) => {
                self.enter(0)?;
                Message::Single(self.request(len, 1)?)
            }
            other => {
                self.skip(other, 0)?;
                Message::error(ErrorObject::invalid_request(
                    "expected a request map or a batch array",
                ))
            }
        };
        if !self.reader.at_end() {
            return Err(Fault::new(
                self.reader.pos(),
                format!(
                    "{} trailing bytes after the message",
                    self.reader.remaining()
                ),
            ));
        }
        Ok(message)
    }

    /// A batch whose array head has been read. Every entry is walked, so a
    /// malformed frame is a parse error even past the batch limit, but
    /// entries over the limit are only skipped, not kept.
    fn batch(&mut self, len: Option<u64>, limit: usize) -> Result<Message, Fault> {
        let mut entries = Vec::new();
        let mut count: u64 = 0;
        while let Some((_, head)) = self.next_in(len, count)? {
            count += 1;
            if count > limit as u64 {
                self.skip(head, 1)?;
                continue;
            }
            let entry = match head {
                Head::Map(len) => {
                    self.enter(1)?;
                    self.request(len, 2)?
                }
                other => {
                    self.skip(other, 1)?;
                    Err(ErrorObject::invalid_request(
                        "a batch entry must be a request map",
                    ))
                }
            };
            entries.push(entry);
        }
        Ok(if count == 0 {
            Message::error(ErrorObject::invalid_request("empty batch"))
        } else if count > limit as u64 {
            Message::error(ErrorObject::invalid_request(format_args!(
                "batch of {count} entries exceeds the limit of {limit}"
            )))
        } else {
            Message::Batch(entries)
        })
    }

    /// A request map whose head has been read; the map is `depth` deep.
    /// Malformed bytes are the `Err`; an invalid request is `Ok(Err(..))`.
    fn request(&mut self, len: Option<u64>, depth: usize) -> Result<Entry, Fault> {
        let mut envelope = Envelope::default();
        let mut read = 0;
        while let Some((_, key)) = self.next_in(len, read)? {
            read += 1;
            let key = self.text(key, depth)?;
            let (start, value) = self.item()?;
            let Some(member) = key.and_then(|key| MEMBERS.iter().position(|m| *m == key)) else {
                self.skip(value, depth)?;
                continue;
            };
            if std::mem::replace(&mut envelope.seen[member], true) {
                envelope.note(format!("duplicate member `{}`", MEMBERS[member]));
                self.skip(value, depth)?;
                continue;
            }
            match member {
                0 => match self.text(value, depth)? {
                    Some(version) if version == "2.0" => envelope.version = true,
                    _ => envelope.note("`jsonrpc` must be the text \"2.0\""),
                },
                1 => match self.text(value, depth)? {
                    Some(method) => envelope.method = Some(method),
                    None => envelope.note("`method` must be a text string"),
                },
                2 => {
                    let container = matches!(value, Head::Array(_) | Head::Map(_));
                    self.skip(value, depth)?;
                    if container {
                        let bytes = self.frame.slice(start..self.reader.pos());
                        envelope.params = Some(RawParams::from_bytes(bytes));
                    } else {
                        envelope.note("`params` must be an array or a map");
                    }
                }
                _ => match self.id(value, depth)? {
                    Ok(id) => envelope.id = Some(id),
                    Err(problem) => envelope.note(problem),
                },
            }
        }
        Ok(envelope.into_entry())
    }

    /// The id member's value, or why it is not an id.
    fn id(&mut self, head: Head<'a>, depth: usize) -> Result<Result<Id, &'static str>, Fault> {
        Ok(match head {
            Head::Null => Ok(Id::Null),
            Head::Uint(n) => Ok(Id::from(n)),
            Head::Neg(n) => i64::try_from(n)
                .map(|n| Id::Int(-1 - n))
                .map_err(|_| "`id` is out of range"),
            Head::Float(x) if x.is_finite() => Ok(Id::Float(x)),
            Head::Float(_) => Err("`id` is not a finite number"),
            other => self
                .text(other, depth)?
                .map(|text| Id::from(text.into_owned()))
                .ok_or("`id` must be a text string, a number or null"),
        })
    }

    /// The text of a text item, chunks joined; any other item is skipped
    /// and gives `None`.
    fn text(&mut self, head: Head<'a>, depth: usize) -> Result<Option<Cow<'a, str>>, Fault> {
        match head {
            Head::Text(text) => Ok(Some(Cow::Borrowed(text))),
            Head::TextChunks => {
                let mut text = String::new();
                loop {
                    let at = self.reader.pos();
                    match self.head()? {
                        Head::Text(chunk) => text.push_str(chunk),
                        Head::Break => return Ok(Some(Cow::Owned(text))),
                        _ => {
                            return Err(Fault::new(
                                at,
                                "a text chunk must be a definite text string",
                            ))
                        }
                    }
                }
            }
            other => {
                self.skip(other, depth)?;
                Ok(None)
            }
        }
    }

    fn skip(&mut self, head: Head<'a>, depth: usize) -> Result<(), Fault> {
        skip::<F>(&mut self.reader, head, depth, self.limit)
    }
}

/// Walks the rest of the item whose head is `head`, found inside `depth`
/// containers, checking that it is well formed and that no container in it
/// is more than `limit` deep. Iterative: the stack holds one small entry per open level.
pub(crate) fn skip<'a, F: Format>(
    reader: &mut Reader<'a>,
    head: Head<'a>,
    depth: usize,
    limit: usize,
) -> Result<(), Fault> {
    let mut open: Vec<Open> = Vec::new();
    let mut nested = depth;
    let mut head = head;
    loop {
        match head {
            Head::Array(len) | Head::Map(len) => {
                enter(reader, nested, limit)?;
                nested += 1;
                let pairs = matches!(head, Head::Map(_));
                open.push(match len {
                    Some(n) if pairs => Open::Items(n.saturating_mul(2)),
                    Some(n) => Open::Items(n),
                    None => Open::Indefinite { pairs, odd: false },
                });
            }
            Head::TextChunks => open.push(Open::Chunks { text: true }),
            Head::BytesChunks => open.push(Open::Chunks { text: false }),
            Head::Tag(_) => {
                let at = reader.pos();
                head = F::head(reader)?;
                if head == Head::Break {
                    return Err(Fault::new(at, "a tag without content"));
                }
                continue;
            }
            Head::Break => {
                return Err(Fault::new(reader.pos() - 1, "unexpected break"));
            }
            Head::Null
            | Head::Bool(_)
            | Head::Uint(_)
            | Head::Neg(_)
            | Head::Float(_)
            | Head::Text(_)
            | Head::Bytes(_)
            | Head::Simple(_)
            | Head::Ext(..) => {}
        }
        // The next head, closing the containers that are complete.
        head = loop {
            let at = reader.pos();
            match open.last_mut() {
                None => return Ok(()),
                Some(Open::Items(0)) => {
                    open.pop();
                    nested -= 1;
                }
                Some(Open::Items(left)) => {
                    *left -= 1;
                    match F::head(reader)? {
                        Head::Break => return Err(Fault::new(at, "unexpected break")),
                        head => break head,
                    }
                }
                Some(Open::Indefinite { pairs, odd }) => match F::head(reader)? {
                    Head::Break if *odd => {
                        return Err(Fault::new(at, "a map ends between a key and its value"))
                    }
                    Head::Break => {
                        open.pop();
                        nested -= 1;
                    }
                    head => {
                        *odd = *pairs && !*odd;
                        break head;
                    }
                },
                Some(Open::Chunks { text }) => match (F::head(reader)?, *text) {
                    (Head::Break, _) => {
                        open.pop();
                    }
                    (Head::Text(_), true) | (Head::Bytes(_), false) => {}
                    _ => {
                        return Err(Fault::new(
                            at,
                            "a chunk must be a definite string of its kind",
                        ))
                    }
                },
            }
        };
    }
}

/// Checks that a container opened inside `depth` others stays within `limit`.
fn enter(reader: &Reader<'_>, depth: usize, limit: usize) -> Result<(), Fault> {
    if depth >= limit {
        Err(Fault::new(
            reader.pos(),
            format!("nesting deeper than {limit}"),
        ))
    } else {
        Ok(())
    }
}

/// Checks shared by the CBOR and MessagePack tests: each codec runs them
/// with its own encoder, so both formats meet the same expectations.
#[cfg(test)]
pub(crate) mod testing {
    use bytes::Bytes;
    use serde::Deserialize;
    use serde_json::{json, Value};

    use crate::{
        encode_value, parse_params, Codec, DecodeLimits, Encoded, ErrorCode, ErrorObject, Id,
        Message, Reply, Request, Response,
    };

    /// Encodes a JSON value in the codec's format.
    pub(crate) type Encode = fn(&Value) -> Vec<u8>;
    /// Decodes bytes in the codec's format into a JSON value.
    pub(crate) type Decode = fn(&[u8]) -> Value;

    pub(crate) fn decode(codec: &dyn Codec, bytes: &[u8]) -> Message {
        codec.decode(Bytes::copy_from_slice(bytes), &DecodeLimits::default())
    }

    /// A summary of a message: a request as `{"method", "id"?, "params"?}`
    /// (params as their bytes), an error as its code, a batch as an array.
    pub(crate) fn shape(message: &Message) -> Value {
        fn entry(entry: &Result<Request, ErrorObject>) -> Value {
            match entry {
                Ok(request) => {
                    let mut shape = json!({ "method": &*request.method });
                    if let Some(id) = &request.id {
                        shape["id"] = serde_json::to_value(id).unwrap();
                    }
                    if let Some(params) = &request.params {
                        shape["params"] = json!(params.as_bytes().unwrap().to_vec());
                    }
                    shape
                }
                Err(err) => json!(err.code().code()),
            }
        }
        match message {
            Message::Single(single) => entry(single),
            Message::Batch(entries) => entries.iter().map(entry).collect(),
        }
    }

    pub(crate) fn code(message: &Message) -> ErrorCode {
        match message {
            Message::Single(Err(err)) => err.code(),
            other => panic!("expected a single error: {other:?}"),
        }
    }

    pub(crate) fn request(message: Message) -> Request {
        match message {
            Message::Single(Ok(request)) => request,
            other => panic!("expected a single request: {other:?}"),
        }
    }

    /// The examples of section 7 of the JSON-RPC 2.0 specification.
    pub(crate) fn spec_examples(codec: &dyn Codec, encode: Encode) {
        let p = |params: Value| json!(encode(&params));
        let cases = [
            (
                json!({"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}),
                json!({"method": "subtract", "params": p(json!([42, 23])), "id": 1}),
            ),
            (
                json!({"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}),
                json!({"method": "subtract", "params": p(json!({"subtrahend": 23, "minuend": 42})), "id": 3}),
            ),
            (
                json!({"jsonrpc": "2.0", "method": "update", "params": [1, 2, 3, 4, 5]}),
                json!({"method": "update", "params": p(json!([1, 2, 3, 4, 5]))}),
            ),
            (
                json!({"jsonrpc": "2.0", "method": "foobar"}),
                json!({"method": "foobar"}),
            ),
            (
                json!({"jsonrpc": "2.0", "method": "foobar", "id": "1"}),
                json!({"method": "foobar", "id": "1"}),
            ),
            (
                json!({"jsonrpc": "2.0", "method": 1, "params": "bar"}),
                json!(-32600),
            ),
            (json!([]), json!(-32600)),
            (json!([1]), json!([-32600])),
            (json!([1, 2, 3]), json!([-32600, -32600, -32600])),
            (
                json!([
                    {"jsonrpc": "2.0", "method": "sum", "params": [1, 2, 4], "id": "1"},
                    {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
                    {"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": "2"},
                    {"foo": "boo"},
                    {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
                    {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
                ]),
                json!([
                    {"method": "sum", "params": p(json!([1, 2, 4])), "id": "1"},
                    {"method": "notify_hello", "params": p(json!([7]))},
                    {"method": "subtract", "params": p(json!([42, 23])), "id": "2"},
                    -32600,
                    {"method": "foo.get", "params": p(json!({"name": "myself"})), "id": "5"},
                    {"method": "get_data", "id": "9"}
                ]),
            ),
            (
                json!([
                    {"jsonrpc": "2.0", "method": "notify_sum", "params": [1, 2, 4]},
                    {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
                ]),
                json!([
                    {"method": "notify_sum", "params": p(json!([1, 2, 4]))},
                    {"method": "notify_hello", "params": p(json!([7]))}
                ]),
            ),
        ];
        for (frame, expected) in cases {
            assert_eq!(shape(&decode(codec, &encode(&frame))), expected, "{frame}");
        }
        // "Invalid JSON": a frame cut short, single and batch.
        let single =
            encode(&json!({"jsonrpc": "2.0", "method": "foobar", "params": "bar", "id": 1}));
        assert_eq!(
            code(&decode(codec, &single[..single.len() - 2])),
            ErrorCode::ParseError
        );
        let batch = encode(
            &json!([{"jsonrpc": "2.0", "method": "sum", "params": [1, 2, 4], "id": "1"}, {"jsonrpc": "2.0", "method": "a"}]),
        );
        assert_eq!(
            code(&decode(codec, &batch[..batch.len() - 3])),
            ErrorCode::ParseError
        );
    }

    /// Invalid requests that are well formed: -32600, never -32700.
    pub(crate) fn invalid_requests(codec: &dyn Codec, encode: Encode) {
        for frame in [
            json!(1),
            json!("x"),
            json!(null),
            json!({}),
            json!({"jsonrpc": "2.0", "method": "m", "params": "bar", "id": 1}),
            json!({"jsonrpc": "2.0", "method": "m", "params": null, "id": 1}),
            json!({"jsonrpc": "2.0", "method": "m", "params": 5, "id": 1}),
            json!({"jsonrpc": "2.0", "method": "m", "id": [1]}),
            json!({"jsonrpc": "2.0", "method": "m", "id": {}}),
            json!({"jsonrpc": "2.0", "method": "m", "id": true}),
            json!({"jsonrpc": 2.0, "method": "m", "id": 1}),
            json!({"jsonrpc": "1.0", "method": "m", "id": 1}),
            json!({"jsonrpc": null, "method": "m", "id": 1}),
            json!({"method": "m", "id": 1}),
            json!({"jsonrpc": "2.0", "id": 1}),
            json!({"jsonrpc": "2.0", "method": null, "id": 1}),
            json!({"jsonrpc": "2.0", "method": ["m"], "id": 1}),
        ] {
            assert_eq!(
                code(&decode(codec, &encode(&frame))),
                ErrorCode::InvalidRequest,
                "{frame}"
            );
        }
        let Message::Batch(entries) = decode(
            codec,
            &encode(
                &json!([{"jsonrpc": "2.0", "method": "a", "id": 1}, 1, {"jsonrpc": "2.0", "method": "b"}, "x", {"jsonrpc": "1.0", "method": "c"}]),
            ),
        ) else {
            panic!("a batch")
        };
        let codes: Vec<_> = entries
            .iter()
            .map(|e| e.as_ref().err().map(|e| e.code()))
            .collect();
        assert_eq!(
            codes,
            [
                None,
                Some(ErrorCode::InvalidRequest),
                None,
                Some(ErrorCode::InvalidRequest),
                Some(ErrorCode::InvalidRequest)
            ]
        );
        assert!(entries[2].as_ref().unwrap().is_notification());
        assert_eq!(
            entries[1].as_ref().unwrap_err().message(),
            "Invalid Request: a batch entry must be a request map"
        );
    }

    /// Ids of every legal kind come back exactly; unknown members are skipped.
    pub(crate) fn ids_and_members(codec: &dyn Codec, encode: Encode) {
        let cases = [
            (json!(null), Id::Null),
            (json!(0), Id::Int(0)),
            (json!(-1), Id::Int(-1)),
            (json!(i64::MAX), Id::Int(i64::MAX)),
            (json!(i64::MIN), Id::Int(i64::MIN)),
            (json!(u64::MAX), Id::Uint(u64::MAX)),
            (json!(1u64 << 63), Id::Uint(1 << 63)),
            (json!(1.5), Id::Float(1.5)),
            (json!(-0.1), Id::Float(-0.1)),
            (json!(1e300), Id::Float(1e300)),
            (json!("abc"), Id::from("abc")),
            (json!(""), Id::from("")),
            (json!("ünï"), Id::from("ünï")),
        ];
        for (id, expected) in cases {
            let frame = encode(
                &json!({"jsonrpc": "2.0", "method": "m", "id": id, "x": [1, {"y": null}], "": 0}),
            );
            let request = request(decode(codec, &frame));
            assert_eq!(request.id, Some(expected), "{id}");
            assert_eq!(&*request.method, "m");
            assert!(request.params.is_none());
        }
        let request = request(decode(
            codec,
            &encode(&json!({"method": "n", "jsonrpc": "2.0"})),
        ));
        assert!(request.is_notification());
    }

    /// Every prefix of a valid frame is a parse error, and so is anything
    /// after a complete item.
    pub(crate) fn truncation_and_trailing(codec: &dyn Codec, encode: Encode) {
        let frame = encode(&json!([
            {"jsonrpc": "2.0", "method": "sum", "params": [1, 2.5, -4, "x", null, true, {"a": [1]}], "id": "1"},
            {"jsonrpc": "2.0", "method": "notify_hello", "params": {"name": "ü"}},
            {"jsonrpc": "2.0", "method": "get", "id": 18446744073709551615u64},
            {"foo": "boo"}
        ]));
        assert!(matches!(decode(codec, &frame), Message::Batch(ref e) if e.len() == 4));
        for len in 0..frame.len() {
            assert_eq!(
                code(&decode(codec, &frame[..len])),
                ErrorCode::ParseError,
                "prefix of {len} bytes"
            );
        }
        for garbage in [&[0u8][..], &[0xff], &frame[..3]] {
            let mut long = frame.clone();
            long.extend_from_slice(garbage);
            assert_eq!(code(&decode(codec, &long)), ErrorCode::ParseError);
        }
        let mut one = encode(&json!(1));
        one.extend_from_slice(&encode(&json!(2)));
        assert_eq!(code(&decode(codec, &one)), ErrorCode::ParseError);
        assert_eq!(code(&decode(codec, &[])), ErrorCode::ParseError);
    }

    /// Nesting is counted as in the JSON codec: the request map is one
    /// level, the batch array another.
    pub(crate) fn depth_and_batch_limits(codec: &dyn Codec, encode: Encode) {
        let limited = |frame: &Value, limits: DecodeLimits| {
            shape(&codec.decode(encode(frame).into(), &limits))
        };
        let two = DecodeLimits::default().max_depth(2);
        let flat = json!({"jsonrpc": "2.0", "method": "m", "params": [1]});
        assert_eq!(limited(&flat, two)["method"], "m");
        let deep = json!({"jsonrpc": "2.0", "method": "m", "params": [[1]]});
        assert_eq!(limited(&deep, two), json!(-32700));
        let batched = json!([{"jsonrpc": "2.0", "method": "m", "params": [1]}]);
        assert_eq!(limited(&batched, two), json!(-32700));
        let batched = json!([{"jsonrpc": "2.0", "method": "m", "x": 1}]);
        assert_eq!(limited(&batched, two), json!([{"method": "m"}]));
        let unknown = json!({"jsonrpc": "2.0", "method": "m", "x": [[1]]});
        assert_eq!(limited(&unknown, two), json!(-32700));

        let batch =
            json!([{"jsonrpc": "2.0", "method": "a"}, {"jsonrpc": "2.0", "method": "b"}, 3]);
        let message = codec.decode(
            encode(&batch).into(),
            &DecodeLimits::default().max_batch_len(2),
        );
        match message {
            Message::Single(Err(err)) => {
                assert_eq!(err.code(), ErrorCode::InvalidRequest);
                assert!(
                    err.message()
                        .contains("batch of 3 entries exceeds the limit of 2"),
                    "{err}"
                );
            }
            other => panic!("{other:?}"),
        }
        // Malformed bytes win over the batch limit, as in JSON.
        let bytes = encode(&batch);
        let message = codec.decode(
            Bytes::copy_from_slice(&bytes[..bytes.len() - 1]),
            &DecodeLimits::default().max_batch_len(2),
        );
        assert_eq!(code(&message), ErrorCode::ParseError);
    }

    #[derive(Debug, Deserialize, PartialEq)]
    pub(crate) struct Echo {
        #[serde(default = "hello")]
        data: String,
        #[serde(default)]
        times: u32,
    }

    fn hello() -> String {
        "Hello world!".into()
    }

    fn params_of(
        codec: &dyn Codec,
        encode: Encode,
        params: Option<Value>,
    ) -> Option<crate::RawParams> {
        let mut frame = json!({"jsonrpc": "2.0", "method": "e", "id": 1});
        if let Some(params) = params {
            frame["params"] = params;
        }
        request(decode(codec, &encode(&frame))).params
    }

    /// Params reach a struct positional or named, with defaults, and
    /// failures name the param, as in the JSON codec.
    pub(crate) fn params_forms(codec: &dyn Codec, encode: Encode) {
        let parse = |params: Option<Value>| {
            parse_params::<Echo>(codec, params_of(codec, encode, params).as_ref())
        };
        let echo = |data: &str, times| Echo {
            data: data.into(),
            times,
        };
        assert_eq!(parse(Some(json!(["x", 2]))).unwrap(), echo("x", 2));
        assert_eq!(
            parse(Some(json!({"times": 3}))).unwrap(),
            echo("Hello world!", 3)
        );
        assert_eq!(
            parse(Some(json!({"times": 3, "data": "y", "extra": [1]}))).unwrap(),
            echo("y", 3)
        );
        assert_eq!(parse(Some(json!(["x"]))).unwrap(), echo("x", 0));
        assert_eq!(parse(Some(json!([]))).unwrap(), echo("Hello world!", 0));
        assert_eq!(parse(None).unwrap(), echo("Hello world!", 0));

        assert_eq!(
            parse(Some(json!(["x", "y"]))).unwrap_err().param(),
            Some("times")
        );
        assert_eq!(
            parse(Some(json!({"times": "y"}))).unwrap_err().param(),
            Some("times")
        );
        assert_eq!(
            parse(Some(json!(["x", -1]))).unwrap_err().param(),
            Some("times")
        );
        assert!(
            parse(Some(json!(["x", 1, 2]))).is_err(),
            "an extra positional param"
        );

        let pair = parse_params::<(i32, i32)>(
            codec,
            params_of(codec, encode, Some(json!([1, "y"]))).as_ref(),
        );
        assert_eq!(pair.unwrap_err().param(), Some("#1"));

        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Needs {
            a: i32,
        }
        let err = parse_params::<Needs>(codec, params_of(codec, encode, Some(json!({}))).as_ref())
            .unwrap_err();
        assert_eq!(err.param(), Some("a"));
        let object = ErrorObject::from(err);
        assert_eq!(object.code(), ErrorCode::InvalidParams);
        assert_eq!(object.data().unwrap()["param"], "a");

        // Structs inside params read positionally too, as serde_json does.
        #[derive(Debug, Deserialize, PartialEq)]
        struct Point {
            x: i64,
            y: i64,
        }
        #[derive(Debug, Deserialize, PartialEq)]
        struct Path {
            points: Vec<Point>,
            name: Option<String>,
        }
        let params = params_of(
            codec,
            encode,
            Some(json!([[[1, 2], {"y": 4, "x": 3}], null])),
        );
        let path = parse_params::<Path>(codec, params.as_ref()).unwrap();
        assert_eq!(
            path,
            Path {
                points: vec![Point { x: 1, y: 2 }, Point { x: 3, y: 4 }],
                name: None
            }
        );
        let params = params_of(codec, encode, Some(json!({"points": [], "name": "n"})));
        assert_eq!(
            parse_params::<Path>(codec, params.as_ref())
                .unwrap()
                .name
                .as_deref(),
            Some("n")
        );
        let params = params_of(codec, encode, Some(json!([[[1, "two"]]])));
        assert_eq!(
            parse_params::<Path>(codec, params.as_ref())
                .unwrap_err()
                .param(),
            Some("points[0][1]")
        );
        let params = params_of(
            codec,
            encode,
            Some(json!({"anything": [1, {"goes": null}], "n": -5})),
        );
        assert_eq!(
            parse_params::<Value>(codec, params.as_ref()).unwrap(),
            json!({"anything": [1, {"goes": null}], "n": -5})
        );
    }

    /// Decode a request, parse its params, encode a result and a reply,
    /// and read the reply back with the format's own library.
    pub(crate) fn round_trip(codec: &dyn Codec, encode: Encode, read: Decode) {
        #[derive(Deserialize)]
        struct Subtract {
            minuend: i64,
            subtrahend: i64,
        }
        #[derive(serde::Serialize)]
        struct Difference {
            value: i64,
            exact: bool,
        }
        let frames = [
            json!({"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}),
            json!({"jsonrpc": "2.0", "method": "subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": "a"}),
        ];
        for frame in frames {
            let request = request(decode(codec, &encode(&frame)));
            let params: Subtract = parse_params(codec, request.params.as_ref()).unwrap();
            let result = encode_value(codec, &(params.minuend - params.subtrahend)).unwrap();
            let reply = Reply::Single(Response {
                id: request.id.clone().unwrap(),
                outcome: Ok(result),
            });
            let mut out = Vec::new();
            codec.encode_reply(&reply, &mut out);
            assert_eq!(
                read(&out),
                json!({"jsonrpc": "2.0", "result": 19, "id": frame["id"]})
            );
        }

        let reply = Reply::Batch(vec![
            Response {
                id: Id::Uint(u64::MAX),
                outcome: Ok(encode_value(
                    codec,
                    &Difference {
                        value: -3,
                        exact: true,
                    },
                )
                .unwrap()),
            },
            Response {
                id: Id::Null,
                outcome: Err(ErrorObject::new(
                    ErrorCode::InvalidRequest,
                    "Invalid Request",
                )),
            },
            Response {
                id: Id::Float(2.5),
                outcome: Err(ErrorObject::new(ErrorCode::Application(7), "out of stock")
                    .with_data(json!({"item": "tea", "left": [0]}))),
            },
            Response {
                id: Id::Int(i64::MIN),
                outcome: Ok(encode_value(codec, &Option::<u8>::None).unwrap()),
            },
            Response {
                id: Id::from("x"),
                outcome: Ok(Encoded(encode(&json!("ok")).into())),
            },
        ]);
        let mut out = Vec::new();
        codec.encode_reply(&reply, &mut out);
        assert_eq!(
            read(&out),
            json!([
                {"jsonrpc": "2.0", "result": {"value": -3, "exact": true}, "id": u64::MAX},
                {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": null},
                {"jsonrpc": "2.0", "error": {"code": 7, "message": "out of stock", "data": {"item": "tea", "left": [0]}}, "id": 2.5},
                {"jsonrpc": "2.0", "result": null, "id": i64::MIN},
                {"jsonrpc": "2.0", "result": "ok", "id": "x"}
            ])
        );
        // A reply decodes as a well-formed item of the format; it is not a request.
        assert_eq!(
            shape(&decode(codec, &out)),
            json!([-32600, -32600, -32600, -32600, -32600])
        );
    }

    /// Every byte of a valid batch replaced by every value: no panic, and
    /// whatever decodes as params parses or fails cleanly.
    pub(crate) fn mutations_never_panic(codec: &dyn Codec, encode: Encode) {
        let frame = encode(&json!([
            {"jsonrpc": "2.0", "method": "sum", "params": [1, -2.5, "x", null, {"a": [true]}], "id": "1"},
            {"jsonrpc": "2.0", "method": "n", "params": {"k": 70000}, "id": -3}
        ]));
        let mut mutated = frame.clone();
        for at in 0..frame.len() {
            for byte in 0..=255u8 {
                mutated[at] = byte;
                let entries = match decode(codec, &mutated) {
                    Message::Single(entry) => vec![entry],
                    Message::Batch(entries) => entries,
                };
                for request in entries.into_iter().flatten() {
                    let _ = parse_params::<Value>(codec, request.params.as_ref());
                    let _ = parse_params::<serde::de::IgnoredAny>(codec, request.params.as_ref());
                }
            }
            mutated[at] = frame[at];
        }
    }
}
