//! Stream transport for rpckit: TCP, Unix sockets and single streams such
//! as stdio; newline, length-prefixed and LSP framing; pipelining.
//!
//! The key decision: **the transport knows frames, not methods.** A
//! framing decoder ([`framing`]) cuts the byte stream into messages; each
//! becomes a [`Frame`](rpckit_codec::Frame) (the bytes, the listener's
//! codec, and the connection's facts in its extensions) handed to a
//! `tower::Service` that answers `Option<Frame>`, as in the HTTP
//! transport. `None` (a notification, a batch of only notifications)
//! writes nothing.
//!
//! ```no_run
//! use std::convert::Infallible;
//! use rpckit_codec::{Codecs, Frame};
//! use rpckit_tcp::{FrameService, Framing, Server};
//!
//! # async fn run() -> std::io::Result<()> {
//! // A frame service that echoes every request back.
//! let echo = tower::service_fn(|frame: Frame| async move { Ok::<_, Infallible>(Some(frame)) });
//! let handle = Server::builder(FrameService::new(Codecs::default(), echo))
//!     .framing(Framing::LengthPrefixed)
//!     .codec_named("json").expect("a JSON codec")
//!     .max_in_flight(128)
//!     .bind("127.0.0.1:0")
//!     .await?
//!     .spawn();
//! println!("listening on {}", handle.local_addr());
//! handle.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! With rpckit, hand the builder an `Endpoint` or a `Router`:
//! `rpckit::tcp::Server::builder(router)`.
//!
//! # Pipelining and backpressure
//!
//! A client may send any number of requests without waiting. Up to
//! [`ServerBuilder::max_in_flight`] calls of one connection run at once
//! (concurrently, on the connection's task); each reply is queued as soon
//! as its call finishes and written with the others ready by then (one
//! write for a burst), so replies may come in another order than their
//! requests: match them by id. At the limit the server stops reading that
//! connection; a client that never reads its replies fills a bounded
//! buffer (64 KiB of replies) and then its own socket, never the server's
//! memory, and is dropped once it has taken nothing for the idle timeout.
//!
//! # What goes wrong, and what the peer gets
//!
//! | input | answer |
//! |---|---|
//! | a malformed message in a good frame | -32700 (the codec's), the connection goes on |
//! | newline: a line over [`ServerBuilder::max_frame_size`] | -32600, id null; the line is skipped, the connection goes on |
//! | length-prefixed or LSP: a frame over the limit | -32600, id null; closed (nothing of the body is read) |
//! | LSP: a header without a valid `Content-Length` | -32700, id null; closed |
//! | a connection over [`ServerBuilder::max_connections`] | -32000, id null; closed |
//! | nothing sent (and nothing in flight) for [`ServerBuilder::idle_timeout`] | closed |
//!
//! # Connection facts
//!
//! Every frame carries a [`ConnectionId`]. A TCP frame also carries
//! [`PeerAddr`] and [`LocalAddr`]; a Unix socket frame [`LocalPath`] and,
//! where the OS reports them, [`PeerCredentials`]; a frame of
//! [`serve_stream`](ServerBuilder::serve_stream) only its id. rpckit
//! handlers take any of them as an argument (or an `Option` of one, where a
//! transport may not have it).
//!
//! # Dependency types
//!
//! The framing codecs in [`framing`] implement tokio-util's `Decoder` and
//! `Encoder` (that is their point); nothing else of tokio-util is public.

pub mod framing;

mod buffered;
mod connection;
mod info;
mod server;
mod service;

pub use framing::Framing;
pub use info::{ConnectionId, LocalAddr, LocalPath, PeerCredentials};
pub use rpckit_codec::PeerAddr;
pub use server::{
    BoundServer, IncompatibleCodec, ListenAddr, Server, ServerBuilder, ServerHandle, UnknownCodec,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_IN_FLIGHT,
};
pub use service::{BoxError, FrameService};

/// Zero-downtime restart (`rpckit_codec::handover`): taking sockets
/// over through `LISTEN_FDS`, starting a successor with them.
#[cfg(unix)]
pub use rpckit_codec::handover;
#[cfg(unix)]
pub use rpckit_codec::handover::{notify_ready, Successor};
