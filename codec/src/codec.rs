//! The [`Codec`] trait: how a format turns frames into messages and back.

use std::fmt;

use bytes::Bytes;
use serde::{Deserializer, Serialize, Serializer};

use crate::{DecodeLimits, Message, RawParams, Reply};

/// A wire format for JSON-RPC: JSON, CBOR, MessagePack, or your own.
///
/// A codec sees exactly one message per call: framing is the transport's
/// business. It has four jobs:
///
/// 1. [`decode`](Codec::decode) a frame into a [`Message`], validating the
///    JSON-RPC envelope but leaving params raw ([`RawParams`]). Malformed
///    bytes are not an `Err`: they decode into an error answer
///    ([`Message::error`]), so the caller always has something to reply.
/// 2. [`deserialize_params`](Codec::deserialize_params): hand raw params to a
///    serde visitor when a handler asks for a type.
/// 3. [`encode_value`](Codec::encode_value): serialise a handler's result.
/// 4. [`encode_reply`](Codec::encode_reply): write the response envelope,
///    splicing in results already encoded by step 3.
///
/// The trait is object safe; the server holds codecs as `Arc<dyn Codec>` and
/// picks one per frame by media type (see [`crate::Codecs`]). The built-in
/// codecs take a monomorphised fast path in [`crate::parse_params`] and
/// [`crate::encode_value`]; custom codecs go through a type-erased serde
/// bridge ([`Visit`], [`Serializable`]) and need no extra dependency.
pub trait Codec: Send + Sync + fmt::Debug + 'static {
    /// A short name for logs and metrics, such as `"json"`.
    fn name(&self) -> &'static str;

    /// The media types this codec answers to, lower case, without
    /// parameters. The first is the `Content-Type` of its replies.
    fn media_types(&self) -> &'static [&'static str];

    /// Decodes one frame.
    fn decode(&self, frame: Bytes, limits: &DecodeLimits) -> Message;

    /// Feeds params that this codec's [`decode`](Codec::decode) produced to
    /// `visit`, through a serde deserializer of this format.
    fn deserialize_params(&self, raw: &RawParams, visit: Visit<'_>) -> Result<(), ValueError>;

    /// Serialises `value` in this format, appending to `out`.
    fn encode_value(&self, value: Serializable<'_>, out: &mut Vec<u8>) -> Result<(), ValueError>;

    /// Writes a reply, appending to `out`.
    fn encode_reply(&self, reply: &Reply, out: &mut Vec<u8>);

    /// Identifies the built-in codecs for the monomorphised fast paths.
    #[doc(hidden)]
    fn builtin(&self) -> Option<Builtin> {
        None
    }
}

/// The built-in codecs, for fast paths. Not part of the stable API.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Builtin {
    Json,
    SimdJson,
    Cbor,
    MsgPack,
    /// `rpckit-http`'s JSONP query codec: params from a query string
    /// ([`query`](crate::query)), answers in JSON.
    Query,
}

/// An error from serialising or deserialising a value, as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueError(String);

impl ValueError {
    /// An error with the given text.
    pub fn new(message: impl fmt::Display) -> Self {
        ValueError(message.to_string())
    }

    /// The text.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValueError {}

type VisitFn<'a> = dyn for<'de> FnMut(&mut dyn erased_serde::Deserializer<'de>) -> Result<(), erased_serde::Error>
    + 'a;

/// A type-erased request for "deserialise the params into the type the
/// handler wants". A codec hands it any serde [`Deserializer`].
///
/// ```
/// use rpckit_codec::{Visit, ValueError};
///
/// // What a custom codec's `deserialize_params` does with its bytes:
/// fn feed(bytes: &[u8], visit: Visit<'_>) -> Result<(), ValueError> {
///     visit.deserialize(&mut serde_json::Deserializer::from_slice(bytes))
/// }
/// # let mut got = None;
/// # let mut f = |d: &mut dyn rpckit_codec::ErasedDeserializer<'_>| { got = Some(rpckit_codec::erased_deserialize::<Vec<u8>>(d)?); Ok(()) };
/// # feed(b"[1,2]", Visit::from_fn(&mut f)).unwrap();
/// # assert_eq!(got, Some(vec![1, 2]));
/// ```
pub struct Visit<'a> {
    f: &'a mut VisitFn<'a>,
}

#[doc(hidden)]
pub use erased_serde::deserialize as erased_deserialize;
#[doc(hidden)]
pub use erased_serde::Deserializer as ErasedDeserializer;

impl<'a> Visit<'a> {
    #[doc(hidden)]
    pub fn from_fn(f: &'a mut VisitFn<'a>) -> Self {
        Visit { f }
    }

    /// Runs the visit against `deserializer`.
    pub fn deserialize<'de, D: Deserializer<'de>>(self, deserializer: D) -> Result<(), ValueError> {
        let mut erased = <dyn erased_serde::Deserializer<'de>>::erase(deserializer);
        (self.f)(&mut erased).map_err(ValueError::new)
    }
}

impl fmt::Debug for Visit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Visit")
    }
}

/// A type-erased value to serialise: what a custom codec's
/// [`Codec::encode_value`] receives. It is itself [`Serialize`], so hand it to
/// your format's serializer.
#[derive(Clone, Copy)]
pub struct Serializable<'a>(&'a dyn erased_serde::Serialize);

impl<'a> Serializable<'a> {
    /// Wraps any serialisable value.
    pub fn new<T: Serialize>(value: &'a T) -> Self {
        Serializable(value)
    }
}

impl Serialize for Serializable<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        erased_serde::serialize(self.0, serializer)
    }
}

impl fmt::Debug for Serializable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Serializable")
    }
}
