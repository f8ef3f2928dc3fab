//! One connection: the optional TLS handshake, HTTP/1 (the fast
//! connection, or hyper's) or HTTP/2 (see [`protocol`](super::protocol)),
//! the idle timeout, and the shutdown phases.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::rt::{Read, Write};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;

use super::accept::{Open, Phase};
use super::gate::Gate;
use super::protocol::{self, Http};
use super::Config;
use bytes::Bytes;
use http_body_util::Full;

use crate::dispatch::{self, BoxedAnswer, RequestHead, Shared};
use crate::Body;

/// The most hyper's HTTP/1 side buffers on a connection: about the
/// longest request head it takes (it checks between reads, so a head up to
/// twice this may pass; longer ones get `431`), and the most it reads of a
/// body at once. hyper keeps a connection's buffer at the largest size
/// it grew to for as long as the connection stays open: with hyper's own
/// limit (about 400 KB), a connection that had sent one large body (hyper
/// serves those over 256 KiB, and chunked ones) held 424 KB while idle;
/// with this, 83 KB.
const HYPER_READ_BUFFER: usize = 64 * 1024;

/// What every connection of one server run shares.
#[derive(Debug)]
pub(super) struct Serving {
    /// For connections that may speak HTTP/2 (and TLS ones: ALPN decides).
    auto: auto::Builder<TokioExecutor>,
    /// For the others, once the fast HTTP/1 connection hands them over
    /// (HTTP/1 alone takes less memory per connection).
    http1: http1::Builder,
    shared: Arc<Shared>,
    idle_timeout: Option<Duration>,
    /// How long a connection told to close when idle may take to do so:
    /// HTTP/2's graceful close waits for the peer to answer a `PING`, which
    /// a dead peer never does.
    close_timeout: Duration,
    /// How long an HTTP/1 connection (or one whose protocol is not known
    /// yet) may go without a request head: the shorter of the header read
    /// and idle timeouts, counted from its start or its last answer.
    ///
    /// For plain HTTP/1 connections this is the slowloris guard, instead of
    /// hyper's header read timeout, which arms, polls and drops a boxed
    /// timer for every request (about 770 instructions of a small call);
    /// the connection's idle timer, there anyway, fires at most once a
    /// timeout. The auto-detecting connections (TLS, or a first byte that
    /// may begin HTTP/2's preface) keep hyper's timer as well: from the
    /// outside, an HTTP/1 connection still waiting for its first head
    /// cannot be told from an HTTP/2 one with no stream yet, which is
    /// closed gracefully, with a `GOAWAY`.
    head_timeout: Option<Duration>,
    #[cfg(feature = "tls")]
    tls: Option<crate::TlsConfig>,
    /// How long a TLS handshake may take: the header read timeout.
    #[cfg(feature = "tls")]
    handshake_timeout: Option<Duration>,
}

impl Serving {
    pub(super) fn new(config: &Config) -> Self {
        let settings = &config.connections;
        let mut auto = auto::Builder::new(TokioExecutor::new());
        // The timer arms hyper's HTTP/1 header read timeout and HTTP/2's
        // timers (see `head_timeout`).
        auto.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(settings.header_read_timeout)
            .max_buf_size(HYPER_READ_BUFFER);
        // Keep-alive pings find HTTP/2 peers that vanished without a
        // `FIN`: hyper closes a connection whose `PING` goes unanswered.
        auto.http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(settings.http2_keep_alive_interval)
            .keep_alive_timeout(settings.http2_keep_alive_timeout);
        let mut http1 = http1::Builder::new();
        // hyper's header read timeout is off: see `head_timeout`.
        http1.header_read_timeout(None);
        http1.max_buf_size(HYPER_READ_BUFFER);
        Serving {
            auto,
            http1,
            shared: Arc::clone(&config.shared),
            idle_timeout: settings.idle_timeout,
            close_timeout: settings.http2_keep_alive_timeout,
            head_timeout: match (settings.header_read_timeout, settings.idle_timeout) {
                (Some(header), Some(idle)) => Some(header.min(idle)),
                (header, idle) => header.or(idle),
            },
            #[cfg(feature = "tls")]
            tls: config.tls.clone(),
            #[cfg(feature = "tls")]
            handshake_timeout: settings.header_read_timeout,
        }
    }

