//! Connections accepted: in all, open now, per second now and at peak.
//!
//! The rate is kept as a count for the current second and the one before,
//! both packed with their second into one atomic word each, so accepting
//! a connection is a compare-and-swap or two and reading the rate needs no
//! background task: "now" is the last whole second, computed on read.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::Instant;

/// Bits of a packed word that hold the count; the rest hold the second.
const COUNT_BITS: u32 = 24;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

fn pack(second: u64, count: u64) -> u64 {
    (second << COUNT_BITS) | count.min(COUNT_MASK)
}

fn unpack(word: u64) -> (u64, u64) {
    (word >> COUNT_BITS, word & COUNT_MASK)
}

#[derive(Debug)]
pub(crate) struct Connections {
    origin: Instant,
    accepted: AtomicU64,
    closed: AtomicU64,
    current: AtomicU64,
    previous: AtomicU64,
    peak: AtomicU64,
}

/// What [`Connections`] held when read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConnectionCounts {
    pub(crate) accepted: u64,
    pub(crate) open: u64,
    pub(crate) last_second: u64,
    pub(crate) peak_per_second: u64,
}

impl Connections {
    pub(crate) fn new() -> Self {
        Connections {
            origin: Instant::now(),
            accepted: AtomicU64::new(0),
            closed: AtomicU64::new(0),
            // Second 0 with no connections.
            current: AtomicU64::new(0),
            previous: AtomicU64::new(0),
            peak: AtomicU64::new(0),
        }
    }

    /// Whole seconds since this counter was made (+1, so that second 0
    /// in a fresh word means "nothing counted yet").
    fn second(&self) -> u64 {
        self.origin.elapsed().as_secs() + 1
    }

    pub(crate) fn opened(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        let now = self.second();
        let mut word = self.current.load(Ordering::Relaxed);
        loop {
            let (second, count) = unpack(word);
            // A second that another thread has already moved on from is
            // counted in the newer one: we are late by nanoseconds.
            let (next, count) = if second >= now {
                (pack(second, count + 1), count + 1)
            } else {
                (pack(now, 1), 1)
            };
            match self.current.compare_exchange_weak(
                word,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    if second < now {
                        self.previous.store(word, Ordering::Release);
                    }
                    if count > self.peak.load(Ordering::Relaxed) {
                        self.peak.fetch_max(count, Ordering::Relaxed);
                    }
                    return;
                }
                Err(actual) => word = actual,
            }
        }
    }

    pub(crate) fn closed(&self) {
        self.closed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn read(&self) -> ConnectionCounts {
        let last = self.second() - 1;
        let in_second = |word: u64| {
            let (second, count) = unpack(word);
            (second == last).then_some(count)
        };
        let last_second = in_second(self.current.load(Ordering::Acquire))
            .or_else(|| in_second(self.previous.load(Ordering::Acquire)))
            .unwrap_or(0);
        let accepted = self.accepted.load(Ordering::Relaxed);
        let closed = self.closed.load(Ordering::Relaxed);
        ConnectionCounts {
            accepted,
            open: accepted.saturating_sub(closed),
            last_second,
            peak_per_second: self.peak.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rate_now_is_the_last_whole_second_and_peak_the_busiest() {
        let connections = Connections::new();
        for _ in 0..5 {
            connections.opened();
        }
        // The current second is not whole yet.
        assert_eq!(connections.read().last_second, 0);
        assert_eq!(connections.read().peak_per_second, 5);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(connections.read().last_second, 5);
        connections.opened();
        connections.opened();
        // The count of the second before survives the roll-over.
        assert_eq!(connections.read().last_second, 5);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(connections.read().last_second, 2);
        tokio::time::advance(Duration::from_secs(5)).await;
        let counts = connections.read();
        assert_eq!(counts.last_second, 0);
        assert_eq!(counts.peak_per_second, 5);
        assert_eq!(counts.accepted, 7);
        assert_eq!(counts.open, 7);
        connections.closed();
        assert_eq!(connections.read().open, 6);
    }
}
