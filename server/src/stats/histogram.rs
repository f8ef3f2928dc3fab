//! A lock-free log-linear histogram of durations.
//!
//! Like HdrHistogram: every power of two of nanoseconds is split into
//! [`SUB_BUCKETS`] equal buckets, so a recorded value is known to within
//! 1/16 (6.25 %) of itself, from 1 ns up to about 4.9 hours (longer
//! durations land in the last bucket). Memory is fixed (672 counters,
//! 5.3 KiB), a record is a few relaxed atomic adds and no lock, and
//! quantiles are read from the counters without keeping any samples.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Buckets per power of two (a power of two itself).
pub(crate) const SUB_BUCKETS: usize = 16;
const SUB_BITS: u32 = SUB_BUCKETS.trailing_zeros();
/// The highest power of two of nanoseconds with buckets of its own.
const MAX_EXPONENT: u32 = 44;
/// Every bucket: the values below 16 ns one each, then 16 per octave.
pub(crate) const BUCKETS: usize = (MAX_EXPONENT - SUB_BITS + 2) as usize * SUB_BUCKETS;

/// The durations of one kind of work (a method's calls, a stage).
pub(crate) struct Histogram {
    buckets: Box<[AtomicU64; BUCKETS]>,
    sum_ns: AtomicU64,
    min_ns: AtomicU64,
    max_ns: AtomicU64,
}

impl Histogram {
    pub(crate) fn new() -> Self {
        Histogram {
            buckets: Box::new([const { AtomicU64::new(0) }; BUCKETS]),
            sum_ns: AtomicU64::new(0),
            min_ns: AtomicU64::new(u64::MAX),
            max_ns: AtomicU64::new(0),
        }
    }

    /// Counts one duration.
    pub(crate) fn record(&self, elapsed: Duration) {
        self.record_ns(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
    }

    pub(crate) fn record_ns(&self, ns: u64) {
        // Release, and Acquire in `read`: a method's stats count a call as
        // over by its latency, and must then also see it started.
        self.buckets[index(ns)].fetch_add(1, Ordering::Release);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
        // A load first: most records set neither, and a plain load does
        // not take the cache line exclusively as `fetch_min` would.
        if ns < self.min_ns.load(Ordering::Relaxed) {
            self.min_ns.fetch_min(ns, Ordering::Relaxed);
        }
        if ns > self.max_ns.load(Ordering::Relaxed) {
            self.max_ns.fetch_max(ns, Ordering::Relaxed);
        }
    }

    /// A consistent-enough copy to compute from: the counters are read
    /// one by one while others may record, so a snapshot taken under load
    /// can be a few records behind in some buckets, never ahead.
    pub(crate) fn read(&self) -> Counts {
        let buckets: Vec<u64> = self
            .buckets
            .iter()
            .map(|bucket| bucket.load(Ordering::Acquire))
            .collect();
        let count = buckets.iter().sum();
        Counts {
            buckets,
            count,
            sum_ns: self.sum_ns.load(Ordering::Relaxed),
            min_ns: self.min_ns.load(Ordering::Relaxed),
            max_ns: self.max_ns.load(Ordering::Relaxed),
        }
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts = self.read();
        f.debug_struct("Histogram")
            .field("count", &counts.count)
            .field("sum_ns", &counts.sum_ns)
            .finish_non_exhaustive()
    }
}

/// The bucket of `ns`.
pub(crate) fn index(ns: u64) -> usize {
    if ns < SUB_BUCKETS as u64 {
        return ns as usize;
    }
    let exponent = 63 - ns.leading_zeros();
    if exponent > MAX_EXPONENT {
        return BUCKETS - 1;
    }
    let shift = exponent - SUB_BITS;
    let sub = (ns >> shift) as usize & (SUB_BUCKETS - 1);
    (shift as usize + 1) * SUB_BUCKETS + sub
}

/// The smallest value of bucket `index` and the one past its largest.
pub(crate) fn bounds(index: usize) -> (u64, u64) {
    if index < SUB_BUCKETS {
        return (index as u64, index as u64 + 1);
    }
    let shift = (index / SUB_BUCKETS - 1) as u32;
    let sub = (index % SUB_BUCKETS) as u64;
    let low = (SUB_BUCKETS as u64 + sub) << shift;
    (low, low + (1 << shift))
}

/// What a [`Histogram`] held when read.
#[derive(Clone, Debug)]
pub(crate) struct Counts {
    pub(crate) buckets: Vec<u64>,
    pub(crate) count: u64,
    pub(crate) sum_ns: u64,
    pub(crate) min_ns: u64,
    pub(crate) max_ns: u64,
}

impl Counts {
    /// The value at quantile `q` (0..=1): the middle of the bucket holding
    /// the sample of that rank, kept within the recorded min and max. 0
    /// when nothing was recorded.
    pub(crate) fn quantile_ns(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        // The rank of the sample, 1-based: the smallest rank whose share
        // reaches `q`.
        let rank = (q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64;
        // The extremes are known exactly.
        if rank <= 1 {
            return self.min();
        }
        if rank >= self.count {
            return self.max_ns;
        }
        let mut seen = 0;
        for (index, &count) in self.buckets.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let (low, high) = bounds(index);
                let middle = low + (high - low - 1) / 2;
                return middle.clamp(self.min(), self.max_ns);
            }
        }
        self.max_ns
    }

