//! The JSON-RPC 2.0 wire model and the codecs that put it on the wire.
//!
//! The key decision: **params stay raw until a handler names their type.** A
//! codec validates the envelope (`jsonrpc`, `method`, `id`, the shape of
//! `params`) and keeps `params` as the exact bytes of the frame, so a request
//! is parsed once, into the handler's own type, and no intermediate value
//! tree is built on the JSON path. Results travel the other way: the handler's
//! value is encoded once ([`encode_value`]) and spliced into the reply.
//!
//! Framing is not a codec's business: a [`Codec`] gets exactly one message
//! per [`Frame`]. Transports depend on this crate alone.
//!
//! # Codecs
//!
//! | codec | feature | default | media types |
//! |---|---|---|---|
//! | [`JsonCodec`] (serde_json) | `json` | yes | `application/json`, `application/json-rpc`, `application/jsonrequest` |
//! | `SimdJsonCodec` (simd-json) | `simd-json` | no | the JSON ones |
//! | `CborCodec` (ciborium) | `cbor` | no | `application/cbor` |
//! | `MsgPackCodec` (rmp-serde) | `msgpack` | no | `application/msgpack`, `application/x-msgpack`, `application/vnd.msgpack` |
//!
//! Your own format plugs in by implementing [`Codec`].
//!
//! # Untrusted input
//!
//! Decoding never panics and never fails silently: malformed bytes decode to
//! a -32700 answer, a well-formed non-request to -32600 with id `null`.
//! Nesting depth and batch length are limited ([`DecodeLimits`]); invalid
//! UTF-8 is a parse error in every codec.

pub mod background;
#[cfg(feature = "cbor")]
mod cbor;
mod codec;
mod codecs;
mod error;
mod extensions;
mod frame;
#[cfg(all(unix, feature = "handover"))]
pub mod handover;
pub mod heap;
mod id;
mod json;
mod limits;
mod message;
// Shared by rpckit's crates (the decoders of method names); not a stable
// API.
#[doc(hidden)]
pub mod method_name;
#[cfg(feature = "msgpack")]
mod msgpack;
// Shared by rpckit's crates (the router's methods, the HTTP routes); not a
// stable API.
#[doc(hidden)]
pub mod name_hash;
mod params;
// Shared with rpckit-http (JSONP's query strings); not a stable API.
#[doc(hidden)]
pub mod query;
#[cfg(feature = "simd-json")]
mod simd;
// Shared by rpckit's crates (results, replies); not a stable API.
#[doc(hidden)]
pub mod small_bytes;
mod stats_sink;
#[cfg(any(feature = "cbor", feature = "msgpack"))]
mod walk;

#[cfg(feature = "cbor")]
pub use cbor::CborCodec;
#[doc(hidden)]
pub use codec::{erased_deserialize, Builtin, ErasedDeserializer};
pub use codec::{Codec, Serializable, ValueError, Visit};
pub use codecs::{Codecs, UnsupportedMediaType};
pub use error::{ErrorCode, ErrorObject};
pub use extensions::{fact, Extensions, Facts};
pub use frame::{Frame, PeerAddr, FRAME_PADDING};
pub use id::Id;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use json::fuzzing as json_fuzzing;
pub use json::JsonCodec;
pub use limits::DecodeLimits;
pub use message::{Encoded, Entry, Message, Reply, Request, Response};
#[cfg(feature = "msgpack")]
pub use msgpack::MsgPackCodec;
pub use params::{encode_value, parse_params, ParamsError, RawParams};
#[cfg(feature = "simd-json")]
pub use simd::SimdJsonCodec;
pub use stats_sink::StatsSink;
