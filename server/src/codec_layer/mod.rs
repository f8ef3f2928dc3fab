//! Frames in, frames out: decoding and encoding around the rpc semantics.

mod future;

use std::cell::Cell;
use std::fmt;
use std::task::{Context, Poll};

use bytes::Bytes;

use rpckit_codec::{Codec, DecodeLimits, Frame, Reply};
use tower::{Layer, Service};

use crate::stats::{Stage, Stats};
use crate::Incoming;
pub use future::CodecFuture;
use future::Encoder;

/// Decodes each [`Frame`] with its codec into an [`Incoming`] message and
/// encodes the inner service's [`Reply`] back into a frame.
///
/// Malformed bytes never reach the inner service as an error: the codec
/// decodes them into an error answer, which the inner service replies with.
///
/// Frames larger than the offload threshold are decoded, served and encoded
/// on rpckit's low-priority background threads
/// ([`rpckit_codec::background`]): decoding a 4 MiB body takes
/// milliseconds, and on the runtime's worker it would hold up every small
/// call behind it. So are replies whose results are larger than it,
/// whatever the size of the frame that asked.
///
/// With [`stats`](Self::stats) it times every decode and encode
/// ([`Stage::Decode`], [`Stage::Encode`]).
#[derive(Clone, Debug)]
pub struct CodecService<S> {
    inner: S,
    limits: DecodeLimits,
    offload_above: usize,
    stats: Option<Stats>,
}

/// Frames above this many bytes are served on a background thread by default.
pub const DEFAULT_OFFLOAD_ABOVE: usize = 256 * 1024;

impl<S> CodecService<S> {
    /// Wraps `inner`, decoding with `limits`.
    pub fn new(inner: S, limits: DecodeLimits) -> Self {
        CodecService {
            inner,
            limits,
            offload_above: DEFAULT_OFFLOAD_ABOVE,
            stats: None,
        }
    }

    /// Records decode and encode times in `stats` (`None`: not at all,
    /// the default). An [`Endpoint`](crate::Endpoint) passes its router's.
    pub fn stats(mut self, stats: Option<Stats>) -> Self {
        self.stats = stats;
        self
    }

    /// Serves frames above `bytes` on a background thread (when running
    /// inside a tokio runtime), and encodes replies whose results are
    /// above `bytes` there; `usize::MAX` keeps everything inline.
    pub fn offload_above(mut self, bytes: usize) -> Self {
        self.offload_above = bytes;
        self
    }
}

impl<S> Service<Frame> for CodecService<S>
where
    S: Service<Incoming, Response = Option<Reply>> + Clone + Send + 'static,
    S::Error: Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Option<Frame>;
    type Error = S::Error;
    type Future = CodecFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, frame: Frame) -> Self::Future {
        if frame.bytes.len() > self.offload_above {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                // The clone takes `self.inner`'s place; the instance that
                // `poll_ready` made ready serves this frame.
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                let stats = self.stats.clone();
                return CodecFuture::offloaded(Box::pin(offload(
                    runtime,
                    ready,
                    frame,
                    self.limits,
                    stats,
                )));
            }
        }
        let Frame {
            bytes,
            codec,
            extensions,
        } = frame;
        let message = timed(self.stats.as_ref(), Stage::Decode, || {
            codec.decode(bytes, &self.limits)
        });
        let reply = self.inner.call(Incoming {
            message,
            codec: codec.clone(),
            extensions,
        });
        CodecFuture::serving(
            reply,
            Encoder {
                codec,
                stats: self.stats.clone(),
                offload_above: self.offload_above,
            },
        )
    }
}

/// The bytes of the results a reply carries (errors are small).
fn results_len(reply: &Reply) -> usize {
    let len = |response: &rpckit_codec::Response| match &response.outcome {
        Ok(encoded) => encoded.0.len(),
        Err(_) => 0,
    };
    match reply {
        Reply::Single(response) => len(response),
        Reply::Batch(responses) => responses.iter().map(len).sum(),
    }
}

