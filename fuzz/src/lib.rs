//! What the fuzz targets share: the limits they decode with, the types they
//! ask params for, how they answer a decoded message as a server would, and
//! how they read the reply back with the format's own library.
//!
//! Every check is an `assert!`: a failed invariant is a crash that libFuzzer
//! saves, exactly like a panic inside the library.

pub mod any;
pub mod tree;

use std::collections::BTreeMap;

use bytes::Bytes;
use rpckit_codec::{
    parse_params, Codec, DecodeLimits, Encoded, ErrorCode, ErrorObject, Id, Message, ParamsError,
    RawParams, Reply, Request, Response,
};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub use tree::Tree;

/// Lets panics with `message` pass and aborts on any other, as libFuzzer's
/// own hook does: libFuzzer counts every panic as a crash, caught or not,
/// and a handler's panic that the rpc layer catches and answers with
/// -32603 is no finding. For a target's `init`.
pub fn let_panics_pass(message: &'static str) {
    let abort = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied());
        if text != Some(message) {
            abort(info);
        }
    }));
}

/// The limits every input is decoded with: the defaults, and tight ones
/// that small inputs reach (a batch array, a request map and one level of
/// params; two entries a batch).
pub fn limits() -> [DecodeLimits; 2] {
    [DecodeLimits::default(), tight()]
}

/// The tight limits.
pub fn tight() -> DecodeLimits {
    DecodeLimits::default().max_depth(3).max_batch_len(2)
}

/// The formats a reply is read back in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Cbor,
    MsgPack,
}

impl Format {
    /// How far floats may move through an encode and a read back.
    fn float_ulps(self) -> u64 {
        match self {
            // serde_json reads without `float_roundtrip`.
            Format::Json => 2,
            Format::Cbor | Format::MsgPack => 0,
        }
    }
}

// ---------------------------------------------------------------------------
// The types handlers ask params for

/// A struct whose fields all have defaults: named, positional, or absent.
#[derive(Debug, Deserialize, Serialize)]
pub struct Fields {
    #[serde(default)]
    pub name: String,
    #[serde(default = "seven")]
    pub count: i64,
    #[serde(default)]
    pub ratio: Option<f64>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub shape: Option<Shape>,
}

fn seven() -> i64 {
    7
}

/// Every kind of enum variant, for the codecs' enum paths.
#[derive(Debug, Deserialize, Serialize)]
pub enum Shape {
    Unit,
    Newtype(u8),
    Tuple(i16, String),
    Struct { w: f32, h: Option<f64> },
}

/// Positional params of several kinds, wide and narrow scalars among them.
pub type Tuple = (i128, Option<String>, Vec<f32>, char);

/// Numeric keys, which JSON deserializers read out of the key text.
pub type Keyed = BTreeMap<u32, bool>;

/// Every type a target asks for, parsed from one request's params.
#[derive(Debug)]
pub struct Parsed {
    pub value: Result<serde_json::Value, ParamsError>,
    pub fields: Result<Fields, ParamsError>,
    pub tuple: Result<Tuple, ParamsError>,
    pub keyed: Result<Keyed, ParamsError>,
    pub raw: Result<Box<RawValue>, ParamsError>,
    pub ignored: Result<IgnoredAny, ParamsError>,
}

