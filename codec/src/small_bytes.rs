//! Small byte strings that share blocks: what rpckit's crates hand out
//! for small results and replies instead of an allocation each.
//!
//! A `Bytes` of its own costs a `malloc` and a `free` (a few hundred
//! instructions with the bookkeeping) for the few bytes of a typical
//! result or reply. Here each thread copies them into a block it keeps (a
//! `BytesMut`) and hands out `Bytes` that point into it: the block's
//! count goes up and down, and once every piece of a full block is gone,
//! the thread takes the block back without an allocation.
//!
//! The price: a piece keeps its whole block (4 KiB) alive until it is
//! dropped. Results and replies live until they are written, so the blocks
//! turn over; a piece kept for long holds its block.

use std::cell::RefCell;

use bytes::{Bytes, BytesMut};

/// The size of a block, and the largest piece that may be copied into one.
pub const BLOCK: usize = 4096;

thread_local! {
    /// The thread's block: the room after the pieces handed out.
    static BLOCK_OF_THREAD: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// `bytes` (at most [`BLOCK`] of them) copied into this thread's block.
///
/// # Panics
///
/// When `bytes` is longer than [`BLOCK`].
#[inline]
pub fn copy(bytes: &[u8]) -> Bytes {
    assert!(
        bytes.len() <= BLOCK,
        "rpckit: a small piece of at most 4 KiB"
    );
    BLOCK_OF_THREAD.with(|block| {
        // Borrowed only here, around no code but `BytesMut`'s own.
        let mut block = block.borrow_mut();
        if block.capacity() - block.len() < bytes.len() {
            // A new block, or the old one again once every piece of it is
            // gone (`BytesMut` takes it back then, with no allocation).
            block.reserve(BLOCK);
        }
        block.extend_from_slice(bytes);
        block.split().freeze()
    })
}
