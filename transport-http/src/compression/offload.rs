//! Where codec work runs: inline while it is small, on the low-priority
//! background threads ([`rpckit_codec::background`]) once it is not.

use std::fmt;
use std::panic::{self, AssertUnwindSafe};

use super::coder::{Coder, CoderError, Step};
use bytes::Bytes;

/// How much work runs inline on the serving task: a body of up to this many
/// bytes is compressed inline, and decoding runs inline until it has
/// produced this many bytes. Either takes well under a millisecond, less
/// than handing the work to another thread and back would.
pub(crate) const INLINE_BYTES: usize = 64 * 1024;

/// Runs [`Coder`]s, moving the large ones off the async workers.
#[derive(Clone, Default)]
pub(crate) struct Offload {
    /// Called on the background thread before offloaded work starts, so a test
    /// can hold that work while it checks that other requests get answered.
    #[cfg(test)]
    pub(crate) hook: Option<std::sync::Arc<dyn Fn() + Send + Sync>>,
}

/// Why offloaded work produced no output.
#[derive(Debug)]
pub(crate) enum Failure {
    Coder(CoderError),
    /// The coder panicked.
    Panicked,
}

impl Offload {
    /// Runs `coder` to its end: up to `inline` bytes of output on this
    /// task, the rest (if any) on a background thread. Without output (the
    /// coder failed) the coder's input is given back with the failure, so
    /// that the caller can still send it as it is.
    ///
    /// Otherwise the input is dropped where the work ended: on the
    /// background thread for a large one. An answer of megabytes made on a
    /// background thread and freed on the runtime's worker had glibc hand
    /// its heap's pages back there (`madvise`, 0.4-0.6 ms each, about 20 a
    /// second under four connections fetching 2 MB gzipped).
    pub(crate) async fn run(
        &self,
        mut coder: Coder,
        inline: usize,
    ) -> Result<Bytes, (Failure, Bytes)> {
        if inline > 0 {
            match coder.run(inline) {
                Ok(Step::Done) => return Ok(coder.into_output()),
                Ok(Step::Paused) => {}
                Err(err) => return Err((Failure::Coder(err), coder.into_input())),
            }
        }
        #[cfg(test)]
        let hook = self.hook.clone();
        let job = rpckit_codec::background::spawn(move || {
            // Caught here rather than by the pool, so that the input comes
            // back with the failure.
            let ran = panic::catch_unwind(AssertUnwindSafe(|| {
                #[cfg(test)]
                if let Some(hook) = hook {
                    hook();
                }
                coder.run(usize::MAX)
            }));
            match ran {
                Ok(Ok(_)) => Ok(coder.into_output()),
                Ok(Err(err)) => Err((Failure::Coder(err), coder.into_input())),
                Err(_panic) => Err((Failure::Panicked, coder.into_input())),
            }
        });
        job.await
            .unwrap_or_else(|panic| panic::resume_unwind(panic))
    }
}

impl fmt::Debug for Offload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Offload")
            .field("inline_bytes", &INLINE_BYTES)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Coder(CoderError::TooLarge) => f.write_str("output over its limit"),
            Failure::Coder(CoderError::Invalid(err)) => err.fmt(f),
            Failure::Panicked => f.write_str("the coder panicked"),
        }
    }
}
