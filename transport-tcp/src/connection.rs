//! One connection: frames in, calls in flight, replies out as they finish.
//!
//! One loop on the connection's task does it all. It reads frames and
//! starts a call for each, up to `max_in_flight` at once, taking every
//! frame already buffered in one go; a call that finishes at once (a sync
//! handler) has its reply framed straight into the outbox, the others join
//! the calls in flight and are framed when they finish. The outbox is
//! written when nothing else is ready, so a burst of pipelined replies
//! leaves in one write.
//!
//! Backpressure runs the whole way back: a peer that does not read fills
//! its socket, then the outbox up to its high-water mark; the loop then
//! takes no more replies and reads no more frames, the calls in flight
//! reach the limit, and the peer's own writes stall. Memory per connection
//! stays bounded by the limits, whatever the peer does.

use std::any::{Any, TypeId};
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use rpckit_codec::{
    fact, Codec, ErrorObject, Extensions, Facts, Frame, Id, PeerAddr, Reply, Response,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::Service;

use crate::buffered::{Inbox, Outbox};
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
    let mut connection = Connection {
        settings: &settings,
        info: Arc::new(info),
        service: settings.service.clone(),
        inbox: Inbox::new(reader, settings.framer()),
        outbox: Outbox::new(writer, settings.framer()),
        in_flight: FuturesUnordered::new(),
        reading: true,
    };
    let id = connection.info.id.0;
    let closed = match connection.run(&shutdown).await {
        Ok(()) => within(settings.idle_timeout, connection.outbox.close()).await,
        Err(err) => Err(err),
    };
    match closed {
        Ok(()) => tracing::debug!(connection = id, "connection closed"),
        Err(err) => tracing::debug!(connection = id, error = %err, "connection lost"),
    }
}

/// A far-off deadline, for an idle timer that never fires.
const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// One connection's state, on its one task.
struct Connection<'a, R, W> {
    settings: &'a Settings,
    info: Arc<Info>,
    service: BoxedService,
    inbox: Inbox<R>,
    outbox: Outbox<W>,
    in_flight: FuturesUnordered<Answer>,
    /// Frames are still read: the peer has not closed its side, the
    /// framing has not broken, and no shutdown or idle timeout came.
    reading: bool,
}

/// A call that did not finish on its first poll; its reply when it does.
struct Answer {
    call: <BoxedService as Service<Frame>>::Future,
    codec: Arc<dyn Codec>,
}

impl Future for Answer {
    type Output = Option<Bytes>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = &mut *self;
        let result = std::task::ready!(this.call.as_mut().poll(cx));
        Poll::Ready(reply_bytes(result, &*this.codec))
    }
}

