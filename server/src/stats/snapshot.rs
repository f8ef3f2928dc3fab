//! What a [`Stats`] holds at one moment, ready to serialise.

use serde::{Deserialize, Serialize};

use super::histogram::Counts;
use super::{Stage, Stats};

/// The unit of every duration in a [`Snapshot`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unit {
    /// Seconds (`"s"`), as Prometheus and the original's `stats()` count.
    #[default]
    #[serde(rename = "s")]
    Seconds,
    /// Milliseconds (`"ms"`): the original's `stats(inMS=True)`.
    #[serde(rename = "ms")]
    Milliseconds,
}

impl Unit {
    fn of_ns(self, ns: f64) -> f64 {
        match self {
            Unit::Seconds => ns / 1e9,
            Unit::Milliseconds => ns / 1e6,
        }
    }
}

/// Every statistic of one router at one moment; see [`Stats::snapshot`].
///
/// Serialises as one object, durations as numbers in [`unit`](Self::unit):
///
/// ```json
/// {"unit":"ms","uptime":12.5,"path":"/api",
///  "methods":[{"name":"echo","aliases":["helloworld"],"calls":3,"errors":0,"cancelled":0,"in_flight":0,
///              "latency":{"count":3,"total":0.02,"min":0.005,"mean":0.0067,"max":0.009,"p50":0.006,"p90":0.009,"p99":0.009}}],
///  "stages":{"decode":{…},"wait":{…},"handler":{…},"encode":{…},"compress":{…}},
///  "connections":{"accepted":1,"open":1,"per_second":0,"peak_per_second":1}}
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Snapshot {
    /// The unit of every duration here.
    pub unit: Unit,
    /// How long the stats have been kept.
    pub uptime: f64,
    /// The HTTP path the router is served at (`""` if none).
    pub path: String,
    /// Per method, sorted by name.
    pub methods: Vec<MethodSnapshot>,
    /// Per stage.
    pub stages: Stages,
    /// Connections, over every transport serving the router.
    pub connections: ConnectionsSnapshot,
}

impl Snapshot {
    /// The method called `name` (or with that alias).
    pub fn method(&self, name: &str) -> Option<&MethodSnapshot> {
        self.methods
            .iter()
            .find(|method| method.name == name || method.aliases.iter().any(|a| a == name))
    }
}

/// One method's statistics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MethodSnapshot {
    /// The name it was registered under first.
    pub name: String,
    /// Its other names.
    pub aliases: Vec<String>,
    /// Calls made (notifications included).
    pub calls: u64,
    /// Calls answered with an error, panics and timeouts included.
    pub errors: u64,
    /// Calls dropped before they answered (the client went away, the
    /// request ran out of time).
    pub cancelled: u64,
    /// Calls running now.
    pub in_flight: u64,
    /// How long the answered calls took.
    pub latency: Timing,
}

/// Durations of one kind of work, from a histogram: quantiles are within
/// 1/16 of the true value; `min` and `max` are exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Timing {
    /// How many were recorded.
    pub count: u64,
    /// Their sum.
    pub total: f64,
    /// The shortest (0 when none).
    pub min: f64,
    /// The mean (0 when none).
    pub mean: f64,
    /// The longest (0 when none).
    pub max: f64,
    /// The median.
    pub p50: f64,
    /// The 90th percentile.
    pub p90: f64,
    /// The 99th percentile.
    pub p99: f64,
}

impl Timing {
    pub(super) fn of(counts: &Counts, unit: Unit) -> Self {
        let of = |ns: u64| unit.of_ns(ns as f64);
        Timing {
            count: counts.count,
            total: of(counts.sum_ns),
            min: of(counts.min()),
            mean: unit.of_ns(counts.mean_ns()),
            max: of(counts.max_ns),
            p50: of(counts.quantile_ns(0.5)),
            p90: of(counts.quantile_ns(0.9)),
            p99: of(counts.quantile_ns(0.99)),
        }
    }
}

/// Time spent per stage of a request; see [`Stage`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Stages {
    /// Frame bytes to message.
    pub decode: Timing,
    /// Waiting for a lock, a queue, a worker.
    pub wait: Timing,
    /// Handlers (every method's calls together).
    pub handler: Timing,
    /// Reply to bytes.
    pub encode: Timing,
    /// Compressing answers (HTTP).
    pub compress: Timing,
}

impl Stages {
    /// The timing of `stage`.
    pub fn get(&self, stage: Stage) -> &Timing {
        match stage {
            Stage::Decode => &self.decode,
            Stage::Wait => &self.wait,
            Stage::Handler => &self.handler,
            Stage::Encode => &self.encode,
            Stage::Compress => &self.compress,
        }
    }
}

/// Connections of the transports serving the router.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConnectionsSnapshot {
    /// Accepted since the stats began.
    pub accepted: u64,
    /// Open now.
    pub open: u64,
    /// Accepted in the last whole second.
    pub per_second: u64,
    /// Accepted in the busiest second so far.
    pub peak_per_second: u64,
}

/// The counts of every stage: the handler stage merges every method's
/// latency (a call records it once, per method) with what was recorded
/// for it directly.
pub(super) fn stage_counts(stats: &Stats) -> [Counts; 5] {
    let mut counts = stats.inner.stages.each_ref().map(|h| h.read());
    let handler = &mut counts[Stage::Handler.index()];
    for (_, method) in stats.methods() {
        handler.merge(&method.latency.read());
    }
    counts
}

pub(super) fn take(stats: &Stats, unit: Unit) -> Snapshot {
    let methods = stats
        .methods()
        .into_iter()
        .map(|(names, method)| {
            let counts = method.read();
            MethodSnapshot {
                name: names[0].to_string(),
                aliases: names[1..].iter().map(|name| name.to_string()).collect(),
                calls: counts.calls,
                errors: counts.errors,
                cancelled: counts.cancelled,
                in_flight: counts.in_flight,
                latency: Timing::of(&counts.latency, unit),
            }
        })
        .collect();
    let [decode, wait, handler, encode, compress] =
        stage_counts(stats).map(|counts| Timing::of(&counts, unit));
    let connections = stats.inner.connections.read();
    Snapshot {
        unit,
        uptime: unit.of_ns(stats.inner.started.elapsed().as_nanos() as f64),
        path: stats.path(),
        methods,
        stages: Stages {
            decode,
            wait,
            handler,
            encode,
            compress,
        },
        connections: ConnectionsSnapshot {
            accepted: connections.accepted,
            open: connections.open,
            per_second: connections.last_second,
            peak_per_second: connections.peak_per_second,
        },
    }
}
