//! What a transport reports to whoever keeps statistics.

use std::fmt;
use std::time::Duration;

/// Where a transport reports the events that only it sees — connections
/// opening and closing, time spent compressing answers, the path it serves
/// a frame service at — to whoever keeps statistics.
///
/// The key decision: transports depend on this crate alone, so they cannot
/// name `rpckit`'s `Stats`. Instead a frame service comes with a sink
/// (`rpckit_http::Route::stats_sink`, `rpckit_tcp::FrameService::stats_sink`)
/// and the transport calls it; `rpckit` implements it for its stats and
/// attaches it when a router becomes a route. Every method has an empty
/// default, so a sink implements what it cares about.
///
/// The calls are per connection or per compressed answer, never per call,
/// so a `dyn` call costs nothing worth measuring; implementations must
/// still be quick and must not block (count with atomics).
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use rpckit_codec::StatsSink;
///
/// #[derive(Debug, Default)]
/// struct Connections(AtomicU64);
///
/// impl StatsSink for Connections {
///     fn connection_opened(&self) {
///         self.0.fetch_add(1, Ordering::Relaxed);
///     }
/// }
/// ```
pub trait StatsSink: Send + Sync + fmt::Debug + 'static {
    /// The transport serves this sink's service at `path` (HTTP), or on a
    /// stream listener (`None`). Called once per mount, at build time.
    fn mounted(&self, transport: &'static str, path: Option<&str>) {
        let _ = (transport, path);
    }

    /// A connection was accepted and will be served.
    fn connection_opened(&self) {}

    /// A connection that [`connection_opened`](Self::connection_opened)
    /// reported has closed.
    fn connection_closed(&self) {}

    /// An answer was compressed, taking `elapsed`.
    fn compressed(&self, elapsed: Duration) {
        let _ = elapsed;
    }
}