    /// Serves `stream` on its own task until it closes or `phase` says so.
    pub(super) fn spawn(
        self: &Arc<Self>,
        stream: TcpStream,
        peer: SocketAddr,
        open: Open,
        phase: watch::Receiver<Phase>,
    ) {
        // Replies are written whole; waiting to coalesce them only adds latency.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%peer, error = %err, "could not set TCP_NODELAY");
        }
        let serving = Arc::clone(self);
        #[cfg(feature = "tls")]
        if let Some(tls) = &serving.tls {
            let acceptor = tls.acceptor();
            let timeout = serving.handshake_timeout;
            tokio::spawn(async move {
                let mut phase = phase;
                let handshake = tokio::select! {
                    handshake = with_timeout(timeout, acceptor.accept(stream)) => handshake,
                    () = stopping(&mut phase) => return,
                };
                match handshake {
                    Some(Ok(stream)) => {
                        let io = TokioIo::new(stream);
                        let auto = |service| Http::auto(&serving.auto, io, service);
                        serving.drive(auto, true, peer, phase).await;
                    }
                    Some(Err(err)) => tracing::debug!(%peer, error = %err, "TLS handshake failed"),
                    None => tracing::debug!(%peer, "TLS handshake timed out"),
                }
                drop(open);
            });
            return;
        }
        tokio::spawn(async move {
            let mut phase = phase;
            let timeout = serving.head_timeout;
            let first = tokio::select! {
                first = with_timeout(timeout, protocol::may_be_http2(&stream)) => first,
                () = stopping(&mut phase) => return,
            };
            match first {
                Some(Ok(Some(true))) => {
                    let io = TokioIo::new(stream);
                    let auto = |service| Http::auto(&serving.auto, io, service);
                    serving.drive(auto, true, peer, phase).await;
                }
                Some(Ok(Some(false))) => {
                    let fast =
                        |service| Http::<TokioIo<TcpStream>>::fast(&serving.http1, stream, service);
                    serving.drive(fast, false, peer, phase).await;
                }
                Some(Ok(None)) => {}
                Some(Err(err)) => tracing::debug!(%peer, error = %err, "connection failed"),
                None => tracing::debug!(%peer, "closing a connection that sent nothing"),
            }
            drop(open);
        });
    }

    /// Runs the connection `connect` makes with the connection's service
    /// (auto-detecting HTTP/2 if `may_be_http2`), closing it when it has
    /// been idle too long or the server stops.
    async fn drive<I>(
        &self,
        connect: impl FnOnce(ConnService) -> Http<I>,
        may_be_http2: bool,
        peer: SocketAddr,
        mut phase: watch::Receiver<Phase>,
    ) where
        I: Read + Write + Unpin + Send + 'static,
    {
        let activity = Arc::new(Activity::new());
        let connection = connect(ConnService {
            shared: Arc::clone(&self.shared),
            activity: Arc::clone(&activity),
            peer,
        });
        let mut connection = std::pin::pin!(connection);
        let idle = tokio::time::sleep(self.head_timeout.unwrap_or(Duration::MAX));
        let mut idle = std::pin::pin!(idle);
        // Whether `idle` holds this task's waker for its deadline: see
        // `idle_elapsed`. Cleared by every reset.
        let mut idle_armed = false;
        let mut timing = self.head_timeout.is_some();
        // Set once the connection was told to close: no second telling.
        let mut closing = false;
        // Set when the idle timeout told the connection to close; the idle
        // timer then bounds the close. HTTP/2's graceful close waits for a
        // `PING` round trip (so that no request the client sent meanwhile
        // is lost), and a peer that does not answer would hold the
        // connection forever. (A shutdown has its own deadline, the
        // shutdown timeout.) One timer for both: a timer costs memory in
        // every connection, idle or not.
        let mut closing_idle = false;
        // Set once the server is gone: its phase cannot change any more.
        let mut orphaned = false;
        // The phase changes a few times in a server's life: its future is
        // polled only when the phase woke it.
        let phase_gate = Gate::new();
        // A connection that starts while the server lingers (a TLS
        // handshake that finished meanwhile) lingers too.
        if *phase.borrow_and_update() == Phase::Lingering {
            activity.linger();
        }
        loop {
            tokio::select! {
                // In order, not at random: the connection finishes once and
                // the others are rare, so none can starve another, and the
                // random start costs ~50 instructions a wake (one or two a
                // request).
                biased;
                result = connection.as_mut() => {
                    if let Err(err) = result {
                        tracing::debug!(%peer, error = %err, "connection closed with an error");
                    }
                    return;
                }
                changed = phase_gate.gate(phase.changed()), if !orphaned => {
                    let now = match changed {
                        Ok(()) => *phase.borrow_and_update(),
                        // The accept loop was dropped without a shutdown:
                        // close as gracefully as for one.
                        Err(_) => {
                            orphaned = true;
                            Phase::Draining
                        }
                    };
                    match now {
                        Phase::Serving => {}
                        // HTTP/2 says `GOAWAY` at once: its clients retry
                        // the streams it did not take, on the successor.
                        Phase::Lingering if !closing && activity.is_http2() => {
                            connection.as_mut().graceful_shutdown();
                            closing = true;
                        }
                        Phase::Lingering => activity.linger(),
                        Phase::Draining if !closing => {
                            connection.as_mut().graceful_shutdown();
                            closing = true;
                        }
                        Phase::Draining => {}
                        Phase::Closing => return,
                    }
                }
                () = idle_elapsed(idle.as_mut(), &mut idle_armed), if timing && (!closing || closing_idle) => {
                    idle_armed = false;
                    if closing_idle {
                        // A request that came in the last round trip before
                        // the `GOAWAY` took effect is answered first.
                        if activity.in_flight() == 0 {
                            tracing::debug!(%peer, "closing an idle connection whose peer did not finish the close");
                            return;
                        }
                        idle.as_mut().reset(Instant::now() + self.close_timeout);
                        continue;
                    }
                    // HTTP/2 multiplexes: between its streams it is only
                    // idle, with no head half read.
                    let limit = if activity.is_http2() {
                        self.idle_timeout
                    } else {
                        self.head_timeout
                    };
                    match limit.map(|limit| activity.idle_left(limit)) {
                        // No timeout for this connection any more.
                        None => timing = false,
                        Some(Some(left)) => idle.as_mut().reset(Instant::now() + left),
                        // Plain HTTP/1 that never sent a whole head: nothing
                        // was asked, so nothing is lost, and it is closed at
                        // once. (hyper closes a connection told to close
                        // gracefully at once only between requests, and
                        // before the first it is not between requests.)
                        Some(None) if !may_be_http2 && !activity.served_any() => {
                            tracing::debug!(%peer, "closing a connection whose first request did not come in time");
                            return;
                        }
                        Some(None) => {
                            tracing::debug!(%peer, "closing an idle connection");
                            connection.as_mut().graceful_shutdown();
                            closing = true;
                            closing_idle = true;
                            idle.as_mut().reset(Instant::now() + self.close_timeout);
                        }
                    }
                }
            }
        }
    }
}