/// Parses `params` into every type of [`Parsed`], checking what must hold
/// whatever the bytes: no panic, and every failure is an "Invalid params".
pub fn parse_all(codec: &dyn Codec, params: Option<&RawParams>) -> Parsed {
    let parsed = Parsed {
        value: parse_params(codec, params),
        fields: parse_params(codec, params),
        tuple: parse_params(codec, params),
        keyed: parse_params(codec, params),
        raw: parse_params(codec, params),
        ignored: parse_params(codec, params),
    };
    let errors = [
        parsed.value.as_ref().err(),
        parsed.fields.as_ref().err(),
        parsed.tuple.as_ref().err(),
        parsed.keyed.as_ref().err(),
        parsed.raw.as_ref().err(),
        parsed.ignored.as_ref().err(),
    ];
    for err in errors.into_iter().flatten() {
        assert_eq!(
            ErrorObject::from(err.clone()).code(),
            ErrorCode::InvalidParams,
            "{err}"
        );
    }
    // Absent params read as an empty array: a struct of defaults fits.
    if params.is_none() {
        assert!(parsed.fields.is_ok(), "{:?}", parsed.fields);
    }
    // What reads as a tree of values is a well-formed item to skip.
    if parsed.value.is_ok() {
        assert!(parsed.ignored.is_ok(), "{:?}", parsed.ignored);
    }
    if let Ok(raw) = &parsed.raw {
        // A RawValue is JSON text, whichever codec filled it.
        serde_json::from_str::<IgnoredAny>(raw.get())
            .unwrap_or_else(|err| panic!("RawValue {:?} is not JSON: {err}", raw.get()));
    }
    parsed
}

// ---------------------------------------------------------------------------
// Decoding

/// What a decoded message is, for comparing two decodes.
#[derive(Debug)]
pub enum Summary {
    Single(EntrySummary),
    Batch(Vec<EntrySummary>),
}

/// A request (method, id, whether it has params) or an error code.
#[derive(Debug)]
pub enum EntrySummary {
    Request {
        method: String,
        id: Option<Id>,
        params: bool,
    },
    Error(i32),
}

impl Summary {
    pub fn of(message: &Message) -> Summary {
        fn entry(entry: &Result<Request, ErrorObject>) -> EntrySummary {
            match entry {
                Ok(request) => EntrySummary::Request {
                    method: request.method.to_string(),
                    id: request.id.clone(),
                    params: request.params.is_some(),
                },
                Err(err) => EntrySummary::Error(err.code().code()),
            }
        }
        match message {
            Message::Single(single) => Summary::Single(entry(single)),
            Message::Batch(entries) => Summary::Batch(entries.iter().map(entry).collect()),
        }
    }

    /// The code of a single error, if this is one.
    pub fn single_error(&self) -> Option<i32> {
        match self {
            Summary::Single(EntrySummary::Error(code)) => Some(*code),
            _ => None,
        }
    }

    /// Whether two summaries agree, ids compared as [`ids_match`] does.
    pub fn same(&self, other: &Summary, float_ulps: u64) -> bool {
        match (self, other) {
            (Summary::Single(a), Summary::Single(b)) => a.same(b, float_ulps),
            (Summary::Batch(a), Summary::Batch(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(a, b)| a.same(b, float_ulps))
            }
            _ => false,
        }
    }
}

impl EntrySummary {
    fn same(&self, other: &EntrySummary, float_ulps: u64) -> bool {
        match (self, other) {
            (
                EntrySummary::Request { method, id, params },
                EntrySummary::Request {
                    method: method2,
                    id: id2,
                    params: params2,
                },
            ) => {
                method == method2
                    && params == params2
                    && match (id, id2) {
                        (None, None) => true,
                        (Some(a), Some(b)) => ids_match(a, b, float_ulps),
                        _ => false,
                    }
            }
            (EntrySummary::Error(a), EntrySummary::Error(b)) => a == b,
            _ => false,
        }
    }
}

/// Whether two ids are the same id, float ids within `float_ulps`.
pub fn ids_match(a: &Id, b: &Id, float_ulps: u64) -> bool {
    match (a, b) {
        (Id::Float(x), Id::Float(y)) => tree::floats_match(*x, *y, float_ulps),
        _ => a == b,
    }
}

