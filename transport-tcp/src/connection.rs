//! One connection: frames in, calls in flight, replies out as they finish.
//!
//! Two halves run side by side on the connection's task. The read half
//! decodes frames and starts a call for each, up to `max_in_flight` at
//! once; when a call finishes, its reply goes into a bounded queue. The
//! write half drains the queue into the framing encoder and flushes when
//! the queue is empty, so a burst of pipelined replies leaves in one write.
//!
//! Backpressure runs the whole way back: a peer that does not read fills
//! its socket, then the encoder's buffer, then the queue; the read half
//! then waits to enqueue, stops finishing calls, reaches the in-flight
//! limit and stops reading. Memory per connection stays bounded by the
//! limits, whatever the peer does.

use std::any::{Any, TypeId};
use std::future::poll_fn;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::FuturesUnordered;
use futures_util::{SinkExt, StreamExt};
use rpckit_codec::{
    fact, Codec, ErrorObject, Extensions, Facts, Frame, Id, PeerAddr, Reply, Response,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::codec::{Decoder, FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;
use tower::Service;

use crate::framing::{AnyCodec, FrameError, Framing, Inbound};
use crate::service::{BoxError, BoxedService};
use crate::{ConnectionId, LocalAddr, LocalPath, PeerCredentials};

/// What every connection of a listener shares.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) service: BoxedService,
    pub(crate) codec: Arc<dyn Codec>,
    pub(crate) framing: Framing,
    pub(crate) max_frame_size: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) write_queue: usize,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) drain: Option<crate::service::DrainHook>,
    /// Told when a connection opens and closes.
    pub(crate) sink: Option<Arc<dyn rpckit_codec::StatsSink>>,
}

/// Reports a connection as open to the stats sink until dropped.
struct Counted<'a>(Option<&'a dyn rpckit_codec::StatsSink>);

impl<'a> Counted<'a> {
    fn new(sink: Option<&'a dyn rpckit_codec::StatsSink>) -> Self {
        if let Some(sink) = sink {
            sink.connection_opened();
        }
        Counted(sink)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        if let Some(sink) = self.0 {
            sink.connection_closed();
        }
    }
}

impl Settings {
    pub(crate) fn framer(&self) -> AnyCodec {
        AnyCodec::new(self.framing, self.max_frame_size)
    }
}

/// The facts a connection gives each frame's extensions.
#[derive(Clone, Debug)]
pub(crate) struct Info {
    pub(crate) id: ConnectionId,
    pub(crate) peer: Option<PeerAddr>,
    pub(crate) local: Option<LocalAddr>,
    pub(crate) path: Option<LocalPath>,
    pub(crate) credentials: Option<PeerCredentials>,
}

impl Info {
    pub(crate) fn new(id: ConnectionId) -> Self {
        Info {
            id,
            peer: None,
            local: None,
            path: None,
            credentials: None,
        }
    }

    /// A frame of this connection: its extensions are the connection's
    /// facts, shared by every frame (a reference count, no allocation).
    fn frame(self: &Arc<Self>, bytes: Bytes, codec: &Arc<dyn Codec>) -> Frame {
        Frame {
            bytes,
            codec: Arc::clone(codec),
            extensions: Extensions::with_facts(self.clone()),
        }
    }
}

impl Facts for Info {
    fn get(&self, type_id: TypeId) -> Option<&(dyn Any + Send + Sync)> {
        fact(type_id, &self.id)
            .or_else(|| fact(type_id, self.peer.as_ref()?))
            .or_else(|| fact(type_id, self.local.as_ref()?))
            .or_else(|| fact(type_id, self.path.as_ref()?))
            .or_else(|| fact(type_id, self.credentials.as_ref()?))
    }
}

/// A reply that answers no request in particular (id `null`).
pub(crate) fn error_reply(codec: &dyn Codec, error: ErrorObject) -> Bytes {
    let mut out = Vec::new();
    let reply = Reply::Single(Response {
        id: Id::Null,
        outcome: Err(error),
    });
    codec.encode_reply(&reply, &mut out);
    Bytes::from(out)
}

