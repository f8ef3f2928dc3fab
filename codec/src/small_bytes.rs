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
    concat(&[bytes])
}

/// `pieces` one after another (at most [`BLOCK`] bytes in all), copied
/// into this thread's block: a small answer made of parts, such as a JSONP
/// reply around its JSON, without a buffer of its own first.
///
/// # Panics
///
/// When the pieces are longer than [`BLOCK`] together.
#[inline]
pub fn concat(pieces: &[&[u8]]) -> Bytes {
    let len: usize = pieces.iter().map(|piece| piece.len()).sum();
    write(len, |block| {
        for piece in pieces {
            block.extend_from_slice(piece);
        }
    })
}

/// A piece of at most `len` bytes (at most [`BLOCK`]) that `fill` writes
/// straight into this thread's block, for pieces put together as they are
/// found. `fill` gets the block with room for `len` bytes after what it
/// holds, must append only, and must not ask for small bytes itself (the
/// block is borrowed meanwhile: that would panic). Appending more than
/// `len` is safe but moves the block.
///
/// # Panics
///
/// When `len` is more than [`BLOCK`].
#[inline]
pub fn write(len: usize, fill: impl FnOnce(&mut BytesMut)) -> Bytes {
    assert!(len <= BLOCK, "rpckit: a small piece of at most 4 KiB");
    BLOCK_OF_THREAD.with(|block| {
        let mut block = block.borrow_mut();
        if block.capacity() - block.len() < len {
            // A new block, or the old one again once every piece of it is
            // gone (`BytesMut` takes it back then, with no allocation).
            block.reserve(BLOCK);
        }
        fill(&mut block);
        block.split().freeze()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_joins_the_pieces_in_the_block_of_the_thread() {
        let first = concat(&[b"/**/", b"cb", b"(", b"{}", b");"]);
        assert_eq!(&first[..], b"/**/cb({});");
        let second = copy(b"next");
        assert_eq!(&second[..], b"next");
        // The second piece follows the first in the same block.
        assert_eq!(second.as_ptr(), first.as_ptr().wrapping_add(first.len()));
        assert!(concat(&[]).is_empty());
        let third = write(8, |block| {
            block.extend_from_slice(b"a");
            block.extend_from_slice(b"b");
        });
        assert_eq!(&third[..], b"ab");
        assert_eq!(third.as_ptr(), second.as_ptr().wrapping_add(second.len()));
    }

    #[test]
    #[should_panic(expected = "at most 4 KiB")]
    fn more_than_a_block_is_refused() {
        let half = [0u8; BLOCK / 2];
        let _ = concat(&[&half, &half, b"!"]);
    }
}