/// Serves one frame on a low-priority background thread
/// ([`rpckit_codec::background`]), driving the inner service's future there
/// too, so the decode, the handlers (which parse the big params) and the
/// encode all run off the runtime's workers, and yield the CPU to them.
async fn offload<S>(
    runtime: tokio::runtime::Handle,
    mut inner: S,
    frame: Frame,
    limits: DecodeLimits,
    stats: Option<Stats>,
) -> Result<Option<Frame>, S::Error>
where
    S: Service<Incoming, Response = Option<Reply>> + Send + 'static,
    S::Error: Send + 'static,
    S::Future: Send + 'static,
{
    let job = rpckit_codec::background::spawn(move || {
        let Frame {
            bytes,
            codec,
            extensions,
        } = frame;
        let message = timed(stats.as_ref(), Stage::Decode, || {
            codec.decode(bytes, &limits)
        });
        // Timers and I/O in the handler still belong to the runtime.
        let reply = rpckit_codec::background::block_on(
            &runtime,
            inner.call(Incoming {
                message,
                codec: codec.clone(),
                extensions,
            }),
        )?;
        Ok(reply.map(|reply| {
            let results = results_len(&reply);
            encode(stats.as_ref(), codec, &reply, results, Thread::Background)
        }))
    });
    job.await
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Where [`encode`] runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Thread {
    Runtime,
    /// On rpckit's background threads: a large reply's buffer is freed
    /// on one of them too ([`rpckit_codec::background::bytes_freed_here`]).
    Background,
}

/// Encodes `reply`, whose results take `results` bytes
/// ([`results_len`]), into a frame, timed as [`Stage::Encode`].
fn encode(
    stats: Option<&Stats>,
    codec: std::sync::Arc<dyn rpckit_codec::Codec>,
    reply: &Reply,
    results: usize,
    thread: Thread,
) -> Frame {
    let bytes = timed(stats, Stage::Encode, || {
        if results > SMALL_REPLY / 2 {
            // Room for the results and their envelopes from the start, in a
            // fresh allocation. Started small and grown, the buffer could
            // be a small chunk that this thread's allocator cache holds but
            // another thread's heap owns, and glibc grows a chunk in its
            // owner's heap, under that heap's lock: a reply of megabytes
            // encoded on a background thread landed in the runtime
            // worker's heap, and the worker waited on its own heap's lock
            // (12 times in 4 s under a gzip load; none since).
            let mut out = Vec::with_capacity(results + ENVELOPE_ROOM);
            codec.encode_reply(reply, &mut out);
            return match thread {
                Thread::Background => rpckit_codec::background::bytes_freed_here(out),
                Thread::Runtime => Bytes::from(out),
            };
        }
        encode_small(&*codec, reply)
    });
    Frame::new(bytes, codec)
}

/// Replies up to this many bytes are copied out of [`REPLY_BUFFER`].
const SMALL_REPLY: usize = 1024;

/// Room for the envelopes around a large reply's results (`jsonrpc`, the
/// id, a batch's brackets): a reply that needs more grows once.
const ENVELOPE_ROOM: usize = 256;

thread_local! {
    /// Where this thread writes small replies.
    static REPLY_BUFFER: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Writes a reply with small results into a buffer the thread reuses and
/// copies it out into a block the thread's small replies and results share
/// ([`rpckit_codec::small_bytes`]): no allocation of its own. A written
/// `Vec` handed over as it is would cost two, as a `Vec` with spare
/// capacity (a reply is sized before it is written, but not exactly)
/// becomes `Bytes` through a shared header of its own.
fn encode_small(codec: &dyn Codec, reply: &Reply) -> Bytes {
    // Empty when a reply is being encoded inside another one's.
    let mut out = REPLY_BUFFER.with(Cell::take);
    codec.encode_reply(reply, &mut out);
    if out.len() > SMALL_REPLY {
        // Larger than it looked (long ids or error data): handed over.
        return Bytes::from(out);
    }
    let bytes = rpckit_codec::small_bytes::copy(&out);
    if out.capacity() <= 2 * SMALL_REPLY {
        out.clear();
        REPLY_BUFFER.with(|buffer| buffer.set(out));
    }
    bytes
}

/// Runs `work`, recording how long it took as `stage` when there are
/// stats: one clock read before, one after; none without stats.
fn timed<T>(stats: Option<&Stats>, stage: Stage, work: impl FnOnce() -> T) -> T {
    match stats {
        Some(stats) => {
            let start = tokio::time::Instant::now();
            let value = work();
            stats.record(stage, start.elapsed());
            value
        }
        None => work(),
    }
}

/// Applies [`CodecService`].
#[derive(Clone)]
pub struct CodecLayer {
    limits: DecodeLimits,
    offload_above: usize,
    stats: Option<Stats>,
}

impl CodecLayer {
    /// A layer decoding with `limits`.
    pub fn new(limits: DecodeLimits) -> Self {
        CodecLayer {
            limits,
            offload_above: DEFAULT_OFFLOAD_ABOVE,
            stats: None,
        }
    }

    /// See [`CodecService::stats`].
    pub fn stats(mut self, stats: Option<Stats>) -> Self {
        self.stats = stats;
        self
    }

    /// See [`CodecService::offload_above`].
    pub fn offload_above(mut self, bytes: usize) -> Self {
        self.offload_above = bytes;
        self
    }
}

impl Default for CodecLayer {
    fn default() -> Self {
        Self::new(DecodeLimits::default())
    }
}

impl fmt::Debug for CodecLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodecLayer")
            .field("limits", &self.limits)
            .field("offload_above", &self.offload_above)
            .finish()
    }
}

impl<S> Layer<S> for CodecLayer {
    type Service = CodecService<S>;

    fn layer(&self, inner: S) -> CodecService<S> {
        CodecService::new(inner, self.limits)
            .offload_above(self.offload_above)
            .stats(self.stats.clone())
    }
}