/// Serves one connection until the peer is done, the framing breaks, the
/// connection idles out, or `shutdown` fires and every call already read
/// is answered.
pub(crate) async fn serve<R, W>(
    settings: Arc<Settings>,
    info: Info,
    reader: R,
    writer: W,
    shutdown: CancellationToken,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let _counted = Counted::new(settings.sink.as_deref());
    let (queue, replies) = mpsc::channel(settings.write_queue.max(1));
    let writer_done = CancellationToken::new();
    let info = Arc::new(info);
    let read = read_half(&settings, &info, reader, queue, &shutdown, &writer_done);
    let write = write_half(
        FramedWrite::new(writer, settings.framer()),
        replies,
        settings.idle_timeout,
        &writer_done,
    );
    tokio::join!(read, write);
    tracing::debug!(connection = info.id.0, "connection closed");
}

/// A far-off deadline, for an idle timer that never fires.
const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

async fn read_half<R: AsyncRead + Unpin>(
    settings: &Settings,
    info: &Arc<Info>,
    reader: R,
    queue: mpsc::Sender<Bytes>,
    shutdown: &CancellationToken,
    writer_done: &CancellationToken,
) {
    let codec = &settings.codec;
    let mut frames = FramedRead::new(reader, settings.framer());
    let mut service = settings.service.clone();
    let mut in_flight = FuturesUnordered::new();
    let mut reading = true;
    // Frames to start, reused: one, or at shutdown all those buffered.
    let mut inbound = Vec::with_capacity(1);
    // The idle timer is not moved on every frame (that costs a clock read
    // and a timer-wheel update each): frames mark the connection active,
    // and a timer that fires on an active connection starts over. So an
    // idle connection closes between one and two idle timeouts after its
    // last frame.
    let idle = settings.idle_timeout;
    let mut active = false;
    let timer = tokio::time::sleep(idle.unwrap_or(NEVER));
    tokio::pin!(timer);
    // Made once: a fresh `cancelled()` future per turn would register a
    // waiter each time.
    let shutdown = shutdown.cancelled();
    tokio::pin!(shutdown);
    let writer_done = writer_done.cancelled();
    tokio::pin!(writer_done);

    loop {
        if !reading && in_flight.is_empty() {
            break;
        }
        // What the select found; handled below, once its futures (which
        // borrow the frames and the calls) are gone.
        enum Event {
            Replied(Option<Bytes>),
            Read(Option<Result<Inbound, FrameError>>),
            Shutdown,
            Idle,
            WriterDone,
        }
        let event = tokio::select! {
            biased;
            () = &mut writer_done => Event::WriterDone,
            Some(reply) = in_flight.next() => Event::Replied(reply),
            () = &mut shutdown, if reading => Event::Shutdown,
            item = frames.next(), if reading && in_flight.len() < settings.max_in_flight => {
                Event::Read(item)
            }
            () = &mut timer, if reading && idle.is_some() && in_flight.is_empty() => Event::Idle,
        };
        match event {
            Event::WriterDone => break,
            Event::Replied(reply) => {
                if let Some(bytes) = reply {
                    if queue.send(bytes).await.is_err() {
                        break;
                    }
                }
                active = true;
                continue;
            }
            Event::Idle => {
                if std::mem::take(&mut active) {
                    if let Some(idle) = idle {
                        timer.as_mut().reset(Instant::now() + idle);
                    }
                } else {
                    tracing::debug!(connection = info.id.0, "idle timeout, closing");
                    reading = false;
                }
                continue;
            }
            Event::Shutdown => {
                reading = false;
                // Answer what was read but not yet decoded: the frames
                // whole in the buffer (a partial one is lost, as it must be).
                let mut buffer = std::mem::take(frames.read_buffer_mut());
                let framer = frames.decoder_mut();
                while let Ok(Some(item)) = framer.decode(&mut buffer) {
                    inbound.push(item);
                }
            }
            Event::Read(None) => reading = false,
            Event::Read(Some(Ok(item))) => {
                active = true;
                inbound.push(item);
            }
            Event::Read(Some(Err(err))) => {
                reading = false;
                let answer = match &err {
                    FrameError::TooLarge { .. } => Some(ErrorObject::invalid_request(
                        format_args!("{err}; closing the connection"),
                    )),
                    FrameError::InvalidHeader(_) => Some(ErrorObject::parse_error(format_args!(
                        "{err}; closing the connection"
                    ))),
                    _ => None,
                };
                tracing::debug!(connection = info.id.0, error = %err, "framing ended");
                if let Some(error) = answer {
                    // In-flight calls still answer first or after; either
                    // way the error is the last thing this side reads.
                    if queue.send(error_reply(&**codec, error)).await.is_err() {
                        break;
                    }
                }
            }
        }
        for item in inbound.drain(..) {
            match item {
                Inbound::Frame(bytes) => {
                    if let Err(err) = poll_fn(|cx| service.poll_ready(cx)).await {
                        tracing::error!(connection = info.id.0, error = %err, "frame service failed");
                        return;
                    }
                    let mut call = service.call(info.frame(bytes, codec));
                    // Most calls (sync handlers) finish on their first
                    // poll: answer those at once, without a task slot.
                    match poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await {
                        Poll::Ready(result) => {
                            if let Some(bytes) = reply_bytes(result, &**codec) {
                                if queue.send(bytes).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Poll::Pending => in_flight.push(answer(call, Arc::clone(codec))),
                    }
                }
                Inbound::TooLarge { max } => {
                    let error = ErrorObject::invalid_request(format_args!(
                        "a line of more than {max} bytes was skipped"
                    ));
                    if queue.send(error_reply(&**codec, error)).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// The reply bytes of one call; a failing service answers -32603.
async fn answer(
    call: <BoxedService as Service<Frame>>::Future,
    codec: Arc<dyn Codec>,
) -> Option<Bytes> {
    reply_bytes(call.await, &*codec)
}

/// What a call's outcome writes: its frame, nothing, or -32603.
fn reply_bytes(result: Result<Option<Frame>, BoxError>, codec: &dyn Codec) -> Option<Bytes> {
    match result {
        Ok(reply) => reply.map(|frame| frame.bytes),
        Err(err) => {
            tracing::error!(error = %err, "frame service failed");
            Some(error_reply(
                codec,
                ErrorObject::internal_error("the server failed to answer"),
            ))
        }
    }
}

async fn write_half<W: AsyncWrite + Unpin>(
    mut sink: FramedWrite<W, AnyCodec>,
    mut replies: mpsc::Receiver<Bytes>,
    idle: Option<Duration>,
    done: &CancellationToken,
) {
    let written = async {
        while let Some(first) = replies.recv().await {
            // Everything queued goes out in one flush; a peer that takes
            // none of it for the idle timeout is as good as gone. One
            // timer per flush, not per reply.
            let batch = async {
                sink.feed(first).await?;
                while let Ok(more) = replies.try_recv() {
                    sink.feed(more).await?;
                }
                sink.flush().await
            };
            within(idle, batch).await?;
        }
        within(idle, sink.close()).await
    };
    if let Err(err) = written.await {
        tracing::debug!(error = %err, "writing failed");
    }
    done.cancel();
}

/// Runs `step` under the idle timeout.
async fn within<F>(idle: Option<Duration>, step: F) -> Result<(), FrameError>
where
    F: std::future::Future<Output = Result<(), FrameError>>,
{
    match idle {
        None => step.await,
        Some(idle) => tokio::time::timeout(idle, step).await.unwrap_or_else(|_| {
            Err(FrameError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the peer took no bytes within the idle timeout",
            )))
        }),
    }
}
