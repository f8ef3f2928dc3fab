//! JSON-RPC 2.0 over any transport in any encoding, built on tower.
//!
//! The key decision: **every step of a request is a `tower::Service`.** A
//! transport produces frames; the [`CodecLayer`] decodes them with the codec
//! the frame's content type chose; the [`RpcLayer`] applies the
//! specification (batches, notifications, errors, panics) and makes
//! [`Call`]s; the [`Router`] finds the handler. So any tower middleware can
//! sit at the frame level or the call level, and codecs and transports swap
//! independently.
//!
//! ```text
//! socket ─► transport ─► Frame ─► CodecLayer ─► Incoming ─► RpcLayer ─► Call ─► Router ─► handler
//! ```
//!
//! # Quick start
//!
//! ```no_run
//! use rpckit::{extract::Params, Router};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Echo {
//!     #[serde(default = "hello")]
//!     data: String,
//! }
//! fn hello() -> String { "Hello world!".into() }
//!
//! # async fn run() -> std::io::Result<()> {
//! let api = Router::new().method(["echo", "helloworld"], |Params(p): Params<Echo>| async move { p.data });
//! rpckit::http::Server::builder()
//!     .route("/api", api)
//!     .bind("127.0.0.1:7001")
//!     .await?
//!     .serve()
//!     .await
//! # }
//! ```
//!
//! The same router serves byte streams with the `tcp` feature
//! ([`tcp`]): TCP or Unix sockets, newline-delimited, length-prefixed or
//! LSP framing, requests pipelined and answered as they finish.
//!
//! ```no_run
//! # #[cfg(feature = "tcp")]
//! # async fn run() -> std::io::Result<()> {
//! let api = rpckit::Router::new().sync_method("ping", || "pong");
//! rpckit::tcp::Server::builder(api)
//!     .framing(rpckit::tcp::Framing::Newline)
//!     .bind("127.0.0.1:7002")
//!     .await?
//!     .serve()
//!     .await
//! # }
//! ```
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `json` | yes | JSON through serde_json |
//! | `http` | yes | the HTTP transport ([`http`]) |
//! | `simd-json` | no | the SIMD-JSON codec |
//! | `cbor` | no | the CBOR codec |
//! | `msgpack` | no | the MessagePack codec |
//! | `tls` | no | HTTPS for the HTTP transport: rustls with the *ring* provider (`http::TlsConfig`) |
//! | `tcp` | no | the stream transport ([`tcp`]) |
//! | `full` | no | all of the above |

mod call;
mod codec_layer;
mod endpoint;
pub mod exec;
pub mod extract;
pub mod handler;
pub mod notify;
mod panic;
mod router;
mod rpc;
pub mod stats;
#[cfg(feature = "worker")]
pub mod worker;

pub use call::{Call, Outcome};
pub use codec_layer::{CodecFuture, CodecLayer, CodecService, DEFAULT_OFFLOAD_ABOVE};
pub use endpoint::{Endpoint, EndpointService};
pub use router::{
    ApiHandle, MethodNames, MethodSet, MethodSettings, OnTimeout, ReloadError, ReloadOptions,
    Reloaded, ResponseFuture, Router, CALL_TIMED_OUT, LOCK_TIMED_OUT,
};
pub use rpc::{Incoming, RpcFuture, RpcLayer, RpcService};
pub use rpckit_codec::{ErrorCode, ErrorObject, Id};

/// The wire model and the codecs (the `rpckit-codec` crate).
pub use rpckit_codec as codec;

/// The HTTP transport (the `rpckit-http` crate).
#[cfg(feature = "http")]
pub use rpckit_http as http;

/// The stream transport (the `rpckit-tcp` crate).
#[cfg(feature = "tcp")]
pub use rpckit_tcp as tcp;
