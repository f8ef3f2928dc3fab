//! Speed statistics per method and per stage, Prometheus metrics.
//!
//! The key decision: **recording is a few atomic increments next to the
//! data, and every sum is made on read.** Each method's counters and
//! latency histogram live in the router's table beside its handler, so a
//! call adds to them without a lookup or a lock; a [`Snapshot`] (or a
//! Prometheus scrape) walks them all. Statistics are on by default; a
//! router built with [`Router::stats(false)`](crate::Router::stats) records
//! nothing and reads no clock.
//!
//! What is kept:
//!
//! - per method: calls, errors (panics included), calls dropped before they
//!   answered, calls in flight, and latency min / mean / max / p50 / p90 /
//!   p99 from a log-linear histogram (fixed memory, values within 1/16);
//! - per [`Stage`]: decode, wait, handler, encode, compress;
//! - connections: accepted, open, accepted in the last whole second and in
//!   the busiest second so far, from every transport serving the router.
//!
//! ```
//! use rpckit::stats::{Stats, Unit};
//! use rpckit::Router;
//!
//! let router = Router::new().sync_method("ping", || "pong");
//! let stats: Stats = router.stats_handle().expect("stats are on by default");
//! let snapshot = stats.snapshot(Unit::Milliseconds);
//! assert_eq!(snapshot.methods[0].name, "ping");
//! assert_eq!(snapshot.methods[0].calls, 0);
//! ```
//!
//! A handler gets the stats of its router as an argument (the original's
//! `stats(inMS=True)` method):
//!
//! ```
//! use rpckit::extract::Params;
//! use rpckit::stats::{Stats, Unit};
//! use rpckit::{ErrorObject, Router};
//!
//! let router = Router::new().sync_method(
//!     "stats",
//!     |stats: Stats, Params((in_ms,)): Params<(Option<bool>,)>| {
//!         let unit = if in_ms.unwrap_or(false) { Unit::Milliseconds } else { Unit::Seconds };
//!         Ok::<_, ErrorObject>(stats.snapshot(unit))
//!     },
//! );
//! # let _ = router;
//! ```
//!
//! [`Stats::prometheus_service`] serves the same numbers in the Prometheus
//! text format, for the HTTP server's
//! [`service`](rpckit_http::ServerBuilder::service) at a path of your choice.

mod connections;
mod histogram;
mod method;
mod prometheus;
mod snapshot;
mod stage;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rpckit_codec::{ErrorObject, StatsSink};
use tokio::time::Instant;

use connections::Connections;
use histogram::Histogram;
pub(crate) use method::{MethodStats, Recording};
pub use prometheus::PrometheusService;
pub use snapshot::{ConnectionsSnapshot, MethodSnapshot, Snapshot, Stages, Timing, Unit};
pub use stage::{Stage, StageTimer};

use crate::extract::FromCall;
use crate::Call;

/// The statistics of one router: a cheap, cloneable handle (one `Arc`).
///
/// Every [`Router`](crate::Router) has its own from [`Router::new`](crate::Router::new)
/// (crate::Router::new) on; take it with
/// [`Router::stats_handle`](crate::Router::stats_handle), or in a handler
/// as an argument. The router's [`Endpoint`](crate::Endpoint) records the
/// decode and encode stages into it, and hands the transports its
/// [`StatsSink`] for connections, compression and the path it is served
/// at. A `Stats` of your own ([`Stats::new`]) records what you give it
/// ([`Stats::record`], [`Stats::timer`]).
#[derive(Clone)]
pub struct Stats {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    started: Instant,
    /// Every method ever registered, by its first name: a method that is
    /// replaced under the same name keeps counting where it was.
    methods: Mutex<Vec<Entry>>,
    stages: [Histogram; 5],
    connections: Connections,
    /// Where the transports serve this router: HTTP paths, `None` for a
    /// stream listener.
    mounts: Mutex<Vec<Mount>>,
}

