//! Keeping a server's large blocks in the process's heap.
//!
//! glibc's malloc gives the free memory at the top of a heap back to the
//! kernel once it passes the *trim threshold*, and serves blocks above the
//! *mmap threshold* with a mapping of their own. Both start at 128 KiB and
//! rise only when a mapped block is freed: the mmap threshold to that
//! block's size, the trim threshold to twice it (`mallopt(3)`, "dynamic
//! mmap threshold"). Until they have risen past what a request allocates,
//! a server whose requests take and give back a few hundred KiB (a
//! 128 KiB body, its parse, the handler's values, the reply) hands those
//! pages back and faults them in again on every request. Whether it does
//! depends on the heap's history, not on the request: the load
//! benchmark's 128 KiB SIMD-JSON echo faulted 0 times a request on a fresh
//! server and 57 times after a few larger and smaller bodies had been
//! served, and an 800 KB one 183 times (a tenth to a quarter of the
//! throughput at those sizes).
//!
//! [`reuse_blocks_up_to`] raises both thresholds the way glibc itself does,
//! by freeing one block of that size, untouched (so never resident), once
//! for the process. The servers call it with the most glibc allows
//! ([`MAX_REUSED_BLOCK`]) when they are built, unless told not to: what a
//! heap must keep is not one body but all the bodies, parses and replies
//! in flight at once (with the threshold at 10 MiB, 32 connections
//! echoing 800 KB bodies still faulted 180 times a request; at 32 MiB, 6
//! to 10, as the heap still grew to new peaks). The cost is memory kept
//! rather than given back after a peak: up to twice the size free at the
//! top of each heap (glibc makes one per thread that allocates, up to
//! eight per core), and blocks up to the size carved from the heaps rather
//! than mapped on their own.
//!
//! Only glibc needs this. Under another global allocator (jemalloc,
//! mimalloc) the block is taken from and given back to that allocator
//! untouched, which changes nothing; on other systems (musl, macOS) the
//! call does nothing. Thresholds set by hand (`mallopt`, or
//! `GLIBC_TUNABLES=glibc.malloc.trim_threshold=...`) turn glibc's dynamic
//! adjustment off, and this with it.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The largest block glibc raises its thresholds for
/// (`DEFAULT_MMAP_THRESHOLD_MAX`: 32 MiB on 64-bit targets, 512 KiB on
/// 32-bit ones), less room for the block's header and rounding to pages.
pub const MAX_REUSED_BLOCK: usize = if usize::BITS == 64 {
    32 * 1024 * 1024
} else {
    512 * 1024
} - 64 * 1024;

/// The largest size asked for so far: the thresholds only ever rise.
static REUSED_UP_TO: AtomicUsize = AtomicUsize::new(0);

/// Makes glibc's malloc keep blocks of up to `bytes` (at most
/// [`MAX_REUSED_BLOCK`]) in the heap for reuse instead of mapping and
/// unmapping them, and keep up to twice that free before trimming. See the
/// [module documentation](self) for why a server wants this.
///
/// Cheap, and idempotent: a size no larger than one asked for before does
/// nothing.
///
/// ```
/// // Less than the servers ask for (`MAX_REUSED_BLOCK`): blocks up to
/// // 10 MiB kept, 20 MiB free before trimming.
/// rpckit_codec::heap::reuse_blocks_up_to(10 * 1024 * 1024);
/// ```
pub fn reuse_blocks_up_to(bytes: usize) {
    let bytes = bytes.min(MAX_REUSED_BLOCK);
    if REUSED_UP_TO.fetch_max(bytes, Ordering::Relaxed) >= bytes {
        return;
    }
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        // Mapped by malloc (it is above the threshold, or there is
        // nothing to raise) and unmapped by free, which raises the
        // thresholds. `black_box` keeps the pair from being optimised away.
        drop(std::hint::black_box(Vec::<u8>::with_capacity(bytes)));
    }
}

/// The largest size [`reuse_blocks_up_to`] has been asked for in this
/// process (capped at [`MAX_REUSED_BLOCK`]), or 0: what a server built
/// with `reuse_large_blocks(false)` leaves as it was.
pub fn reused_up_to() -> usize {
    REUSED_UP_TO.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_asked_for_only_rises_and_is_capped() {
        reuse_blocks_up_to(1 << 20);
        assert!(reused_up_to() >= 1 << 20);
        reuse_blocks_up_to(1 << 10);
        assert!(reused_up_to() >= 1 << 20);
        reuse_blocks_up_to(usize::MAX);
        assert_eq!(reused_up_to(), MAX_REUSED_BLOCK);
    }
}
