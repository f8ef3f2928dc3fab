//! The accept loop: the connection limit, several listeners, and the
//! phases of a graceful shutdown.

use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};

use super::connection::Serving;
use super::Config;

/// Where a server is in its life; every connection watches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Accepting and serving.
    Serving,
    /// No longer accepting, after a hand-over: an HTTP/1 connection stays
    /// open for its next request, answered with `Connection: close`, so
    /// that a client never has a request in flight on a connection we
    /// close; HTTP/2 connections get their `GOAWAY` at once.
    Lingering,
    /// No longer accepting: finish in-flight requests, then close.
    Draining,
    /// The shutdown timeout has passed: close now.
    Closing,
}

/// What a connection holds while it is open: its place under the
/// connection limit, and a sender whose drop tells the shutdown that one
/// more connection is closed.
#[derive(Debug)]
pub(super) struct Open {
    _permit: OwnedSemaphorePermit,
    _alive: mpsc::Sender<Infallible>,
    /// Told when the connection opens and closes.
    sinks: Arc<[Arc<dyn rpckit_codec::StatsSink>]>,
}

impl Open {
    fn new(
        permit: OwnedSemaphorePermit,
        alive: mpsc::Sender<Infallible>,
        sinks: &Arc<[Arc<dyn rpckit_codec::StatsSink>]>,
    ) -> Self {
        for sink in sinks.iter() {
            sink.connection_opened();
        }
        Open {
            _permit: permit,
            _alive: alive,
            sinks: Arc::clone(sinks),
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        for sink in self.sinks.iter() {
            sink.connection_closed();
        }
    }
}

/// Accepts on every listener until `stop` completes, then drains: first,
/// when `stop` gives a linger time, for up to that long in
/// [`Phase::Lingering`].
pub(super) async fn run(
    listeners: Arc<[TcpListener]>,
    config: Arc<Config>,
    stop: impl Future<Output = Option<Duration>>,
) -> io::Result<()> {
    let serving = Arc::new(Serving::new(&config));
    let settings = &config.connections;
    let (phase, watching) = watch::channel(Phase::Serving);
    // No message is ever sent: `recv` returns `None` once every
    // connection's sender is dropped.
    let (alive, mut all_closed) = mpsc::channel::<Infallible>(1);
    let permits = Arc::new(Semaphore::new(settings.max_connections));
    let mut stop = std::pin::pin!(stop);
    let mut next = 0;

    let linger = loop {
        // At the limit, stop accepting until a connection closes: waiting
        // clients stay in the kernel's backlog.
        let permit = tokio::select! {
            biased;
            asked = &mut stop => break asked,
            permit = Arc::clone(&permits).acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let accepted = tokio::select! {
            biased;
            asked = &mut stop => break asked,
            accepted = accept_any(&listeners, &mut next) => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let open = Open::new(permit, alive.clone(), &config.sinks);
                serving.spawn(stream, peer, open, watching.clone());
            }
            Err(err) if is_connection_error(&err) => {}
            Err(err) => {
                // Most likely out of file descriptors: back off instead of
                // spinning, and let connections close meanwhile.
                tracing::error!(error = %err, "accept failed");
                tokio::select! {
                    biased;
                    asked = &mut stop => break asked,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    };

    // Refuse new connections from here on (after a hand-over, the
    // successor's copy of the socket keeps accepting).
    drop(listeners);
    drop(alive);
    if let Some(linger) = linger {
        let _ = phase.send(Phase::Lingering);
        if tokio::time::timeout(linger, all_closed.recv())
            .await
            .is_ok()
        {
            return Ok(());
        }
    }
    let _ = phase.send(Phase::Draining);
    let deadline = tokio::time::Instant::now() + settings.shutdown_timeout;
    if tokio::time::timeout_at(deadline, all_closed.recv())
        .await
        .is_err()
    {
        tracing::warn!(
            timeout = ?settings.shutdown_timeout,
            "closing connections still busy after the shutdown timeout"
        );
        let _ = phase.send(Phase::Closing);
        all_closed.recv().await;
    }
    // The routes' background work (queued notifications), in what is left
    // of the same timeout.
    let drains = async {
        for route in config.shared.routes.values() {
            route.drain().await;
        }
    };
    if tokio::time::timeout_at(deadline, drains).await.is_err() {
        tracing::warn!(
            timeout = ?settings.shutdown_timeout,
            "stopped waiting for the routes' background work at the shutdown timeout"
        );
    }
    Ok(())
}

/// The next connection on any of `listeners`. The listener polled first
/// rotates, so that a busy one cannot starve the others.
async fn accept_any(
    listeners: &[TcpListener],
    next: &mut usize,
) -> io::Result<(TcpStream, SocketAddr)> {
    poll_fn(|cx| {
        let count = listeners.len();
        for offset in 0..count {
            let index = (*next + offset) % count;
            if let Poll::Ready(accepted) = listeners[index].poll_accept(cx) {
                *next = (index + 1) % count;
                return Poll::Ready(accepted);
            }
        }
        Poll::Pending
    })
    .await
}

/// Errors that concern one connection, not the listener.
fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