impl<R: AsyncRead + Unpin, W: AsyncWrite + Unpin> Connection<'_, R, W> {
    /// Reads, calls and writes until nothing is left to read or answer.
    /// `Ok` leaves replies in the outbox for the caller's close; `Err`
    /// means the peer is gone (or takes nothing) and the rest is dropped.
    async fn run(&mut self, shutdown: &CancellationToken) -> io::Result<()> {
        // The idle timer is not moved on every frame (that costs a clock
        // read and a timer-wheel update each): reads and writes mark the
        // connection active, and a timer that fires on an active
        // connection starts over. So an idle connection closes between
        // one and two idle timeouts after its last frame, and a peer that
        // takes none of its replies is dropped as late.
        let idle = self.settings.idle_timeout;
        let mut active = false;
        let timer = tokio::time::sleep(idle.unwrap_or(NEVER));
        tokio::pin!(timer);
        // Made once: a fresh `cancelled()` future per turn would register
        // a waiter each time.
        let shutdown = shutdown.cancelled();
        tokio::pin!(shutdown);

        while self.reading || !self.in_flight.is_empty() {
            let room = self.outbox.has_room();
            let may_read = self.may_read();
            let waiting = !self.outbox.is_empty();
            let timed = idle.is_some() && (waiting || (self.reading && self.in_flight.is_empty()));
            // What the select found; handled below, once its futures
            // (which borrow the buffers and the calls) are gone. Writing
            // comes last: a burst of frames is answered in one write.
            enum Event {
                Replied(Option<Bytes>),
                Read(Option<Result<Inbound, FrameError>>),
                Written(io::Result<()>),
                Shutdown,
                Idle,
            }
            let event = tokio::select! {
                biased;
                Some(reply) = self.in_flight.next(), if room => Event::Replied(reply),
                () = &mut shutdown, if self.reading => Event::Shutdown,
                item = self.inbox.next(), if may_read => Event::Read(item),
                written = self.outbox.flush(), if waiting => Event::Written(written),
                () = &mut timer, if timed => Event::Idle,
            };
            match event {
                Event::Replied(reply) => {
                    active = true;
                    if let Some(bytes) = reply {
                        self.push(bytes)?;
                    }
                }
                Event::Written(written) => {
                    written?;
                    active = true;
                }
                Event::Idle if std::mem::take(&mut active) => {
                    if let Some(idle) = idle {
                        timer.as_mut().reset(Instant::now() + idle);
                    }
                }
                Event::Idle if waiting => return Err(stalled()),
                Event::Idle => {
                    tracing::debug!(connection = self.info.id.0, "idle timeout, closing");
                    self.reading = false;
                }
                Event::Shutdown => {
                    self.reading = false;
                    // Answer what was read but not yet started: the frames
                    // whole in the buffer (a partial one is lost, as it
                    // must be).
                    while let Ok(Some(item)) = self.inbox.buffered() {
                        self.start(item).await?;
                    }
                }
                Event::Read(None) => self.reading = false,
                Event::Read(Some(item)) => {
                    active = true;
                    self.read(item).await?;
                    // And every frame after it already buffered, as far
                    // as the limits allow, without a turn of the loop each.
                    while self.may_read() {
                        match self.inbox.buffered().transpose() {
                            Some(item) => self.read(item).await?,
                            None => break,
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Another frame may be read: reading, under the in-flight limit, and
    /// the replies waiting to be written under the high-water mark.
    fn may_read(&self) -> bool {
        self.reading && self.in_flight.len() < self.settings.max_in_flight && self.outbox.has_room()
    }

    /// Starts a frame read, or answers a framing error and stops reading.
    async fn read(&mut self, item: Result<Inbound, FrameError>) -> io::Result<()> {
        match item {
            Ok(item) => self.start(item).await,
            Err(err) => {
                self.reading = false;
                let answer = match &err {
                    FrameError::TooLarge { .. } => Some(ErrorObject::invalid_request(
                        format_args!("{err}; closing the connection"),
                    )),
                    FrameError::InvalidHeader(_) => Some(ErrorObject::parse_error(format_args!(
                        "{err}; closing the connection"
                    ))),
                    _ => None,
                };
                tracing::debug!(connection = self.info.id.0, error = %err, "framing ended");
                // In-flight calls still answer first or after; either way
                // the error is the last thing this side reads.
                match answer {
                    Some(error) => self.push(error_reply(&*self.settings.codec, error)),
                    None => Ok(()),
                }
            }
        }
    }

    /// Starts the call of one frame. Most calls (sync handlers) finish on
    /// their first poll: their replies go straight to the outbox, the
    /// others join the calls in flight.
    async fn start(&mut self, item: Inbound) -> io::Result<()> {
        // A unit of the task's budget a frame: frames taken from the
        // buffer cost no socket read (which would count), and a flood of
        // them must not hold the worker thread from other connections.
        tokio::task::consume_budget().await;
        let codec = &self.settings.codec;
        let bytes = match item {
            Inbound::Frame(bytes) => bytes,
            Inbound::TooLarge { max } => {
                let error = ErrorObject::invalid_request(format_args!(
                    "a line of more than {max} bytes was skipped"
                ));
                return self.push(error_reply(&**codec, error));
            }
        };
        if let Err(err) = poll_fn(|cx| self.service.poll_ready(cx)).await {
            tracing::error!(connection = self.info.id.0, error = %err, "frame service failed");
            // Nothing more is read or answered; what is written stays.
            self.reading = false;
            self.in_flight.clear();
            return Ok(());
        }
        let mut call = self.service.call(self.info.frame(bytes, codec));
        match poll_fn(|cx| Poll::Ready(call.as_mut().poll(cx))).await {
            Poll::Ready(result) => match reply_bytes(result, &**codec) {
                Some(bytes) => self.push(bytes),
                None => Ok(()),
            },
            Poll::Pending => {
                self.in_flight.push(Answer {
                    call,
                    codec: Arc::clone(codec),
                });
                Ok(())
            }
        }
    }

    /// Frames a reply into the outbox; a reply its framing cannot carry
    /// ends the connection, as a failed write does.
    fn push(&mut self, reply: Bytes) -> io::Result<()> {
        self.outbox.push(reply).map_err(|err| match err {
            FrameError::Io(err) => err,
            other => io::Error::other(other),
        })
    }
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

/// Runs `step` under the idle timeout.
async fn within<F>(idle: Option<Duration>, step: F) -> io::Result<()>
where
    F: std::future::Future<Output = io::Result<()>>,
{
    match idle {
        None => step.await,
        Some(idle) => tokio::time::timeout(idle, step)
            .await
            .unwrap_or_else(|_| Err(stalled())),
    }
}

/// Why a connection whose peer reads none of its replies is dropped.
fn stalled() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "the peer took no bytes within the idle timeout",
    )
}