/// A transport's name and the HTTP path it serves a router at (`None` for
/// a stream listener).
type Mount = (&'static str, Option<Box<str>>);

struct Entry {
    names: Vec<Box<str>>,
    stats: Arc<MethodStats>,
}

impl Stats {
    /// Empty statistics.
    pub fn new() -> Self {
        Stats {
            inner: Arc::new(Inner {
                started: Instant::now(),
                methods: Mutex::new(Vec::new()),
                stages: std::array::from_fn(|_| Histogram::new()),
                connections: Connections::new(),
                mounts: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The counters of the method called `names[0]` (its aliases the
    /// rest), made on first use. Build time only: this takes a lock.
    pub(crate) fn method(&self, names: &[Box<str>]) -> Arc<MethodStats> {
        let mut methods = lock(&self.inner.methods);
        if let Some(entry) = methods.iter_mut().find(|entry| entry.names[0] == names[0]) {
            entry.names = names.to_vec();
            return Arc::clone(&entry.stats);
        }
        let stats = Arc::new(MethodStats::new(Arc::downgrade(&self.inner)));
        methods.push(Entry {
            names: names.to_vec(),
            stats: Arc::clone(&stats),
        });
        stats
    }

    /// `theirs` (a method of another router's stats) under the same names
    /// in these stats.
    pub(crate) fn adopt(&self, theirs: &Arc<MethodStats>) -> Arc<MethodStats> {
        let names = theirs.owner.upgrade().and_then(|owner| {
            lock(&owner.methods)
                .iter()
                .find(|entry| Arc::ptr_eq(&entry.stats, theirs))
                .map(|entry| entry.names.clone())
        });
        match names {
            Some(names) => self.method(&names),
            // Their stats are gone: nothing else can read these counters.
            None => Arc::clone(theirs),
        }
    }

    /// Records that `stage` took `elapsed`.
    pub fn record(&self, stage: Stage, elapsed: Duration) {
        self.inner.stages[stage.index()].record(elapsed);
    }

    /// Times `stage` from now until the timer is dropped.
    pub fn timer(&self, stage: Stage) -> StageTimer {
        StageTimer::new(self.clone(), stage)
    }

    /// What these stats can be told by a transport; see [`StatsSink`].
    /// Routers made into routes (and endpoints into frame services) attach
    /// it themselves.
    pub fn sink(&self) -> Arc<dyn StatsSink> {
        self.inner.clone()
    }

    /// Everything, with durations in `unit`.
    pub fn snapshot(&self, unit: Unit) -> Snapshot {
        snapshot::take(self, unit)
    }

    /// Everything, with durations in milliseconds.
    pub fn snapshot_ms(&self) -> Snapshot {
        self.snapshot(Unit::Milliseconds)
    }

    /// These stats in the Prometheus text format, served to any HTTP
    /// request; see [`PrometheusService`].
    pub fn prometheus_service(&self) -> PrometheusService {
        PrometheusService::new([self.clone()])
    }

    /// These stats in the Prometheus text exposition format (0.0.4).
    pub fn prometheus_text(&self) -> String {
        prometheus::render(std::slice::from_ref(self))
    }

    /// Whether both handles reach the same statistics.
    pub fn same_as(&self, other: &Stats) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The HTTP path the stats are labelled with: the first path a
    /// transport mounted them at, `""` on a stream listener or unmounted.
    pub fn path(&self) -> String {
        lock(&self.inner.mounts)
            .iter()
            .find_map(|(_, path)| path.as_deref().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The methods' names and counters, sorted by name.
    fn methods(&self) -> Vec<(Vec<Box<str>>, Arc<MethodStats>)> {
        let mut methods: Vec<_> = lock(&self.inner.methods)
            .iter()
            .map(|entry| (entry.names.clone(), Arc::clone(&entry.stats)))
            .collect();
        methods.sort_by(|a, b| a.0[0].cmp(&b.0[0]));
        methods
    }
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let methods: Vec<Box<str>> = lock(&self.inner.methods)
            .iter()
            .map(|entry| entry.names[0].clone())
            .collect();
        f.debug_struct("Stats")
            .field("methods", &methods)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stats").finish_non_exhaustive()
    }
}

impl StatsSink for Inner {
    fn mounted(&self, transport: &'static str, path: Option<&str>) {
        lock(&self.mounts).push((transport, path.map(Into::into)));
    }

    fn connection_opened(&self) {
        self.connections.opened();
    }

    fn connection_closed(&self) {
        self.connections.closed();
    }

    fn compressed(&self, elapsed: Duration) {
        self.stages[Stage::Compress.index()].record(elapsed);
    }
}

/// The stats of the router serving the call; -32603 when its stats are
/// off.
impl FromCall for Stats {
    fn from_call(call: &Call) -> Result<Self, ErrorObject> {
        call.router
            .as_ref()
            .and_then(|router| router.stats())
            .ok_or_else(|| ErrorObject::internal_error("statistics are off for this router"))
    }
}

/// A poisoned lock only means a panic elsewhere while it was held; the
/// lists it guards are valid at every step.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