/// Completes when `idle` has elapsed, polling it only when that can tell
/// something: once after each reset (`armed` false), which registers this
/// task's waker with the timer, then only once the timer has fired. The
/// connection task wakes once or twice per request and `select!` polls
/// every branch each time; polling a registered, unexpired timer again
/// costs ~120 instructions and says only "not yet". The waker it holds
/// stays right: `drive` runs as its own task, whose waker does not change.
fn idle_elapsed<'a>(
    mut idle: Pin<&'a mut tokio::time::Sleep>,
    armed: &'a mut bool,
) -> impl Future<Output = ()> + 'a {
    std::future::poll_fn(move |cx| {
        if *armed && !idle.is_elapsed() {
            return std::task::Poll::Pending;
        }
        // Out of budget, the timer answers `Pending` without registering
        // (it wakes the task to come back instead): not armed then.
        let registers = tokio::task::coop::has_budget_remaining();
        let polled = idle.as_mut().poll(cx);
        *armed = polled.is_pending() && registers;
        polled
    })
}

/// Awaits `future`, for at most `timeout` if there is one; `None` when it
/// took longer.
async fn with_timeout<F: std::future::Future>(
    timeout: Option<Duration>,
    future: F,
) -> Option<F::Output> {
    match timeout {
        Some(timeout) => tokio::time::timeout(timeout, future).await.ok(),
        None => Some(future.await),
    }
}

/// Completes once the server drains or closes (or is gone). A handshake
/// or a connection's first bytes may arrive while the server lingers: the
/// connection then lingers too.
async fn stopping(phase: &mut watch::Receiver<Phase>) {
    let _ = phase
        .wait_for(|phase| matches!(phase, Phase::Draining | Phase::Closing))
        .await;
}