/// Checks what holds for any message a codec decodes with `limits`.
pub fn check_message(message: &Message, limits: &DecodeLimits) {
    match message {
        Message::Single(Err(err)) => {
            let code = err.code();
            assert!(
                code == ErrorCode::ParseError || code == ErrorCode::InvalidRequest,
                "a single error is -32700 or -32600: {err:?}"
            );
        }
        Message::Single(Ok(_)) => {}
        Message::Batch(entries) => {
            assert!(!entries.is_empty(), "a batch is never empty");
            assert!(
                entries.len() <= limits.batch_len(),
                "a batch of {} entries passed the limit of {}",
                entries.len(),
                limits.batch_len()
            );
            for err in entries.iter().filter_map(|entry| entry.as_ref().err()) {
                // The frame parsed as a whole: an entry can be invalid, never
                // malformed.
                assert_eq!(err.code(), ErrorCode::InvalidRequest, "{err:?}");
            }
        }
    }
}

/// Checks that the tight limits only ever take away: what decodes under
/// them decodes the same under the defaults, and what is malformed under
/// the defaults is malformed under them.
pub fn check_limits_monotonic(default: &Summary, tight: &Summary) {
    if tight.single_error().is_none() {
        assert!(
            default.same(tight, 0),
            "tight limits decoded {tight:?}, the defaults {default:?}"
        );
    }
    if default.single_error() == Some(-32700) {
        assert_eq!(
            tight.single_error(),
            Some(-32700),
            "malformed under the defaults, not under tight limits: {tight:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Answering

/// What a response read back must be.
#[derive(Debug)]
pub struct Expected {
    pub id: Id,
    pub outcome: ExpectedOutcome,
}

#[derive(Debug)]
pub enum ExpectedOutcome {
    /// A result; its tree when known.
    Result(Option<Tree>),
    /// An error with this code; its data's tree when known.
    Error(i32, Option<Tree>),
    /// A result or an error: the endpoint's handlers decide.
    Any,
}

/// The reply a server sends for `message` and what reading it back must
/// give: every request's params parsed into every type, and a result or an
/// error encoded for each, as the request's position picks.
pub fn answer(codec: &dyn Codec, message: Message) -> Option<(Reply, bool, Vec<Expected>)> {
    let (entries, batch) = match message {
        Message::Single(entry) => (vec![entry], false),
        Message::Batch(entries) => (entries, true),
    };
    let mut responses = Vec::new();
    let mut expected = Vec::new();
    for (index, entry) in entries.into_iter().enumerate() {
        let (id, outcome, expect) = match entry {
            Err(err) => {
                let code = err.code().code();
                (Some(Id::Null), Err(err), ExpectedOutcome::Error(code, None))
            }
            Ok(request) => {
                let (outcome, expect) = outcome_for(codec, &request, index);
                (request.id, outcome, expect)
            }
        };
        if let Some(id) = id {
            expected.push(Expected {
                id: id.clone(),
                outcome: expect,
            });
            responses.push(Response { id, outcome });
        }
    }
    if responses.is_empty() {
        return None;
    }
    let reply = if batch {
        Reply::Batch(responses)
    } else {
        Reply::Single(responses.pop().expect("one response"))
    };
    Some((reply, batch, expected))
}

fn outcome_for(
    codec: &dyn Codec,
    request: &Request,
    index: usize,
) -> (Result<Encoded, ErrorObject>, ExpectedOutcome) {
    let parsed = parse_all(codec, request.params.as_ref());
    let encode = |value: &dyn erased::Ser| -> Encoded {
        value
            .encode(codec)
            .unwrap_or_else(|err| panic!("a value read from params encodes: {err}"))
    };
    // Every value that came out of params encodes back, whichever is sent.
    let value = parsed.value.as_ref().ok().map(|v| encode(v));
    let fields = parsed.fields.as_ref().ok().map(|v| encode(v));
    let tuple = parsed.tuple.as_ref().ok().map(|v| encode(v));
    let keyed = parsed.keyed.as_ref().ok().map(|v| encode(v));
    let (sent, failure) = match index % 4 {
        0 => (
            value.map(|encoded| (encoded, parsed.value.as_ref().ok().map(Tree::of))),
            parsed.value.as_ref().err(),
        ),
        1 => (
            fields.or(keyed).map(|encoded| (encoded, None)),
            parsed.fields.as_ref().err(),
        ),
        2 => (
            tuple.map(|encoded| (encoded, None)),
            parsed.tuple.as_ref().err(),
        ),
        _ => {
            // An application error carrying the params as its data.
            let data = parsed.value.as_ref().ok().cloned();
            let tree = data.as_ref().map(Tree::of);
            let mut error = ErrorObject::new(ErrorCode::Application(7), "with data");
            if let Some(data) = data {
                error = error.with_data(data);
            }
            return (Err(error), ExpectedOutcome::Error(7, tree));
        }
    };
    match (sent, failure) {
        (Some((encoded, tree)), _) => (Ok(encoded), ExpectedOutcome::Result(tree)),
        (None, failure) => {
            let err = failure.expect("the first type tried failed").clone();
            (
                Err(ErrorObject::from(err)),
                ExpectedOutcome::Error(-32602, None),
            )
        }
    }
}

/// Type erasure for "encode any of these with the codec".
mod erased {
    use rpckit_codec::{encode_value, Codec, Encoded, ValueError};
    use serde::Serialize;

    pub trait Ser {
        fn encode(&self, codec: &dyn Codec) -> Result<Encoded, ValueError>;
    }

    impl<T: Serialize> Ser for T {
        fn encode(&self, codec: &dyn Codec) -> Result<Encoded, ValueError> {
            encode_value(codec, self)
        }
    }
}

// ---------------------------------------------------------------------------
// Reading replies back

/// Reads `bytes` as exactly one item of `format`, with the format's own
/// library.
pub fn read_item(format: Format, bytes: &[u8]) -> Result<Tree, String> {
    match format {
        Format::Json => {
            let mut de = serde_json::Deserializer::from_slice(bytes);
            // A reply nests two levels deeper than the params it echoes.
            de.disable_recursion_limit();
            let tree = Tree::deserialize(&mut de).map_err(|e| e.to_string())?;
            de.end().map_err(|e| e.to_string())?;
            Ok(tree)
        }
        Format::Cbor => {
            let mut rest = bytes;
            let tree: Tree = ciborium::from_reader(&mut rest).map_err(|e| e.to_string())?;
            if !rest.is_empty() {
                return Err(format!("{} trailing bytes", rest.len()));
            }
            Ok(tree)
        }
        Format::MsgPack => {
            let mut rest = bytes;
            let mut de = rmp_serde::Deserializer::new(&mut rest);
            let tree = Tree::deserialize(&mut de).map_err(|e| e.to_string())?;
            drop(de);
            if !rest.is_empty() {
                return Err(format!("{} trailing bytes", rest.len()));
            }
            Ok(tree)
        }
    }
}

/// Reads an encoded reply back and checks it against what was sent: one
/// response object, or an array of them, each with `"jsonrpc": "2.0"`, the
/// id, and exactly one of `result` and `error`.
pub fn check_reply(format: Format, bytes: &[u8], batch: bool, expected: &[Expected]) {
    let tree = read_item(format, bytes).unwrap_or_else(|err| {
        panic!("the reply does not read back as {format:?}: {err}\n{bytes:02x?}")
    });
    let responses = match (&tree, batch) {
        (Tree::Array(items), true) => items.as_slice(),
        (Tree::Map(_), false) => std::slice::from_ref(&tree),
        _ => panic!(
            "a {} reply read back as {tree:?}",
            ["single", "batch"][batch as usize]
        ),
    };
    assert_eq!(responses.len(), expected.len(), "responses in {tree:?}");
    for (response, expected) in responses.iter().zip(expected) {
        check_response(format, response, expected);
    }
}

fn check_response(format: Format, response: &Tree, expected: &Expected) {
    let ulps = format.float_ulps();
    let keys = response
        .keys()
        .unwrap_or_else(|| panic!("a response is a map with text keys: {response:?}"));
    let outcome_key = if keys.contains(&"result") {
        "result"
    } else {
        "error"
    };
    assert_eq!(
        keys,
        ["jsonrpc", outcome_key, "id"],
        "response members: {response:?}"
    );
    assert!(matches!(response.get("jsonrpc"), Some(Tree::Str(v)) if v == "2.0"));
    let id = response.get("id").expect("checked above");
    let id_tree = match &expected.id {
        Id::Null => Tree::Null,
        Id::Int(n) => Tree::Int((*n).into()),
        Id::Uint(n) => Tree::Int((*n).into()),
        Id::Float(x) => Tree::Float(*x),
        Id::Str(s) => Tree::Str(s.to_string()),
        other => panic!("an id kind the fuzz checks do not know: {other:?}"),
    };
    assert!(
        id.same(&id_tree, ulps),
        "id {:?} read back as {id:?}",
        expected.id
    );
    let outcome = response.get(outcome_key).expect("checked above");
    match (&expected.outcome, outcome_key) {
        (ExpectedOutcome::Any, _) => {
            if outcome_key == "error" {
                check_error_object(outcome);
            }
        }
        (ExpectedOutcome::Result(tree), "result") => {
            if let Some(tree) = tree {
                assert!(
                    outcome.same(tree, ulps),
                    "result {tree:?} read back as {outcome:?}"
                );
            }
        }
        (ExpectedOutcome::Error(code, data), "error") => {
            let (got_code, got_data) = check_error_object(outcome);
            assert_eq!(got_code, i128::from(*code), "{outcome:?}");
            if let Some(data) = data {
                let got = got_data.unwrap_or_else(|| panic!("data missing in {outcome:?}"));
                assert!(got.same(data, ulps), "data {data:?} read back as {got:?}");
            }
        }
        (expected, _) => panic!("expected {expected:?}, read back {response:?}"),
    }
}

/// Checks the shape of an error object; its code and data.
fn check_error_object(error: &Tree) -> (i128, Option<&Tree>) {
    let keys = error
        .keys()
        .unwrap_or_else(|| panic!("an error is a map with text keys: {error:?}"));
    assert!(
        keys == ["code", "message"] || keys == ["code", "message", "data"],
        "error members: {error:?}"
    );
    let Some(Tree::Int(code)) = error.get("code") else {
        panic!("an error code is an integer: {error:?}")
    };
    assert!(matches!(error.get("message"), Some(Tree::Str(_))));
    (*code, error.get("data"))
}

// ---------------------------------------------------------------------------
// The decoder targets

/// `data` in a buffer of its own with [`rpckit_codec::FRAME_PADDING`] to
/// spare after it, as rpckit's HTTP transport hands over a large or
/// decompressed body (the SIMD-JSON codec parses such a frame in place).
pub fn own_buffer(data: &[u8]) -> Bytes {
    let mut buffer = bytes::BytesMut::with_capacity(data.len() + rpckit_codec::FRAME_PADDING);
    buffer.extend_from_slice(data);
    buffer.freeze()
}

/// The whole check of a decoder target: decode `data` with the default and
/// the tight limits, check the message, answer it, encode the reply and
/// read it back in `format`.
pub fn fuzz_decoder(codec: &dyn Codec, format: Format, data: &[u8]) {
    let [default, tight] = limits().map(|limits| {
        let message = codec.decode(Bytes::copy_from_slice(data), &limits);
        check_message(&message, &limits);
        let summary = Summary::of(&message);
        if let Some((reply, batch, expected)) = answer(codec, message) {
            let mut out = Vec::new();
            codec.encode_reply(&reply, &mut out);
            check_reply(format, &out, batch, &expected);
            if format != Format::Json {
                // The codec's own walker takes its own replies as well formed
                // (a reply is not a request: -32600s, never -32700).
                let roomy = DecodeLimits::default().max_depth(1 << 16);
                let back = codec.decode(Bytes::from(out), &roomy);
                assert_ne!(
                    Summary::of(&back).single_error(),
                    Some(-32700),
                    "the codec cannot read its own reply: {back:?}"
                );
            }
        }
        summary
    });
    check_limits_monotonic(&default, &tight);
}