    /// Adds `other`'s samples to these.
    pub(crate) fn merge(&mut self, other: &Counts) {
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += theirs;
        }
        self.count += other.count;
        self.sum_ns = self.sum_ns.saturating_add(other.sum_ns);
        self.min_ns = self.min_ns.min(other.min_ns);
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// The smallest value recorded; 0 when none was.
    pub(crate) fn min(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            self.min_ns
        }
    }

    /// The mean; 0 when nothing was recorded.
    pub(crate) fn mean_ns(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum_ns as f64 / self.count as f64
        }
    }

    /// How many samples are below `le_ns` or in a bucket that ends there:
    /// a Prometheus bucket's count. A bucket straddling `le_ns` counts
    /// towards the next bound up, so counts stay cumulative and are at
    /// most one fine bucket (1/16 of the value) late.
    pub(crate) fn count_up_to(&self, le_ns: u64) -> u64 {
        self.buckets
            .iter()
            .enumerate()
            .take_while(|(index, _)| bounds(*index).1 - 1 <= le_ns)
            .map(|(_, count)| count)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_lands_in_the_bucket_whose_bounds_hold_it() {
        let mut values: Vec<u64> = (0..5000).collect();
        for exponent in 4..64 {
            let power = 1u64 << exponent;
            values.extend([power - 1, power, power + 1, power + power / 3]);
        }
        for value in values {
            let index = index(value);
            let (low, high) = bounds(index);
            if index == BUCKETS - 1 && value >= low {
                continue; // the overflow bucket
            }
            assert!(
                low <= value && value < high,
                "{value} in {index}: {low}..{high}"
            );
            // Precision: a bucket is at most 1/16 of its values wide.
            assert!((high - low) * SUB_BUCKETS as u64 <= low.max(SUB_BUCKETS as u64));
        }
        assert_eq!(index(u64::MAX), BUCKETS - 1);
        assert_eq!(BUCKETS, 672);
    }

    #[test]
    fn buckets_tile_the_range() {
        for i in 1..BUCKETS {
            assert_eq!(bounds(i - 1).1, bounds(i).0, "gap before bucket {i}");
        }
    }

    #[test]
    fn quantiles_of_known_values_are_within_bucket_precision() {
        let histogram = Histogram::new();
        // 1..=1000 microseconds, one each.
        for us in 1..=1000u64 {
            histogram.record(Duration::from_micros(us));
        }
        let counts = histogram.read();
        assert_eq!(counts.count, 1000);
        assert_eq!(counts.min(), 1_000);
        assert_eq!(counts.max_ns, 1_000_000);
        assert_eq!(counts.mean_ns(), 500_500.0);
        for (q, exact) in [(0.5, 500_000.0), (0.9, 900_000.0), (0.99, 990_000.0)] {
            let got = counts.quantile_ns(q) as f64;
            let error = (got - exact).abs() / exact;
            assert!(error <= 1.0 / 16.0, "p{q}: {got} vs {exact}");
        }
        assert_eq!(counts.quantile_ns(0.0), 1_000);
        assert_eq!(counts.quantile_ns(1.0), 1_000_000);
    }

    #[test]
    fn one_value_is_every_quantile() {
        let histogram = Histogram::new();
        histogram.record(Duration::from_millis(3));
        let counts = histogram.read();
        for q in [0.0, 0.5, 0.9, 0.99, 1.0] {
            assert_eq!(counts.quantile_ns(q), 3_000_000);
        }
    }

    #[test]
    fn an_empty_histogram_reads_zero() {
        let counts = Histogram::new().read();
        assert_eq!(
            (counts.count, counts.min(), counts.quantile_ns(0.5)),
            (0, 0, 0)
        );
        assert_eq!(counts.mean_ns(), 0.0);
    }

    #[test]
    fn skewed_quantiles() {
        let histogram = Histogram::new();
        for _ in 0..98 {
            histogram.record(Duration::from_micros(10));
        }
        histogram.record(Duration::from_millis(50));
        histogram.record(Duration::from_secs(2));
        let counts = histogram.read();
        let p50 = counts.quantile_ns(0.5);
        assert!((9_375..=10_625).contains(&p50), "{p50}");
        let p99 = counts.quantile_ns(0.99);
        assert!((46_875_000..=53_125_000).contains(&p99), "{p99}");
        assert_eq!(counts.quantile_ns(1.0), 2_000_000_000);
    }

    #[test]
    fn prometheus_counts_are_cumulative() {
        let histogram = Histogram::new();
        for us in [5, 50, 500, 5000] {
            histogram.record(Duration::from_micros(us));
        }
        let counts = histogram.read();
        assert_eq!(counts.count_up_to(1_000), 0);
        assert_eq!(counts.count_up_to(10_000), 1);
        assert_eq!(counts.count_up_to(100_000), 2);
        assert_eq!(counts.count_up_to(1_000_000), 3);
        assert_eq!(counts.count_up_to(u64::MAX), 4);
    }

    #[test]
    fn concurrent_records_are_all_counted() {
        let histogram = std::sync::Arc::new(Histogram::new());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let histogram = histogram.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000u64 {
                        histogram.record_ns(i * (t + 1));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let counts = histogram.read();
        assert_eq!(counts.count, 40_000);
        assert_eq!(counts.min(), 0);
        assert_eq!(counts.max_ns, 9_999 * 4);
    }
}