/// When a connection last had a request in flight, for the idle timeout.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    /// Whether a request has arrived yet.
    served_any: AtomicBool,
    /// When the last request finished, in milliseconds since `opened`.
    last_done: AtomicU64,
    /// Whether a request has come over HTTP/2.
    http2: AtomicBool,
    /// Set when the server lingers after a hand-over: answer the next
    /// HTTP/1 request with `Connection: close`.
    lingering: AtomicBool,
}

/// `Connection: close`.
const CLOSE: http::HeaderValue = http::HeaderValue::from_static("close");

impl Activity {
    fn new() -> Self {
        Activity {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            served_any: AtomicBool::new(false),
            last_done: AtomicU64::new(0),
            http2: AtomicBool::new(false),
            lingering: AtomicBool::new(false),
        }
    }

    /// Counts a request in flight until the guard drops.
    fn begin(self: &Arc<Self>, http1: bool) -> Busy {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.served_any.store(true, Ordering::Release);
        if !http1 {
            self.http2.store(true, Ordering::Relaxed);
        }
        Busy(Arc::clone(self))
    }

    fn is_http2(&self) -> bool {
        self.http2.load(Ordering::Relaxed)
    }

    /// From now on, every answer closes the connection.
    fn linger(&self) {
        self.lingering.store(true, Ordering::Relaxed);
    }

    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    fn served_any(&self) -> bool {
        self.served_any.load(Ordering::Acquire)
    }

    /// How much longer the connection may stay idle, or `None` when it has
    /// been idle for `limit` already.
    fn idle_left(&self, limit: Duration) -> Option<Duration> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Some(limit);
        }
        let last = self.opened + Duration::from_millis(self.last_done.load(Ordering::Acquire));
        let idle = last.elapsed();
        limit.checked_sub(idle).filter(|left| !left.is_zero())
    }
}

/// The service of one connection, for hyper's requests and the fast
/// connection's alike: each request is counted in flight on the
/// connection until answered, and answered by [`dispatch::serve`] in its
/// span.
#[derive(Clone, Debug)]
pub(super) struct ConnService {
    shared: Arc<Shared>,
    activity: Arc<Activity>,
    peer: SocketAddr,
}

impl<B> hyper::service::Service<http::Request<B>> for ConnService
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<crate::BoxError>,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Tracked;

    fn call(&self, request: http::Request<B>) -> Tracked {
        let span = tracing::debug_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            peer = %self.peer,
        );
        let http1 = request.version() < http::Version::HTTP_2;
        let busy = self.activity.begin(http1);
        Tracked {
            answer: dispatch::serve(&self.shared, Some(self.peer), request, span),
            busy: Some(busy),
            http1,
        }
    }
}

impl ConnService {
    /// Whether the request of `head`, of `body_len` bytes, is answered only
    /// once its body is read (see [`dispatch::reads_body_first`]).
    pub(super) fn reads_body_first(&self, head: &RequestHead, body_len: usize) -> bool {
        dispatch::reads_body_first(&self.shared, head, body_len)
    }

    /// Answers a request of the fast HTTP/1 connection, read into its
    /// parts (its headers as read, not yet a map).
    pub(super) fn call_head(&self, head: RequestHead, body: Full<Bytes>) -> Tracked {
        let span = tracing::debug_span!(
            "request",
            method = %head.method,
            path = %head.uri.path(),
            peer = %self.peer,
        );
        let busy = self.activity.begin(true);
        Tracked {
            answer: dispatch::serve_head(&self.shared, Some(self.peer), head, body, span, true),
            busy: Some(busy),
            http1: true,
        }
    }
}

/// A request's answer on one of the server's connections: the request
/// counts as in flight until it is answered, and when the server lingers
/// after a hand-over its answer closes an HTTP/1 connection (hyper closes
/// it once the answer is written).
pub(super) struct Tracked {
    answer: BoxedAnswer,
    busy: Option<Busy>,
    http1: bool,
}

impl Future for Tracked {
    type Output = Result<http::Response<Body>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut response = std::task::ready!(self.answer.as_mut().poll(cx));
        if let Some(busy) = self.busy.take() {
            if self.http1 && busy.0.lingering.load(Ordering::Relaxed) {
                response
                    .headers_mut()
                    .insert(http::header::CONNECTION, CLOSE);
            }
        }
        Poll::Ready(Ok(response))
    }
}

/// A request in flight on a connection.
#[derive(Debug)]
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        let since = self.0.opened.elapsed().as_millis();
        self.0
            .last_done
            .store(u64::try_from(since).unwrap_or(u64::MAX), Ordering::Release);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}
