//! Where codec work runs: inline while it is small, on the low-priority
//! background threads ([`rpckit_codec::background`]) once it is not.

use std::fmt;

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
    /// The background job panicked.
    Panicked,
}

impl Offload {
    /// Runs `coder` to its end: up to `inline` bytes of output on this
    /// task, the rest (if any) on a background thread.
    pub(crate) async fn run(&self, mut coder: Coder, inline: usize) -> Result<Bytes, Failure> {
        if inline > 0 {
            if let Step::Done = coder.run(inline).map_err(Failure::Coder)? {
                return Ok(coder.into_output());
            }
        }
        #[cfg(test)]
        let hook = self.hook.clone();
        let job = rpckit_codec::background::spawn(move || {
            #[cfg(test)]
            if let Some(hook) = hook {
                hook();
            }
            coder.run(usize::MAX)?;
            Ok(coder.into_output())
        });
        job.await
            .map_err(|_panic| Failure::Panicked)?
            .map_err(Failure::Coder)
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
            Failure::Panicked => f.write_str("the background job panicked"),
        }
    }
}
