//! Method names as decoded: shared strings, kept per thread.
//!
//! A request's method name was a `Box<str>` of its own: an allocation
//! when decoded and a `free` when the call was done, for the same few
//! names over and over. In a batch of 100 those hundred allocations came
//! in a row, past what the allocator keeps at hand, and cost some 400
//! instructions a call. A decoder now asks [`intern`], which hands out a
//! clone of the `Arc<str>` it made the last time it met the name on this
//! thread: a reference count instead of an allocation.

use std::cell::RefCell;
use std::sync::Arc;

/// How many names a thread keeps: the methods a server's clients call
/// most, in turn. A name beyond them is made anew, as before.
const KEPT: usize = 8;

/// Names longer than this are made anew each time, not kept.
const LONGEST_KEPT: usize = 64;

#[derive(Default)]
struct Names {
    names: [Option<Arc<str>>; KEPT],
    /// Where the next name not found goes.
    next: usize,
}

thread_local! {
    static NAMES: RefCell<Names> = RefCell::default();
}

/// `name` as a shared string: the one this thread made for it last, if
/// it still has it.
#[inline]
pub fn intern(name: &str) -> Arc<str> {
    if name.len() > LONGEST_KEPT {
        return Arc::from(name);
    }
    NAMES.with(|names| {
        // Borrowed around no code but this module's and `Arc`'s.
        let mut names = names.borrow_mut();
        if let Some(kept) = names.names.iter().flatten().find(|kept| ***kept == *name) {
            return Arc::clone(kept);
        }
        let made: Arc<str> = Arc::from(name);
        let slot = names.next;
        names.names[slot] = Some(Arc::clone(&made));
        names.next = (slot + 1) % KEPT;
        made
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_met_again_is_the_same_string() {
        let first = intern("echo");
        let again = intern(&String::from("echo"));
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(&*again, "echo");
        assert!(!Arc::ptr_eq(&first, &intern("echo2")));
        let long = "x".repeat(LONGEST_KEPT + 1);
        assert!(!Arc::ptr_eq(&intern(&long), &intern(&long)));
    }

    #[test]
    fn names_beyond_what_is_kept_are_made_anew_and_stay_right() {
        let names: Vec<String> = (0..3 * KEPT).map(|n| format!("m{n}")).collect();
        for _ in 0..3 {
            for name in &names {
                assert_eq!(&*intern(name), name.as_str());
            }
        }
        // The last KEPT names are kept.
        let last = &names[names.len() - 1];
        assert!(Arc::ptr_eq(&intern(last), &intern(last)));
    }
}
